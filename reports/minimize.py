"""The minimizer: delta debugging on the pass sequence, then greedy IR reductions, keeping the signature.

Every attempt runs in the executor (with its time limit), so a reduction that crashes or hangs TVM in
another way is simply not interesting. The IR reductions are made in the child (fuzzer/tir/reduce.py):
this process never parses TVMScript.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Callable

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.fuzzer.core.signature import signature
from tirfuzz.fuzzer.execution.executor import Executor

ORACLE_KINDS = ("miscompilation", "roundtrip")


@dataclass
class Minimized:
    """A minimized case and what it took."""

    case: TestCase
    signature: str
    nodes_before: int
    nodes_after: int
    passes_before: int
    passes_after: int
    seconds: float
    attempts: int
    accepted: int
    reproduced: bool = True     # the original case still shows the signature (False: nothing was done)

    def record(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("case")
        d["seconds"] = round(self.seconds, 1)
        return d


class Minimizer:
    """Shrinks a failing case while `signature(run(case)) == target` holds, within a time budget."""

    def __init__(self, executor: Executor, budget_s: float = 120.0,
                 on_progress: Callable[[str, int, int], None] | None = None):
        self.executor, self.budget_s = executor, budget_s
        self.on_progress = on_progress or (lambda phase, done, total: None)
        self.attempts = self.accepted = 0

    def _run(self, case: TestCase, oracle: bool, mutate: dict | None = None) -> ExecResult:
        self.attempts += 1
        return self.executor.run(case, want_outputs=False, mutate=mutate, oracle=oracle)

    def minimize(self, case: TestCase, target: str | None = None) -> Minimized:
        """The smallest case found that keeps `target` (default: the case's own signature now)."""
        t0 = time.monotonic()
        original = case
        self.attempts = self.accepted = 0
        oracle = target is None or target.split("-")[0] in ORACLE_KINDS
        first = self._run(case, True)
        sig = signature(first) if first.is_bug else f"{first.outcome}"
        target = target or sig
        probe = self._run(case, oracle, {"job": "reduce", "k": 1 << 30})  # counts the nodes, changes nothing
        if probe.outcome == "declined" and probe.message.startswith("no job"):  # the caller's mistake: say so
            raise ValueError(f"minimizer: {probe.message}")
        nodes_before = int((probe.mutation or {}).get("nodes", 0))
        if sig != target:
            return Minimized(case, target, nodes_before, nodes_before, len(case.passes), len(case.passes),
                             time.monotonic() - t0, self.attempts, 0, reproduced=False)
        deadline = t0 + self.budget_s
        case = self._passes(case, target, oracle, deadline)
        case, nodes_after = self._ir(case, target, oracle, deadline, nodes_before)
        return Minimized(case, target, nodes_before, nodes_after, len(original.passes), len(case.passes),
                         time.monotonic() - t0, self.attempts, self.accepted)

    def _passes(self, case: TestCase, target: str, oracle: bool, deadline: float) -> TestCase:
        """ddmin over the pass list: drop chunks, halving the chunk size down to single passes."""
        passes = list(case.passes)
        chunk = max(1, len(passes) // 2)
        while passes and time.monotonic() < deadline:
            i, changed = 0, False
            while i < len(passes) and time.monotonic() < deadline:
                trial = passes[:i] + passes[i + chunk:]
                self.on_progress("passes", len(case.passes) - len(trial), len(case.passes))
                if signature_of(self._run(replace(case, passes=trial), oracle)) == target:
                    passes, changed = trial, True
                    self.accepted += 1
                else:
                    i += chunk
            if chunk == 1 and not changed:
                break
            chunk = max(1, chunk // 2)
        return replace(case, passes=passes)

    def _ir(self, case: TestCase, target: str, oracle: bool, deadline: float, nodes: int) -> tuple[TestCase, int]:
        """Try the reductions in order; after an accepted one, go on from the same position; sweep again
        from the start while a sweep accepted something (a reduction can enable earlier ones)."""
        k, changed = 0, False
        while time.monotonic() < deadline:
            res = self._run(case, oracle, {"job": "reduce", "k": k})
            info = res.mutation or {}
            total = int(info.get("candidates", 0))
            self.on_progress("ir", min(k, total), total)
            if (res.outcome == "declined" and res.message == "no more reductions") or (total and k >= total):
                if not changed:
                    break
                k, changed = 0, False
                continue
            smaller = res.case is not None and (int(info.get("nodes_after", nodes)), len(res.case["ir"])) < \
                (int(info.get("nodes", nodes)), len(case.ir))  # strictly smaller, so the loop ends
            adds_ub = not set(info.get("ub_after", ())) <= set(info.get("ub_before", ()))
            if smaller and not adds_ub and signature_of(res) == target:
                case = TestCase.from_dict(res.case)
                nodes = int(info.get("nodes_after", nodes))
                self.accepted += 1
                changed = True
            else:
                k += 1
        return case, nodes


def signature_of(res: ExecResult) -> str:
    """The signature of a bug outcome, the bare outcome otherwise (never equal to a bug's)."""
    return signature(res) if res.is_bug else res.outcome
