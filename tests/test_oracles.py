"""The oracles with real TVM: a miscompiling plugin pass is caught with its culprit, UB and float
rounding are filtered, the round trip holds on seeds."""

from __future__ import annotations

import numpy as np
import pytest

from tirfuzz.corpus import load_seed
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.core.case import PassSpec, TestCase
from tirfuzz.fuzzer.core.passes import PassPool
from tirfuzz.fuzzer.core.signature import signature
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.fuzzer.execution.pipeline import run_case
from tirfuzz.oracles import DEFAULT_ORACLES
from tirfuzz.oracles.base import BUILT, PARSED, Finding, Oracle, OracleContext
from tirfuzz.oracles.compare import compare_buffer, compare_outputs
from tirfuzz.oracles.verdict import judge

SWAP_PLUGIN = '''
import tvm
import tvm_ffi


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def swap_sub(func, mod, ctx):
    """A user's pass with a silent bug: float a - b becomes b - a."""
    def cb(value, m):
        value = m.default_mutate(value)
        if isinstance(value, tvm.tirx.Sub) and "float" in str(value.ty):
            return tvm.tirx.Sub(value.b, value.a)
        return value
    return func.with_body(tvm_ffi.structural_mutate(func.body, [(tvm.tirx.Sub, cb)]))
'''

FLOAT_SUB = '''@T.prim_func
def main(A: T.Buffer((16,), "float32"), B: T.Buffer((16,), "float32"), C: T.Buffer((16,), "float32")):
    for i in range(16):
        C[i] = A[i] * T.float32(2) - B[i]
'''

OOB = '''@T.prim_func
def main(A: T.Buffer((16,), "float32"), B: T.Buffer((16,), "float32")):
    for i in range(16):
        B[i] = A[i + 3] - T.float32(0.5)
'''


# An internal buffer written on its diagonal only, then read whole (what a byte mutation made of a seed).
DIAGONAL = '''@T.prim_func
def main(A: T.Buffer((4, 4), "float32"), B: T.Buffer((4, 4), "float32")):
    tmp = T.alloc_buffer((4, 4), "float32")
    for i in range(4):
        tmp[i, i] = A[i, i]
    for i, j in T.grid(4, 4):
        B[i, j] = tmp[i, j] * T.float32(2) - A[i, j]
'''


@pytest.fixture(scope="module")
def swap_executor(tmp_path_factory):
    plugin = tmp_path_factory.mktemp("plugin") / "userpasses.py"
    plugin.write_text(SWAP_PLUGIN)
    with Executor(ExecutorConfig(timeout_s=60, plugins=(str(plugin),))) as ex:
        yield ex


def test_plugin_pass_that_swaps_operands_is_a_miscompilation_with_that_culprit(swap_executor):
    passes = [PassSpec("tirx.transform.StmtSimplify"), PassSpec("plugin:userpasses.swap_sub"),
              PassSpec("tirx.transform.RemoveNoOp")]
    res = swap_executor.run(TestCase(FLOAT_SUB, passes=passes, targets=["llvm", "c"]), oracle=True)
    assert res.outcome == "miscompilation", (res.outcome, res.message, res.oracle)
    assert res.oracle["culprit"] == "plugin:userpasses.swap_sub"
    assert res.oracle["diff"]["func"] == "main" and res.oracle["diff"]["mismatches"] > 0
    assert signature(res).startswith("miscompilation-")
    clean = swap_executor.run(TestCase(FLOAT_SUB, passes=passes[:1] + passes[2:], targets=["llvm", "c"]), oracle=True)
    assert clean.outcome == "ok" and clean.oracle["compared"] == ["llvm", "c"]


def test_out_of_bounds_program_is_filtered_as_undefined_behaviour(swap_executor):
    """A hand-written program that reads past A: the difference the swapping pass makes is not reported."""
    passes = [PassSpec("plugin:userpasses.swap_sub")]
    res = swap_executor.run(TestCase(OOB, passes=passes, targets=["llvm"]), oracle=True)
    assert res.outcome == "ok", (res.outcome, res.message)
    assert res.oracle["filtered"] == "ub:out-of-bounds", res.oracle
    assert "out-of-bounds read of `A` at [16] (shape [16])" in res.oracle["reason"]  # i = 13: A[16], the first element past A
    assert res.oracle["diff"]["mismatches"] > 0  # there was a difference, and it was hidden
    in_bounds = swap_executor.run(TestCase(OOB.replace("i + 3", "i"), passes=passes, targets=["llvm"]), oracle=True)
    assert in_bounds.outcome == "miscompilation"  # the same pass on the in-bounds program is reported


