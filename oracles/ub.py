"""Undefined behaviour: decided by a checked run on the run's own inputs, never by a proof that failed.

`checked_run` builds the program with a check before every operation whose misuse is undefined
(fuzzer/tir/checked.py) through TVM's default pipeline for llvm and runs it on the given inputs: the
check that trips names the behaviour, the buffer or expression and the element. A difference or a
crash is hidden only when it trips. `explain_arithmetic_error` blames an internal error about an
out-of-range literal or a division by zero on the program only when a check on the program shows it.
`static_ub_reasons` (the mutators' safety record, or the prover for cases without one) decides no
verdict: the differential oracle keeps its answer beside the checked run's (`static_safe`) so their
agreement can be measured. Output elements the program never wrote are found at run time
(differential.unstable_elements).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from tirfuzz.fuzzer.core.runtime import ArgSpec, call, compile_module, entry_functions, load
from tirfuzz.fuzzer.tir.checked import TRAP_NAME, TRAP_SLOTS, Trip, instrument, read_trip, trip_from_message
from tirfuzz.fuzzer.tir.safety import find_unsafe
from tirfuzz.fuzzer.tir.uninit import unproven_internal_reads

RISK_WORDS = {"oob": "read or write out of bounds", "div": "divide by zero or shift out of range",
              "uninit": "read memory it never wrote", "race": "race between parallel iterations",
              "overflow": "overflow a signed integer"}


# TVM refuses to build an integer literal its dtype cannot hold, and folds a constant division by zero
# into an error: when the program's own arithmetic overflows or divides by zero, a pass that folds it
# says so. Such an internal error is the program's when a check on the program itself shows it.
_OWN_ARITHMETIC = {"index-overflow-in-program": re.compile(r"Literal value -?\d+ exceeds range of u?int\d+"),
                   "division-by-zero-in-program": re.compile(r"Divide by zero")}


def program_arithmetic_error(message: str) -> str | None:
    """The filter an internal error's message would fall under if the program's own arithmetic caused it."""
    return next((name for name, pat in _OWN_ARITHMETIC.items() if pat.search(message)), None)


def explain_arithmetic_error(mod, message: str, values_for: Callable[[Any, str], tuple[list, list]],
                             reference: list) -> dict[str, Any] | None:
    """For an internal error about a literal out of range or a division by zero: whether the program is
    to blame, shown by TVM's default pipeline refusing the program with the same error, or by the checked
    run tripping the matching check on the case's inputs. The record (`filter`, `reason`) or None."""
    name = program_arithmetic_error(message)
    if name is None:
        return None
    try:
        compile_module(mod, "llvm", [(s.name, s.args) for s in reference], {})
    except Exception as e:  # noqa: BLE001  (TVM's own pipeline refusing the program is what is asked)
        if program_arithmetic_error(str(e)) == name:
            return {"filter": name, "reason": "TVM's default pipeline refuses the program with the same error: "
                    + (str(e).strip().splitlines() or [""])[-1][:200]}
        return None
    r = checked_run(mod, values_for, reference)
    wanted = "signed-overflow" if name == "index-overflow-in-program" else "division-by-zero"
    if r.trip is not None and r.trip.site.check == wanted:
        return {"filter": name, "reason": f"the checked run of the program trapped: {r.trip.describe()}"}
    return None


def explains_internal_error(res) -> str | None:
    """The named filter that explains an internal error by the program's own arithmetic (a check on the
    program recorded in `res.oracle["program_error"]` by the pipeline), or None."""
    return (res.oracle.get("program_error") or {}).get("filter")


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
            trip = trip or trip_from_message(str(e), sites)  # the check's own assertion names it
            if trip is None:
                out.error = f"checked run failed: {type(e).__name__}: {str(e).strip()[:300]}"
                break
            out.trip = trip
            break
    out.ms = (time.perf_counter() - t0) * 1e3
    return out
