"""The undefined-behaviour filter: a case whose program may be undefined is never a miscompilation.

Two sources: what the mutators recorded (`case.extra["safe"]`, `ub_risks`: they prove or clamp every
access after each mutation), and for cases without that record (seeds, hand-written cases) the same
prover run on the module: every index proven in bounds with `tvm.sym.Analyzer`, every integer divisor
and shift amount proven safe, every read of an internal buffer proven to follow its write (uninit.py).
Output elements the program never wrote are found at run time (differential.unstable_elements).
"""

from __future__ import annotations

import re

from tirfuzz.fuzzer.tir.safety import find_unsafe
from tirfuzz.fuzzer.tir.uninit import unproven_internal_reads

RISK_WORDS = {"oob": "read or write out of bounds", "div": "divide by zero or shift out of range",
              "uninit": "read memory it never wrote", "race": "race between parallel iterations",
              "overflow": "overflow a signed integer"}


# TVM refuses to build an integer literal its dtype cannot hold: when index arithmetic the mutators could
# not prove free of overflow makes a pass compute such a bound, the program's own overflow is the cause.
_OVERFLOW_CHECK = re.compile(r"Literal value -?\d+ exceeds range of u?int\d+")


def explains_internal_error(case, message: str) -> str | None:
    """The named filter that explains an internal error by the program's own undefined behaviour, or None."""
    extra = case.extra or {}
    risks = set(extra.get("ub_risks") or [])
    if extra.get("safe", True) is False and risks & {"oob", "overflow"} and _OVERFLOW_CHECK.search(message):
        return "index-overflow-in-program"
    if extra.get("safe", True) is False and "div" in risks and "Divide by zero" in message:
        return "division-by-zero-in-program"  # an integer divisor the mutators could not prove non-zero
    return None


def static_ub_reasons(case, mod) -> list[str]:
    """Why the case's program may have undefined behaviour, in words; empty when it is proven free of it."""
    extra = case.extra or {}
    if "safe" in extra:
        if extra["safe"]:
            return []
        risks = extra.get("ub_risks") or ["oob"]
        return [RISK_WORDS.get(r, r) for r in risks]


    bad, _ = find_unsafe(mod)
    words = []
    if any(not a.divisor for a in bad):
        words.append(RISK_WORDS["oob"])
    if any(a.divisor for a in bad):
        words.append(RISK_WORDS["div"])
    if unproven_internal_reads(mod):
        words.append(RISK_WORDS["uninit"])
    return words
