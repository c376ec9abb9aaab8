"""Issue 21's --focus bench: how often does a campaign run a pass and see it change the module, with
--focus on that pass and without, side by side (both at once, same seed and time).

    python bench/focus.py --pass tirx.transform.UnrollLoop --time 10m [--seed 0] [--keep DIR]

Reads each campaign's OUT/passes.json (per pass: execs it ran in, execs it changed the module in) and
stats.jsonl; writes bench/results/focus.{json,md}.
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


def summary(out: Path, name: str) -> dict:
    rows = [json.loads(x) for x in (out / "stats.jsonl").read_text().splitlines() if x.strip()]
    last = rows[-1]
    counts = json.loads((out / "passes.json").read_text())["passes"].get(name, {"ran": 0, "changed": 0})
    execs = last["execs"]
    bugs = []
    for info in (out / "bugs").glob("*/info.json"):
        i = json.loads(info.read_text())
        if i.get("stage") == f"pass:{name}" or (i.get("oracle") or {}).get("culprit") == name:
            bugs.append(i["signature"])
    return {"execs": execs, "execs_per_s": last["execs_per_s"], "cov_blocks": last["cov_blocks"],
            "ran": counts["ran"], "changed": counts["changed"],
            "ran_pct": round(100 * counts["ran"] / execs, 1) if execs else 0.0,
            "changed_pct": round(100 * counts["changed"] / execs, 1) if execs else 0.0,
            "bugs_in_pass": sorted(bugs), "bugs": sum((last.get("bugs") or {}).values())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pass", dest="pass_name", default="tirx.transform.UnrollLoop")
    ap.add_argument("--time", default="10m")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", default=None, help="keep the two campaign directories here")
    ap.add_argument("--reuse", default=None, help="summarize the campaigns kept in this folder")
    ap.add_argument("--out", default=str(RESULTS / "focus"))
    args = ap.parse_args(argv)
    seconds = parse_time(args.time)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.reuse or args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        runs = {"focus": ["--focus", args.pass_name], "plain": []}
        if not args.reuse:
            procs = []
            for name, extra in runs.items():
                cmd = [sys.executable, "-m", "tirfuzz.cli", "fuzz", "--json", "--time", str(seconds), "--seed",
                       str(args.seed), "--out", str(root / name)] + extra
                procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(root / f"{name}.log", "w")))
            for p in procs:
                p.wait()
        result = {name: summary(root / name, args.pass_name) for name in runs}
    head = machine()
    f, p = result["focus"], result["plain"]
    lines = [f"{head['date']}, {head['cores']} cores, {head['cpu']}, tvm {head['tvm']}; two {seconds} s campaigns "
             f"at once, seed {args.seed}; pass `{args.pass_name}`", "",
             "| campaign | execs | execs/s | ran in | changed the module in | bugs in the pass | bugs |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in (("--focus", f), ("without --focus", p)):
        lines.append(f"| {name} | {r['execs']:,} | {r['execs_per_s']:.2f} | {r['ran']:,} ({r['ran_pct']}%) | "
                     f"{r['changed']:,} ({r['changed_pct']}%) | {len(r['bugs_in_pass'])} | {r['bugs']} |")
    ratio = (f["changed_pct"] / p["changed_pct"]) if p["changed_pct"] else float("inf")
    lines += ["", f"Share of execs in which the pass changed the module: {f['changed_pct']}% against "
                  f"{p['changed_pct']}% ({ratio:.2f}x)."]
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    Path(args.out + ".json").write_text(json.dumps({"machine": head, "pass": args.pass_name, "seconds": seconds,
                                                    "seed": args.seed, "runs": result}, indent=1) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
