"""The differential oracle: every build of a case against TVM's default pipeline for llvm, same inputs.

Runs in an executor child after the case's own builds ran. A disagreement is a `miscompilation` unless
a named filter explains it with a check on the run itself: the checked run (oracles/ub.py: the same
program with a check before every operation that can be undefined, run on the inputs that showed the
difference) trapping, output elements that depend on what the buffers held before the run, NaN/Inf on
boundary inputs, fast math. A program the static prover shows safe needs no checked run. The culprit pass
is then searched by building prefixes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from tirfuzz.fuzzer.core.inputs import PROFILES, arg_specs, make_args, make_value
from tirfuzz.fuzzer.core.runtime import ToolError, buffer_bytes, call, check_comparison_size, node_name, path_nodes
from tirfuzz.fuzzer.core.tvmapi import default_pipeline
from tirfuzz.oracles.base import BUILT, Finding, Oracle, OracleContext
from tirfuzz.oracles.compare import Difference, compare_outputs, op_family
from tirfuzz.oracles.nanpolicy import explain_nan_policy, is_gpu_target
from tirfuzz.oracles.ub import CheckedRun, checked_run, static_ub_reasons

CHECK_STAGE = "check:ub"  # the checked build and run (oracles/ub.py)

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
    transformation: str | None = None       # what the culprit pass changed (pass_change), when isolated
    family: str = ""
    compared: list[str] = field(default_factory=list)
    checked: dict[str, Any] | None = None   # the checked run that judged undefined behaviour (explain_by_checks)


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
    size = sum(buffer_bytes(arg_specs(f)) for f in funcs.values())
    stage("run:reference", "llvm", lambda: check_comparison_size(size))  # before anything is allocated
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
        if v.family == "fast-math":
            if compare_outputs(ref0, out0, "arith") is not None:
                v.filtered, v.reason = "fast-math", "enable_fast_math builds are compared for crashes only"
            continue
        diff, variant = compare_outputs(ref0, out0, v.family), 0
        if diff is None:
            diff, variant = compare_outputs(ref1, out1, v.family), 1
        if diff is None:
            continue
        nan = explain_nan_policy(mod, funcs, seed, ref0, out0, v.family, target, reference, stage) \
            if is_gpu_target(target) else None  # a check on this run: the float max/min NaN policy of GPUs
        if nan is not None:
            v.filtered, v.reason, v.target, v.diff = nan[0], nan[1], target, diff.as_dict()
            continue
        if v.checked is None:  # the same program and inputs for every target: one checked run explains all
            v.checked = explain_by_checks(case, mod, funcs, seed, variant, reference, stage)
        name, reason = _explain(diff, v.checked, ref_unstable, unstable, PROFILES[seed % len(PROFILES)])
        if name is not None:
            v.filtered, v.reason, v.target, v.diff = name, reason, target, diff.as_dict()
            continue
        v.outcome, v.target, v.diff = "miscompilation", target, diff.as_dict()
        v.culprit, at = culprit(case, funcs, ref0, target, device, compile_with, v.family, stage)
        if at is not None:
            v.transformation = pass_change(compile_with, target, case.passes, at)
        return v
    return v


def explain_by_checks(case, mod, funcs, seed: int, variant: int, reference: list, stage) -> dict[str, Any]:
    """The checked run's record for a difference (or crash) seen on `variant`'s inputs: what the checked
    build (oracles/ub.py) did on those very inputs, and whether the static prover had called the program
    safe (`static_safe`, kept to measure it; it decides nothing: it let through programs a check traps).
    A checked build or run that fails without a check tripping is tirfuzz's failure (its instrumentation),
    never a verdict on TVM."""
    static_safe = not static_ub_reasons(case, mod)

    def run() -> CheckedRun:
        r = checked_run(mod, lambda f, n: variant_values(f, seed, n, variant), reference)
        if r.error:
            raise ToolError(f"the checked run could not judge a difference: {r.error}")
        return r
    r = stage(CHECK_STAGE, "llvm", run)
    return {"filter": r.filter, "reason": r.reason, "checks": r.checks, "ms": round(r.ms, 1), "variant": variant,
            "static_safe": static_safe}


def _explain(diff: Difference, checked: dict[str, Any], ref_unstable: int, unstable: int,
             profile: str) -> tuple[str | None, str]:
    """The named false-alarm filter that explains a difference, or (None, "")."""
    if checked.get("filter"):
        return checked["filter"], checked["reason"]
    if ref_unstable or unstable:
        return "reads-unwritten-memory", (f"{max(ref_unstable, unstable)} output elements depend on what the "
                                          "buffers held before the run")
    if diff.non_finite and profile == "boundary":
        return "float-boundary-values", ("NaN/Inf on one side only, on boundary inputs (overflow and NaN "
                                         "propagation differ legitimately under FMA contraction and libm)")
    return None, ""


def culprit(case, funcs, ref0, target: str, device, compile_with, family: str, stage) -> tuple[str, int | None]:
    """The pass at the prefix boundary where the build's output starts to differ from the reference,
    checked both ways: the prefix without it builds and agrees, the prefix with it builds and differs;
    with its index in the case's passes. A prefix that does not build says nothing about its passes:
    when the search cannot isolate one pass (the prefixes between the last agreeing one and the first
    differing one do not build), the range, and no index."""
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
            return f"(build for {target}: completion passes and codegen)", None
        if agrees == k - 1:
            return passes[k - 1].name, k - 1
        names = [p.name for p in passes[(agrees or 0):k]]
        return (f"(not isolated: one of {len(names)} passes {names[0]} .. {names[-1]}"
                + ("" if agrees is not None else ", or the completion") + "; the prefixes between do not build)"), None
    return "(not isolated: no prefix differs)", None


# Nodes that hold a value rather than compute one: a change below an operator is named from the operator.
_LEAVES = ("TensorLoad", "BufferLoad", "Var", "SizeVar", "IntImm", "FloatImm", "StringImm")


def _fields(node) -> list[str]:
    """A node's compared fields (reflection; spans left out)."""
    names: list[str] = []
    info = getattr(type(node), "__tvm_ffi_type_info__", None)
    while info is not None:
        names += [f.name for f in info.fields if getattr(f, "c_structural_eq", None) != "ignore"]
        info = info.parent_type_info
    return names


