"""Corpus distillation (`tirfuzz corpus minimize`; afl-cmin, libFuzzer's -merge): the fewest cases that
reach the same blocks.

Cases run smallest first through one coverage executor. Breakpoint coverage reports each block to the
first case that reaches it, so a case is kept when it reaches blocks no smaller case reached. As in the
campaign, a handful (fewer than MIN_NEW_BLOCKS) does not count: any two different programs lay out
TVM's heap differently and so walk a few different hash-table paths, and keeping every case for that
would keep them all. The kept set covers nearly all the corpus covers (bench/merge numbers in README).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tirfuzz.fuzzer.campaign.corpus import MIN_NEW_BLOCKS
from tirfuzz.fuzzer.campaign.store import case_id
from tirfuzz.fuzzer.core.case import TestCase, save_case
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig


@dataclass
class DistillResult:
    """What corpus minimization kept."""

    kept: list[tuple[str, TestCase]] = field(default_factory=list)
    total: int = 0
    blocks: int = 0
    unreadable: list[str] = field(default_factory=list)


def case_weight(case: TestCase) -> tuple[int, int]:
    """Smaller is tried first: IR length, then number of passes."""
    return len(case.ir), len(case.passes)


def distill_corpus(cases: list[tuple[str, TestCase]], config: ExecutorConfig,
                    on_progress: Callable[[int, int], None] | None = None, min_new: int = MIN_NEW_BLOCKS) -> DistillResult:
    """The cases (smallest first) that each reach at least one block no smaller case reached."""
    result = DistillResult(total=len(cases))
    order = sorted(cases, key=lambda nc: case_weight(nc[1]))
    with Executor(config) as ex:
        base = int(ex.start().get("cov_total", 0))
        for i, (name, case) in enumerate(order, 1):
            res = ex.run(case, want_outputs=False)
            if res.new_blocks >= min_new:
                result.kept.append((name, case))
            result.blocks = res.cov_total - base if res.cov_total else result.blocks
            if on_progress is not None:
                on_progress(i, len(order))
    return result


def write_corpus(kept: list[tuple[str, TestCase]], folder: Path) -> None:
    """Replace the case files of a folder by the kept ones (each written atomically, then the rest removed)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = set()
    for _, case in kept:
        name = f"{case_id(case)}.json"
        save_case(case, folder / name)
        names.add(name)
    for p in folder.glob("*.json"):
        if p.name not in names:
            p.unlink()
