"""The differential oracle: every build of a case against TVM's default pipeline for llvm, same inputs.

Runs in an executor child after the case's own builds ran. A disagreement is a `miscompilation` only
when no named false-alarm filter (fast math, undefined behaviour, unwritten memory, float boundary
values, possible signed overflow) explains it; then the culprit pass is searched by building prefixes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from tirfuzz.fuzzer.core.inputs import PROFILES, make_args, make_value
from tirfuzz.fuzzer.core.runtime import call
from tirfuzz.fuzzer.core.tvmapi import default_pipeline
from tirfuzz.oracles.base import BUILT, Finding, Oracle, OracleContext
from tirfuzz.oracles.compare import Difference, compare_outputs, op_family
from tirfuzz.oracles.nanpolicy import explain_nan_policy, is_gpu_target
from tirfuzz.oracles.ub import static_ub_reasons

VARIANT_SEED = 1_000_003  # second fill of the output-only buffers


@dataclass
class Comparison:
    """What comparing a case's builds with the reference concluded (kept in ExecResult.oracle)."""

    outcome: str = "ok"                     # "ok" or "miscompilation"
    filtered: str | None = None             # the named filter that hid a difference
    reason: str = ""
    target: str | None = None               # the build that disagreed with the reference
    diff: dict[str, Any] | None = None
    culprit: str | None = None              # first pass after which the output differs
    family: str = ""
    compared: list[str] = field(default_factory=list)


class DifferentialOracle(Oracle):
    """Every build that ran against the reference build: outcome `miscompilation` with its culprit pass."""

    name = "differential"
    point = BUILT

    def check(self, ctx: OracleContext) -> Finding:
        c = compare_builds(ctx.case, ctx.mod, ctx.funcs, ctx.builds, ctx.compile_with, default_pipeline(),
                           ctx.stage)
        if c.outcome != "miscompilation":
            return Finding("ok", record=asdict(c))
        d = c.diff or {}
        message = (f"{c.target} differs from the reference (default pipeline, llvm) in {d.get('func')} buffer "
                   f"{d.get('buffer')} at {d.get('index')}: expected {d.get('expected')}, got {d.get('actual')} "
                   f"({d.get('mismatches')} of {d.get('size')} elements); culprit: {c.culprit}")
        return Finding("miscompilation", f"oracle:{c.target}", message, c.target, c.culprit, asdict(c))


def output_only_params(func) -> set[int]:
    """Buffer parameters (counted among buffers) the function stores to and never loads from: their
    initial content is not input."""
    import tvm
    import tvm_ffi

    stored, loaded = [], []
    tvm_ffi.structural_walk(func.body, [(tvm.tirx.BufferStore, lambda s: stored.append(s.buffer)),
                                        (tvm.ir.TensorLoad, lambda ld: loaded.append(ld.source))])
    out, k = set(), 0
    for p in func.params:
        if type(getattr(p, "ty", None)).__name__ != "BufferType":
            continue
        if any(b.same_as(p) for b in stored) and not any(b.same_as(p) for b in loaded):
            out.add(k)
        k += 1
    return out


def variant_values(func, seed: int, name: str, variant: int) -> tuple[list, list]:
    """make_args' specs and values; variant 1 fills output-only buffers with other values (inputs stay)."""
    specs, values = make_args(func, seed, name)
    if variant:
        outs, k = output_only_params(func), 0
        for i, s in enumerate(specs):
            if s.shape is None:
                continue
            if k in outs:
                values[i] = make_value(s.dtype, s.shape, seed + VARIANT_SEED, name, i)
            k += 1
    return specs, values


def run_variant(compiled: dict[str, Any], funcs: dict[str, Any], seed: int, device, variant: int) -> dict[str, list]:
    """Run every function on the values of `variant_values`; the buffers after the run, by function."""
    return {name: call(compiled[name], *variant_values(func, seed, name, variant), device)
            for name, func in funcs.items()}


def _fill(funcs: dict[str, Any], seed: int, variant: int) -> dict[str, list]:
    """What each buffer holds before a run of `variant`, by function."""
    fills = {}
    for name, func in funcs.items():
        specs, values = variant_values(func, seed, name, variant)
        fills[name] = [v for s, v in zip(specs, values) if s.shape is not None]
    return fills


def unstable_elements(run0: dict[str, list], run1: dict[str, list], fill0: dict[str, list],
                      fill1: dict[str, list]) -> tuple[dict[str, list], int]:
    """Elements whose value depends on what the output buffers held before the run (read before written),
    other than elements the program leaves untouched; and how many there are."""
    masks, count = {}, 0
    for name, arrs in run0.items():
        ms = []
        for k, (a, b) in enumerate(zip(arrs, run1[name])):
            same = (a == b) | ((a != a) & (b != b)) if a.dtype.kind == "f" else (a == b)
            untouched = (a == fill0[name][k]) & (b == fill1[name][k])
            m = ~(same | untouched)
            count += int(np.count_nonzero(m))
            ms.append(m)
        masks[name] = ms
    return masks, count


