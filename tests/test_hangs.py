"""A hang is a bug only when TVM's reference build of the same program finishes within the same limit
(real TVM, real subprocesses): a program that is merely slow is `too-slow-to-test`."""

from __future__ import annotations

import json
import subprocess
import sys

from tirfuzz.fuzzer.core.case import PassSpec, TestCase, save_case
from tirfuzz.fuzzer.core.result import ExecResult, ReferenceTry
from tirfuzz.oracles.verdict import HANG_REFERENCE_FAILS, HANG_UNCONFIRMED, TOO_SLOW, judge

# 1e10 iterations of a store whose index and value depend on both loops: no optimizer removes it.
SLOW = '''@T.prim_func
def main(A: T.Buffer((16,), "int32")):
    for i in range(100000):
        for j in range(100000):
            A[(i + j) % 16] = A[(i * 7 + j) % 16] + 1
'''

QUICK = '''@T.prim_func
def main(A: T.Buffer((16,), "int32"), B: T.Buffer((16,), "int32")):
    for i in range(16):
        B[i] = A[i] + 1
'''

# A user's broken pass: the function's body runs forever (its loop wrapped in `while True`).
FOREVER_PLUGIN = '''
import tvm


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def forever(func, mod, ctx):
    """Wraps the body in while True: the build never returns from the function."""
    return func.with_body(tvm.tirx.While(tvm.tirx.const(True, "bool"), func.body))
'''


