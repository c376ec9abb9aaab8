"""Pass-sequence and PassContext mutators (no IR parsing): insert, delete, swap, replace, splice, args, configs.

Sequences are kept valid by simulating the documented preconditions (fuzzer.core.passes.PRECONDITIONS)
over the case's passes followed by the completion the build adds (runtime.completion_passes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from tirfuzz.fuzzer.core.case import PassSpec, TestCase
from tirfuzz.fuzzer.core.passes import PRECONDITIONS, builtin_pass_names
from tirfuzz.fuzzer.core.runtime import DLIGHT_PASS, DLIGHT_RULES, GPU_SCHEDULES, completion_passes
from tirfuzz.fuzzer.core.tvmapi import default_pipeline
from tirfuzz.mutators.base import Decline, MutationContext, MutationOutcome, Mutator

TRIES = 12          # random candidates drawn before a pass mutator declines
MAX_PASSES = 80     # longer sequences only slow the campaign down

# Arguments a pass takes, as the values a mutation may pick (bounded: each keeps compile time sane).
PASS_ARGS: dict[str, list[tuple]] = {
    "NarrowDataType": [(8,), (16,), (32,), (64,)],
    "ThreadSync": [("shared",), ("shared.dyn",), ("warp",), ("global",), ("local",)],
    "VectorizeLoop": [(), (True,), (False,)],
    "CompactBufferAllocation": [(), (True,), (False,)],
    "HoistIfThenElse": [(), ("basic",)],
    "RemoveWeightLayoutRewriteBlock": [(), (True,), (False,)],
    "FP8ComputeLegalize": [(), ("float32",), ("float16",)],
    "InjectPTXLDG32": [(), (True,), (False,)],
    # dlight's rules: all of them, Fallback alone, or one rule with Fallback for what it does not take
    "ApplyDefaultSchedule": [(), (DLIGHT_RULES[-1],)] + [(r, DLIGHT_RULES[-1]) for r in DLIGHT_RULES[:-1]],
}
REQUIRED_ARGS = {"NarrowDataType", "ThreadSync", "BindTarget"}
SKIP = {"BindTarget", "VerifyVTCMLimit"}  # BindTarget never replaces the bound target; VTCM is Hexagon-only

# PassContext configs and the values a mutation may set (unroll limits bounded: larger ones take seconds).
CONFIGS: dict[str, Any] = {
    "tirx.UnrollLoop": {"auto_max_step": [0, 4, 16, 32], "auto_max_depth": [1, 2, 4, 8],
                        "auto_max_extent": [0, 4, 16, 32], "explicit_unroll": [0, 1], "unroll_local_access": [0, 1]},
    "tirx.StmtSimplify": {"transitively_prove_inequalities": [True, False],
                          "convert_boolean_to_and_of_ors": [True, False],
                          "apply_constraints_to_boolean_branches": [True, False]},
    "s_tir.LoopPartition": {"partition_const_loop": [True, False], "no_unroll_loop_with_extent_one": [True, False],
                            "unroll_loop_with_partition_hint_no_interval": [True, False]},
    "s_tir.InjectDoubleBuffer": {"split_loop": [1, 2, 4]},
    "s_tir.HoistIfThenElse": {"support_block_scope_hoisting": [True, False]},
    "tirx.RemoveNoOp": {"max_simplification_steps": [0, 10, 1000]},
    "s_tir.HoistExpression": {"hoisted_conditionals": [0, 1, 3, 7], "hoisted_let_bindings": [0, 1, 3, 7]},
    "tirx.disable_vectorize": [True, False], "tirx.disable_cse_tir": [True, False],
    "tirx.disable_storage_rewrite": [True, False], "tirx.noalias": [True, False],
    "tirx.disable_assert": [True, False], "tirx.debug_keep_trivial_loop": [True, False],
    "tirx.enable_buffer_level_predication": [True, False], "tirx.instrument_bound_checkers": [True, False],
}
# Left out on purpose: tirx.enable_fast_math (results may differ from the reference build by design),
# profiling and Hexagon/relax keys, tirx.add_lower_pass (takes Pass objects).


def short(name: str) -> str:
    return name.rpartition(".")[2]


def sequence_problems(passes: list[PassSpec], has_blocks: bool) -> list[str]:
    """Documented preconditions the sequence (then the build's completion) would break, as 'Pass:need'."""
    steps = list(passes) + [PassSpec(n) for n in completion_passes([p.name for p in passes])]
    blocks, init, opaque, packed = has_blocks, has_blocks, not has_blocks, False
    problems = []
    for p in steps:
        s = short(p.name)
        for need in PRECONDITIONS.get(s, ()):
            ok = {"block-free": not blocks, "packed-api": packed, "opaque-blocks": opaque or not blocks,
                  "no-block-init": not init or not blocks, "schedulable-blocks": blocks and not opaque}.get(need, True)
            if not ok:
                problems.append(f"{s}:{need}")
        if s == "LowerInitBlock":
            init = False
        elif s == "ConvertBlocksToOpaque":
            opaque = True
        elif s == "LowerOpaqueBlock" and opaque:
            blocks = False
        elif s == "MakePackedAPI":
            packed = True
        if s in REQUIRED_ARGS and not p.args:
            problems.append(f"{s}:args")
    return problems


def with_gpu_schedule(passes: list[PassSpec], ir: str, rng: random.Random, share: float = 0.5) -> list[PassSpec]:
    """For a case given a GPU target: in `share` of draws, dlight's schedule rules first in the sequence (the
    build then adds no DefaultGPUSchedule), so programs DefaultGPUSchedule cannot bind reach GPU code too.
    Only for programs with blocks (dlight schedules blocks; `schedulable-blocks`)."""
    if any(p.name in GPU_SCHEDULES for p in passes) or "T.sblock(" not in ir or rng.random() >= share:
        return passes
    return [_spec(DLIGHT_PASS, rng)] + list(passes)


def _pool_names(ctx: MutationContext) -> list[str]:
    if ctx.pool is None:
        return builtin_pass_names()
    return ctx.pool.names()


def _spec(name: str, rng: random.Random) -> PassSpec:
    choices = PASS_ARGS.get(short(name))
    args = rng.choice(choices) if choices else ()
    return PassSpec(name, tuple(args))


def _new_case(case: TestCase, passes: list[PassSpec]) -> TestCase:
    return replace(case, passes=list(passes))


@dataclass
class PassSeqMutator(Mutator):
    """Base of the sequence mutators: draw candidates until one keeps every documented precondition."""

    kind: str = "pass"

    def candidate(self, ctx: MutationContext, rng: random.Random) -> tuple[list[PassSpec], dict[str, Any]] | None:
        raise NotImplementedError

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        last = "no candidate"
        for _ in range(TRIES):
            got = self.candidate(ctx, rng)
            if got is None:
                continue
            seq, detail = got
            if len(seq) > MAX_PASSES or seq == list(ctx.case.passes):
                continue
            problems = sequence_problems(seq, ctx.has_blocks)
            if problems and rng.random() < 0.97:  # a few invalid sequences still go out, to test the filters
                last = f"precondition {problems[0]}"
                continue
            if problems:
                detail["unmet"] = problems[:3]
            return MutationOutcome(detail=detail, case=_new_case(ctx.case, seq))
        raise Decline(last)


@dataclass
class PassInsert(PassSeqMutator):
    """Insert a pass from the pool (or a copy of one already there) at a random position."""

    name: str = "pass-insert"
    weight: float = 2.0

    def candidate(self, ctx, rng):
        seq = list(ctx.case.passes)
        names = [n for n in _pool_names(ctx) if short(n) not in SKIP]
        if seq and rng.random() < 0.2:
            spec = rng.choice(seq)
        else:
            spec = _spec(rng.choice(names), rng)
        at = rng.randrange(len(seq) + 1)
        seq.insert(at, spec)
        return seq, {"pass": str(spec), "at": at}


@dataclass
class PassDelete(PassSeqMutator):
    """Delete a pass (the build still adds the completion passes a runnable module needs)."""

    name: str = "pass-delete"
    weight: float = 1.5

    def candidate(self, ctx, rng):
        seq = list(ctx.case.passes)
        if not seq:
            raise Decline("empty sequence")
        at = rng.randrange(len(seq))
        gone = seq.pop(at)
        return seq, {"pass": str(gone), "at": at}


@dataclass
class PassSwap(PassSeqMutator):
    """Swap two passes (adjacent ones more often)."""

    name: str = "pass-swap"
    weight: float = 1.5

    def candidate(self, ctx, rng):
        seq = list(ctx.case.passes)
        if len(seq) < 2:
            raise Decline("fewer than two passes")
        i = rng.randrange(len(seq) - 1)
        j = i + 1 if rng.random() < 0.6 else rng.randrange(len(seq))
        if i == j:
            return None
        seq[i], seq[j] = seq[j], seq[i]
        return seq, {"swap": [i, j]}


@dataclass
class PassReplace(PassSeqMutator):
    """Replace a pass by another from the pool."""

    name: str = "pass-replace"
    weight: float = 1.5

    def candidate(self, ctx, rng):
        seq = list(ctx.case.passes)
        if not seq:
            raise Decline("empty sequence")
        at = rng.randrange(len(seq))
        names = [n for n in _pool_names(ctx) if short(n) not in SKIP and n != seq[at].name]
        new = _spec(rng.choice(names), rng)
        old, seq[at] = seq[at], new
        return seq, {"from": str(old), "to": str(new), "at": at}


@dataclass
class PassSplice(PassSeqMutator):
    """Cross two sequences: a prefix of this one and a suffix of the donor's (or of TVM's default pipeline)."""

    name: str = "pass-splice"
    weight: float = 1.0

    def candidate(self, ctx, rng):
        a = list(ctx.case.passes)
        b = list(ctx.donor.passes) if ctx.donor is not None and ctx.donor.passes else default_pipeline()
        i, j = rng.randrange(len(a) + 1), rng.randrange(len(b) + 1)
        seq = a[:i] + b[j:]
        return seq, {"cut": [i, j], "donor": ctx.donor is not None}


@dataclass
class PassArgs(PassSeqMutator):
    """Change the arguments of a pass that takes some (NarrowDataType bits, ThreadSync scope, ...)."""

    name: str = "pass-args"
    weight: float = 1.0

    def candidate(self, ctx, rng):
        seq = list(ctx.case.passes)
        idx = [i for i, p in enumerate(seq) if short(p.name) in PASS_ARGS]
        if not idx:
            raise Decline("no pass with arguments")
        at = rng.choice(idx)
        options = [a for a in PASS_ARGS[short(seq[at].name)] if tuple(a) != tuple(seq[at].args)]
        if not options:
            return None
        args = rng.choice(options)
        seq[at] = PassSpec(seq[at].name, tuple(args))
        return seq, {"pass": short(seq[at].name), "args": list(args)}


@dataclass
class ConfigMutate(Mutator):
    """Set, change or drop a PassContext config (unroll limits, simplifier switches, disable_* flags)."""

    name: str = "pass-config"
    weight: float = 1.5
    kind: str = "config"

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        cfg = {k: (dict(v) if isinstance(v, dict) else v) for k, v in ctx.case.pass_config.items()}
        known = [k for k in cfg if k in CONFIGS]
        if known and rng.random() < 0.2:
            key = rng.choice(known)
            del cfg[key]
            detail: dict[str, Any] = {"drop": key}
        else:
            key = rng.choice(list(CONFIGS))
            spec = CONFIGS[key]
            if isinstance(spec, dict):
                field = rng.choice(list(spec))
                value = rng.choice(spec[field])
                sub = dict(cfg.get(key, {})) if isinstance(cfg.get(key), dict) else {}
                sub[field] = value
                cfg[key] = sub
                detail = {"set": f"{key}.{field}", "value": value}
            else:
                value = rng.choice(spec)
                cfg[key] = value
                detail = {"set": key, "value": value}
        if cfg == ctx.case.pass_config:
            raise Decline("same config")
        return MutationOutcome(detail=detail, case=replace(ctx.case, pass_config=cfg))


def pass_mutators() -> list[Mutator]:
    return [PassInsert(), PassDelete(), PassSwap(), PassReplace(), PassSplice(), PassArgs(), ConfigMutate()]