def compare_builds(case, mod, funcs: dict[str, Any], builds: dict[str, tuple[Any, Any, dict]],
                   compile_with: Callable[..., Any], reference: list, stage: Callable) -> Comparison:
    """Compare each runnable build in `builds` (target -> (compiled, device, outputs of variant 0))."""
    v = Comparison(family=op_family(case.ir, case.pass_config))
    if not builds:
        return v
    seed = case.input_seed
    ref = stage("build:reference", "llvm", lambda: compile_with("llvm", reference, {}))
    import tvm

    cpu = tvm.cpu(0)
    ref0 = stage("run:reference", "llvm", lambda: run_variant(ref, funcs, seed, cpu, 0))
    ref1 = stage("run:reference", "llvm", lambda: run_variant(ref, funcs, seed, cpu, 1))
    fill0, fill1 = _fill(funcs, seed, 0), _fill(funcs, seed, 1)
    _, ref_unstable = unstable_elements(ref0, ref1, fill0, fill1)
    for target, (compiled, device, out0) in builds.items():
        v.compared.append(target)
        out1 = stage(f"run:{target}", target, lambda c=compiled, d=device: run_variant(c, funcs, seed, d, 1))
        _, unstable = unstable_elements(out0, out1, fill0, fill1)
        diff = compare_outputs(ref0, out0, v.family) or compare_outputs(ref1, out1, v.family) \
            if v.family != "fast-math" else None
        if v.family == "fast-math":
            if compare_outputs(ref0, out0, "arith") is not None:
                v.filtered, v.reason = "fast-math", "enable_fast_math builds are compared for crashes only"
            continue
        if diff is None:
            continue
        nan = explain_nan_policy(mod, funcs, seed, ref0, out0, v.family, target, reference, stage) \
            if is_gpu_target(target) else None  # a check on this run: the float max/min NaN policy of GPUs
        if nan is not None:
            v.filtered, v.reason, v.target, v.diff = nan[0], nan[1], target, diff.as_dict()
            continue
        name, reason = _explain(case, diff, ref_unstable, unstable, PROFILES[seed % len(PROFILES)],
                                lambda: _agree_on_small_inputs(ref, compiled, funcs, seed, device, v.family, stage,
                                                               target), mod)
        if name is not None:
            v.filtered, v.reason, v.target, v.diff = name, reason, target, diff.as_dict()
            continue
        v.outcome, v.target, v.diff = "miscompilation", target, diff.as_dict()
        v.culprit = culprit(case, funcs, ref0, target, device, compile_with, v.family, stage)
        return v
    return v


def _explain(case, diff: Difference, ref_unstable: int, unstable: int, profile: str,
             agree_small: Callable[[], bool], mod) -> tuple[str | None, str]:
    """The named false-alarm filter that explains a difference, or (None, "")."""
    ub = static_ub_reasons(case, mod)
    if ub:
        return "undefined-behaviour", "the program may " + ", ".join(ub)
    if ref_unstable or unstable:
        return "reads-unwritten-memory", (f"{max(ref_unstable, unstable)} output elements depend on what the "
                                          "buffers held before the run")
    if diff.non_finite and profile == "boundary":
        return "float-boundary-values", ("NaN/Inf on one side only, on boundary inputs (overflow and NaN "
                                         "propagation differ legitimately under FMA contraction and libm)")
    if diff.dtype.startswith("int") and profile == "boundary" and agree_small():
        return "signed-overflow-possible", ("integer results differ only on extreme inputs, where signed "
                                            "overflow (undefined) is possible")
    return None, ""


def _agree_on_small_inputs(ref, compiled, funcs, seed: int, device, family: str, stage, target: str) -> bool:
    import tvm

    small = seed - seed % 3  # profile "small": values 0..3 and [-1, 1]
    a = stage("run:reference", "llvm", lambda: run_variant(ref, funcs, small, tvm.cpu(0), 0))
    b = stage(f"run:{target}", target, lambda: run_variant(compiled, funcs, small, device, 0))
    return compare_outputs(a, b, family) is None


def culprit(case, funcs, ref0, target: str, device, compile_with, family: str, stage) -> str:
    """The pass at the prefix boundary where the build's output starts to differ from the reference,
    checked both ways: the prefix without it builds and agrees, the prefix with it builds and differs.
    A prefix that does not build says nothing about its passes: when the search cannot isolate one pass
    (the prefixes between the last agreeing one and the first differing one do not build), the range."""
    seed, passes = case.input_seed, case.passes
    agrees: int | None = None  # the longest prefix seen to build and agree
    for k in range(len(passes) + 1):
        try:
            built = compile_with(target, passes[:k])
            out = run_variant(built, funcs, seed, device, 0)
        except Exception:  # noqa: BLE001  (a prefix may not build: missing preconditions)
            continue
        if compare_outputs(ref0, out, family) is None:
            agrees = k
            continue
        if k == 0:
            return f"(build for {target}: completion passes and codegen)"
        if agrees == k - 1:
            return passes[k - 1].name
        names = [p.name for p in passes[(agrees or 0):k]]
        return (f"(not isolated: one of {len(names)} passes {names[0]} .. {names[-1]}"
                + ("" if agrees is not None else ", or the completion") + "; the prefixes between do not build)")
    return "(not isolated: no prefix differs)"
