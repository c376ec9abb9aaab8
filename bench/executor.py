"""Executor cost per case against running the same steps in one process, over the seed corpus.

Run from the repository root: `python bench/executor.py [--reps 3] [--targets llvm] [--limit N]`.
Each seed runs through TVM's default pipeline (parse, pre-check, passes, build, run), alternately
in this process (`run_case`) and through the fork-server executor (a forked child per case).
Last line: one JSON object with `ratio` (executor / in-process, total time; target <= 1.3).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine, median, write_result  # noqa: E402

from tirfuzz.corpus import list_seeds  # noqa: E402
from tirfuzz.corpus.cases import seed_case  # noqa: E402
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig  # noqa: E402
from tirfuzz.fuzzer.core.passes import PassPool  # noqa: E402
from tirfuzz.fuzzer.execution.pipeline import run_case  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--targets", default="llvm")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N seeds")
    args = ap.parse_args()
    targets = args.targets.split(",")
    seeds = list_seeds()[: args.limit or None]
    cases = [seed_case(s, targets) for s in seeds]
    pool = PassPool()
    for c in cases[:3]:  # warm this process as the fork server warms itself
        run_case(c, pool, want_outputs=False)
    rows = {s.name: {"inproc_ms": [], "executor_ms": []} for s in seeds}
    with Executor(ExecutorConfig(timeout_s=120)) as ex:
        for rep in range(args.reps):
            for s, c in zip(seeds, cases):
                t0 = time.perf_counter()
                r1 = run_case(c, pool, want_outputs=True)
                t1 = time.perf_counter()
                r2 = ex.run(c, want_outputs=True)
                t2 = time.perf_counter()
                if r1.outcome != "ok" or r2.outcome != "ok":
                    print(f"warning: {s.name}: in-process {r1.outcome}, executor {r2.outcome}", file=sys.stderr)
                rows[s.name]["inproc_ms"].append((t1 - t0) * 1e3)
                rows[s.name]["executor_ms"].append((t2 - t1) * 1e3)
            print(f"rep {rep + 1}/{args.reps} done", file=sys.stderr)
    per_case = {n: {"inproc_ms": median(r["inproc_ms"]), "executor_ms": median(r["executor_ms"])} for n, r in rows.items()}
    total_in = sum(v["inproc_ms"] for v in per_case.values())
    total_ex = sum(v["executor_ms"] for v in per_case.values())
    ratios = [v["executor_ms"] / v["inproc_ms"] for v in per_case.values()]
    summary = {"ratio": round(total_ex / total_in, 3), "median_case_ratio": round(median(ratios), 3),
               "inproc_median_ms": round(median([v["inproc_ms"] for v in per_case.values()]), 1),
               "executor_median_ms": round(median([v["executor_ms"] for v in per_case.values()]), 1),
               "cases": len(cases), "reps": args.reps, "targets": targets}
    info = machine()
    write_result("executor", {"summary": summary, "machine": info, "per_case": per_case})
    print(f"{'seed':40} {'in-process ms':>14} {'executor ms':>12} {'ratio':>6}")
    for n, v in per_case.items():
        print(f"{n:40} {v['inproc_ms']:14.1f} {v['executor_ms']:12.1f} {v['executor_ms'] / v['inproc_ms']:6.2f}")
    print(f"machine: {info['cores']} cores, {info['cpu']}")
    print(json.dumps({**summary, "cores": info["cores"]}))


if __name__ == "__main__":
    main()
