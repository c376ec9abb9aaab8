"""The mutator interface, the mutation context, and `mutate_case`, the one entry point a campaign calls.

IR mutators parse the case's TVMScript, and parsing evaluates Python: call `mutate_case` with an IR
mutator only in a process that may run the case (an executor child). Pass, config and target
mutators never parse the IR.
"""

from __future__ import annotations

import os
import random
import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.passes import PassPool

KINDS = ("ir", "pass", "config", "target")
HISTORY_KEEP = 64  # newest history entries kept on a case (older ones are counted in history_dropped)


class Decline(Exception):
    """A mutator that does not apply to this case, with the reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class MutationOutcome:
    """What a mutator made: a new module (IR mutators) or a new case (the others), and what it did."""

    detail: dict[str, Any]
    mod: Any = None                     # IR mutators: the mutated IRModule
    case: TestCase | None = None        # pass, config and target mutators: the new case
    risks: list[str] = field(default_factory=list)  # undefined behaviour it may have introduced
    safety: bool = True                 # run the index-safety pass on the result (IR mutators)


@dataclass
class MutationContext:
    """The case being mutated, with its parsed module and sites computed on first use."""

    case: TestCase
    pool: PassPool | None = None
    donor: TestCase | None = None
    mod_json: str | None = None         # the module as TVM JSON, when a run of the case kept it
    donor_json: str | None = None
    _mod: Any = None
    _sites: Any = None
    _donor_mod: Any = None
    parse_ms: float = 0.0

    @property
    def mod(self):
        """The case's IRModule (parses the TVMScript: only in a process allowed to run the case)."""
        if self._mod is None:
            t0 = time.perf_counter()
            self._mod = _load(self.case.ir, self.mod_json)
            self.parse_ms += (time.perf_counter() - t0) * 1e3
        return self._mod

    def sites(self):
        """Every site of the module (see tree.Site), computed once."""
        if self._sites is None:
            from tirfuzz.fuzzer.tir.tree import collect

            self._sites = collect(self.mod)
        return self._sites

    @property
    def donor_mod(self):
        if self._donor_mod is None and self.donor is not None:
            t0 = time.perf_counter()
            self._donor_mod = _load(self.donor.ir, self.donor_json)
            self.parse_ms += (time.perf_counter() - t0) * 1e3
        return self._donor_mod

    @property
    def has_blocks(self) -> bool:
        """Whether the IR is block-level (s_tir); read from the text, so pass mutators need no parse."""
        return "T.sblock(" in self.case.ir


def _load(text: str, json_text: str | None):
    """The module from its TVM JSON when there is one (about 1 ms), else parsed from the TVMScript.

    The JSON was written by this TVM (`run_case(want_json=True)`), so it is read without
    `tvm.ir.load_json`'s upgrade step, which re-encodes the whole graph in Python (6-7 ms a module).
    """
    if json_text:
        from tvm_ffi.serialization import from_json_graph_str

        try:
            return from_json_graph_str(json_text)
        except Exception:  # noqa: BLE001  (never worse than parsing)
            pass
    from tirfuzz.fuzzer.execution.pipeline import _parse

    return _parse(text)


@dataclass
class Mutator:
    """A mutation operator: a name, a weight for random choice, a kind, and `apply`."""

    name: str = "mutator"
    weight: float = 1.0
    kind: str = "ir"

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        """A mutation of ctx.case, or None when this mutator does not apply (or raise Decline)."""
        raise NotImplementedError


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

    `parsed` is the case's and the donor's module as TVM JSON (from an earlier run), loaded instead of
    parsing their TVMScript when given.
    `check=True` also re-parses the printed module and runs the well-formedness pre-check, declining
    with reason "ill-formed: ..." when it fails (an executor child that will run the case can skip it).
    """
    from tirfuzz.mutators.registry import all_mutators

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
        return None, info
    risks = list(out.risks)
    try:
        new = _finish(m, out, ctx, case, info, risks, check)
    except Exception as e:  # noqa: BLE001  (safety pass or printer failed on the mutant: counted, never fatal)
        if os.environ.get("TIRFUZZ_MUTATOR_DEBUG"):
            traceback.print_exc()
        new, info["reason"] = None, f"error: {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}"
    if new is None:
        info["ms"], info["parse_ms"] = (time.perf_counter() - t0) * 1e3, ctx.parse_ms
        return None, info
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
    return new, info


def _finish(m: Mutator, out: MutationOutcome, ctx: MutationContext, case: TestCase, info: dict[str, Any],
            risks: list[str], check: bool) -> TestCase | None:
    """The new case from an outcome: IR made index-safe and printed (None with info['reason'] if unusable)."""
    if m.kind != "ir":
        return replace(out.case, extra=dict(case.extra))
    mod = out.mod
    if out.safety:
        from tirfuzz.fuzzer.tir.safety import make_safe

        mod, report = make_safe(mod)
        info["clamped"] = report.clamped
        if not report.safe:
            risks += report.reasons
    text = mod.script()
    if mod.same_as(ctx.mod) or text == ctx.mod.script():
        info["reason"] = "no-change"
        return None
    if check:
        reason = well_formed_reason(text)
        if reason is not None:
            info["reason"] = reason
            return None
    return replace(case, ir=text, extra=dict(case.extra))


def well_formed_reason(text: str) -> str | None:
    """None if the TVMScript parses and passes the well-formedness pre-check, else why not."""
    from tirfuzz.fuzzer.execution.pipeline import _parse, _precheck

    try:
        mod = _parse(text)
    except Exception as e:  # noqa: BLE001
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        msg = next((ln for ln in lines if "error" in ln.lower()), lines[-1] if lines else "")
        return f"unparseable: {type(e).__name__}: {msg[:200]}"
    try:
        _precheck(mod)
    except Exception as e:  # noqa: BLE001
        return f"ill-formed: {str(e)[:200]}"
    return None
