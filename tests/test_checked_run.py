"""The checked run decides undefined behaviour on the run's own inputs: a difference is hidden only when
a check trips on the inputs that showed it, and the filter names the check, the buffer or expression and
the element; the same program without the undefined behaviour is reported (real TVM, plugin passes)."""

from __future__ import annotations

import pytest

from tirfuzz.corpus import load_seed
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.core.case import PassSpec, TestCase
from tirfuzz.fuzzer.core.runtime import make_args
from tirfuzz.fuzzer.core.tvmapi import default_pipeline, parse
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.oracles.ub import checked_run
from tirfuzz.oracles.verdict import judge

PLUGIN = '''
import tvm
import tvm_ffi


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def off_by_one(func, mod, ctx):
    """A wrong-result pass: every integer stored to a buffer named C is one too large."""
    def cb(s, m):
        s = m.default_mutate(s)
        if s.buffer.name == "C" and str(s.buffer.dtype).startswith("int"):
            return tvm.tirx.BufferStore(s.buffer, s.value + tvm.tirx.const(1, str(s.buffer.dtype)), s.indices)
        return s
    return func.with_body(tvm_ffi.structural_mutate(func.body, [(tvm.tirx.BufferStore, cb)]))


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def scatter_far(func, mod, ctx):
    """A crashing pass: stores to C land a hundred million rows away."""
    def cb(s, m):
        s = m.default_mutate(s)
        if s.buffer.name == "C":
            return tvm.tirx.BufferStore(s.buffer, s.value, [s.indices[0] * 100000000] + list(s.indices[1:]))
        return s
    return func.with_body(tvm_ffi.structural_mutate(func.body, [(tvm.tirx.BufferStore, cb)]))


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def truncating_floordiv(func, mod, ctx):
    """A wrong-result pass: integer floordiv/floormod in stored values lowered as truncating division."""
    def cb(e, m):
        e = m.default_mutate(e)
        if "int" in str(e.ty):
            return (tvm.tirx.Div if isinstance(e, tvm.tirx.FloorDiv) else tvm.tirx.Mod)(e.a, e.b)
        return e
    return func.with_body(tvm_ffi.structural_mutate(func.body, [(tvm.tirx.FloorDiv, cb), (tvm.tirx.FloorMod, cb)]))
'''

HEAD = '''@T.prim_func
def main(A: T.Buffer((4, 8), "int32"), B: T.Buffer((4, 8), "int32"), C: T.Buffer((4, 8), "int32")):
'''

# (check, a program with that undefined behaviour on input_seed 1, the same program without it, the element)
CASES = [
    ("division-by-zero", "    for i, j in T.grid(4, 8):\n        C[i, j] = A[i, j] // (B[i, j] & 3)\n",
     "    for i, j in T.grid(4, 8):\n        C[i, j] = A[i, j] // ((B[i, j] & 3) + 1)\n", "division by zero in"),
    ("out-of-bounds", "    for i, j in T.grid(4, 8):\n        C[i, j] = A[i, j + (B[i, j] & 3)]\n",
     "    for i, j in T.grid(4, 8):\n        C[i, j] = A[i, (j + (B[i, j] & 3)) % 8]\n", "out-of-bounds read of `A` at"),
    ("uninitialized-read",
     "    t = T.alloc_buffer((4, 8), \"int32\")\n    for i, j in T.grid(4, 8):\n        if j < 6:\n"
     "            t[i, j] = A[i, j]\n    for i, j in T.grid(4, 8):\n        C[i, j] = t[i, j]\n",
     "    t = T.alloc_buffer((4, 8), \"int32\")\n    for i, j in T.grid(4, 8):\n"
     "        t[i, j] = A[i, j]\n    for i, j in T.grid(4, 8):\n        C[i, j] = t[i, j]\n",
     "read of `t` at [0, 6] before anything wrote it"),
    ("shift-out-of-range", "    for i, j in T.grid(4, 8):\n        C[i, j] = A[i, j] << (B[i, j] & 63)\n",
     "    for i, j in T.grid(4, 8):\n        C[i, j] = A[i, j] << (B[i, j] & 31)\n", "out of range in"),
    ("signed-overflow", "    for i, j in T.grid(4, 8):\n        C[i, j] = A[i, j] * 1000000 * 1000\n",
     "    for i, j in T.grid(4, 8):\n        C[i, j] = (A[i, j] & 1) * 1000000 * 1000\n", "signed overflow in"),
    ("float-to-int-overflow",
     "    for i, j in T.grid(4, 8):\n        C[i, j] = T.Cast(\"int32\", T.Cast(\"float32\", A[i, j]) * T.float32(1e30))\n",
     "    for i, j in T.grid(4, 8):\n        C[i, j] = T.Cast(\"int32\", T.Cast(\"float32\", A[i, j] & 255) * T.float32(1e5))\n",
     "out of the integer range in"),
]