def test_reading_an_internal_buffer_never_fully_written_is_filtered(swap_executor):
    """A case without a mutator record that reads unwritten scratch memory: its difference is not a bug."""
    passes = [PassSpec("plugin:userpasses.swap_sub")]
    res = swap_executor.run(TestCase(DIAGONAL, passes=passes, targets=["llvm"]), oracle=True)
    assert res.outcome == "ok", (res.outcome, res.message)
    assert res.oracle["filtered"] == "ub:uninitialized-read", res.oracle
    assert "read of `tmp` at [0, 1] before anything wrote it" in res.oracle["reason"]
    full = DIAGONAL.replace("for i in range(4):\n        tmp[i, i] = A[i, i]",
                            "for i, j in T.grid(4, 4):\n        tmp[i, j] = A[i, j]")
    assert full != DIAGONAL
    res = swap_executor.run(TestCase(full, passes=passes, targets=["llvm"]), oracle=True)
    assert res.outcome == "miscompilation"  # the same pass on the fully written program is reported


@pytest.mark.parametrize("body, unproven", [
    ("for i in range(4):\n        t[i] = A[i]\n    for i in range(4):\n        B[i] = t[3 - i]", []),
    ("for i in range(4):\n        t[i] = A[i]\n        B[i] = t[i]", []),  # the element just written
    ("for i in range(4):\n        t[i] = A[i]\n        B[i] = t[3 - i]", ["t"]),  # read before the loop ends
    ("for i in range(4):\n        B[i] = t[i]\n    for i in range(4):\n        t[i] = A[i]", ["t"]),
    ("for i in range(3):\n        t[i] = A[i]\n    for i in range(4):\n        B[i] = t[i]", ["t"]),
    ("for i, j in T.grid(2, 2):\n        t[i * 2 + j] = A[i]\n    for i in range(4):\n        B[i] = t[i]", []),
    ("for i, j in T.grid(2, 2):\n        t[i + j] = A[i]\n    for i in range(4):\n        B[i] = t[i]", ["t"]),
    ("for i in range(4):\n        if A[i] > T.float32(0):\n            t[i] = A[i]\n"
     "    for i in range(4):\n        B[i] = t[i]", ["t"]),
])
def test_internal_reads_are_proven_to_follow_their_writes(body, unproven):
    from tirfuzz.fuzzer.core.tvmapi import parse
    from tirfuzz.fuzzer.tir.uninit import unproven_internal_reads

    text = ('@T.prim_func\ndef main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):\n'
            '    t = T.alloc_buffer((4,), "float32")\n    ' + body + "\n")
    assert unproven_internal_reads(parse(text)) == unproven


def test_seeds_with_scratch_buffers_are_proven_initialized():
    """TE's blocks (init then update, spatial iterators bound to whole loops) and flattened loop nests
    (row-major i * n + j) prove their own writes."""
    from tirfuzz.corpus import seed_text
    from tirfuzz.fuzzer.core.tvmapi import parse
    from tirfuzz.fuzzer.tir.uninit import unproven_internal_reads

    for name in ("softmax_lastaxis", "layer_norm_lastaxis", "conv2d_nchw", "dense_bias", "flat_conv2d_nchw",
                 "flat_pool2d_max", "flat_depthwise_conv2d_nhwc", "exp_add_symbolic"):
        assert unproven_internal_reads(parse(seed_text(load_seed(name)))) == [], name


def test_last_bit_float_differences_between_llvm_and_c_are_not_reported(executor):
    case = seed_case(load_seed("tanh_f32"), ["llvm", "c"])
    case.input_seed = 1  # "signed" profile: values where tanh's implementations disagree in the last bits
    raw = executor.run(case, want_outputs=True)
    assert raw.outcome == "ok"
    a, b = raw.outputs["llvm"]["main"], raw.outputs["c"]["main"]
    assert any(not np.array_equal(x, y) for x, y in zip(a, b)), "llvm and c agree bit for bit: no rounding to filter"
    res = executor.run(case, oracle=True)
    assert res.outcome == "ok", res.message
    assert res.oracle["compared"] == ["llvm", "c"] and res.oracle["family"] == "transcendental"


