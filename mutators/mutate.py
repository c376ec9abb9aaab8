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
from tirfuzz.fuzzer.tir.features import structure_features
from tirfuzz.fuzzer.tir.safety import make_safe
from tirfuzz.mutators.base import Decline, MutationContext, MutationOutcome, Mutator
from tirfuzz.mutators.registry import all_mutators

HISTORY_KEEP = 64  # newest history entries kept on a case (older ones are counted in history_dropped)
MUTATE_JOB = ("mutate", "tirfuzz.mutators.mutate:mutate_job")  # (job name, function) for ExecutorConfig.jobs


def pick(mutators: list[Mutator], rng: random.Random, weights: dict[str, float] | None = None) -> Mutator:
    """A mutator chosen with probability proportional to its weight (`weights[name]`, learned by the
    campaign, when given; else its own)."""
    ws = [weights.get(m.name, m.weight) for m in mutators] if weights else [m.weight for m in mutators]
    x = rng.random() * sum(ws)
    for m, w in zip(mutators, ws):
        x -= w
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


def stack_size(rng: random.Random, most: int) -> int:
    """How many mutations one exec stacks: 1 plus a fair coin per further place, at most `most` (mean
    (most + 1) / 2: 2.5 for 4). AFL's havoc and libFuzzer's -mutate_depth stack mutations likewise."""
    return 1 + sum(rng.random() < 0.5 for _ in range(max(0, most - 1)))


def mutate_module(case: TestCase, rng_seed: int, pool: PassPool | None = None, mutators: list[Mutator] | None = None,
                  donor: TestCase | None = None, *, check: bool = False,
                  parsed: tuple[str | None, str | None] = (None, None),
                  stack: int = 1, weights: dict[str, float] | None = None,
                  features: bool | str = False) -> tuple[TestCase | None, dict[str, Any], Any]:
    """A stack of mutations of `case`, each by a mutator drawn by weight: (new case, info, the mutant's
    IRModule when the IR changed, else None), or (None, info with `reason`, None).

    `stack` is the most mutations one call applies (`stack_size` draws how many; 1: exactly one). IR
    mutations apply to the module one after another, with one parse (or JSON load) before and one index-
    safety pass and one print after; pass, config and target mutations to the case. A mutator that does
    not apply is passed over (at most twice as many draws as places). `info["mutators"]` names the applied
    ones in order, and the case's history gets one entry each. `weights` (name -> weight) replaces the
    mutators' own weights (the campaign's learned ones: fuzzer/campaign/yields.py). With `features`, a
    mutant whose IR changed has its IR-structure features and its parent's in info["features"] and
    info["parent_features"] (fuzzer/tir/features.py); `features="mutant"`: the mutant's only.
    `parsed` is the case's and the donor's module as TVM JSON (from an earlier run), loaded instead of
    parsing their TVMScript when given.
    `check=True` also re-parses the printed module and runs the well-formedness pre-check, declining
    with reason "ill-formed: ..." when it fails (an executor child that will run the case can skip it).
    """
    rng = random.Random(rng_seed)
    muts = mutators if mutators is not None else all_mutators()
    places = 1 if stack <= 1 else stack_size(rng, stack)
    first = MutationContext(case, pool, donor, mod_json=parsed[0], donor_json=parsed[1])
    ctx, applied, info, contexts = first, [], {}, [first]
    t0 = time.perf_counter()
    for _ in range(places if places == 1 else 2 * places):
        m = pick(muts, rng, weights)
        try:
            out = m.apply(ctx, rng)
        except Decline as d:
            out, info["reason"] = None, d.reason
        except Exception as e:  # noqa: BLE001  (a mutator's own failure: counted, never fatal)
            if os.environ.get("TIRFUZZ_MUTATOR_DEBUG"):
                traceback.print_exc()
            out, info["reason"] = None, f"error: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
        if places == 1:
            info.update(mutator=m.name, kind=m.kind)
        if out is None:
            continue
        applied.append((m, out))
        ctx = _after(ctx, m, out)
        contexts.append(ctx)
        if len(applied) == places:
            break
    if applied:
        info.pop("reason", None)
        info.update(mutator="+".join(m.name for m, _ in applied), kind="+".join(sorted({m.kind for m, _ in applied})),
                    mutators=[m.name for m, _ in applied])
    else:
        info.setdefault("reason", "not-applicable")
        info["ms"], info["parse_ms"] = (time.perf_counter() - t0) * 1e3, first.parse_ms
        return None, info, None
    risks = [r for _, out in applied for r in out.risks]
    try:
        new, mod = _finish(applied, first, ctx, case, info, risks, check)
    except Exception as e:  # noqa: BLE001  (safety pass or printer failed on the mutant: counted, never fatal)
        if os.environ.get("TIRFUZZ_MUTATOR_DEBUG"):
            traceback.print_exc()
        new, mod, info["reason"] = None, None, f"error: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    parse_ms = sum(c.parse_ms for c in contexts)
    if new is None:
        info["ms"], info["parse_ms"] = (time.perf_counter() - t0) * 1e3, parse_ms
        return None, info, None
    safe = not risks
    entries = [{"mutator": m.name, "detail": _short(out.detail), "safe": safe} for m, out in applied]
    if len(entries) > 1:
        for e in entries:
            e["stack"] = len(entries)
    history = list(case.extra.get("history", [])) + entries
    if len(history) > HISTORY_KEEP:
        new.extra["history_dropped"] = int(case.extra.get("history_dropped", 0)) + len(history) - HISTORY_KEEP
        history = history[-HISTORY_KEEP:]
    new.extra["history"] = history
    new.extra["safe"] = bool(case.extra.get("safe", True)) and safe
    if risks:
        new.extra["ub_risks"] = sorted(set(case.extra.get("ub_risks", [])) | set(risks))
    if features and mod is not None:
        info["features"] = sorted(structure_features(mod))
        if features != "mutant":  # the campaign has the parent's already when it ran as a mutant: not again
            info["parent_features"] = sorted(structure_features(first.mod))
    info.update(safe=safe, ms=(time.perf_counter() - t0) * 1e3, parse_ms=parse_ms,
                detail=entries[0]["detail"] if len(entries) == 1 else [e["detail"] for e in entries])
    return new, info, mod