def _operator(node) -> bool:
    import tvm

    return isinstance(node, tvm.tirx.Stmt) or (isinstance(node, tvm.ir.Expr) and type(node).__name__ not in _LEAVES)


def pass_change(compile_with, target: str, passes: list, at: int) -> str | None:
    """What pass `at` did to the module it received (after BindTarget and the passes before it), named
    without where in the program it happened, so one wrong rewrite gets one name on every program, target
    and op family that shows it: at the first structural difference, the innermost operator or statement
    holding it; when several of its fields changed, the operator and those fields (`Sub{a,b}`: the
    operands swapped); when one field changed into another kind of node, the two kinds (`Mul->Add`);
    else the operator and the field. None when a side does not lower."""
    import tvm_ffi

    try:
        before = compile_with(target, passes[:at], lower_only=True)
        after = compile_with(target, passes[:at + 1], lower_only=True)
    except Exception:  # noqa: BLE001  (a description only)
        return None
    mismatch = tvm_ffi.get_first_structural_mismatch(before, after, map_free_vars=True)
    if not mismatch:
        return "no change to the module"
    left = [n for f, n in path_nodes(before, mismatch[0]) if f or n is not None]
    right = [n for f, n in path_nodes(after, mismatch[1]) if f or n is not None]
    holders = [i for i, n in enumerate(left[:-1]) if n is not None and _operator(n)]
    if not holders or len(right) <= holders[-1]:
        return node_name(left[-1]) if left and left[-1] is not None else "?"
    i = holders[-1]
    old, new = left[i], right[i]
    if type(old) is not type(new):
        return f"{node_name(old)}->{node_name(new)}"
    changed = [f for f in _fields(old)
               if not tvm_ffi.structural_equal(getattr(old, f, None), getattr(new, f, None), map_free_vars=False)]
    if len(changed) == 1:
        a, b = getattr(old, changed[0], None), getattr(new, changed[0], None)
        if type(a) is not type(b) and _operator(a) and _operator(b):
            return f"{node_name(a)}->{node_name(b)}"
    return f"{node_name(old)}{{{','.join(changed)}}}"
