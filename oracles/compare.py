"""Output comparison: integers bit-exact, floats NaN-aware within a per-op-family tolerance.

The rules live in fuzzer/core/runtime.py (every repro.py embeds it); this module picks the family.
"""

from __future__ import annotations

import re
from typing import Any

from tirfuzz.fuzzer.core.runtime import TOLERANCES, Difference, Tolerance, compare_buffer, compare_outputs, ulp_distance

__all__ = ["FAST_MATH_KEYS", "TOLERANCES", "Difference", "Tolerance", "compare_buffer", "compare_outputs",
           "op_family", "ulp_distance"]

# Calls whose results legitimately differ in the last bits between libm, LLVM's expansions and gcc's.
_TRANSCENDENTAL = re.compile(r"T\.(exp|exp2|exp10|expm1|log|log2|log10|log1p|tanh|sinh|cosh|tan|sin|cos|asin|"
                             r"acos|atan|atan2|asinh|acosh|atanh|erf|sigmoid|pow|sqrt|rsqrt|hypot|fmod|"
                             r"nextafter|ldexp)\(")
FAST_MATH_KEYS = ("tirx.enable_fast_math", "tir.enable_fast_math")


def op_family(ir: str, pass_config: dict[str, Any] | None) -> str:
    """'fast-math' (compared for crashes only), 'transcendental' or 'arith'."""
    if any((pass_config or {}).get(k) for k in FAST_MATH_KEYS):
        return "fast-math"
    return "transcendental" if _TRANSCENDENTAL.search(ir) else "arith"
