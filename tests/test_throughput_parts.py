"""What issue 19 made cheaper must test the same thing: the precompiled C prelude, builds reused within a
case, the round trip that needs no second parse, and a mutant run as the mutator's module."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tirfuzz.corpus import load_seed
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.hostcc import HostCompiler, PendingLoad
from tirfuzz.fuzzer.core.passes import PassPool, PassSpec
from tirfuzz.fuzzer.core.runtime import check_roundtrip, codegen, lower, parse
from tirfuzz.fuzzer.core.signature import signature
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.fuzzer.execution.pipeline import run_case
from tirfuzz.mutators.mutate import MUTATE_JOB

JOBS = Path(__file__).resolve().parent / "jobs"

# The C backend prints an infinite float constant as `inff`, which g++ does not know: a build failure
# of the C target only (a C backend bug this campaign finds; here, a failing host compile).
INF_IR = '''@T.prim_func
def main(A: T.Buffer((4,), "float32"), B: T.Buffer((4,), "float32")):
    for i in range(4):
        B[i] = T.if_then_else(A[i] <= T.float32("inf"), A[i], T.float32(0))
'''


@pytest.fixture(scope="module")
def host_cc(tmp_path_factory) -> HostCompiler:
    hc = HostCompiler.prepare(tmp_path_factory.mktemp("cache"))
    assert hc.error == "" and hc.folder, hc.error
    return hc


def _c_source(name: str):
    case = seed_case(load_seed(name), ["c"])
    m, tgt = lower(parse(case.ir), "c", [(s.name, s.args) for s in case.passes])
    return codegen(m, tgt)


@pytest.mark.parametrize("seed", ["conv2d_nchw", "softmax_lastaxis"])
def test_precompiled_prelude_gives_the_same_shared_object(seed, host_cc, tmp_path):
    raw = _c_source(seed)
    opts = host_cc.options(raw.inspect_source())
    assert opts == [f"-I{host_cc.folder}"]
    raw.export_library(str(tmp_path / "plain.so"))
    raw.export_library(str(tmp_path / "pch.so"), options=opts)
    assert (tmp_path / "plain.so").read_bytes() == (tmp_path / "pch.so").read_bytes()


def test_other_openings_compile_without_the_header(host_cc):
    assert host_cc.options("// tvm target: c\n#include <stdio.h>\nint x;\n") == []
    assert HostCompiler(error="no g++").options(_c_source("relu_f32").inspect_source()) == []


def test_background_host_compile_runs_and_fails_as_tvm_words_it(host_cc, tmp_path):
    raw = _c_source("relu_f32")
    pending = PendingLoad(raw, ["main"], host_cc)
    assert pending.proc is not None and pending.folder and os.path.isdir(pending.folder)
    funcs = pending.finish()
    assert callable(funcs["main"]) and pending.folder is None  # loaded, its files gone
    pool = PassPool()
    case = TestCase(INF_IR, targets=["c"])
    plain, fast = run_case(case, pool, oracle=False), run_case(case, pool, oracle=False, host_cc=host_cc)
    assert plain.outcome == fast.outcome == "internal-error" and fast.stage == "build:c"
    assert fast.message.startswith("Compilation error") and "inff" in fast.message
    assert signature(plain) == signature(fast)
    # The words are TVM's: its own export_library (tvm.support.cc runs g++) fails alike on the same module.
    m, tgt = lower(parse(INF_IR), "c", [])
    with pytest.raises(RuntimeError) as tvm_own:
        codegen(m, tgt).export_library(str(tmp_path / "lib.so"))
    theirs, ours = str(tvm_own.value), plain.message

    def shape(text: str) -> list[str]:  # each line's words, temporary paths left out
        return [" ".join(w for w in line.split() if "/tmp" not in w and "tmp" not in w) for line in text.splitlines()]

    assert theirs.startswith("Compilation error:\n") and "\nCommand line: " in theirs
    assert shape(theirs)[:3] == shape(ours)[:3], (theirs[:600], ours[:600])


def test_c_failure_waits_for_llvm_verdict(host_cc):
    """The C target starts first (its compile overlaps llvm's build), but verdicts keep the case's order:
    llvm built and ran before the C failure is reported."""
    res = run_case(TestCase(INF_IR, targets=["llvm", "c"]), PassPool(), oracle=False, host_cc=host_cc)
    assert res.outcome == "internal-error" and res.target == "c"
    assert "run@llvm" in res.timings_ms


def test_reference_reuses_the_llvm_build_only_when_lowered_alike(host_cc):
    pool = PassPool()
    case = seed_case(load_seed("add_int32"))  # the default pipeline: the llvm build is the reference's
    res = run_case(case, pool, want_outputs=True, oracle=True, host_cc=host_cc)
    assert res.outcome == "ok" and res.builds_reused == 1
    assert res.oracle["compared"] == ["llvm", "c"]
    other = seed_case(load_seed("add_int32"))
    other.pass_config = {"tirx.disable_vectorize": True}  # another config: never the reference's build
    res = run_case(other, pool, oracle=True, host_cc=host_cc)
    assert res.outcome == "ok" and res.builds_reused == 0


@pytest.mark.parametrize("seed", ["conv2d_nchw", "batch_norm_inference", "flat_argmax_axis1"])
def test_parse_without_caller_frames_gives_the_same_module(seed):
    import inspect

    import tvm.tirx.script.parser.entry as tir_entry
    import tvm_ffi

    from tirfuzz.fuzzer.core import tvmapi

    text = parse(seed_case(load_seed(seed)).ir).script()  # printed as mutants are: `@T.prim_func(s_tir=True)`
    assert "@T.prim_func(" in text
    fast, plain = tvmapi.parse(text), parse(text)
    assert tvm_ffi.structural_equal(fast, plain) and fast.script() == plain.script()
    assert tir_entry.inspect is inspect  # put back
    with pytest.raises(Exception) as e:
        tvmapi.parse(text.replace("T.Buffer", "T.NoSuchBuffer", 1))
    assert tir_entry.inspect is inspect  # also after a parse error
    assert "NoSuchBuffer" in str(e.value)


def test_round_trip_skips_the_second_parse_only_for_its_own_text():
    mod = parse(seed_case(load_seed("relu_f32")).ir)
    printed = mod.script()
    assert check_roundtrip(mod, printed) is None
    assert check_roundtrip(mod, "something else") is None  # the full check, which this module passes


def test_mutant_without_oracles_runs_as_the_mutators_module(executor):
    case = seed_case(load_seed("conv2d_nchw"), ["llvm"])
    for seed in range(6):
        res = executor.run(case, want_outputs=False, mutate={"seed": seed, "kinds": ["ir"]}, oracle=False)
        if res.outcome == "declined":
            continue
        assert res.ran_module and "parse" not in res.timings_ms
        back = executor.run(TestCase.from_dict(res.case), want_outputs=False, oracle=False)
        assert back.outcome == res.outcome and not back.ran_module  # its text says the same
        with_oracle = executor.run(case, want_outputs=False, mutate={"seed": seed, "kinds": ["ir"]}, oracle=True)
        assert not with_oracle.ran_module and "parse" in with_oracle.timings_ms
        return
    pytest.fail("no IR mutation applied in 6 tries")


def test_bug_on_the_module_is_judged_from_the_text():
    env = {"PYTHONPATH": os.pathsep.join([str(JOBS), os.environ.get("PYTHONPATH", "")])}
    config = ExecutorConfig(timeout_s=20.0, jobs=(MUTATE_JOB, ("module", "module_job:module_job")), env=env)
    case = seed_case(load_seed("relu_f32"), ["llvm"])
    with Executor(config) as ex:
        res = ex.run(case, want_outputs=False, mutate={"job": "module"}, oracle=False)
    assert res.module_run is not None and res.module_run["outcome"] == "internal-error"
    assert "NarrowDataType" in res.module_run["stage"]
    assert res.outcome == "ok" and not res.ran_module  # the text (the relu seed) builds and runs
    assert json.loads(json.dumps(res.summary()))["module_run"]["outcome"] == "internal-error"


def test_kept_child_runs_cases_in_turn_and_fresh_child_judges_failures():
    ok = seed_case(load_seed("add_int32"), ["llvm"])
    with Executor(ExecutorConfig(timeout_s=20.0, persistent=3)) as ex:
        first = [ex.run(ok, want_outputs=True, oracle=True) for _ in range(4)]
        assert [r.cases_before for r in first] == [0, 1, 2, 0]  # three cases per child, then a fresh one
        assert all(r.outcome == "ok" for r in first)
        assert all((r.outputs["llvm"]["main"][2] == first[0].outputs["llvm"]["main"][2]).all() for r in first)
        bad = ex.run(TestCase(INF_IR, targets=["c"]), want_outputs=False, oracle=False)  # 2nd case of a child
        assert bad.outcome == "internal-error" and bad.cases_before == 0
        assert bad.kept_run is not None and bad.kept_run["outcome"] == "internal-error"
        assert "trusted" not in bad.kept_run
        # The fresh child that confirmed it runs on: a Python exception leaves its process whole.
        assert ex.run(ok, oracle=True).cases_before == 1
        # The same failure again in a kept child: a fresh child gave it before, so it is not run again.
        again = ex.run(TestCase(INF_IR, targets=["c"]), want_outputs=False, oracle=False)
        assert again.outcome == "internal-error" and again.cases_before == 2
        assert signature(again) == signature(bad) and "was confirmed in a fresh child" in again.kept_run["trusted"]
        assert ex.run(ok, oracle=True).cases_before == 0  # three cases in that child: a fresh one
        other = ex.run(TestCase(INF_IR.replace("inf", "nan"), targets=["c"]), want_outputs=False, oracle=False)
        assert other.outcome == "internal-error" and signature(other) != signature(bad)
        assert other.cases_before == 0 and "trusted" not in other.kept_run  # a failure not seen: judged fresh
    # A kept child gets kept_timeout_s; past it the fresh child, with the whole limit, gives the verdict.
    with Executor(ExecutorConfig(timeout_s=20.0, persistent=3, kept_timeout_s=0.001)) as ex:
        assert ex.run(ok, oracle=True).cases_before == 0
        slow = ex.run(ok, oracle=True)  # no kept child finishes a case in a millisecond
        assert slow.outcome == "ok" and slow.cases_before == 0
        assert slow.kept_run is not None and slow.kept_run["outcome"] == "hang"
        assert "0.001 s" in slow.kept_run["message"]
    # A kept child whose compiled code runs past kept_run_s is stopped there, well before kept_timeout_s; the
    # fresh child's run, with the whole limit, gives the verdict all the same.
    slow_ir = ("@T.prim_func\ndef main(A: T.Buffer((16,), \"int32\")):\n    for i in range(100000):\n"
               "        for j in range(100000):\n            A[(i + j) % 16] = A[(i * 7 + j) % 16] + 1\n")
    with Executor(ExecutorConfig(timeout_s=3.0, persistent=3, kept_timeout_s=3.0, kept_run_s=0.5,
                                 reference_on_hang=False)) as ex:
        assert ex.run(ok).cases_before == 0
        hang = ex.run(TestCase(slow_ir, targets=["llvm"]), want_outputs=False)
        assert hang.outcome == "hang" and hang.stage == "run:llvm" and hang.cases_before == 0  # the fresh child's
        assert hang.kept_run["outcome"] == "hang" and "compiled code ran past 0.5 s" in hang.kept_run["message"]
        assert hang.timings_ms["total"] < 3000 + 3000 - 1000  # the kept try ended long before its 3 s
    with Executor(ExecutorConfig(timeout_s=20.0)) as ex:  # the default: a fresh child per case
        assert [ex.run(ok).cases_before for _ in range(3)] == [0, 0, 0]


# A user's pass that fails the second time it runs in one process: what an earlier case left in a kept child.
SECOND_CALL_PLUGIN = '''
import tvm

calls = [0]


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def second_call_fails(func, mod, ctx):
    calls[0] += 1
    if calls[0] == 2:
        raise RuntimeError("second call in this process")
    return func
'''


def test_a_kept_childs_failure_is_judged_aside_while_the_next_case_runs(tmp_path):
    """Executor.run(later=True): a kept child's result other than ok comes back `confirming`, its fresh run
    going on in another child alongside the next case; `settle` gives the fresh run's verdict. That run's code
    is private: the blocks it reaches stay uncovered. A verdict that differs from the kept child's ends that
    child; one that agrees is trusted from then on, without a fresh run."""
    plugin = tmp_path / "userpasses.py"
    plugin.write_text(SECOND_CALL_PLUGIN)
    config = ExecutorConfig(timeout_s=30.0, coverage="tvm", persistent=8, plugins=(str(plugin),))
    ok = seed_case(load_seed("add_int32"), ["llvm"])
    flaky = TestCase(seed_case(load_seed("conv2d_nchw"), ["llvm"]).ir, passes=[PassSpec("plugin:userpasses.second_call_fails")],
                     targets=["llvm"])
    with Executor(config) as ex:
        first_call = TestCase(ok.ir, passes=flaky.passes, targets=["llvm"])
        assert ex.run(first_call, want_outputs=False, oracle=True, later=True).cases_before == 0
        assert ex.settle() is None  # nothing confirming
        kept = ex.run(flaky, want_outputs=False, oracle=True, later=True)  # the pass's second call in this child
        assert kept.confirming and kept.outcome == "internal-error" and kept.cases_before == 1, kept.message
        before = len(ex.covered())
        nxt = ex.run(ok, want_outputs=False, later=True)
        assert nxt.outcome == "ok" and nxt.cases_before == 2 and not nxt.confirming  # the kept child ran on
        verdict = ex.settle()
        assert verdict is not None and ex.settle() is None
        # the fresh run: the pass's first call there, so the case built and ran, and that is the verdict
        assert verdict.outcome == "ok" and verdict.cases_before == 0 and not verdict.confirming
        assert verdict.kept_run["outcome"] == "internal-error" and "trusted" not in verdict.kept_run
        assert len(ex.covered()) == before + nxt.new_blocks  # the run aside counted nothing
        # the two runs disagreed: the kept child runs no more cases; the same case, fresh, is ok and counts the
        # blocks of conv2d's build, which the fresh run aside left uncovered
        again = ex.run(flaky, want_outputs=False, oracle=True, later=True)
        assert again.outcome == "ok" and again.cases_before == 0 and again.new_blocks > 1000, again.new_blocks
        # a failure a fresh run gave too is trusted when a kept child gives it again: no fresh run, no waiting
        bad = TestCase(INF_IR, targets=["c"])
        first = ex.run(bad, want_outputs=False, later=True)
        assert first.confirming and first.outcome == "internal-error"
        assert ex.run(ok, want_outputs=False, later=True).outcome == "ok"
        confirmed = ex.settle()
        assert confirmed.outcome == "internal-error" and signature(confirmed) == signature(first)
        assert confirmed.cases_before == 0 and confirmed.kept_run["outcome"] == "internal-error"
        trusted = ex.run(bad, want_outputs=False, later=True)
        assert not trusted.confirming and "was confirmed in a fresh child" in trusted.kept_run["trusted"]
        assert trusted.cases_before > 0
    with Executor(config) as ex:  # without `later`, the fresh run is the result
        ex.run(first_call, want_outputs=False, oracle=True)
        judged = ex.run(flaky, want_outputs=False, oracle=True)
        assert not judged.confirming and judged.outcome == "ok" and judged.kept_run["outcome"] == "internal-error"


def test_a_mutation_made_ahead_counts_no_coverage_and_its_crash_is_the_mutations():
    """Executor.ahead/take: the mutation runs in the mutator child, from a private copy of TVM's code: the
    fork tree's coverage does not move while it mutates, and the case that ran before keeps what it found.
    The mutant then runs as the mutator's module. A mutator that dies is the mutation's failure (no case);
    the next mutation gets a new mutator and the same mutant as before."""
    env = {"PYTHONPATH": os.pathsep.join([str(JOBS), os.environ.get("PYTHONPATH", "")])}
    config = ExecutorConfig(timeout_s=20.0, coverage="tvm", persistent=4, env=env,
                            jobs=(MUTATE_JOB, ("crash", "crash_job:crash_job")))
    case = seed_case(load_seed("conv2d_nchw"), ["llvm"])
    spec = {"kinds": ["ir"]}
    with Executor(config) as ex:
        ex.run(case, want_outputs=False)
        before = len(ex.covered())
        for seed in range(8):
            spec["seed"] = seed
            ex.ahead(case, spec)
            made = ex.take()
            if made.outcome == "ok":
                break
        assert made.outcome == "ok" and made.case is not None and made.ir_json, made.message
        assert len(ex.covered()) == before  # the parse, the mutation and the printer of the mutator: none counted
        ahead = ex.run(TestCase.from_dict(made.case), want_outputs=False, module_json=made.ir_json)
        assert ahead.outcome == "ok" and ahead.ran_module and "parse" not in ahead.timings_ms
        ex.ahead(case, {"job": "crash"})
        dead = ex.take()
        assert dead.outcome == "crash" and dead.case is None and "mutator child" in dead.message
        ex.ahead(case, spec)
        assert ex.take().case == made.case  # a new mutator, the same mutant
    with Executor(config) as ex:  # the same mutation in the case's own child: its TVM code counts there
        ex.run(case, want_outputs=False)
        inside = ex.run(case, want_outputs=False, mutate=spec)
    assert inside.case == made.case and inside.new_blocks > ahead.new_blocks, (inside.new_blocks, ahead.new_blocks)


def test_a_childs_stage_is_read_from_its_file_whole_or_not_at_all(tmp_path):
    """Passes are not sent to the server (a wake-up each); the stage file says where a child died. A write
    cut short leaves the stage before it; a cleared file (a new request) names none."""
    from tirfuzz.fuzzer.execution.stageslot import SLOT_BYTES, StageSlot, clear_slot, read_slot

    slot = StageSlot(str(tmp_path))
    assert read_slot(str(tmp_path)) == ("spawn", None)
    slot.write("pass:tirx.transform.StorageRewrite", "llvm")
    slot.write("pass:tirx.transform.LowerTVMBuiltin", "c")
    assert read_slot(str(tmp_path)) == ("pass:tirx.transform.LowerTVMBuiltin", "c")
    other = 1 - slot.map[0]  # a write killed halfway: the other slot holds junk, the byte not flipped
    slot.map[1 + other * SLOT_BYTES:1 + other * SLOT_BYTES + 9] = b"pass:tirx"
    assert read_slot(str(tmp_path)) == ("pass:tirx.transform.LowerTVMBuiltin", "c")
    clear_slot(str(tmp_path))
    assert read_slot(str(tmp_path)) is None
    slot.write("x" * 1000, None)  # cut to its slot
    assert read_slot(str(tmp_path))[0] == "x" * (SLOT_BYTES - 2)
    assert read_slot(str(tmp_path / "gone")) is None


def test_a_crash_in_a_pass_of_a_kept_childs_case_names_that_pass(block_ir):
    """The kept child sends no pass stage; the server reads it from the child's file when the child dies."""
    from tirfuzz.fuzzer.core.case import PassSpec, TestCase
    from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig

    with Executor(ExecutorConfig(timeout_s=20.0, persistent=8)) as ex:
        assert ex.run(TestCase(block_ir)).outcome == "ok"
        res = ex.run(TestCase(block_ir, [PassSpec("tirx.transform.NarrowDataType", (32,))]))
        assert res.outcome == "crash" and res.kept_run is not None  # the kept child's crash, run again fresh
        assert res.stage == "pass:tirx.transform.NarrowDataType" and res.target == "llvm"
        assert res.kept_run["stage"] == "pass:tirx.transform.NarrowDataType"
