"""CPU vs GPU: seeds and mutated cases built for llvm and cuda, each compared with the CPU reference.

With a CUDA device the cuda build runs on it and its outputs are compared with the reference (TVM's
default pipeline, llvm) by the differential oracle. Without one, the cuda build still goes through
thread binding, CUDA codegen and nvcc (PTX/cubin), so crashes and internal errors there are found; the
comparison is skipped and counted as skipped. Last line: one JSON object.

    python bench/gpu_check.py [--seeds 20] [--mutants 200] [--budget 420]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

from tirfuzz.corpus import list_seeds  # noqa: E402
from tirfuzz.corpus.cases import seed_case  # noqa: E402
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig  # noqa: E402
from tirfuzz.mutators.mutate import MUTATE_JOB  # noqa: E402
from tirfuzz.fuzzer.core.targets import cuda_device_present  # noqa: E402

TARGETS = ["llvm", "cuda"]


def tally(res, counts: Counter, bugs: list[dict], label: str) -> None:
    counts["cases"] += 1
    counts[f"outcome:{res.outcome}"] += 1
    o = res.oracle or {}
    if "cuda" in (o.get("compared") or []):
        counts["cuda_compared"] += 1
    if "cuda" in res.skipped_runs:
        counts["cuda_run_skipped"] += 1
    if res.outcome == "ok" or (res.target and res.target != "cuda" and res.outcome != "rejected"):
        counts["cuda_built"] += int("build@cuda" in res.timings_ms or "cuda" in res.skipped_runs)
    if o.get("filtered"):
        counts[f"filtered:{o['filtered']}"] += 1
    if res.is_bug:
        bugs.append({"case": label, "outcome": res.outcome, "stage": res.stage, "target": res.target,
                     "message": res.message[:300]})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--mutants", type=int, default=200)
    ap.add_argument("--budget", type=float, default=420.0, help="stop starting new cases after this many seconds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/results/gpu-check.json")
    args = ap.parse_args()
    gpu = cuda_device_present()
    rng = random.Random(args.seed)
    seeds = [s for s in list_seeds() if s.kind == "block"][: args.seeds]
    counts: Counter = Counter()
    bugs: list[dict] = []
    t0 = time.time()
    with Executor(ExecutorConfig(timeout_s=60, jobs=(MUTATE_JOB,))) as ex:
        for s in seeds:
            if time.time() - t0 > args.budget:
                break
            tally(ex.run(seed_case(s, TARGETS), want_outputs=False, oracle=True), counts, bugs, s.name)
        made = 0
        while made < args.mutants and time.time() - t0 < args.budget:
            s = rng.choice(seeds)
            spec = {"seed": rng.getrandbits(48), "kinds": ["ir", "pass", "config"], "donor": None}
            res = ex.run(seed_case(s, TARGETS), want_outputs=False, mutate=spec, oracle=True)
            if res.outcome == "declined" or res.case is None:
                counts["declined"] += 1
                continue
            made += 1
            tally(res, counts, bugs, f"{s.name}+mutation")
    summary = {"gpu": gpu, "seeds": min(len(seeds), counts["cases"]), "mutants": made,
               "wall_s": round(time.time() - t0, 1), **dict(sorted(counts.items())), "bugs": len(bugs),
               "machine": machine()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"summary": summary, "bugs": bugs}, indent=1))
    for b in bugs:
        print(f"{b['outcome']:15} {b['stage']:30} {b['case']}: {b['message'][:120]}")
    print(json.dumps({k: v for k, v in summary.items() if k != "machine"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
