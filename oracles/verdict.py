"""The one verdict: is a result a bug to report, something a named filter hides, or nothing?

Every command decides with `judge` (fuzz, run, replay, triage, ci), so they cannot disagree on a case.
The executor child already turned invalid input into `rejected` (with its filter) and hid oracle
differences a filter explains (`result.oracle["filtered"]`); here the rules that need the whole result
and the case's safety record are added: a case that ran past the time limit is a bug only when TVM's
reference build of the same program finished within that limit (`result.reference_try`, which the
executor adds to every such result); a run-time crash or hang of a program the mutators could not prove
free of undefined behaviour may be that behaviour; an internal error the program's own undefined
behaviour explains is not the compiler's.
"""

from __future__ import annotations

from dataclasses import dataclass

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.result import ExecResult, ReferenceTry
from tirfuzz.oracles.ub import explains_internal_error

BUG, FILTERED, OK, TOOL_ERROR = "bug", "filtered", "ok", "tool-error"
TOO_SLOW = "too-slow-to-test"         # a hang whose reference build also ran past the limit
HANG_REFERENCE_FAILS = "hang-reference-fails"  # a hang of a program the reference does not build or run
HANG_UNCONFIRMED = "hang-unconfirmed"  # a hang whose reference build was not tried
SLOW_RUN = TOO_SLOW                   # the name campaigns count as `slow_runs`
UB_CRASH = "possible-ub-crash"        # a run-time crash of a program not proven free of undefined behaviour
UB_HANG = "possible-ub-hang"          # a run-time hang of such a program (its reference finished)
RUN_MEMORY = "run-out-of-memory"      # compiled code ran past the memory limit

REASONS = {TOO_SLOW: "the reference build (TVM's default pipeline) also ran past the time limit: the program "
                     "is too slow to test, not a hang",
           HANG_REFERENCE_FAILS: "the reference build (TVM's default pipeline) does not build or run the program "
                                 "either, so a hang says nothing about the case's build",
           HANG_UNCONFIRMED: "the reference build was not tried, so a hang cannot be told from a slow program",
           RUN_MEMORY: "the compiled program ran past the memory limit while running (a program may simply "
                       "need much memory)",
           UB_CRASH: "the program may have undefined behaviour (its mutations could not be proven safe), "
                     "so a crash once it ran may be that behaviour",
           UB_HANG: "the program may have undefined behaviour (its mutations could not be proven safe), "
                    "so a hang once it ran may be that behaviour"}


@dataclass(frozen=True)
class Verdict:
    """The decision on one result: kind `bug`, `filtered` (with the filter's name), `ok`, or `tool-error`
    (tirfuzz's own code failed: fix tirfuzz; nothing is known about TVM); `reason` says why in words."""

    kind: str
    filter: str | None = None
    reason: str = ""

    @property
    def is_bug(self) -> bool:
        return self.kind == BUG


def ran(res: ExecResult) -> bool:
    """Whether compiled code of the case had started running when the child died."""
    return res.stage.startswith("run:") or any(k.startswith("run") for k in res.timings_ms)


def hang_reason(res: ExecResult, ref: ReferenceTry) -> str:
    """What the reference try says about a hang, in words."""
    if ref.outcome == "finished":
        return (f"the reference build (TVM's default pipeline) built and ran the same program on the same inputs "
                f"in {ref.elapsed_ms / 1e3:.1f} s, within the {ref.limit_s:g} s limit this case ran past")
    if ref.outcome == "hang":
        return (f"the reference build (TVM's default pipeline) also ran past the {ref.limit_s:g} s limit: "
                "the program is too slow to test, not a hang")
    return (f"the reference build (TVM's default pipeline) failed at {ref.stage or '?'} ({ref.message[:200]}), "
            "so a hang says nothing about the case's build")


def judge_hang(case: TestCase, res: ExecResult, ref: ReferenceTry | None) -> Verdict:
    """A time-limit hang: a bug only when the reference finished within the limit."""
    if ref is None:
        return Verdict(FILTERED, HANG_UNCONFIRMED, REASONS[HANG_UNCONFIRMED])
    why = hang_reason(res, ref)
    if ref.outcome == "hang":
        return Verdict(FILTERED, TOO_SLOW, why)
    if ref.outcome != "finished":
        return Verdict(FILTERED, HANG_REFERENCE_FAILS, why)
    if ran(res) and not case.extra.get("safe", True):
        return Verdict(FILTERED, UB_HANG, REASONS[UB_HANG])
    return Verdict(BUG, reason=why)


def judge(case: TestCase, res: ExecResult, reference: ReferenceTry | None = None) -> Verdict:
    """The verdict on `res`, the result of running `case`; `reference` (default: `res.reference_try`) is
    the reference try that decides a time-limit hang."""
    if res.outcome == TOOL_ERROR:
        return Verdict(TOOL_ERROR)
    if res.outcome == "rejected":
        return Verdict(FILTERED, res.filter or "?")
    if res.outcome == "hang" and res.resource in ("time", None):
        return judge_hang(case, res, reference or res.reference_try)
    if res.outcome == "hang" and res.stage.startswith("run:"):
        return Verdict(FILTERED, RUN_MEMORY, REASONS[RUN_MEMORY])
    if res.outcome == "crash" and ran(res) and not case.extra.get("safe", True):
        return Verdict(FILTERED, UB_CRASH, REASONS[UB_CRASH])
    if res.outcome == "internal-error":
        explained = explains_internal_error(case, res.message)
        if explained:
            return Verdict(FILTERED, explained)
    if res.is_bug:
        return Verdict(BUG)
    if res.oracle.get("filtered"):
        return Verdict(FILTERED, res.oracle["filtered"], str(res.oracle.get("reason") or ""))
    return Verdict(OK)
