"""Issue 21's --seeds bench: a folder of TVMScript files written as a user would, fuzzed for --time beside
a campaign on the built-in seeds (both at once, same seed).

    python bench/user_seeds.py [--folder bench/user_programs] [--time 5m] [--keep DIR]

Prints and writes (bench/results/user-seeds.{json,md}) the files rejected with their reasons, the
programs used, and each campaign's coverage once its seeds had run and at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import RESULTS, machine  # noqa: E402
from two_features import parse_time  # noqa: E402


def rows(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "stats.jsonl").read_text().splitlines() if x.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folder", default=str(HERE / "user_programs"))
    ap.add_argument("--time", default="5m")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", default=None)
    ap.add_argument("--reuse", default=None)
    ap.add_argument("--out", default=str(RESULTS / "user-seeds"))
    args = ap.parse_args(argv)
    seconds = parse_time(args.time)
    runs = {"user": ["--seeds", str(Path(args.folder).resolve())], "built-in": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.reuse or args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        if not args.reuse:
            procs = [subprocess.Popen([sys.executable, "-m", "tirfuzz.cli", "fuzz", "--json", "--time", str(seconds),
                                       "--seed", str(args.seed), "--out", str(root / name)] + extra,
                                      stdout=subprocess.DEVNULL, stderr=open(root / f"{name}.log", "w"))
                     for name, extra in runs.items()]
            for p in procs:
                p.wait()
        result = {}
        for name in runs:
            r = rows(root / name)
            result[name] = {"seed_blocks": r[0]["cov_blocks"], "seeds_run": r[0]["execs"],
                            "final_blocks": r[-1]["cov_blocks"], "execs": r[-1]["execs"],
                            "execs_per_s": r[-1]["execs_per_s"], "bugs": r[-1].get("bugs", {})}
        seeds = json.loads((root / "user" / "seeds.json").read_text())
        log = (root / "user.log").read_text().splitlines()
    rejected = seeds.get("rejected", [])
    head = machine()
    lines = [f"{head['date']}, {head['cores']} cores, {head['cpu']}, tvm {head['tvm']}; two {seconds} s campaigns "
             f"at once, seed {args.seed}; folder `{Path(args.folder).name}`", "",
             f"Programs used: {len(seeds.get('used', []))}; files or programs rejected: {len(rejected)}:"]
    lines += [f"- `{Path(str(x.get('source', '?'))).name}`" + (f" ({x['name']})" if x.get('name') else '') + f": {x.get('reason', '?')}" for x in rejected]
    lines += ["", "| campaign | seeds run | blocks after the seeds | blocks at the end | execs | execs/s | bugs |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in result.items():
        lines.append(f"| {name} | {r['seeds_run']} | {r['seed_blocks']:,} | {r['final_blocks']:,} | {r['execs']:,} | "
                     f"{r['execs_per_s']:.2f} | {sum(r['bugs'].values())} |")
    lines += ["", "The user campaign's terminal lines about its seeds:", "", "```"]
    lines += [x for x in log if x.startswith(("seed rejected", "seeds:"))] + ["```"]
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    Path(args.out + ".json").write_text(json.dumps({"machine": head, "seconds": seconds, "seeds": seeds,
                                                    "runs": result}, indent=1, default=str) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