def _after(ctx: MutationContext, m: Mutator, out: MutationOutcome) -> MutationContext:
    """The context the next mutation of a stack sees: the module so far, the case so far."""
    if m.kind == "ir":
        nxt = MutationContext(ctx.case, ctx.pool, ctx.donor, _mod=out.mod, _donor_mod=ctx._donor_mod,
                              donor_json=ctx.donor_json)
    else:
        nxt = MutationContext(out.case, ctx.pool, ctx.donor, mod_json=None if ctx.ir_changed else ctx.mod_json,
                              _mod=ctx._mod, _donor_mod=ctx._donor_mod, donor_json=ctx.donor_json)
    nxt.ir_changed = ctx.ir_changed or m.kind == "ir"
    return nxt


def _finish(applied: list[tuple[Mutator, MutationOutcome]], first: MutationContext, last: MutationContext,
            case: TestCase, info: dict[str, Any], risks: list[str], check: bool) -> tuple[TestCase | None, Any]:
    """The new case from a stack's outcomes, the IR made index-safe and printed, with the module ((None,
    None) with info['reason'] if unusable)."""
    if not last.ir_changed:
        return replace(last.case, extra=dict(case.extra)), None
    mod = last.mod
    if any(out.safety for m, out in applied if m.kind == "ir"):
        mod, report = make_safe(mod)
        info["clamped"] = report.clamped
        if not report.safe:
            risks += report.reasons
    changed_case = any(m.kind != "ir" for m, _ in applied)
    if not changed_case and (mod.same_as(first.mod) or _same_module(mod, first.mod)):
        info["reason"] = "no-change"
        return None, None
    text = mod.script()
    if text == case.ir and not changed_case:  # printed alike all the same (the parent's text, when TVM printed it)
        info["reason"] = "no-change"
        return None, None
    if check:
        reason = well_formed_reason(text)
        if reason is not None:
            info["reason"] = reason
            return None, None
    return replace(last.case, ir=text, extra=dict(case.extra)), mod


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
    (names, to restrict the set), "ir_json"/"donor_json" (parsed modules kept from earlier runs), "stack"
    (most mutations stacked), "weights" (learned weights by mutator name)}.
    """
    kinds = set(spec.get("kinds") or ("ir", "pass", "config", "target"))
    names = spec.get("mutators")
    muts = [m for m in all_mutators() if m.kind in kinds and (names is None or m.name in names)]
    if not muts:
        return None, {"reason": f"no mutator of kinds {sorted(kinds)}"}, None
    donor = TestCase.from_dict(spec["donor"]) if spec.get("donor") else None
    return mutate_module(case, int(spec["seed"]), pool, muts, donor, parsed=(spec.get("ir_json"), spec.get("donor_json")),
                         stack=int(spec.get("stack", 1)), weights=spec.get("weights"),
                         features="mutant" if spec.get("features") == "mutant" else bool(spec.get("features")))
