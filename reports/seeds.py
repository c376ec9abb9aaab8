"""`tirfuzz seeds --check`: does every built-in seed parse and build for each target?"""

from __future__ import annotations

from typing import Any, Callable

from tirfuzz.corpus import Seed
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig


def check_seeds(seeds: list[Seed], targets: list[str], timeout_s: float,
                on_row: Callable[[dict[str, Any]], None] = lambda row: None) -> list[dict[str, Any]]:
    """One row per seed: its outcome, stage, first message line and compile time per target (ms)."""
    rows = []
    with Executor(ExecutorConfig(timeout_s=timeout_s)) as ex:
        for s in seeds:
            res = ex.run(seed_case(s, targets), want_outputs=False)
            row = {"name": s.name, "kind": s.kind, "dtype": s.dtype, "status": res.outcome,
                   "stage": res.stage, "message": res.message.splitlines()[0][:200] if res.message else ""}
            for t in targets:
                row[f"compile_ms_{t}"] = round(sum(v for k, v in res.timings_ms.items()
                                                   if k.endswith(f"@{t}") and not k.startswith("run")), 1)
            rows.append(row)
            on_row(row)
    return rows
