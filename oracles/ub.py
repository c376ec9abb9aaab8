"""The undefined-behaviour filter: a case whose program may be undefined is never a miscompilation.

Two sources: what the mutators recorded (`case.extra["safe"]`, `ub_risks`: they prove or clamp every
access after each mutation), and for cases without that record (seeds, hand-written cases) the same
prover run on the module: every index proven in bounds with `tvm.sym.Analyzer`, every integer divisor
and shift amount proven safe. Reads of memory the program never wrote are found at run time instead
(differential.unstable_elements).
"""

from __future__ import annotations

RISK_WORDS = {"oob": "read or write out of bounds", "div": "divide by zero or shift out of range",
              "uninit": "read memory it never wrote", "race": "race between parallel iterations",
              "overflow": "overflow a signed integer"}


def static_ub_reasons(case, mod) -> list[str]:
    """Why the case's program may have undefined behaviour, in words; empty when it is proven free of it."""
    extra = case.extra or {}
    if "safe" in extra:
        if extra["safe"]:
            return []
        risks = extra.get("ub_risks") or ["oob"]
        return [RISK_WORDS.get(r, r) for r in risks]
    from ..mutators.safety import find_unsafe

    bad, _ = find_unsafe(mod)
    words = []
    if any(not a.divisor for a in bad):
        words.append(RISK_WORDS["oob"])
    if any(a.divisor for a in bad):
        words.append(RISK_WORDS["div"])
    return words
