"""`tirfuzz coverage`: the blocks of TVM's compiler library each input reaches, and how many are new."""

from __future__ import annotations

from typing import Any, Callable

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig


def coverage_rows(names: list[str], cases: list[TestCase], scope: str, granularity: str, timeout_s: float,
                  on_row: Callable[[dict[str, Any]], None] = lambda row: None) -> tuple[list[dict[str, Any]], int]:
    """Each input in a fresh fork server (fresh breakpoints): its blocks and those no input before it hit;
    and the distinct blocks over all inputs."""
    seen: set[int] = set()
    rows = []
    for name, case in zip(names, cases):
        config = ExecutorConfig(timeout_s=timeout_s, coverage=scope, granularity=granularity, warmup=False)
        with Executor(config) as ex:
            res = ex.run(case, want_outputs=False, want_sites=True)
        hit = set(res.new_sites)
        row = {"input": name, "outcome": res.outcome, "blocks": len(hit), "new": len(hit - seen),
               "ms": round(res.timings_ms.get("total", 0.0), 1), "scope": scope, "granularity": granularity}
        seen |= hit
        rows.append(row)
        on_row(row)
    return rows, len(seen)
