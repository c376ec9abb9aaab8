"""The one verdict: is a result a bug to report, something a named filter hides, or nothing?

Every command decides with `judge` (fuzz, run, replay, triage, ci), so they cannot disagree on a case.
The executor child already turned invalid input into `rejected` (with its filter) and hid oracle
differences a filter explains (`result.oracle["filtered"]`); here the rules that need the whole result
and the case's safety record are added: a program that runs past the limit once compiled is slow, not
a bug, until an oracle shows the reference finishes; a run-time crash of a program the mutators could not
prove free of undefined behaviour may be that behaviour; an internal error the program's own undefined
behaviour explains is not the compiler's.
"""

from __future__ import annotations

from dataclasses import dataclass

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.oracles.ub import explains_internal_error

BUG, FILTERED, OK, TOOL_ERROR = "bug", "filtered", "ok", "tool-error"
SLOW_RUN = "slow-run"                 # a hang while running compiled code
UB_CRASH = "possible-ub-crash"        # a run-time crash of a program not proven free of undefined behaviour

REASONS = {SLOW_RUN: "the compiled program ran past the time limit (a mutated program may simply run long)",
           UB_CRASH: "the program may have undefined behaviour (its mutations could not be proven safe), "
                     "so a crash once it ran may be that behaviour"}


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
    if res.outcome == "crash" and ran(res) and not case.extra.get("safe", True):
        return Verdict(FILTERED, UB_CRASH)
    if res.outcome == "internal-error":
        explained = explains_internal_error(case, res.message)
        if explained:
            return Verdict(FILTERED, explained)
    if res.is_bug:
        return Verdict(BUG)
    if res.oracle.get("filtered"):
        return Verdict(FILTERED, res.oracle["filtered"])
    return Verdict(OK)
