"""The NaN-policy filter: a GPU result that differs from the reference only by how float max/min treat NaN.

TVM's llvm code for a float `max(a, b)` (and `min`) may give NaN when an operand is NaN; CUDA's
`max`/`fmaxf` return the other operand (apache/tvm#17965). That difference is not a miscompilation. It is
decided on the run itself, not guessed: the reference is built again from the module with every float
max/min rewritten to fmax/fmin semantics (a NaN operand gives the other operand), run on the same inputs,
and when that reference agrees with the GPU's output where the plain reference did not, the difference is
filtered as `nan-policy`, naming the op. Everything else is compared as before.

The decision (`nan_policy_reason`) needs only numpy: bench/gpu_check.py's run half loads this file by path
on a machine without TVM or tirfuzz installed, so nothing of tirfuzz is imported at module level.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

NAME = "nan-policy"

# Target kinds whose code follows the GPU's fmax/fmin NaN policy rather than LLVM's CPU lowering.
GPU_KINDS = frozenset({"cuda", "rocm", "vulkan", "metal", "opencl", "webgpu", "nvptx"})

REFERENCE_STAGE = "reference-fmax"  # stage names of the fmax-semantics reference: build:…, run:…


def is_gpu_target(target: str) -> bool:
    """Whether a target string ("cuda -arch=sm_90") names a GPU kind."""
    return bool(target.split()) and target.split()[0] in GPU_KINDS


def _is_float(node) -> bool:
    return "float" in str(node.ty)


def float_minmax_ops(mod) -> list[str]:
    """Which of "max", "min" the module applies to float operands, in that order."""
    import tvm
    import tvm_ffi

    seen: set[str] = set()
    tvm_ffi.structural_walk(mod, [(tvm.tirx.Max, lambda n: seen.add("max") if _is_float(n) else None),
                                  (tvm.tirx.Min, lambda n: seen.add("min") if _is_float(n) else None)])
    return [op for op in ("max", "min") if op in seen]


def with_fmax_semantics(mod):
    """A copy of the module in which every float max/min returns the other operand when one is NaN."""
    import tvm
    import tvm_ffi

    def rewrite(node, m):
        node = m.default_mutate(node)
        if not _is_float(node):
            return node
        isnan = tvm.tirx.isnan
        return tvm.tirx.Select(isnan(node.a), node.b, tvm.tirx.Select(isnan(node.b), node.a, node))

    rules = [(tvm.tirx.Max, rewrite), (tvm.tirx.Min, rewrite)]
    out = {}
    for gv, f in mod.functions.items():
        out[gv] = f.with_body(tvm_ffi.structural_mutate(f.body, rules)) if isinstance(f, tvm.tirx.PrimFunc) else f
    return tvm.IRModule(out, attrs=mod.attrs)


def nan_policy_reason(ops: Sequence[str], plain: Any, fmax: Any, target: str = "the GPU") -> str | None:
    """The filter reason when the difference from the plain reference (`plain`, a Difference or None) is
    gone against the fmax-semantics reference (`fmax`); None when it is not only NaN policy."""
    if not ops or plain is None or fmax is not None:
        return None
    return (f"{'/'.join(ops)}: CUDA returns the non-NaN operand where LLVM propagates NaN (the reference "
            f"rebuilt with fmax/fmin semantics agrees with the {target} output)")


def explain_nan_policy(mod, funcs: dict[str, Any], seed: int, ref0: dict[str, list], out0: dict[str, list],
                       family: str, target: str, reference: Sequence[Any],
                       stage: Callable[[str, str | None, Callable[[], Any]], Any]) -> tuple[str, str] | None:
    """(NAME, reason) when a GPU build's difference on `seed`'s inputs is only float max/min NaN policy:
    the default pipeline (`reference`, PassSpecs) builds the fmax-semantics module for llvm and its
    outputs agree with `out0`; None otherwise (also when the module has no float max/min)."""
    from tirfuzz.fuzzer.core.runtime import (compare_outputs, compile_module, load,
                                             run_functions)  # lazy: loadable by path without tirfuzz

    ops = float_minmax_ops(mod)
    plain = compare_outputs(ref0, out0, family)
    if not ops or plain is None:
        return None
    import tvm

    steps = [(s.name, s.args) for s in reference]
    fmod = with_fmax_semantics(mod)
    built = stage(f"build:{REFERENCE_STAGE}", "llvm", lambda: load(compile_module(fmod, "llvm", steps, {}),
                                                                    list(funcs)))
    fref = stage(f"run:{REFERENCE_STAGE}", "llvm", lambda: run_functions(built, funcs, seed, tvm.cpu(0)))
    reason = nan_policy_reason(ops, plain, compare_outputs(fref, out0, family), target)
    return (NAME, reason) if reason else None