@pytest.fixture(scope="module")
def ex(tmp_path_factory):
    plugin = tmp_path_factory.mktemp("plugin") / "wrongpasses.py"
    plugin.write_text(PLUGIN)
    with Executor(ExecutorConfig(timeout_s=60, plugins=(str(plugin),))) as e:
        yield e


@pytest.mark.parametrize("check, ub, fixed, words", CASES, ids=[c[0] for c in CASES])
def test_each_check_hides_only_what_trips_and_the_fixed_program_is_reported(ex, check, ub, fixed, words):
    passes = [PassSpec("plugin:wrongpasses.off_by_one")]
    res = ex.run(TestCase(HEAD + ub, passes=passes, targets=["llvm"], input_seed=1), oracle=True)
    verdict = judge(TestCase(HEAD + ub, passes=passes), res)
    assert (verdict.kind, verdict.filter) == ("filtered", f"ub:{check}"), (res.outcome, res.message, res.oracle)
    if res.outcome == "crash":  # division by zero traps the CPU: the crash is what the checked run explains
        assert res.signal == "SIGFPE" and res.oracle["checked"]["filter"] == f"ub:{check}"
        reason = res.oracle["checked"]["reason"]
    else:                       # a difference, and a check explained it
        assert res.outcome == "ok" and res.oracle["diff"]["mismatches"] > 0, (res.outcome, res.oracle)
        reason = res.oracle["reason"]
    assert words in reason and " at [" in reason, reason
    res = ex.run(TestCase(HEAD + fixed, passes=passes, targets=["llvm"], input_seed=1), oracle=True)
    assert res.outcome == "miscompilation", (res.outcome, res.message, res.oracle)
    assert res.oracle["culprit"] == "plugin:wrongpasses.off_by_one"
    assert res.oracle["checked"].get("filter") is None


def test_a_crash_whose_checked_run_is_clean_is_a_bug(ex):
    """The program is fine on its inputs (the checked run says so); the pass makes it write far away."""
    case = TestCase(HEAD + CASES[0][2], passes=[PassSpec("plugin:wrongpasses.scatter_far")], targets=["llvm"],
                    input_seed=1)
    res = ex.run(case, oracle=True)
    assert res.outcome == "crash" and res.stage == "run:llvm", (res.outcome, res.stage, res.message)
    assert res.oracle["checked"]["filter"] is None and not res.oracle["checked"].get("error"), res.oracle
    assert judge(case, res).is_bug


def test_a_divisor_that_comes_through_an_intermediate_buffer_is_not_hidden(ex):
    """floor_divide_int32 stores (B & 15) + 1 in T_add before dividing by it: the static prover cannot see
    it is never 0 (at commit c2d8297 this difference was filtered as `undefined-behaviour`); the checked
    run is clean, so a pass that lowers floordiv as truncating division is reported, with its name."""
    case = seed_case(load_seed("floor_divide_int32"), ["llvm"])
    case.passes, case.input_seed = [PassSpec("plugin:wrongpasses.truncating_floordiv")], 1
    res = ex.run(case, oracle=True)
    assert res.outcome == "miscompilation", (res.outcome, res.message, res.oracle)
    assert res.oracle["culprit"] == "plugin:wrongpasses.truncating_floordiv"
    assert res.oracle["checked"]["filter"] is None


