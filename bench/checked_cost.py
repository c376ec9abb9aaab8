"""What the checked run costs: how often it runs, and its milliseconds per exec and per difference explained.

Runs mutants of the built-in seeds (the campaign's own mutate job, llvm and c, oracles on) and reads each
result's timings: `check@llvm` is the checked run of a difference (in the same child), and a crash once
compiled code ran is followed by a checked run in its own child (its ms in `oracle.checked`). Prints one
JSON line; writes bench/results/checked-cost.json.

    python bench/checked_cost.py [--mutants 300] [--seed 0] [--budget 900]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import RESULTS, machine  # noqa: E402

from tirfuzz.corpus import list_seeds  # noqa: E402
from tirfuzz.corpus.cases import seed_case  # noqa: E402
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig  # noqa: E402
from tirfuzz.mutators.mutate import MUTATE_JOB  # noqa: E402
from tirfuzz.oracles.verdict import difference_kind  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mutants", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=float, default=900.0, help="stop starting new cases after this many seconds")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    seeds = list_seeds()
    totals, checks, kinds = [], [], Counter()
    t0 = time.time()
    with Executor(ExecutorConfig(timeout_s=30, jobs=(MUTATE_JOB,))) as ex:
        while len(totals) < args.mutants and time.time() - t0 < args.budget:
            s = rng.choice(seeds)
            spec = {"seed": rng.getrandbits(48), "kinds": rng.choice([["ir"], ["pass"], ["ir", "pass"]]),
                    "donor": None}
            res = ex.run(seed_case(s, ["llvm", "c"]), want_outputs=False, mutate=spec, oracle=True)
            if res.outcome == "declined":
                continue
            check_ms = res.timings_ms.get("check@llvm", 0.0) + float((res.oracle.get("checked") or {}).get("ms", 0.0)
                                                                     if res.outcome == "crash" else 0.0)
            totals.append(res.timings_ms.get("total", 0.0) + (check_ms if res.outcome == "crash" else 0.0))
            kind = difference_kind(res)
            if kind is not None:
                kinds[kind] += 1
            if check_ms:
                checks.append(check_ms)
    n = len(totals)
    summary = {
        "execs": n, "with_checked_run": len(checks), "share_with_checked_run": round(len(checks) / n, 4) if n else 0,
        "median_exec_ms": round(statistics.median(totals), 1) if totals else None,
        "median_checked_run_ms_per_difference": round(statistics.median(checks), 1) if checks else None,
        "median_extra_ms_per_exec": round(statistics.median([0.0] * (n - len(checks)) + checks), 1) if n else None,
        "mean_extra_ms_per_exec": round(sum(checks) / n, 2) if n else None,
        "extra_share_of_exec_time": round(sum(checks) / sum(totals), 4) if totals else None,
        "differences_by_verdict": dict(kinds), "wall_s": round(time.time() - t0, 1), "machine": machine()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "checked-cost.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