def test_comparison_rules():
    f = np.array([1.0, np.nan, np.inf, 0.0], dtype=np.float32)
    g = np.array([np.nextafter(np.float32(1.0), np.float32(2.0)), np.nan, np.inf, 0.0], dtype=np.float32)
    assert not compare_buffer(f, g, "arith")[0].any()           # 1 ulp, NaN == NaN, Inf == Inf
    bad, non_finite = compare_buffer(f, np.array([1.0, 0.0, np.inf, 0.0], dtype=np.float32), "arith")
    assert bad.tolist() == [False, True, False, False] and non_finite
    i = np.array([1, 2], dtype=np.int32)
    assert compare_buffer(i, i + np.array([0, 1], dtype=np.int32), "arith")[0].tolist() == [False, True]
    d = compare_outputs({"main": [f]}, {"main": [f * 2]}, "arith")
    assert d is not None and d.func == "main" and d.index == [0]


@pytest.mark.parametrize("name", ["relu_f32", "conv2d_nchw", "flat_argmax_axis1", "tanh_f32", "subtract_int8"])
def test_seeds_pass_the_oracles(executor, name):
    res = executor.run(seed_case(load_seed(name), ["llvm", "c"]), oracle=True)
    assert res.outcome == "ok", (res.outcome, res.stage, res.message)
    assert res.oracle["compared"] == ["llvm", "c"] and not res.oracle["filtered"]


def test_cuda_without_a_gpu_builds_kernels_and_ptx(executor):
    """No GPU here: the cuda build gets thread bindings and CUDA codegen (and PTX when nvcc is on PATH);
    its run is skipped and listed, never compared."""
    from tirfuzz.fuzzer.core.targets import cuda_device_present, nvcc_present

    if cuda_device_present():
        pytest.skip("a CUDA device is present: test_cuda_matches_the_cpu_reference covers it")
    res = Executor(ExecutorConfig(timeout_s=120)).run(seed_case(load_seed("relu_f32"), ["llvm", "cuda"]), oracle=True)
    assert res.outcome == "ok", (res.stage, res.message)
    assert "build@cuda" in res.timings_ms and res.skipped_runs == ["cuda"] and res.oracle["compared"] == ["llvm"]
    assert "s_tir.transform.DefaultGPUSchedule" in res.completion
    if nvcc_present():
        assert "ptx@cuda" in res.timings_ms


def test_cuda_matches_the_cpu_reference():
    from tirfuzz.fuzzer.core.targets import cuda_device_present

    if not cuda_device_present():
        pytest.skip("no CUDA device on this machine")
    with Executor(ExecutorConfig(timeout_s=120)) as ex:
        for name in ("relu_f32", "tanh_f32", "add_int32"):
            res = ex.run(seed_case(load_seed(name), ["llvm", "cuda"]), oracle=True)
            assert res.outcome == "ok", (name, res.stage, res.message)
            assert "cuda" in res.oracle["compared"]


