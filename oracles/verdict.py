"""The one verdict: is a result a bug to report, something a named filter hides, or nothing?

Every command decides with `judge` (fuzz, run, replay, triage, ci), so they cannot disagree on a case.
The executor child already turned invalid input into `rejected` (with its filter) and hid oracle
differences a check on the run explains (`result.oracle["filtered"]`); here the rules that need the whole
result are added: a program that runs past the limit once compiled is slow, not a bug, until an oracle
shows the reference finishes; a crash once compiled code ran is hidden only when the checked run of the
same inputs tripped a check (`result.oracle["checked"]`, oracles/ub.py); an internal error the program's
own undefined behaviour explains is not the compiler's.
"""

from __future__ import annotations

from dataclasses import dataclass

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.oracles.ub import explains_internal_error

BUG, FILTERED, OK, TOOL_ERROR = "bug", "filtered", "ok", "tool-error"
SLOW_RUN = "slow-run"                 # a hang while running compiled code
CHECK_SLOW = "checked-run-too-slow"   # the checked run (to explain a difference) ran past the time limit

REASONS = {SLOW_RUN: "the compiled program ran past the time limit (a mutated program may simply run long)",
           CHECK_SLOW: "the checked build that would tell undefined behaviour from a miscompilation ran past "
                       "the time limit: nothing is known"}


@dataclass(frozen=True)
class Verdict:
    """The decision on one result: kind `bug`, `filtered` (with the filter's name), `ok`, or `tool-error`
    (tirfuzz's own code failed: fix tirfuzz; nothing is known about TVM)."""

    kind: str
    filter: str | None = None

    @property
    def is_bug(self) -> bool:
        return self.kind == BUG


def ran(res: ExecResult) -> bool:
    """Whether compiled code of the case had started running when the child died."""
    return res.stage.startswith("run:") or any(k.startswith("run") for k in res.timings_ms)


def judge(case: TestCase, res: ExecResult) -> Verdict:
    """The verdict on `res`, the result of running `case`."""
    if res.outcome == TOOL_ERROR:
        return Verdict(TOOL_ERROR)
    if res.outcome == "rejected":
        return Verdict(FILTERED, res.filter or "?")
    if res.outcome == "hang" and res.stage.startswith("run:"):
        return Verdict(FILTERED, SLOW_RUN)
    if res.outcome == "crash" and ran(res):  # the checked run (Executor.run follows every such crash with it)
        trapped = (res.oracle.get("checked") or {}).get("filter")
        if trapped:
            return Verdict(FILTERED, trapped)
    if res.outcome == "hang" and res.stage.startswith("check:"):
        return Verdict(FILTERED, CHECK_SLOW)
    if res.outcome == "internal-error":
        explained = explains_internal_error(case, res.message)
        if explained:
            return Verdict(FILTERED, explained)
    if res.is_bug:
        return Verdict(BUG)
    if res.oracle.get("filtered"):
        return Verdict(FILTERED, res.oracle["filtered"])
    return Verdict(OK)


def difference_kind(res: ExecResult) -> str | None:
    """For stats: the verdict on an output difference or a crash once compiled code ran ("reported", the
    filter that hid it, "unexplained" when the checked run could not judge it), None for anything else."""
    if res.outcome == "crash" and ran(res):
        checked = res.oracle.get("checked") or {}
        return checked.get("filter") or ("unexplained" if checked.get("error") else "reported")
    if res.outcome == "tool-error" and res.stage.startswith("check:"):
        return "unexplained"
    if res.outcome == "hang" and res.stage.startswith("check:"):
        return CHECK_SLOW
    if not res.oracle.get("diff"):
        return None
    return "reported" if res.outcome == "miscompilation" else res.oracle.get("filtered") or "unexplained"
