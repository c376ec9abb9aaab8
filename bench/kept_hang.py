"""What a hang costs when it first runs in a kept child: the kept try, then the fresh child's run that judges it.

Side by side in one run, alternating: the same program (1e12 iterations of a store, a run no optimizer
removes) in the second case of a kept child, with the kept child's compiled code stopped after
`ExecutorConfig.kept_run_s` (the default) and without that stop (the kept try then lasts
`kept_timeout_s`). The reference try after the hang is left out (the same on both sides). Prints the median
seconds from request to verdict for each and their ratio.

    python bench/kept_hang.py [--rounds 3] [--timeout 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine, write_result  # noqa: E402

SLOW = ("@T.prim_func\ndef main(A: T.Buffer((16,), \"int32\")):\n    for i in range(1000000):\n"
        "        for j in range(1000000):\n            A[(i + j) % 16] = A[(i * 7 + j) % 16] + 1\n")
OK = "@T.prim_func\ndef main(A: T.Buffer((4,), \"int32\")):\n    for i in range(4):\n        A[i] = A[i] + 1\n"


def one(timeout: float, kept_run_s: float) -> float:
    """Seconds from request to verdict for the slow case run second in a kept child."""
    from tirfuzz.fuzzer.core.case import TestCase
    from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig

    config = ExecutorConfig(timeout_s=timeout, persistent=16, kept_run_s=kept_run_s, reference_on_hang=False)
    with Executor(config) as ex:
        ex.run(TestCase(OK, targets=["llvm"]), want_outputs=False)
        res = ex.run(TestCase(SLOW, targets=["llvm"]), want_outputs=False)
    if res.outcome != "hang" or res.kept_run is None:
        raise SystemExit(f"error: expected a hang first seen in a kept child, got {res.outcome}")
    return res.timings_ms["total"] / 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=10.0, help="the case's time limit (a campaign's default: 10)")
    ap.add_argument("--out", default="kept-hang")
    args = ap.parse_args()
    from tirfuzz.fuzzer.execution.executor import ExecutorConfig

    default = ExecutorConfig().kept_run_s
    runs: dict[str, list[float]] = {"stopped": [], "not_stopped": []}
    for r in range(args.rounds):
        for side in (("stopped", "not_stopped") if r % 2 == 0 else ("not_stopped", "stopped")):
            runs[side].append(one(args.timeout, default if side == "stopped" else 0.0))
            print(f"round {r + 1} {side}: {runs[side][-1]:.2f} s", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in runs.items()}
    summary = {"kept_run_s": default, "timeout_s": args.timeout, "kept_timeout_s": ExecutorConfig().kept_timeout_s,
               "stopped_s": round(med["stopped"], 2), "not_stopped_s": round(med["not_stopped"], 2),
               "saved_s": round(med["not_stopped"] - med["stopped"], 2),
               "ratio": round(med["not_stopped"] / med["stopped"], 3), "rounds": args.rounds}
    write_result(args.out, {"summary": summary, "runs": runs, "machine": machine()})
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
