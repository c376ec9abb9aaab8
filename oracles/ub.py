"""Undefined behaviour: decided by a checked run on the run's own inputs, with a static proof as fast path.

`checked_run` builds the program with a check before every operation whose misuse is undefined
(fuzzer/tir/checked.py) through TVM's default pipeline for llvm and runs it on the given inputs: the
check that trips names the behaviour, the buffer or expression and the element. A difference or a
crash is hidden only when it trips. `static_ub_reasons` is the fast path: the mutators' safety record
(`case.extra["safe"]`, `ub_risks`), or for cases without one the prover (every index in bounds with
`tvm.sym.Analyzer`, every divisor and shift amount safe, every internal read after its write): a program
proven safe needs no checked run. Output elements the program never wrote are found at run time
(differential.unstable_elements).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from tirfuzz.fuzzer.core.runtime import ArgSpec, call, compile_module, entry_functions, load
from tirfuzz.fuzzer.tir.checked import TRAP_NAME, TRAP_SLOTS, Trip, instrument, read_trip
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


@dataclass
class CheckedRun:
    """What the checked build (fuzzer/tir/checked.py, TVM's default pipeline, llvm) did on the inputs."""

    trip: Trip | None = None      # the check that failed: the undefined behaviour, named
    error: str = ""               # the checked build or run failed otherwise (nothing explained)
    checks: int = 0               # checks put into the program
    ms: float = 0.0

    @property
    def filter(self) -> str | None:
        """The named filter for the difference or crash this run explains, or None."""
        return f"ub:{self.trip.site.check}" if self.trip else None

    @property
    def reason(self) -> str:
        return f"the checked run trapped: {self.trip.describe()}" if self.trip else ""


def checked_run(mod, values_for: Callable[[Any, str], tuple[list, list]], reference: list) -> CheckedRun:
    """Build `mod` with its checks through `reference` (pass specs) for llvm and run every function on
    `values_for(func, name)` (its specs and values) plus the trap buffer; the first check that failed."""
    import tvm

    t0 = time.perf_counter()
    out = CheckedRun()
    try:
        checked, sites = instrument(mod)
        out.checks = len(sites)
        funcs = entry_functions(mod)
        raw = compile_module(checked, "llvm", [(s.name, s.args) for s in reference], {})
        compiled = load(raw, list(funcs))
    except Exception as e:  # noqa: BLE001  (TVM could not build the checked program: nothing explained)
        out.error = f"checked build failed: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        out.ms = (time.perf_counter() - t0) * 1e3
        return out
    for name, func in funcs.items():
        specs, values = values_for(func, name)
        specs = list(specs) + [ArgSpec(TRAP_NAME, "float64", (TRAP_SLOTS,))]
        values = list(values) + [np.zeros(TRAP_SLOTS, "float64")]
        kept: list = []
        try:
            call(compiled[name], specs, values, tvm.cpu(0), kept)
        except Exception as e:  # noqa: BLE001  (a failed check stops the function with an assertion)
            trip = read_trip(kept[-1].numpy(), sites) if len(kept) == len(specs) else None
            if trip is None:
                out.error = f"checked run failed: {type(e).__name__}: {str(e).strip()[:300]}"
                break
            out.trip = trip
            break
    out.ms = (time.perf_counter() - t0) * 1e3
    return out
