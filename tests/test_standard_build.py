"""Foreign programs: the completion follows TVM's default pipeline, and a bug verdict on an unmodified
program says whether TVM's own `tvm.compile` fails on it the same way (real TVM, real children)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tirfuzz.corpus import list_seeds, seed_text
from tirfuzz.fuzzer.campaign.bugs import BugRecord
from tirfuzz.fuzzer.core.case import PassSpec, TestCase, save_case
from tirfuzz.fuzzer.core.runtime import COMPLETION_PASSES, completion_passes
from tirfuzz.fuzzer.core.tvmapi import default_pipeline
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.oracles.standard import LABEL, STANDARD_JOB, annotate, check, is_user_program, to_label
from tirfuzz.oracles.verdict import judge
from tirfuzz.reports.bug_report import write_bug_report

# A break in a one-iteration loop: without AnnotateIrregularLoop, LowerOpaqueBlock drops the unit loop
# and the break ends up outside any loop (llvm codegen: "break_loop should be inserted under ... For").
BREAK_IN_UNIT_LOOP = '''@T.prim_func
def main(A: T.Buffer((10,), "int32")):
    for i in T.serial(1):
        if A[i] > 5:
            T.break_loop()
        A[i] = A[i] + 1
    for k in T.serial(10):
        A[k] = A[k] * 2
'''
NEGATIVE_STEP = '''@T.prim_func
def main(A: T.Buffer((16,), "int32"), B: T.Buffer((16,), "int32")):
    for i in range(16, 0, -2):
        B[i - 1] = A[i - 1] + 1
'''
STEP_TWO = '''@T.prim_func
def main(A: T.Buffer((16,), "int32"), B: T.Buffer((16,), "int32")):
    for i in range(1, 16, 2):
        B[i] = A[i - 1] + 1
'''
# Invalid by design: an unroll limit must be an integer; TVM's pipeline (UnrollLoop) raises TypeError.
BAD_ANNOTATION = '''@T.prim_func
def main(A: T.Buffer((16,), "int32")):
    for i in T.serial(16, annotations={"pragma_auto_unroll_max_step": "lots"}):
        A[i] = A[i] + 1
'''
DIVIDE_BY_INPUT = '''@T.prim_func
def main(A: T.Buffer((16,), "int32"), B: T.Buffer((16,), "int32")):
    for i in range(16):
        B[i] = T.truncdiv(100, A[i])
'''
VALID = '''@T.prim_func
def main(A: T.Buffer((16,), "float32"), B: T.Buffer((16,), "float32")):
    for i in range(16):
        B[i] = A[i] * T.float32(2)
'''
# The C backend prints this float constant with 7 significant digits (a real TVM bug, found before):
# TVM's own c and llvm builds disagree too, so the miscompilation is labelled, with both causes named.
C_CONSTANT = '''@T.prim_func
def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float64")):
    for i in range(4):
        B[i] = T.Cast("float64", A[i] * T.float32(0) - T.float32(3.4028234663852886e+38))
'''
PLUGIN = '''import tvm

@tvm.tirx.transform.prim_func_pass(opt_level=0)
def explode(func, mod, ctx):
    raise RuntimeError("plugin pass exploded on purpose")
'''


@pytest.fixture(scope="module")
def plugin_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("plugin") / "userpasses.py"
    path.write_text(PLUGIN)
    return str(path)


@pytest.fixture(scope="module")
def ex(plugin_file):
    with Executor(ExecutorConfig(timeout_s=20.0, plugins=(plugin_file,), jobs=(STANDARD_JOB,))) as e:
        yield e


def standard(ex, case: TestCase, run: bool = True) -> dict:
    """What tvm.compile did with the case's program, from the job's record."""
    r = ex.run(case, want_outputs=False, mutate={"job": STANDARD_JOB[0], "target": case.targets[0], "run": run})
    assert r.outcome == "declined", r.message
    return r.mutation["standard"]


def test_completion_is_in_default_pipeline_order():
    order = [p.name for p in default_pipeline()]
    positions = [order.index(n) for n in COMPLETION_PASSES]
    assert positions == sorted(positions)
    for name in ("CanonicalizeLoop", "CompactBufferAllocation", "AnnotateIrregularLoop"):
        assert f"s_tir.transform.{name}" in COMPLETION_PASSES


def test_compaction_is_not_added_after_the_packed_api(ex):
    """A sequence that drops CompactBufferAllocation but names MakePackedAPI: the stage is over (run
    after MakePackedAPI it raises TypeError on every seed), so the completion does not add it."""
    assert "s_tir.transform.CompactBufferAllocation" not in completion_passes(["tirx.transform.MakePackedAPI"])
    assert "s_tir.transform.CompactBufferAllocation" in completion_passes(["tirx.transform.FlattenBuffer"])
    passes = [p for p in default_pipeline() if p.name != "s_tir.transform.CompactBufferAllocation"]
    res = ex.run(TestCase(seed_text(list_seeds()[0]), passes, targets=["llvm"]), oracle=True)
    assert res.outcome == "ok", (res.stage, res.message)


def test_break_in_unit_loop_builds_like_tvm_compile(ex):
    case = TestCase(BREAK_IN_UNIT_LOOP, targets=["llvm", "c"])
    assert standard(ex, case)["stage"] == "done"  # tvm.compile builds and runs it
    res = ex.run(case, oracle=True)
    assert res.outcome == "ok", (res.stage, res.message)
    assert "s_tir.transform.AnnotateIrregularLoop" in res.completion
    assert res.oracle["compared"] == ["llvm", "c"]


def test_non_unit_step_is_canonicalized(ex):
    res = ex.run(TestCase(STEP_TWO, targets=["llvm", "c"]), oracle=True)
    assert res.outcome == "ok", (res.stage, res.message)
    a, b = res.outputs["c"]["main"]
    assert np.array_equal(b[1::2], a[0::2] + 1)


def test_negative_step_is_refused_as_tvm_compile_refuses_it(ex):
    case = TestCase(NEGATIVE_STEP)
    std = standard(ex, case)
    assert std["stage"] == "build" and "may not be positive" in std["message"]
    res = ex.run(case, oracle=True)
    assert (res.outcome, res.filter) == ("rejected", "loop-step-not-positive")
    assert res.stage == "pass:s_tir.transform.CanonicalizeLoop"


def test_user_program_is_unmodified_ir_without_own_passes():
    assert is_user_program(TestCase(VALID))
    assert is_user_program(TestCase(VALID, passes=default_pipeline(), extra={"seed": "x"}))
    assert not is_user_program(TestCase(VALID, passes=[PassSpec("tirx.transform.StmtSimplify")]))
    assert not is_user_program(TestCase(VALID, pass_config={"tirx.disable_vectorize": True}))
    assert not is_user_program(TestCase(VALID, extra={"history": [{"mutator": "x"}]}))
    assert not is_user_program(TestCase(VALID, extra={"safe": True, "ub_risks": []}))  # reduced


def test_invalid_annotation_is_labelled(ex):
    case = TestCase(BAD_ANNOTATION, targets=["llvm", "c"])
    res = ex.run(case, oracle=True)
    assert judge(case, res).is_bug and res.stage == "build:reference", (res.outcome, res.stage)
    std = annotate(ex, case, res)
    assert std is not None and std.fails and std.stage == "build" and std.exc_type == "TypeError"
    assert to_label(res.oracle).startswith(LABEL)
    rec = BugRecord.from_result("internal-error-x", res, case, None, 1)
    report = write_bug_report(rec, case, None).splitlines()
    assert report[2].startswith("> **Also fails in TVM's standard build") and "TypeError" in report[2]


def test_run_time_crash_of_the_program_itself_is_labelled(ex):
    case = TestCase(DIVIDE_BY_INPUT)
    res = ex.run(case, oracle=True)
    assert (res.outcome, res.signal, res.stage) == ("crash", "SIGFPE", "run:llvm")
    std = annotate(ex, case, res)
    assert std.fails and std.stage == "run" and std.signal == "SIGFPE"  # located by building again


def test_miscompilation_tvm_compile_shares_is_labelled_with_both_causes(ex):
    case = TestCase(C_CONSTANT, targets=["llvm", "c"])
    res = ex.run(case, oracle=True)
    assert (res.outcome, res.target) == ("miscompilation", "c"), (res.outcome, res.message)
    std = annotate(ex, case, res)
    assert std.fails and std.stage == "done"
    assert "disagrees with tvm.compile(target llvm)" in std.how and "bug in TVM's own c build" in std.how


def test_failure_tvm_compile_does_not_share_is_not_labelled(ex):
    broken = TestCase(VALID, passes=[PassSpec("plugin:userpasses.explode")])
    res = ex.run(broken, oracle=True)
    assert judge(broken, res).is_bug and res.exc_type == "RuntimeError", (res.outcome, res.message)
    assert annotate(ex, broken, res) is None  # the case has passes of its own: not a user program
    std = check(lambda spec: ex.run(TestCase(VALID), want_outputs=False, mutate=spec), TestCase(VALID), res)
    assert not std.fails and std.stage == "done" and std.how == "tvm.compile(target llvm) builds and runs"
    rec = BugRecord.from_result("internal-error-y", res, broken, None, 1)
    assert "standard build" not in write_bug_report(rec, broken, None)


def _cli_run(tmp_path, case: TestCase, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "case.json"
    save_case(case, path)
    return subprocess.run([sys.executable, "-m", "tirfuzz.cli", "run", str(path), *args], capture_output=True,
                          text=True, timeout=180)


def test_cli_leads_with_the_label(tmp_path):
    """An unmodified program that plain tvm.compile fails on the same way is invalid input, named: not a
    bug (exit 0), filter fails-in-tvm-compile, the label first."""
    p = _cli_run(tmp_path, TestCase(BAD_ANNOTATION))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(LABEL), p.stdout[:300]
    assert "not a bug: filter fails-in-tvm-compile" in p.stdout


def test_cli_no_label_for_a_plugin_pass_failure(tmp_path, plugin_file):
    p = _cli_run(tmp_path, TestCase(VALID, passes=[PassSpec("plugin:userpasses.explode")]), "--pass-plugin",
                 plugin_file)
    assert p.returncode == 1, p.stderr
    assert "internal-error" in p.stdout and LABEL not in p.stdout and "tvm.compile" not in p.stdout
