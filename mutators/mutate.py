"""`mutate_case`: draw a mutator by weight, apply it, make the result index-safe, record it on the case.

Also the executor child's `mutate` job (`MUTATE_JOB`), which a campaign registers with its executor.
IR mutators parse the case's TVMScript, and parsing evaluates Python: call `mutate_case` with an IR
mutator only in a process that may run the case (an executor child).
"""

from __future__ import annotations

import os
import random
import time
import traceback
from dataclasses import replace
from typing import Any

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.passes import PassPool
from tirfuzz.fuzzer.core.tvmapi import parse, precheck
from tirfuzz.fuzzer.tir.safety import make_safe
from tirfuzz.mutators.base import Decline, MutationContext, MutationOutcome, Mutator
from tirfuzz.mutators.registry import all_mutators

HISTORY_KEEP = 64  # newest history entries kept on a case (older ones are counted in history_dropped)
MUTATE_JOB = ("mutate", "tirfuzz.mutators.mutate:mutate_job")  # (job name, function) for ExecutorConfig.jobs


def pick(mutators: list[Mutator], rng: random.Random) -> Mutator:
    """A mutator chosen with probability proportional to its weight."""
    total = sum(m.weight for m in mutators)
    x = rng.random() * total
    for m in mutators:
        x -= m.weight
        if x < 0:
            return m
    return mutators[-1]