def test_the_checked_run_runs_only_to_explain_a_difference(ex):
    """Its cost is paid when there is something to explain: a case whose builds agree never builds it."""
    res = ex.run(TestCase(HEAD + CASES[0][2], targets=["llvm"], input_seed=1), oracle=True)
    assert res.outcome == "ok" and not res.oracle.get("diff") and not res.oracle.get("checked")
    assert not any(k.startswith("check") for k in res.timings_ms), res.timings_ms


def test_the_checked_run_is_clean_on_every_seed():
    """Every seed's checked program builds, and no check trips on its inputs of the "small" and "signed"
    profiles (on "boundary" inputs integer sums such as cumsum_exclusive_int32's really overflow)."""
    from tirfuzz.corpus import list_seeds

    for k, s in enumerate(list_seeds()):
        case = seed_case(s, ["llvm"])
        mod = parse(case.ir)
        seed = k % 2
        r = checked_run(mod, lambda f, n: make_args(f, seed, n), default_pipeline())
        assert r.trip is None and not r.error, (s.name, r.trip and r.trip.describe(), r.error)


def test_an_unmutated_program_that_writes_out_of_bounds_on_purpose_is_not_a_crash_bug(ex):
    """Issue 18, class 6: a user's program (no passes, no mutation record) that crashes by its own
    out-of-bounds write is filtered by the checked run, named; nothing in the case says `safe`."""
    ir = HEAD + "    for i, j in T.grid(4, 8):\n        C[i * 10000000, j] = A[i, j]\n"
    case = TestCase(ir, targets=["llvm"], input_seed=0)
    res = ex.run(case, oracle=True)
    assert res.outcome == "crash" and res.stage == "run:llvm", (res.outcome, res.stage, res.message)
    v = judge(case, res)
    assert (v.kind, v.filter) == ("filtered", "ub:out-of-bounds")
    assert "out-of-bounds write of `C` at [10000000, 0] (shape [4, 8])" in res.oracle["checked"]["reason"]


def test_an_internal_error_from_the_programs_own_overflowing_arithmetic_is_named(ex):
    """The program multiplies by 65536 twice: TVM's folding refuses the literal 2**32 in int32. The
    default pipeline refuses the program the same way, so the internal error is the program's, named."""
    ir = HEAD + "    for i, j in T.grid(4, 8):\n        C[i, j] = A[i, j] * 65536 * 65536\n"
    case = TestCase(ir, passes=[PassSpec("tirx.transform.StmtSimplify")], targets=["llvm"])
    res = ex.run(case, oracle=True)
    assert res.outcome == "internal-error" and "exceeds range of int32" in res.message, (res.outcome, res.message)
    v = judge(case, res)
    assert (v.kind, v.filter) == ("filtered", "index-overflow-in-program"), res.oracle
    assert "TVM's default pipeline refuses the program with the same error" in v.reason


def test_a_check_whose_trap_record_is_missing_is_named_from_its_own_assertion():
    """A stacked mutant (vthread loop of extent 0, found 2026-12-01): check 1's assertion fires, the trap
    parameter does not hold its number; the trip is read from the assertion, not called tirfuzz's error."""
    import json
    from pathlib import Path

    from tirfuzz.fuzzer.tir.checked import CheckSite, trip_from_message

    case = TestCase.from_dict(json.loads((Path(__file__).parent / "data" / "checked_trip_without_trap.json").read_text()))
    mod = parse(case.ir)
    r = checked_run(mod, lambda f, n: make_args(f, case.input_seed, n), default_pipeline())
    assert r.error == "" and r.filter == "ub:out-of-bounds", r.error
    sites = [CheckSite("out-of-bounds", "main", "A"), CheckSite("division-by-zero", "main", "x // y")]
    assert trip_from_message("... tirfuzz check 2 failed: division-by-zero", sites).site is sites[1]
    assert trip_from_message("tirfuzz check 2 failed: out-of-bounds", sites) is None  # another check's name
    assert trip_from_message("tirfuzz check 3 failed: out-of-bounds", sites) is None
    assert trip_from_message("Check failed: x", sites) is None