def test_filters_file_extends_the_known_false_alarms(tmp_path):
    """A user's filter turns a known internal error into `rejected` with its name; a bad file is exit 2."""
    import json as _json
    import subprocess
    import sys

    from test_executor import FP16_ERF_IR

    from tirfuzz.fuzzer.core.case import save_case

    case = tmp_path / "erf.json"  # with a pass of its own: an unmodified program that tvm.compile fails on
    save_case(TestCase(FP16_ERF_IR, passes=[PassSpec("tirx.transform.StmtSimplify")]), case)  # the same way
    #                                           is filtered as fails-in-tvm-compile (tests/test_standard_build.py)
    flt = tmp_path / "mine.toml"
    flt.write_text("[[filter]]\nname = 'llvm-no-fp16-erf'\nstage = 'build:'\npattern = 'unknown intrinsic.*erf'\n"
                   "reason = 'known: no float16 erf lowering for llvm'\n")
    cli = [sys.executable, "-m", "tirfuzz.cli", "run", str(case), "--json"]
    before = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    after = subprocess.run(cli + ["--filters", str(flt)], capture_output=True, text=True, timeout=300)
    assert before.returncode == 1 and _json.loads(before.stdout)["outcome"] == "internal-error"
    res = _json.loads(after.stdout)
    assert after.returncode == 0 and res["outcome"] == "rejected" and res["filter"] == "llvm-no-fp16-erf"
    bad = tmp_path / "bad.toml"
    bad.write_text("[[filter]]\nname = 'x'\npattern = '('\nreason = 'r'\n")
    p = subprocess.run(cli + ["--filters", str(bad)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "bad.toml" in p.stderr


NESTED_PARALLEL = '''@T.prim_func
def main(A: T.Buffer((4, 8), "float32")):
    for i in T.parallel(4):
        for j in T.parallel(8):
            A[i, j] = T.float32(1.0)
'''


def test_nested_parallel_loops_are_a_documented_gap_not_a_bug(executor):
    """LLVM's CPU codegen refuses nested parallel loops with a message saying so: a named filter hides it."""
    res = executor.run(TestCase(NESTED_PARALLEL, passes=[], targets=["llvm"]), oracle=True)
    assert res.outcome == "rejected" and res.filter == "nested-parallel-unsupported", (res.outcome, res.message)
    flat = executor.run(TestCase(NESTED_PARALLEL.replace("T.parallel(8)", "range(8)"), passes=[], targets=["llvm"]))
    assert flat.outcome == "ok", flat.message


class AlwaysFinds(Oracle):
    """A test oracle that times a stage of its own, then reports every case it sees."""

    name = "always"

    def __init__(self, point: str, outcome: str):
        self.point, self.outcome, self.seen = point, outcome, []

    def check(self, ctx: OracleContext) -> Finding:
        self.seen.append((sorted(ctx.funcs), sorted(ctx.builds)))
        ctx.stage("always:check", "llvm", lambda: None)
        return Finding(self.outcome, "always:llvm", "always finds", "llvm", "(test)", {"always": True})


def test_the_pipeline_runs_every_oracle_it_is_given():
    """An extra oracle after the builds runs after the default ones (their record is kept) and its finding
    is the result; without `oracle` it never runs. run_case in this process: FLOAT_SUB is a trusted program."""
    pool = PassPool()
    case = TestCase(FLOAT_SUB, passes=[PassSpec("tirx.transform.StmtSimplify")], targets=["llvm", "c"])
    extra = AlwaysFinds(BUILT, "miscompilation")
    res = run_case(case, pool, want_outputs=False, oracle=True, oracles=DEFAULT_ORACLES + (extra,))
    assert (res.outcome, res.stage, res.target, res.message, res.frame) == \
        ("miscompilation", "always:llvm", "llvm", "always finds", "(test)")
    assert extra.seen == [(["main"], ["c", "llvm"])] and "always@llvm" in res.timings_ms
    assert res.oracle["always"] is True and res.oracle["compared"] == ["llvm", "c"]  # the differential ran first
    assert run_case(case, pool, want_outputs=False, oracles=(extra,)).outcome == "ok" and len(extra.seen) == 1


def test_an_oracle_after_parsing_ends_the_case_before_any_build():
    early = AlwaysFinds(PARSED, "roundtrip")
    res = run_case(TestCase(FLOAT_SUB, targets=["llvm"]), PassPool(), want_outputs=False, oracle=True,
                   oracles=(early, *DEFAULT_ORACLES))
    assert (res.outcome, res.stage, res.message) == ("roundtrip", "always:llvm", "always finds")
    assert early.seen == [(["main"], [])] and "build@llvm" not in res.timings_ms and "compared" not in res.oracle


VECTOR_PLUGIN = '''
import tvm
import tvm_ffi


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def vector_add_off(func, mod, ctx):
    """A user's pass with a silent bug that touches vectorized float loops only: a + b becomes a + b + 1."""
    def loop(node, m):
        if node.kind != tvm.tirx.ForKind.VECTORIZED:
            return m.default_mutate(node)

        def add(value, m2):
            value = m2.default_mutate(value)
            if "float" in str(value.ty):
                return tvm.tirx.Add(value, tvm.tirx.const(1.0, str(value.ty)))
            return value
        body = tvm_ffi.structural_mutate(node.body, [(tvm.tirx.Add, add)])
        return tvm.tirx.For(node.loop_var, node.min, node.extent, node.kind, body, node.thread_binding,
                            node.annotations, node.step)
    return func.with_body(tvm_ffi.structural_mutate(func.body, [(tvm.tirx.For, loop)]))
'''

# 64 float lanes: llvm builds it; the C backend has no C type for float32x64 (a known gap of that backend).
VECTOR_ADD = '''@T.prim_func
def main(A: T.Buffer((64,), "float32"), B: T.Buffer((64,), "float32"), C: T.Buffer((64,), "float32")):
    for i in T.vectorized(64):
        C[i] = A[i] + B[i]
    for i in range(64):
        B[i] = B[i] + T.float32(1)
'''


def test_a_target_with_a_known_gap_drops_out_and_the_others_are_judged(tmp_path):
    """llvm and c: c cannot build 64-lane float vectors, so it drops out; the wrong-result pass that
    touches only the vectorized loop is reported on llvm (on the last commit before this, the whole
    case was `rejected` by the C backend's gap and llvm's result never compared)."""
    plugin = tmp_path / "vecpasses.py"
    plugin.write_text(VECTOR_PLUGIN)
    with Executor(ExecutorConfig(timeout_s=60, plugins=(str(plugin),))) as ex:
        plain = ex.run(TestCase(VECTOR_ADD, targets=["llvm", "c"]), oracle=True)
        assert plain.outcome == "ok" and list(plain.dropped) == ["c"], (plain.outcome, plain.filter, plain.message[:300])
        gap = plain.dropped["c"]
        assert gap.startswith("c-backend-"), gap
        assert plain.oracle["compared"] == ["llvm"]
        bug = ex.run(TestCase(VECTOR_ADD, passes=[PassSpec("plugin:vecpasses.vector_add_off")],
                              targets=["llvm", "c"]), oracle=True)
        assert bug.outcome == "miscompilation" and bug.target == "llvm", (bug.outcome, bug.message[:300])
        assert bug.oracle["culprit"] == "plugin:vecpasses.vector_add_off" and bug.dropped == {"c": gap}
        only_c = ex.run(TestCase(VECTOR_ADD, targets=["c"]), oracle=True)
        assert only_c.outcome == "rejected" and only_c.filter == gap and not only_c.dropped


# A vthread binding: the llvm build needs InjectVirtualThread (it is in TVM's default pipeline, not in the
# completion), so no prefix of a sequence without it builds.
VTHREAD_SUB = '''@T.prim_func
def main(A: T.Buffer((16,), "float32"), B: T.Buffer((16,), "float32")):
    for vx in T.thread_binding(2, thread="vthread.x"):
        for i in range(8):
            B[vx * 8 + i] = A[vx * 8 + i] - T.float32(1)
'''


def test_a_culprit_is_proven_or_a_range_is_named(swap_executor):
    """The wrong-result plugin runs before InjectVirtualThread, without which no prefix builds: the report
    names a range holding the plugin (before, the first prefix that built and differed named
    InjectVirtualThread, an innocent pass). With a building prefix before it, the plugin alone."""
    lower, inject = PassSpec("s_tir.transform.LowerOpaqueBlock"), PassSpec("s_tir.transform.InjectVirtualThread")
    for prefix in ([], [lower]):
        needs = swap_executor.run(TestCase(VTHREAD_SUB, passes=prefix, targets=["llvm"]), oracle=False)
        assert needs.outcome != "ok", "this program builds without InjectVirtualThread: the test proves nothing"
    res = swap_executor.run(TestCase(VTHREAD_SUB, passes=[PassSpec("plugin:userpasses.swap_sub"), lower, inject],
                                     targets=["llvm"]), oracle=True)
    assert res.outcome == "miscompilation", (res.outcome, res.message[:300])
    assert "plugin:userpasses.swap_sub" in res.oracle["culprit"] and res.oracle["culprit"] != inject.name
    assert res.oracle["culprit"].startswith("(not isolated: one of 3 passes"), res.oracle["culprit"]
    proven = swap_executor.run(TestCase(FLOAT_SUB, passes=[PassSpec("tirx.transform.StmtSimplify"),
                                                          PassSpec("plugin:userpasses.swap_sub")],
                                        targets=["llvm"]), oracle=True)
    assert proven.oracle["culprit"] == "plugin:userpasses.swap_sub"


class Broken(Oracle):
    """An oracle with a defect of its own (tirfuzz code, not TVM)."""

    name = "broken"

    def check(self, ctx: OracleContext) -> Finding:
        return Finding("miscompilation", record={"value": {}["missing"]})


def test_a_failure_in_tirfuzz_code_is_a_tool_error_never_a_tvm_bug():
    """An exception in an oracle's own code: outcome `tool-error` with the traceback, verdict tool-error
    (before: the exception escaped run_case, and the fork server reported it as a TVM internal error)."""
    case = TestCase(FLOAT_SUB, targets=["llvm"])
    res = run_case(case, PassPool(), want_outputs=False, oracle=True, oracles=DEFAULT_ORACLES + (Broken(),))
    assert (res.outcome, res.stage, res.exc_type) == ("tool-error", "oracle:broken", "ToolError")
    assert "not a TVM bug" in res.message and "KeyError" in res.message and "Traceback" in res.message
    assert not res.is_bug and judge(case, res).kind == "tool-error"


VECTOR_DTYPE_SUB = '''@T.prim_func
def main(A: T.Buffer((4,), "float32x2"), B: T.Buffer((4,), "float32x2"), C: T.Buffer((4,), "float32x2")):
    for i in range(4):
        C[i] = A[i] - B[i]
'''


def test_vector_dtype_buffers_get_inputs_and_are_compared(swap_executor):
    """float32x2 buffers are filled (lanes as the last axis) and compared (before: rejected with
    unsupported-input-dtype, a valid program refused); a wrong-result pass on them is caught."""
    ok = swap_executor.run(TestCase(VECTOR_DTYPE_SUB, targets=["llvm"]), oracle=True)
    assert ok.outcome == "ok" and ok.oracle["compared"] == ["llvm"], (ok.outcome, ok.filter, ok.message[:200])
    assert [a.shape for a in ok.outputs["llvm"]["main"]] == [(4, 2)] * 3
    a, b, c = ok.outputs["llvm"]["main"]
    np.testing.assert_allclose(c, a - b)
    bad = swap_executor.run(TestCase(VECTOR_DTYPE_SUB, passes=[PassSpec("plugin:userpasses.swap_sub")],
                                     targets=["llvm"]), oracle=True)
    assert bad.outcome == "miscompilation" and bad.oracle["culprit"] == "plugin:userpasses.swap_sub"


def test_chunked_comparison_matches_whole_buffer_rules_across_chunk_boundaries(monkeypatch):
    """Compared a few elements at a time, the record is the one whole-buffer rules give: the worst float
    difference (first of equal ones), the first integer one, the count, NaN/Inf on one side, masks."""
    from tirfuzz.fuzzer.core import runtime

    f = np.arange(10, dtype=np.float32)
    g = f.copy()
    g[[2, 5, 8]] = [2.5, 7.0, 10.0]     # differences 0.5, 2, 2: the worst is the first of the two 2s
    i = np.arange(10, dtype=np.int32)
    j = i.copy()
    j[[6, 9]] += 1
    n = np.ones(10, dtype=np.float32)
    m = n.copy()
    m[7] = np.nan
    ignore = {"main": [np.arange(10) == 5]}
    for chunk in (1, 3, 4, 1 << 16):
        monkeypatch.setattr(runtime, "COMPARE_CHUNK", chunk)
        d = compare_outputs({"main": [f]}, {"main": [g]}, "arith")
        assert (d.index, d.expected, d.actual, d.abs_diff, d.mismatches) == ([5], "np.float32(5.0)", "np.float32(7.0)",
                                                                             2.0, 3), chunk
        assert compare_outputs({"main": [f]}, {"main": [g]}, "arith", ignore).index == [8]
        d = compare_outputs({"main": [i]}, {"main": [j]}, "arith")
        assert (d.index, d.mismatches, d.non_finite) == ([6], 2, False)
        d = compare_outputs({"main": [n]}, {"main": [m]}, "arith")
        assert (d.index, d.mismatches, d.non_finite) == ([7], 1, True)
        assert compare_buffer(f, g, "arith")[0].nonzero()[0].tolist() == [2, 5, 8]


def test_comparing_64_mib_buffers_needs_only_chunk_sized_temporaries():
    """Two 64 MiB float32 outputs are compared with a few MiB of temporaries (before: ~850 MiB of
    full-size float64 copies and masks, and a MemoryError under the child's limit became a TVM
    internal-error)."""
    import tracemalloc

    n = (64 << 20) // 4
    a = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    b = a.copy()
    b[n // 2] += 1
    tracemalloc.start()
    try:
        d = compare_outputs({"main": [a]}, {"main": [b]}, "arith")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert d is not None and d.index == [n // 2] and d.mismatches == 1
    assert peak < 16 << 20, f"comparison peaked at {peak / 2**20:.1f} MiB"


BIG_INPLACE = '''@T.prim_func
def main(A: T.Buffer((33554432,), "float32")):
    for i in range(33554432):
        A[i] = A[i] + T.float32(1)
'''


def test_comparison_over_the_memory_limit_is_a_named_rejection_before_the_reference_build():
    """A 128 MiB buffer under a 700 MiB limit: its inputs fit (4 copies), comparing it with the reference
    does not: rejected as `comparison-too-large` with the sizes, before the reference is built."""
    with Executor(ExecutorConfig(timeout_s=60, memory_mb=700)) as ex:
        res = ex.run(TestCase(BIG_INPLACE), want_outputs=False, oracle=True)
    assert (res.outcome, res.filter, res.stage) == ("rejected", "comparison-too-large", "run:reference"), \
        (res.outcome, res.stage, res.message[:300])
    assert "comparison needs 0.8 GiB, limit" in res.message


def _bad_seed(*_a, **_k):
    return np.random.default_rng("not a seed")  # numpy raises: the kind of error a tool defect gives


def test_an_error_raised_outside_tvm_in_a_stage_is_a_tool_error(monkeypatch):
    """A run stage whose own Python (making inputs: numpy under tirfuzz) fails is tirfuzz's error, never a
    TVM internal error (before: a numpy AttributeError at run:reference was reported as a TVM bug); an
    error coming through TVM's FFI keeps its verdict."""
    from tirfuzz.fuzzer.core.crashinfo import raised_outside_tvm
    from tirfuzz.fuzzer.execution import pipeline

    try:
        tvm.tirx.transform.StorageRewrite()(tvm.IRModule({}))
        tvm.runtime.load_module("/nonexistent/lib.so")
    except Exception as e:  # noqa: BLE001
        assert raised_outside_tvm(e) is None
    try:
        _bad_seed()
    except TypeError as e:
        assert "bit_generator" in raised_outside_tvm(e)
    case = TestCase(FLOAT_SUB, targets=["llvm"])
    monkeypatch.setattr(pipeline, "run_funcs", _bad_seed)
    res = run_case(case, PassPool(), want_outputs=False, oracle=False)
    assert (res.outcome, res.stage, res.exc_type) == ("tool-error", "run:llvm", "ToolError"), res.message[:300]
    assert "not a TVM bug" in res.message and "bit_generator" in res.message
    assert "compiled code" not in res.message  # no run before the failing one
    assert not res.is_bug and judge(case, res).kind == "tool-error"
    calls: list[int] = []

    def second_fails(*a, **k):  # the first target's run is real, the second's fails in numpy
        calls.append(1)
        return real(*a, **k) if len(calls) == 1 else _bad_seed()

    monkeypatch.undo()
    real = pipeline.run_funcs
    monkeypatch.setattr(pipeline, "run_funcs", second_fails)
    two = run_case(TestCase(FLOAT_SUB, targets=["llvm", "c"]), PassPool(), want_outputs=False, oracle=False)
    assert two.outcome == "tool-error" and len(calls) == 2, two.message[:300]
    assert "compiled code of this case ran before it (run:" in two.message
