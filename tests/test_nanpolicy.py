"""The NaN-policy filter with real TVM on the CPU: a stand-in for the GPU output computes numpy's fmax."""

from __future__ import annotations

import numpy as np

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.runtime import compile_module, entry_functions, load, make_args, parse, run_functions
from tirfuzz.fuzzer.core.tvmapi import default_pipeline
from tirfuzz.oracles.differential import compare_builds
from tirfuzz.oracles.nanpolicy import (NAME, explain_nan_policy, float_minmax_ops, is_gpu_target, nan_policy_reason,
                                       with_fmax_semantics)

MAX_IR = '''@T.prim_func
def main(A: T.Buffer((256,), "float32"), B: T.Buffer((256,), "float32"), C: T.Buffer((256,), "float32")):
    for i in range(256):
        C[i] = T.max(A[i], B[i])
'''
SEED = 2  # input profile "boundary": NaN among the inputs


def stage(name, target, fn):
    return fn()


def reference(mod, funcs):
    steps = [(s.name, s.args) for s in default_pipeline()]
    return run_functions(load(compile_module(mod, "llvm", steps, {}), list(funcs)), funcs, SEED, _cpu())


def _cpu():
    import tvm

    return tvm.cpu(0)


def fmax_standin(funcs) -> dict[str, list]:
    """What a CUDA build of MAX_IR gives: numpy.fmax of the inputs (a NaN operand yields the other one)."""
    _, (a, b, c) = make_args(funcs["main"], SEED, "main")
    return {"main": [a, b, np.fmax(a, b)]}


def test_ops_and_targets():
    mod = parse(MAX_IR)
    assert float_minmax_ops(mod) == ["max"]
    assert float_minmax_ops(parse(MAX_IR.replace("T.max", "T.min"))) == ["min"]
    assert float_minmax_ops(parse(MAX_IR.replace("T.max(A[i], B[i])", "A[i] + B[i]"))) == []
    assert is_gpu_target("cuda -arch=sm_90") and is_gpu_target("rocm") and not is_gpu_target("llvm")
    assert nan_policy_reason(["max"], None, None) is None  # no difference: nothing to explain


def test_difference_that_is_only_nan_policy_is_filtered_with_the_op_named():
    mod = parse(MAX_IR)
    funcs = entry_functions(mod)
    ref0 = reference(mod, funcs)
    a, b = fmax_standin(funcs)["main"][:2]
    assert np.isnan(a).any() and np.isnan(b).any()
    got = fmax_standin(funcs)
    # the plain reference really differs (LLVM's max gives NaN where fmax does not), and the rewritten one agrees
    assert np.isnan(ref0["main"][2]).sum() > np.isnan(got["main"][2]).sum()
    np.testing.assert_array_equal(reference(with_fmax_semantics(mod), funcs)["main"][2], got["main"][2])
    found = explain_nan_policy(mod, funcs, SEED, ref0, got, "arith", "cuda", default_pipeline(), stage)
    assert found is not None and found[0] == NAME
    assert found[1].startswith("max: CUDA returns the non-NaN operand where LLVM propagates NaN")


def test_a_genuinely_different_output_is_not_filtered():
    mod = parse(MAX_IR)
    funcs = entry_functions(mod)
    ref0 = reference(mod, funcs)
    got = fmax_standin(funcs)
    c = got["main"][2]
    k = int(np.nanargmax(np.abs(c)))
    c[k] = -c[k]  # a wrong value (inputs reach +-FLT_MAX: tolerances scale with them), on top of the NaN policy
    assert explain_nan_policy(mod, funcs, SEED, ref0, got, "arith", "cuda", default_pipeline(), stage) is None
    # a CPU target is never judged by the GPU's NaN policy
    assert nan_policy_reason(["max"], object(), None, "llvm") is not None  # the rule alone...
    assert not is_gpu_target("llvm")  # ...is only asked for GPU targets (compare_builds)


def _standin_build(mod, funcs, scale: float):
    """An llvm build of the fmax-semantics module (its result times `scale`): a CPU stand-in for cuda."""
    src = MAX_IR.replace("T.max(A[i], B[i])", f"T.max(A[i], B[i]) * T.float32({scale})")
    fmod = with_fmax_semantics(parse(src))
    steps = [(s.name, s.args) for s in default_pipeline()]
    return load(compile_module(fmod, "llvm", steps, {}), list(funcs))


def test_the_differential_oracle_filters_nan_policy_for_gpu_targets_only():
    mod = parse(MAX_IR)
    funcs = entry_functions(mod)
    case = TestCase(ir=MAX_IR, passes=[], targets=["cuda"], input_seed=SEED)

    def compile_with(target, specs, config=None):
        return load(compile_module(mod, target, [(s.name, s.args) for s in specs], config or {}), list(funcs))

    for target, scale, nan_policy in (("cuda", 1.0, True), ("llvm", 1.0, False), ("cuda", -1.0, False)):
        built = _standin_build(mod, funcs, scale)
        out0 = run_functions(built, funcs, SEED, _cpu())
        c = compare_builds(case, mod, funcs, {target: (built, _cpu(), out0)}, compile_with, default_pipeline(),
                           stage)
        assert c.diff is not None, (target, scale, c)  # every stand-in differs from the plain reference
        # (the other outcomes are the older filters' business: on boundary inputs a NaN on one side only is
        # `float-boundary-values` for any target)
        assert (c.filtered == NAME) == nan_policy, (target, scale, c)
        if nan_policy:
            assert c.outcome == "ok" and c.reason.startswith("max: CUDA returns the non-NaN operand"), c
