"""Issue 20's bench: how soon do campaigns reach defects that need two IR features no seed has together?

`bench/plugins/twofeatures.py` plants two defects as plugin passes: `vec_in_if` raises on a vectorized
loop inside an if-branch, `select_in_while` on a Select inside a while loop. First every built-in seed is
checked to hold neither pair. Then each configuration runs one campaign per --seeds value, for --time,
with the plugin, and the time to each defect is read from the campaign: the bug's first exec, placed in
time by the stats row that first counts it (rows come every 10 s, so times are upper bounds within 10 s).

    after    tirfuzz fuzz (stacked mutations, learned weights, structure feedback)
    before   tirfuzz fuzz --stack 1 --fixed-weights --no-structure (the search before issue 20)

    python bench/two_features.py --time 10m --seeds 1,2,3 [--parallel 2] [--configs after,before]
    python bench/two_features.py --reuse DIR      # summarize campaigns kept by --keep DIR

Writes bench/results/two-features.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import RESULTS, machine  # noqa: E402

PLUGIN = HERE / "plugins" / "twofeatures.py"
DEFECTS = ("vec_in_if", "select_in_while")
CONFIGS = {"after": [], "before": ["--stack", "1", "--fixed-weights", "--no-structure"]}


def parse_time(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(float(text[:-1]) * units[text[-1]]) if text[-1] in units else int(text)


def seeds_clean() -> dict:
    """Every built-in seed checked for either pair of features (there must be none)."""
    sys.path.insert(0, str(PLUGIN.parent))
    import tvm
    import twofeatures as tf
    from tirfuzz.corpus import list_seeds, seed_text
    from tirfuzz.fuzzer.core import tvmapi

    hits: list[str] = []
    seeds = list_seeds()
    for seed in seeds:
        for _, func in tvmapi.parse(seed_text(seed)).functions.items():
            if isinstance(func, tvm.tirx.PrimFunc) and (tf.vec_in_if_found(func.body) or
                                                        tf.select_in_while_found(func.body)):
                hits.append(seed.name)
    return {"seeds_checked": len(seeds), "seeds_with_a_pair": sorted(set(hits))}


def found_times(out: Path) -> dict[str, float | None]:
    """Seconds into the campaign at which each planted defect was first saved (None: not found)."""
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines() if line.strip()]
    times: dict[str, float | None] = {d: None for d in DEFECTS}
    for info_path in (out / "bugs").glob("*/info.json"):
        info = json.loads(info_path.read_text())
        for defect in DEFECTS:
            if info.get("stage") == f"pass:plugin:twofeatures.{defect}":
                at = next((r["elapsed_s"] for r in rows if r["execs"] >= info["first_exec"]),
                          rows[-1]["elapsed_s"] if rows else None)
                if times[defect] is None or (at is not None and at < times[defect]):
                    times[defect] = at
    return times


def summary(out: Path) -> dict:
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines() if line.strip()]
    last = rows[-1] if rows else {}
    return {"execs": last.get("execs"), "execs_per_s": last.get("execs_per_s"),
            "valid_ratio": last.get("valid_ratio"), "cov_blocks": last.get("cov_blocks"),
            "found_s": found_times(out)}


def run_one(config: str, seed: int, seconds: int, root: Path) -> dict:
    out = root / f"{config}-s{seed}"
    cmd = [sys.executable, "-m", "tirfuzz.cli", "fuzz", "--time", str(seconds), "--seed", str(seed),
           "--out", str(out), "--pass-plugin", str(PLUGIN)] + CONFIGS[config]
    start = time.time()
    with open(root / f"{config}-s{seed}.log", "w") as log:
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
    return {"config": config, "seed": seed, "exit_code": code, "wall_s": round(time.time() - start, 1),
            **summary(out)}


def table(runs: list[dict], seconds: int) -> str:
    lines = ["| configuration | seed | " + " | ".join(f"{d} found at (s)" for d in DEFECTS) +
             " | execs/s | valid % |", "|---|---|" + "---|" * len(DEFECTS) + "---|---|"]
    for r in sorted(runs, key=lambda r: (r["config"], r["seed"])):
        cells = ["-" if r["found_s"][d] is None else f"{r['found_s'][d]:.0f}" for d in DEFECTS]
        lines.append(f"| {r['config']} | {r['seed']} | " + " | ".join(cells) +
                     f" | {r['execs_per_s']:.2f} | {100 * (r['valid_ratio'] or 0):.0f} |")
    lines.append("")
    for config in sorted({r["config"] for r in runs}):
        mine = [r for r in runs if r["config"] == config]
        counts = ", ".join(f"{d} in {sum(r['found_s'][d] is not None for r in mine)} of {len(mine)}"
                           for d in DEFECTS)
        lines.append(f"- {config}: within {seconds} s, {counts}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time", default="10m", help="per campaign: 600, 90s, 10m")
    ap.add_argument("--seeds", default="1,2,3", help="campaign seeds, comma-separated")
    ap.add_argument("--configs", default="after,before", help="from: " + ", ".join(CONFIGS))
    ap.add_argument("--parallel", type=int, default=1, help="campaigns at once (each takes about one core)")
    ap.add_argument("--keep", default=None, help="keep the campaign directories here")
    ap.add_argument("--reuse", default=None, help="summarize the campaigns kept in this folder")
    ap.add_argument("--out", default=str(RESULTS / "two-features"), help="results path without extension")
    args = ap.parse_args(argv)
    seconds = parse_time(args.time)
    configs = [c for c in args.configs.split(",") if c]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        print(f"error: unknown configuration {unknown[0]!r} (known: {', '.join(CONFIGS)})", file=sys.stderr)
        return 2
    seeds = [int(s) for s in args.seeds.split(",") if s]
    check = seeds_clean()
    print(f"{check['seeds_checked']} seeds checked, seeds holding a pair: {check['seeds_with_a_pair'] or 'none'}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.reuse or args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        jobs = [(c, s) for s in seeds for c in configs]
        if args.reuse:
            runs = [{"config": c, "seed": s, "exit_code": None, "wall_s": None, **summary(root / f"{c}-s{s}")}
                    for c, s in jobs if (root / f"{c}-s{s}" / "stats.jsonl").exists()]
        else:
            with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
                runs = list(pool.map(lambda job: run_one(job[0], job[1], seconds, root), jobs))
    text = table(runs, seconds)
    head = machine()
    note = (f"{head['date']}, {head['cores']} cores, {head['cpu']}, tvm {head['tvm']}, python {head['python']}; "
            f"{seconds} s per campaign, {args.parallel} at once; {check['seeds_checked']} seeds, "
            f"none holding either pair" if not check["seeds_with_a_pair"] else "SEEDS HOLD A PAIR")
    Path(args.out + ".md").write_text(note + "\n\n" + text + "\n")
    Path(args.out + ".json").write_text(json.dumps({"machine": head, "seconds": seconds, "check": check,
                                                    "parallel": args.parallel, "runs": runs}, indent=1) + "\n")
    print(text)
    return 0 if not check["seeds_with_a_pair"] else 1


if __name__ == "__main__":
    sys.exit(main())
