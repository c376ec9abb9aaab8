"""Output comparison: integers bit-exact, floats NaN-aware within a per-op-family tolerance."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

# Calls whose results legitimately differ in the last bits between libm, LLVM's expansions and gcc's.
_TRANSCENDENTAL = re.compile(r"T\.(exp|exp2|exp10|expm1|log|log2|log10|log1p|tanh|sinh|cosh|tan|sin|cos|asin|"
                             r"acos|atan|atan2|asinh|acosh|atanh|erf|sigmoid|pow|sqrt|rsqrt|hypot|fmod|"
                             r"nextafter|ldexp)\(")
FAST_MATH_KEYS = ("tirx.enable_fast_math", "tir.enable_fast_math")


@dataclass(frozen=True)
class Tolerance:
    """How far two float results may be apart: |a - b| <= atol + rtol * scale, or within `ulps` units."""

    family: str
    rtol: float
    ulps: int


# Measured (bench/results/oracle-tolerance.json, llvm vs c vs reference over the seeds): plain
# arithmetic differs by FMA contraction (~1 ulp per fused operation, accumulated over reductions),
# transcendental calls by libm vs LLVM's lowering (~1e-5 relative on tanh/erf/winograd in float32).
# `scale` is the largest magnitude in the reference buffer, so cancellation in long sums is covered.
TOLERANCES = {
    ("arith", 16): Tolerance("arith", 2e-2, 8), ("arith", 32): Tolerance("arith", 1e-4, 16),
    ("arith", 64): Tolerance("arith", 1e-10, 16),
    ("transcendental", 16): Tolerance("transcendental", 5e-2, 16),
    ("transcendental", 32): Tolerance("transcendental", 1e-3, 64),
    ("transcendental", 64): Tolerance("transcendental", 1e-8, 64),
}


def op_family(ir: str, pass_config: dict[str, Any] | None) -> str:
    """'fast-math' (compared for crashes only), 'transcendental' or 'arith'."""
    if any((pass_config or {}).get(k) for k in FAST_MATH_KEYS):
        return "fast-math"
    return "transcendental" if _TRANSCENDENTAL.search(ir) else "arith"


@dataclass
class Difference:
    """The largest disagreement between a build's output and the reference."""

    func: str
    buffer: int            # index among the function's buffer parameters
    index: list[int]       # where (first element with the largest difference)
    expected: str
    actual: str
    abs_diff: float
    mismatches: int        # elements out of tolerance in that buffer
    size: int
    dtype: str
    non_finite: bool = False   # a NaN/Inf on one side only

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    bits = a.dtype.itemsize * 8
    it = {16: np.int16, 32: np.int32, 64: np.int64}[bits]
    ia, ib = a.view(it).astype(np.int64), b.view(it).astype(np.int64)
    lo = np.int64(np.iinfo(it).min)
    ia = np.where(ia < 0, lo - ia, ia)  # map sign-magnitude to a monotonic integer line
    ib = np.where(ib < 0, lo - ib, ib)
    return np.abs(ia - ib)


def compare_buffer(ref: np.ndarray, got: np.ndarray, family: str) -> tuple[np.ndarray, bool]:
    """Boolean mask of elements out of tolerance, and whether a NaN/Inf on one side only is among them."""
    if ref.shape != got.shape or ref.dtype != got.dtype:
        return np.ones(ref.shape or (1,), dtype=bool), False
    if ref.dtype.kind not in "f":
        return (ref != got).reshape(ref.shape), False
    tol = TOLERANCES[(family, ref.dtype.itemsize * 8)]
    r, g = ref.astype(np.float64), got.astype(np.float64)
    both_nan = np.isnan(r) & np.isnan(g)
    same = (r == g) | both_nan
    finite = np.isfinite(r) & np.isfinite(g)
    scale = float(np.max(np.abs(r[np.isfinite(r)]), initial=0.0))
    with np.errstate(invalid="ignore", over="ignore"):  # Inf - Inf is NaN: such elements are not `finite`
        close = finite & ((np.abs(r - g) <= tol.rtol * max(scale, np.finfo(ref.dtype).tiny))
                          | (_ulp_distance(ref, got) <= tol.ulps))
    bad = ~(same | close)
    return bad, bool(np.any(bad & ~finite))


def compare_outputs(ref: dict[str, list[np.ndarray]], got: dict[str, list[np.ndarray]], family: str,
                    ignore: dict[str, list[np.ndarray]] | None = None) -> Difference | None:
    """The first buffer (by function, then parameter) whose elements disagree; `ignore` masks elements."""
    for func, ref_arrs in ref.items():
        for k, (r, g) in enumerate(zip(ref_arrs, got.get(func, []))):
            bad, non_finite = compare_buffer(r, g, family)
            if ignore is not None:
                bad = bad & ~ignore[func][k]
            if not np.any(bad):
                continue
            if r.dtype.kind == "f" and r.shape == g.shape:
                with np.errstate(invalid="ignore", over="ignore"):
                    err = np.where(bad, np.nan_to_num(np.abs(r.astype(np.float64) - g.astype(np.float64)),
                                                      nan=np.inf, posinf=np.inf), -1.0)
                flat = int(np.argmax(err))
            else:
                flat = int(np.argmax(bad.reshape(-1)))
            idx = [int(i) for i in np.unravel_index(flat, r.shape)] if r.shape else []
            rv, gv = r.reshape(-1)[flat] if r.size else None, g.reshape(-1)[flat] if g.size else None
            diff = float(abs(float(rv) - float(gv))) if rv is not None and gv is not None and r.dtype.kind in "fiub" \
                else float("nan")
            return Difference(func, k, idx, repr(rv), repr(gv), diff, int(np.count_nonzero(bad)), int(r.size),
                              str(r.dtype), non_finite)
    return None
