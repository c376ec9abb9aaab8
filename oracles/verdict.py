"""The one verdict: is a result a bug to report, something a named filter hides, or nothing?

Every command decides with `judge` (fuzz, run, replay, triage, ci), so they cannot disagree on a case.
The executor child already turned invalid input into `rejected` (with its filter) and hid oracle
differences a check on the run explains (`result.oracle["filtered"]`); here the rules that need the whole
result are added: a case that ran past the time limit is a bug only when TVM's reference build of the
same program finished within a tenth of that limit (`result.reference_try`, which the executor adds to every such
result); a crash (or such a hang) once compiled code ran is hidden only when the checked run of the same
inputs tripped a check (`result.oracle["checked"]`, oracles/ub.py); an internal error the program's own
undefined behaviour explains is not the compiler's.
"""

from __future__ import annotations

from dataclasses import dataclass

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.result import ExecResult, ReferenceTry
from tirfuzz.oracles.standard import LABEL, same_failure
from tirfuzz.oracles.ub import explains_internal_error

BUG, FILTERED, OK, TOOL_ERROR = "bug", "filtered", "ok", "tool-error"
TOO_SLOW = "too-slow-to-test"         # a hang whose reference build did not finish within a tenth of the limit
HANG_FACTOR = 10                      # a hang is a bug only when the reference finished in a tenth of the limit
REFERENCE_SLACK_S = 1.0               # the reference try's time on top of that tenth (its child's start, a cold cache)
HANG_REFERENCE_FAILS = "hang-reference-fails"  # a hang of a program the reference does not build or run
HANG_UNCONFIRMED = "hang-unconfirmed"  # a hang whose reference build was not tried
SLOW_RUN = TOO_SLOW                   # the name campaigns count as `slow_runs`
FAILS_IN_TVM_COMPILE = "fails-in-tvm-compile"  # a user program plain tvm.compile fails on the same way
CHECK_SLOW = "checked-run-too-slow"   # the checked run (to explain a difference) ran past the time limit
RUN_MEMORY = "run-out-of-memory"      # compiled code ran past the memory limit

REASONS = {TOO_SLOW: "the reference build (TVM's default pipeline) did not finish within a tenth of the time limit: "
                     "the program is too slow to test, not a hang",
           HANG_REFERENCE_FAILS: "the reference build (TVM's default pipeline) does not build or run the program "
                                 "either, so a hang says nothing about the case's build",
           HANG_UNCONFIRMED: "the reference build was not tried, so a hang cannot be told from a slow program",
           RUN_MEMORY: "the compiled program ran past the memory limit while running (a program may simply "
                       "need much memory)",
           CHECK_SLOW: "the checked build that would tell undefined behaviour from a miscompilation ran past "
                       "the time limit: nothing is known"}


def reference_limit(limit_s: float) -> float:
    """How long the reference try of a case that ran past `limit_s` runs before it is stopped: a tenth of
    the limit (HANG_FACTOR) and REFERENCE_SLACK_S. A reference slower than a tenth makes the hang
    too-slow-to-test whether it ends later or never, so waiting longer could change no verdict."""
    return min(limit_s, limit_s / HANG_FACTOR + REFERENCE_SLACK_S)


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
        return (f"the reference build (TVM's default pipeline, {ref.target}) built and ran the same program on the same inputs "
                f"in {ref.elapsed_ms / 1e3:.1f} s, within the {ref.limit_s:g} s limit this case ran past")
    if ref.outcome == "hang":
        waited = ref.waited_s or ref.limit_s
        return (f"the reference build (TVM's default pipeline, {ref.target}) did not finish within {waited:g} s "
                f"(stopped there: only a build over {HANG_FACTOR}x slower than the reference, which must finish within "
                f"a tenth of the {ref.limit_s:g} s limit, is called a hang): the program is too slow to test, not a hang")
    return (f"the reference build (TVM's default pipeline) failed at {ref.stage or '?'} ({ref.message[:200]}), "
            "so a hang says nothing about the case's build")


def judge_hang(case: TestCase, res: ExecResult, ref: ReferenceTry | None) -> Verdict:
    """A time-limit hang: a bug only when the reference finished within a tenth of the limit (HANG_FACTOR)."""
    if ref is None:
        return Verdict(FILTERED, HANG_UNCONFIRMED, REASONS[HANG_UNCONFIRMED])
    why = hang_reason(res, ref)
    if ref.outcome == "hang":
        return Verdict(FILTERED, TOO_SLOW, why)
    if ref.outcome != "finished":
        return Verdict(FILTERED, HANG_REFERENCE_FAILS, why)
    if ref.elapsed_ms > ref.limit_s * 1e3 / HANG_FACTOR:
        return Verdict(FILTERED, TOO_SLOW, f"the reference build (TVM's default pipeline, {ref.target}) took "
                       f"{ref.elapsed_ms / 1e3:.1f} s of the {ref.limit_s:g} s limit: a build without its "
                       f"optimizations may well run a few times longer; only a build over {HANG_FACTOR}x slower "
                       "than the reference is called a hang")
    trapped = checked_trip(res)
    if trapped:  # the program's own undefined behaviour, shown by the checked run on these inputs
        return trapped
    return Verdict(BUG, reason=why)


def checked_trip(res: ExecResult) -> Verdict | None:
    """The filter of the check that tripped in the checked run of a crash or hang once compiled code ran
    (`result.oracle["checked"]`, added by the executor), or None."""
    checked = res.oracle.get("checked") or {}
    return Verdict(FILTERED, checked["filter"], checked.get("reason", "")) if checked.get("filter") else None


def judge(case: TestCase, res: ExecResult, reference: ReferenceTry | None = None) -> Verdict:
    """The verdict on `res`, the result of running `case`; `reference` (default: `res.reference_try`) is
    the reference try that decides a time-limit hang."""
    if res.outcome == TOOL_ERROR:
        return Verdict(TOOL_ERROR)
    if res.outcome == "rejected":
        return Verdict(FILTERED, res.filter or "?")
    if res.outcome == "hang" and res.stage.startswith("check:"):
        return Verdict(FILTERED, CHECK_SLOW, REASONS[CHECK_SLOW])
    if res.outcome == "hang" and res.resource in ("time", None):
        return judge_hang(case, res, reference or res.reference_try)
    if res.outcome == "hang" and res.stage.startswith("run:"):
        return Verdict(FILTERED, RUN_MEMORY, REASONS[RUN_MEMORY])
    if res.outcome == "crash" and ran(res) and checked_trip(res):
        return checked_trip(res)
    if res.outcome == "internal-error":
        explained = explains_internal_error(res)
        if explained:
            return Verdict(FILTERED, explained, res.oracle["program_error"].get("reason", ""))
    standard = same_failure(res.oracle)
    if standard is not None and res.outcome in ("crash", "internal-error", "hang"):
        # an unmodified user program that plain tvm.compile fails on the same way: the input, not a find
        return Verdict(FILTERED, FAILS_IN_TVM_COMPILE, f"{LABEL} ({standard.get('how')})")
    if res.is_bug:
        return Verdict(BUG)
    if res.oracle.get("filtered"):
        return Verdict(FILTERED, res.oracle["filtered"], str(res.oracle.get("reason") or ""))
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