def _short(detail: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in detail.items():
        if isinstance(v, str) and len(v) > 160:
            v = v[:157] + "..."
        out[k] = v
    return out


def mutate_case(case: TestCase, rng_seed: int, pool: PassPool | None = None, mutators: list[Mutator] | None = None,
                donor: TestCase | None = None, *, check: bool = False,
                parsed: tuple[str | None, str | None] = (None, None)) -> tuple[TestCase | None, dict[str, Any]]:
    """One mutation of `case` by a mutator drawn by weight; (new case, info) or (None, info with `reason`).
    `mutate_module` below, less the module."""
    new, info, _ = mutate_module(case, rng_seed, pool, mutators, donor, check=check, parsed=parsed)
    return new, info


def mutate_module(case: TestCase, rng_seed: int, pool: PassPool | None = None, mutators: list[Mutator] | None = None,
                  donor: TestCase | None = None, *, check: bool = False,
                  parsed: tuple[str | None, str | None] = (None, None)) -> tuple[TestCase | None, dict[str, Any], Any]:
    """One mutation of `case` by a mutator drawn by weight: (new case, info, the mutant's IRModule for an
    IR mutation, else None), or (None, info with `reason`, None).

    `parsed` is the case's and the donor's module as TVM JSON (from an earlier run), loaded instead of
    parsing their TVMScript when given.
    `check=True` also re-parses the printed module and runs the well-formedness pre-check, declining
    with reason "ill-formed: ..." when it fails (an executor child that will run the case can skip it).
    """
    rng = random.Random(rng_seed)
    muts = mutators if mutators is not None else all_mutators()
    m = pick(muts, rng)
    info: dict[str, Any] = {"mutator": m.name, "kind": m.kind}
    ctx = MutationContext(case, pool, donor, mod_json=parsed[0], donor_json=parsed[1])
    t0 = time.perf_counter()
    try:
        out = m.apply(ctx, rng)
    except Decline as d:
        out, info["reason"] = None, d.reason
    except Exception as e:  # noqa: BLE001  (a mutator's own failure: counted, never fatal)
        if os.environ.get("TIRFUZZ_MUTATOR_DEBUG"):
            traceback.print_exc()
        out, info["reason"] = None, f"error: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    if out is None:
        info.setdefault("reason", "not-applicable")
        info["ms"], info["parse_ms"] = (time.perf_counter() - t0) * 1e3, ctx.parse_ms
        return None, info, None
    risks = list(out.risks)
    try:
        new, mod = _finish(m, out, ctx, case, info, risks, check)
    except Exception as e:  # noqa: BLE001  (safety pass or printer failed on the mutant: counted, never fatal)
        if os.environ.get("TIRFUZZ_MUTATOR_DEBUG"):
            traceback.print_exc()
        new, mod, info["reason"] = None, None, f"error: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    if new is None:
        info["ms"], info["parse_ms"] = (time.perf_counter() - t0) * 1e3, ctx.parse_ms
        return None, info, None
    safe = not risks
    entry = {"mutator": m.name, "detail": _short(out.detail), "safe": safe}
    history = list(case.extra.get("history", [])) + [entry]
    if len(history) > HISTORY_KEEP:
        new.extra["history_dropped"] = int(case.extra.get("history_dropped", 0)) + len(history) - HISTORY_KEEP
        history = history[-HISTORY_KEEP:]
    new.extra["history"] = history
    new.extra["safe"] = bool(case.extra.get("safe", True)) and safe
    if risks:
        new.extra["ub_risks"] = sorted(set(case.extra.get("ub_risks", [])) | set(risks))
    info.update(safe=safe, ms=(time.perf_counter() - t0) * 1e3, parse_ms=ctx.parse_ms, detail=entry["detail"])
    return new, info, mod


def _finish(m: Mutator, out: MutationOutcome, ctx: MutationContext, case: TestCase, info: dict[str, Any],
            risks: list[str], check: bool) -> tuple[TestCase | None, Any]:
    """The new case from an outcome, IR made index-safe and printed, with the module printed ((None, None)
    with info['reason'] if unusable)."""
    if m.kind != "ir":
        return replace(out.case, extra=dict(case.extra)), None
    mod = out.mod
    if out.safety:
        mod, report = make_safe(mod)
        info["clamped"] = report.clamped
        if not report.safe:
            risks += report.reasons
    if mod.same_as(ctx.mod) or _same_module(mod, ctx.mod):
        info["reason"] = "no-change"
        return None, None
    text = mod.script()
    if text == case.ir:  # printed alike all the same (the parent's text, when TVM printed it)
        info["reason"] = "no-change"
        return None, None
    if check:
        reason = well_formed_reason(text)
        if reason is not None:
            info["reason"] = reason
            return None, None
    return replace(case, ir=text, extra=dict(case.extra)), mod


def _same_module(a, b) -> bool:
    """Whether two modules are structurally equal (names aside): a mutant that is no change."""
    import tvm_ffi

    return bool(tvm_ffi.structural_equal(a, b, map_free_vars=True))


def well_formed_reason(text: str) -> str | None:
    """None if the TVMScript parses and passes the well-formedness pre-check, else why not."""
    try:
        mod = parse(text)
    except Exception as e:  # noqa: BLE001
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        msg = next((ln for ln in lines if "error" in ln.lower()), lines[-1] if lines else "")
        return f"unparseable: {type(e).__name__}: {msg[:200]}"
    try:
        precheck(mod)
    except Exception as e:  # noqa: BLE001
        return f"ill-formed: {str(e)[:200]}"
    return None


def mutate_job(case: TestCase, spec: dict[str, Any], pool: PassPool) -> tuple[TestCase | None, dict[str, Any], Any]:
    """The executor child's `mutate` job: one mutation of `case` as the campaign asked for it; with the
    mutant's module (IR mutations), which a run without oracles runs as it is (forkserver.py).

    spec: {"seed", "kinds" (mutation kinds allowed), "donor" (a case dict for splicing), "mutators"
    (names, to restrict the set), "ir_json"/"donor_json" (parsed modules kept from earlier runs)}.
    """
    kinds = set(spec.get("kinds") or ("ir", "pass", "config", "target"))
    names = spec.get("mutators")
    muts = [m for m in all_mutators() if m.kind in kinds and (names is None or m.name in names)]
    if not muts:
        return None, {"reason": f"no mutator of kinds {sorted(kinds)}"}, None
    donor = TestCase.from_dict(spec["donor"]) if spec.get("donor") else None
    return mutate_module(case, int(spec["seed"]), pool, muts, donor, parsed=(spec.get("ir_json"), spec.get("donor_json")))
