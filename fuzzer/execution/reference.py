"""The reference try: does TVM's own build of a case's program finish within the limit it ran past?

A `hang` is a compiler bug only when TVM's reference build of the same program (its default pipeline, none
of the case's passes, the default pass config, for the target that hung: a C build runs slower than an
llvm one, and a slow backend is not a hang) builds and runs on the same inputs within a tenth of the same time limit. `reference_job` is the executor child job that tries it (registered by every executor,
see `Executor.run`); the verdict (oracles/verdict.py) reads the `ReferenceTry` it gives.
"""

from __future__ import annotations

import time
from typing import Any

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.runtime import device_for
from tirfuzz.fuzzer.core.targets import runnable_here
from tirfuzz.fuzzer.core.tvmapi import default_pipeline, entry_functions, parse, run_funcs
from tirfuzz.fuzzer.execution.pipeline import compiler

REFERENCE_JOB = ("reference", "tirfuzz.fuzzer.execution.reference:reference_job")  # for ExecutorConfig.jobs


def reference_target(hung: str | None) -> str:
    """The target a hang's reference is built for: the one that hung when this machine runs it, else llvm."""
    return hung if hung and runnable_here(hung) else "llvm"


def reference_job(case: TestCase, spec: dict[str, Any], pool: Any) -> tuple[None, dict[str, Any]]:
    """The executor child's `reference` job: build the case's program as TVM's default pipeline does and
    run it on the case's inputs. Never returns a case (nothing runs after it); the info says how it went."""
    import tvm

    t0, stage = time.perf_counter(), "parse"
    try:
        mod = parse(case.ir)
        stage = "build"
        target = str(spec.get("target") or "llvm")
        built = compiler(mod, case, pool)(target, default_pipeline(), {})
        stage = "run"
        run_funcs(built, entry_functions(mod), case.input_seed, device_for(target) if target != "llvm" else tvm.cpu(0))
    except Exception as e:  # noqa: BLE001  (TVM refused the program: the reference cannot confirm a hang)
        line = (str(e).strip().splitlines() or [""])[0][:300]
        return None, {"reason": f"the reference {stage} failed", "reference": "failed", "stage": stage,
                      "message": f"{type(e).__name__}: {line}", "elapsed_ms": (time.perf_counter() - t0) * 1e3}
    return None, {"reason": "the reference finished", "reference": "finished", "stage": "run",
                  "elapsed_ms": (time.perf_counter() - t0) * 1e3}