def tirfuzz(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tirfuzz.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_slow_program_whose_reference_is_slow_too_is_too_slow_to_test(tmp_path):
    path = tmp_path / "slow.json"
    save_case(TestCase(SLOW), path)
    p = tirfuzz("run", str(path), "--timeout", "2", "--json")
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert (out["outcome"], out["stage"], out["verdict"], out["verdict_filter"]) == \
        ("hang", "run:llvm", "filtered", TOO_SLOW), out
    ref = out["reference_try"]
    # stopped after a tenth of the 2 s limit and the second of slack: waiting longer could change no verdict
    assert (ref["outcome"], ref["limit_s"], ref["waited_s"]) == ("hang", 2.0, 1.2), ref
    assert ref["elapsed_ms"] < 2000, ref
    assert "did not finish within 1.2 s" in out["verdict_reason"]
    assert "the program is too slow to test, not a hang" in out["verdict_reason"]
    assert p.returncode == 0, p.stderr
    table = tirfuzz("run", str(path), "--timeout", "2")
    flat = " ".join(table.stdout.split())  # the table wraps long cells
    assert "too slow to test" in flat and "TVM's default pipeline (llvm) on the same program: hang" in flat, flat


def test_hang_whose_reference_finishes_is_a_hang_bug(tmp_path):
    plugin = tmp_path / "userpasses.py"
    plugin.write_text(FOREVER_PLUGIN)
    path = tmp_path / "forever.json"
    save_case(TestCase(QUICK, passes=[PassSpec("plugin:userpasses.forever")]), path)
    p = tirfuzz("run", str(path), "--timeout", "3", "--json", "--pass-plugin", str(plugin))
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert (out["outcome"], out["stage"], out["verdict"]) == ("hang", "run:llvm", "bug"), out
    ref = out["reference_try"]
    assert ref["outcome"] == "finished" and ref["elapsed_ms"] < 3000, ref
    assert "built and ran the same program on the same inputs" in out["verdict_reason"]
    assert p.returncode == 1, p.stderr


def test_hang_verdict_follows_the_reference_try():
    case, unsafe = TestCase(QUICK), TestCase(QUICK, extra={"safe": False, "ub_risks": ["oob"]})

    def hang(stage: str, outcome: str | None) -> ExecResult:
        ref = ReferenceTry(outcome, 30.0, 120.0, "run", "InternalError: x") if outcome else None
        return ExecResult("hang", stage=stage, resource="time", reference_try=ref)
    assert judge(case, hang("run:llvm", "finished")).is_bug
    assert judge(case, hang("pass:tirx.transform.UnrollLoop", "finished")).is_bug
    assert judge(case, hang("build:c", "hang")).filter == TOO_SLOW
    assert judge(case, hang("run:c", "failed")).filter == HANG_REFERENCE_FAILS
    assert judge(case, hang("run:c", None)).filter == HANG_UNCONFIRMED
    assert judge(unsafe, hang("run:c", "finished")).is_bug  # the mutators' record decides nothing
    trapped = hang("run:c", "finished")
    trapped.oracle["checked"] = {"filter": "ub:out-of-bounds", "reason": "out-of-bounds write of `B` at [9]"}
    assert judge(unsafe, trapped).filter == "ub:out-of-bounds"  # the checked run of the same inputs trapped
    assert judge(unsafe, hang("pass:x", "finished")).is_bug  # before any run: the compiler's
    assert judge(case, hang("run:c", None), ReferenceTry("finished", 30.0)).is_bug  # given as an argument
    # the reference needed 10.5 of 30 s (a matmul of TVM's tests on c): the case's build without the
    # default pipeline's optimizations may run 3x longer; a hang is called only past 10x
    near = judge(case, hang("run:c", None), ReferenceTry("finished", 30.0, 10500.0, "run", "", "c"))
    assert near.filter == TOO_SLOW and "took 10.5 s of the 30 s limit" in near.reason


def test_the_reference_is_built_for_the_target_that_hung(tmp_path):
    """A C build runs slower than an llvm one: a hang of the c build is judged against TVM's default
    pipeline for c (three matmuls of TVM's own tests ran past 30 s on c while llvm's reference finished,
    and were reported as hangs)."""
    path = tmp_path / "slow_c.json"
    save_case(TestCase(SLOW, targets=["c"]), path)
    out = json.loads(tirfuzz("run", str(path), "--timeout", "2", "--json").stdout.strip().splitlines()[-1])
    assert (out["outcome"], out["stage"], out["verdict_filter"]) == ("hang", "run:c", TOO_SLOW), out
    assert out["reference_try"]["target"] == "c" and "TVM's default pipeline, c" in out["verdict_reason"]


def test_a_kept_childs_hang_has_its_reference_tried_beside_its_fresh_run(tmp_path):
    """A kept child's hang is run again in a fresh child with the whole limit; its reference try runs
    meanwhile on the other core, and gives the verdict the try after the fresh run gives."""
    import os
    import time

    import pytest

    from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
    from tirfuzz.oracles.verdict import BUG

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the reference is tried after the fresh run")
    plugin = tmp_path / "userpasses.py"
    plugin.write_text(FOREVER_PLUGIN)
    forever = TestCase(QUICK, passes=[PassSpec("plugin:userpasses.forever")])
    slow = TestCase(SLOW)
    got = {}
    with Executor(ExecutorConfig(timeout_s=3.0, persistent=8, plugins=(str(plugin),))) as ex:
        for name, case, beside in (("forever", forever, True), ("slow", slow, True), ("slow", slow, False)):
            ex.config.reference_beside = beside
            assert ex.run(TestCase(QUICK)).outcome == "ok"  # the next case runs in a kept child
            t0 = time.perf_counter()
            res = ex.run(case)
            res.timings_ms["wall"] = (time.perf_counter() - t0) * 1e3
            assert (res.outcome, res.stage, res.cases_before) == ("hang", "run:llvm", 0), res.message
            assert res.kept_run and res.kept_run["outcome"] == "hang"
            got[name, beside] = res
    side, after = got["slow", True].reference_try, got["slow", False].reference_try
    assert (side.beside, after.beside) == (True, False)
    assert side.outcome == after.outcome == "hang", (side, after)
    for res in (got["slow", True], got["slow", False]):
        assert judge(slow, res).filter == TOO_SLOW
    ref = got["forever", True].reference_try  # TVM's pipeline without the user's pass: it finishes at once
    assert ref.beside and ref.outcome == "finished" and ref.elapsed_ms < 300, ref
    assert judge(forever, got["forever", True]).kind == BUG
    # the slow program's reference ran its 1.3 s beside the fresh run's 3 s, not after it
    assert got["slow", True].timings_ms["wall"] < got["slow", False].timings_ms["wall"] - 1000


def test_a_reference_tried_beside_stands_only_when_alone_it_would_end_alike():
    """Another process on the machine only slows a run: a failed or fast reference stands; a slow one only
    when it was slow without the time it waited for a core (measured on the run); else it is tried alone."""
    from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig

    ex = Executor(ExecutorConfig(timeout_s=10.0))  # never started: `_beside_try` only reads its records
    finished = lambda ms: ExecResult("declined", mutation={"reference": "finished", "elapsed_ms": ms})  # noqa: E731
    stopped = ExecResult("hang", resource="time", timings_ms={"total": 2000.0})
    failed = ExecResult("crash", stage="build", signal="SIGSEGV")
    assert ex._beside_try(("llvm", 2.0, 0.9, failed), "llvm").outcome == "failed"
    assert ex._beside_try(("llvm", 2.0, 0.9, finished(800.0)), "llvm").outcome == "finished"
    assert ex._beside_try(("llvm", 2.0, 0.05, stopped), "llvm").outcome == "hang"        # 1.95 s alone: too slow
    assert ex._beside_try(("llvm", 2.0, 1.2, stopped), "llvm") is None                   # alone, maybe 0.8 s
    assert ex._beside_try(("llvm", 2.0, 0.05, finished(1500.0)), "llvm").outcome == "finished"
    assert ex._beside_try(("llvm", 2.0, None, stopped), "llvm") is None                  # the kernel did not say
    assert ex._beside_try(("c", 2.0, 0.0, stopped), "c") is None                         # its compiler's wait unknown
    assert ex._beside_try(("c", 2.0, 0.0, finished(700.0)), "c").outcome == "finished"
    assert ex._beside_try(("c", 2.0, 0.0, finished(700.0)), "llvm") is None              # not the target that hung


def test_a_reference_try_counts_no_coverage():
    """How far a reference try got when stopped at its limit follows the machine's load: its code runs
    private, so what a campaign covers (and so keeps) is the same with the tries as without them."""
    from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig

    def covered(reference: bool) -> tuple[int, int]:
        with Executor(ExecutorConfig(timeout_s=1.0, coverage="tvm", persistent=8, reference_on_hang=reference)) as ex:
            assert ex.run(TestCase(QUICK, passes=[])).outcome == "ok"  # no pass of TVM's pipeline ran yet
            hang = ex.run(TestCase(SLOW, passes=[]))  # a kept child's hang: with two cores, its reference beside
            assert hang.outcome == "hang" and (hang.reference_try is not None) == reference, hang.message
            if reference:  # and a try alone: TVM's pipeline on a program it did not build yet
                assert ex._try_reference(TestCase(QUICK), "llvm").outcome == "finished"
            return hang.cov_total, ex.run(TestCase(QUICK)).cov_total  # TVM's pipeline, first in a case

    assert covered(True) == covered(False)
