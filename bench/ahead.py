"""What making the mutation ahead buys: the same mutants, the same cases, mutated in the case's child or ahead.

Side by side in one run, alternating: every 8th built-in seed (llvm and c, the oracles on, as a campaign
runs them) is mutated `--count` times from fixed random seeds, and each mutant runs in a kept child
(`persistent` 16), either
- in-child: the mutation in the case's own child, just before its run (`run(mutate=...)`), or
- ahead: the mutation of the next case in the mutator child while this case runs (`ahead`, `run`, `take`).
Per side: milliseconds per exec from request to result (what a campaign's step waits), the case's own
stages in the child, and the mutation's time. The step's ratio says what ahead saves on this machine; the
case's tells how much the mutator, running alongside, slows the case (on two cores it shares them with
the case's host compiler).

    python bench/ahead.py [--count 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import alternating, machine, write_result  # noqa: E402


def one(ahead: bool, count: int) -> dict[str, float]:
    """One side: ms per exec (step, case stages in the child, mutation) over `count` mutants."""
    from tirfuzz.corpus import list_seeds, load_seed
    from tirfuzz.corpus.cases import seed_case
    from tirfuzz.fuzzer.core.case import TestCase
    from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
    from tirfuzz.mutators.mutate import MUTATE_JOB

    seeds = [seed_case(load_seed(s.name), ["llvm", "c"]) for s in list_seeds()[::8]]
    specs = [(seeds[i % len(seeds)], {"seed": 1000 + i, "kinds": ["ir"], "stack": 4}) for i in range(count)]
    step, stages, mutation, execs = [], [], [], 0
    with Executor(ExecutorConfig(timeout_s=10.0, persistent=16, jobs=(MUTATE_JOB,))) as ex:
        ex.run(seeds[0], want_outputs=False, oracle=True)  # a warm child first, on both sides
        if ahead:
            ex.ahead(*specs[0])
        for i, (case, spec) in enumerate(specs):
            t0 = time.perf_counter()
            if ahead:
                made = ex.take()
                if i + 1 < len(specs):
                    ex.ahead(*specs[i + 1])
                if made.outcome != "ok" or made.case is None:
                    continue
                res = ex.run(TestCase.from_dict(made.case), want_outputs=False, oracle=True, want_json=True)
                mut_ms = float((made.mutation or {}).get("ms", 0.0))
            else:
                res = ex.run(case, want_outputs=False, oracle=True, mutate=spec)
                if res.outcome == "declined" or res.case is None:
                    continue
                mut_ms = float((res.mutation or {}).get("ms", 0.0))
            step.append((time.perf_counter() - t0) * 1e3)
            stages.append(sum(v for k, v in res.timings_ms.items() if k not in ("total", "mutate")))
            mutation.append(mut_ms)
            execs += 1
    return {"step_ms": statistics.mean(step), "case_stages_ms": statistics.mean(stages),
            "mutation_ms": statistics.mean(mutation), "execs": execs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=40, help="mutants per side and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="ahead", help="result name under bench/results/")
    args = ap.parse_args()
    if args.count < 2 or args.rounds < 1:
        print("error: --count must be at least 2 and --rounds at least 1", file=sys.stderr)
        return 2
    runs: dict[str, list[dict]] = {"in-child": [], "ahead": []}
    for r, pair in enumerate(alternating(args.rounds)):
        for side in pair:
            name = "ahead" if side == "new" else "in-child"
            runs[name].append(one(name == "ahead", args.count))
            print(f"round {r + 1} {name}: {json.dumps(runs[name][-1])}", file=sys.stderr)
    med = {name: {k: round(statistics.median(x[k] for x in rs), 1) for k in rs[0]} for name, rs in runs.items()}
    summary = {"in_child": med["in-child"], "ahead": med["ahead"],
               "step_ratio": round(med["in-child"]["step_ms"] / med["ahead"]["step_ms"], 3),
               "case_slowdown_ms": round(med["ahead"]["case_stages_ms"] - med["in-child"]["case_stages_ms"], 1),
               "count": args.count, "rounds": args.rounds}
    write_result(args.out, {"summary": summary, "runs": runs, "machine": machine()})
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
