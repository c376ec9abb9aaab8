"""The executor against real TVM 0.27: crashes, hangs, internal errors and rejections are outcomes."""

from __future__ import annotations

import numpy as np
from conftest import FLAT_IR

from tirfuzz.fuzzer.core.case import PassSpec, TestCase
from tirfuzz.fuzzer.core.tvmapi import default_pipeline

HANG_IR = '''@T.prim_func
def main(A: T.Buffer((4,), "int32")):
    while True:
        A[0] = A[0] + 1
'''

# erf on float16 has no lowering for llvm in TVM 0.27: codegen fails a check on well-formed IR.
FP16_ERF_IR = '''@T.prim_func
def main(A: T.Buffer((16,), "float16"), B: T.Buffer((16,), "float16")):
    for i in T.vectorized(16):
        B[i] = T.exp(A[i]) + T.erf(A[i])
'''

# Well formed in every way but one: B is read before it is declared (a use outside its scope).
ILL_FORMED_IR = '''@T.prim_func
def main(A: T.Buffer((16,), "int32")):
    n = T.int32()
    for i in range(16):
        A[i] = n
'''


def test_ok_case_returns_outputs_per_target(executor):
    res = executor.run(TestCase(FLAT_IR, targets=["llvm", "c"]))
    assert res.outcome == "ok", res.message
    assert res.stage == "done"
    a_llvm, b_llvm = res.outputs["llvm"]["main"]
    a_c, b_c = res.outputs["c"]["main"]
    np.testing.assert_array_equal(b_llvm, a_llvm * 3 + 1)
    np.testing.assert_array_equal(b_llvm, b_c)
    assert {"parse", "build@llvm", "run@llvm", "build@c", "run@c", "unstaged"} <= set(res.timings_ms)
    staged = sum(v for k, v in res.timings_ms.items() if k != "total")  # the case's time, stages and between
    assert 0 <= res.timings_ms["unstaged"] < staged <= res.timings_ms["total"]


def test_inputs_are_deterministic_and_seed_dependent(executor):
    r0 = executor.run(TestCase(FLAT_IR, input_seed=0))
    r0b = executor.run(TestCase(FLAT_IR, input_seed=0))
    r1 = executor.run(TestCase(FLAT_IR, input_seed=1))
    a0, a0b, a1 = (r.outputs["llvm"]["main"][0] for r in (r0, r0b, r1))
    np.testing.assert_array_equal(a0, a0b)
    assert not np.array_equal(a0, a1)


def test_segfault_is_a_crash_and_the_next_case_runs(executor, block_ir):
    res = executor.run(TestCase(block_ir, [PassSpec("tirx.transform.NarrowDataType", (32,))]))
    assert res.outcome == "crash"
    assert res.signal == "SIGSEGV"
    assert res.stage == "pass:tirx.transform.NarrowDataType" and res.target == "llvm"
    assert res.frame and res.frame.startswith("tvm::")
    assert "Segfault encountered" in res.stderr_tail
    after = executor.run(TestCase(block_ir, default_pipeline()))
    assert after.outcome == "ok", after.message


def test_infinite_loop_is_a_hang_within_the_timeout(executor):
    res = executor.run(TestCase(HANG_IR))
    assert res.outcome == "hang" and res.resource == "time"
    assert res.stage == "run:llvm"
    assert res.timings_ms["total"] < executor.config.timeout_s * 1000 + 1500
    assert executor.run(TestCase(FLAT_IR)).outcome == "ok"


def test_a_child_killed_in_a_hang_leaves_no_temporary_files():
    """The C target's shared object is built before the llvm run hangs; the killed child cannot remove it."""
    import glob
    import os
    import tempfile

    from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig

    def ours() -> set[str]:
        return set(glob.glob(os.path.join(tempfile.gettempdir(), "tirfuzz-cc-*")))

    before = ours()
    with Executor(ExecutorConfig(timeout_s=2.0, reference_on_hang=False)) as ex:
        scratch = ex.info["scratch"]
        res = ex.run(TestCase(HANG_IR, targets=["llvm", "c"]))
        assert res.outcome == "hang" and res.stage == "run:llvm", res.message
        assert ex.run(TestCase(FLAT_IR, targets=["llvm", "c"])).outcome == "ok"
        assert os.path.isdir(scratch)
        assert not glob.glob(os.path.join(scratch, "*", "tirfuzz-cc-*")), "a reaped child's files are still there"
        assert ours() == before
    assert not os.path.exists(scratch)


def test_internal_error_carries_its_cpp_file_and_line(executor):
    res = executor.run(TestCase(FP16_ERF_IR, targets=["llvm"]))
    assert res.outcome == "internal-error"
    assert res.stage == "build:llvm"
    assert res.exc_type == "InternalError"
    assert res.frame is not None and res.frame.startswith("src/target/llvm/codegen_llvm.cc:")
    assert "erf" in res.message


def test_ill_formed_module_is_rejected(executor):
    res = executor.run(TestCase(ILL_FORMED_IR))
    assert res.outcome == "rejected"
    assert res.stage == "precheck" and res.filter == "ill-formed"


def test_pass_precondition_violation_is_rejected_not_a_bug(executor, block_ir):
    res = executor.run(TestCase(block_ir, [PassSpec("tirx.transform.MakePackedAPI")]))
    assert res.outcome == "rejected"
    assert res.filter == "precondition:block-free"
    assert res.frame.startswith("src/tirx/transform/make_packed_api.cc:")


def test_unparseable_ir_and_unknown_names_are_rejected(executor):
    assert executor.run(TestCase("def main(:")).filter == "unparseable-tvmscript"
    assert executor.run(TestCase(FLAT_IR, [PassSpec("tirx.transform.NoSuchPass")])).filter == "unknown-pass"
    assert executor.run(TestCase(FLAT_IR, targets=["vulkan9"])).filter == "unknown-target"


def test_memory_limit_is_a_resource_outcome_not_a_crash_of_the_parent():
    from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig

    big = '''@T.prim_func
def main(A: T.Buffer((16,), "int8")):
    B = T.alloc_buffer((1 << 31,), "int8")
    for i in range(16):
        B[i * 100000000] = A[i]
        A[i] = B[i * 100000000]
'''
    with Executor(ExecutorConfig(timeout_s=20, memory_mb=256)) as ex:
        res = ex.run(TestCase(big))
        assert res.outcome == "hang" and res.resource == "memory", res.message
        assert ex.run(TestCase(FLAT_IR)).outcome == "ok"


def test_inputs_over_the_memory_limit_are_a_named_rejection_not_a_hang():
    """tirfuzz's own input arrays (1 GiB here) against a 256 MiB limit: checked before any array is made,
    rejected as `inputs-too-large` with the sizes (before: `hang`, resource memory, as if TVM ran out)."""
    from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig

    huge = '''@T.prim_func
def main(A: T.Buffer((268435456,), "float32"), B: T.Buffer((1,), "float32")):
    B[0] = A[0]
'''
    with Executor(ExecutorConfig(timeout_s=30, memory_mb=256)) as ex:
        res = ex.run(TestCase(huge))
    assert (res.outcome, res.filter, res.stage) == ("rejected", "inputs-too-large", "run:llvm"), (res.outcome, res.message)
    assert "inputs need 4.0 GiB, limit" in res.message


def test_known_c_backend_gap_is_rejected_with_its_filter(executor):
    fp16 = '''@T.prim_func
def main(A: T.Buffer((16,), "float16"), B: T.Buffer((16,), "float16")):
    for i in range(16):
        B[i] = A[i] + A[i]
'''
    llvm = executor.run(TestCase(fp16, targets=["llvm"]), want_outputs=False)
    c = executor.run(TestCase(fp16, targets=["c"]), want_outputs=False)
    assert llvm.outcome == "ok", llvm.message
    assert c.outcome == "rejected" and c.stage == "build:c", c.message[:300]
    assert c.filter in ("c-backend-no-half-type", "c-backend-unsupported-type")


def test_target_this_cpu_cannot_run_is_built_but_not_run(executor):
    import pytest

    from tirfuzz.fuzzer.core.targets import runnable_here

    cpus = ("graniterapids", "sapphirerapids", "znver5", "skylake-avx512", "znver4")
    foreign = next((f"llvm -mcpu={c}" for c in cpus if not runnable_here(f"llvm -mcpu={c}")), None)
    if foreign is None:
        pytest.skip("this CPU runs code for every -mcpu tried")
    res = executor.run(TestCase(FLAT_IR, targets=[foreign, "llvm"]))
    assert res.outcome == "ok", res.message
    assert res.skipped_runs == [foreign] and list(res.outputs) == ["llvm"]


def test_c_backend_vector_types_are_a_named_known_gap(executor):
    vec = '''@T.prim_func
def main(A: T.Buffer((16,), "int32"), B: T.Buffer((16,), "int32")):
    for i in T.vectorized(8):
        B[i] = A[i] * 3 + A[i + 8]
'''
    res = executor.run(TestCase(vec, targets=["c"]), want_outputs=False)
    assert res.outcome == "rejected" and res.stage == "build:c" and res.filter == "c-backend-no-vector-type"
    both = executor.run(TestCase(vec, targets=["llvm", "c"]), want_outputs=True)  # c drops out, llvm runs
    assert both.outcome == "ok" and both.dropped == {"c": "c-backend-no-vector-type"} and list(both.outputs) == ["llvm"]


def test_mutating_from_the_kept_json_makes_the_same_mutants_as_parsing(executor, block_ir):
    """A run returns the parsed module as TVM JSON; a mutation that loads it instead of parsing the
    TVMScript makes exactly the mutant the parse would have made, for every mutator that applies."""
    from tirfuzz.mutators.mutate import mutate_case
    from tirfuzz.mutators.registry import all_mutators

    case = TestCase(block_ir, targets=["llvm"])
    res = executor.run(case, want_outputs=False, want_json=True)
    assert res.outcome == "ok" and res.ir_json and '"root"' in res.ir_json
    ir_muts = [m for m in all_mutators() if m.kind == "ir"]
    made = 0
    for seed in range(24):
        from_text, _ = mutate_case(case, seed, None, ir_muts, case)
        from_json, info = mutate_case(case, seed, None, ir_muts, case, parsed=(res.ir_json, res.ir_json))
        assert (from_text is None) == (from_json is None), info
        if from_text is not None:
            made += 1
            assert from_json.ir == from_text.ir and from_json.extra == from_text.extra
    assert made >= 8
    for seed in range(20):
        mutant = executor.run(case, want_outputs=False, mutate={"seed": seed, "kinds": ["ir"], "donor": None,
                                                                "ir_json": res.ir_json})
        if mutant.outcome == "ok":
            break
    assert mutant.outcome == "ok" and mutant.case is not None
    assert mutant.ir_json  # a mutant brings its own JSON back, for its own next mutation


def _children(pid: int) -> list[tuple[int, str]]:
    """(pid, state letter) of each process whose parent is `pid`, read from /proc."""
    import os

    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append((int(name), fields[0]))
    return out


def test_children_are_reaped_while_the_next_case_runs(executor, block_ir):
    """A case ends at its result; its child is reaped during the next case, so none pile up."""
    executor.run(TestCase(FLAT_IR))
    zygotes = _children(executor.info["pid"])
    assert len(zygotes) == 1, zygotes
    zygote = zygotes[0][0]
    for seed in range(4):
        assert executor.run(TestCase(FLAT_IR, input_seed=seed)).outcome == "ok"
    crash = executor.run(TestCase(block_ir, [PassSpec("tirx.transform.NarrowDataType", (32,))]))
    assert crash.outcome == "crash" and crash.signal == "SIGSEGV"  # a dead child is waited for at once
    assert executor.run(TestCase(FLAT_IR)).outcome == "ok"
    # left: the standby child, and at most the last case's child (exiting, or a zombie until the next case)
    assert len(_children(zygote)) <= 2, _children(zygote)


HANDLE_READ = '''@T.prim_func
def main(Aptr: T.handle("float32"), B: T.Buffer((4,), "float32")):
    A = T.decl_buffer((4,), "float32", data=Aptr)
    for i in range(4):
        B[i] = A[i] + T.float32(1)
'''


def test_a_bare_handle_parameter_is_passed_the_address_of_its_zeroed_memory(executor):
    """The kernel reads the handle's memory (zeroed): B = 0 + 1. Passing the tensor object instead hands
    the kernel the tensor's descriptor (DLTensor*), and a program that writes through it corrupts the
    heap (two bf16 programs of TVM's own tests crashed that way: a tirfuzz defect reported as a crash)."""
    res = executor.run(TestCase(HANDLE_READ, targets=["llvm"]), want_outputs=True)
    assert res.outcome == "ok", (res.outcome, res.message)
    assert res.outputs["llvm"]["main"][0].tolist() == [1.0, 1.0, 1.0, 1.0]


GPU_BOUND = '''@T.prim_func
def main(A: T.Buffer((32,), "float32"), B: T.Buffer((32,), "float32")):
    bx = T.launch_thread("blockIdx.x", 1)
    tx = T.launch_thread("threadIdx.x", 32)
    B[tx] = A[tx] + T.float32(1)
'''


def test_a_program_bound_to_gpu_threads_is_not_built_for_a_cpu(executor):
    """TVM's unit tests hold many GPU kernels; built for llvm they failed deep in codegen ("not
    implemented", "Unknown device id") and were reported as internal errors. The CPU targets drop out,
    named; with no target left the case is rejected."""
    res = executor.run(TestCase(GPU_BOUND, targets=["llvm", "c"]), want_outputs=False)
    assert (res.outcome, res.filter) == ("rejected", "needs-gpu-target"), (res.outcome, res.message)
    assert "binds threadIdx.x" in res.message and res.dropped == {"llvm": "needs-gpu-target", "c": "needs-gpu-target"}
    res = executor.run(TestCase(GPU_BOUND, targets=["llvm", "cuda"]), want_outputs=False)
    assert res.outcome == "ok" and res.dropped == {"llvm": "needs-gpu-target"}, (res.outcome, res.message)


SCALARS = '''@T.prim_func
def main(A: T.Buffer((8,), "float32"), alpha: T.float32, k: T.int32, B: T.Buffer((8,), "float32")):
    for i in range(8):
        B[i] = A[i] * alpha + T.Cast("float32", k)
'''


def test_scalar_parameters_of_every_kind_get_values_from_the_input_seed(executor):
    """Issue 18, class 1: a PrimFunc with scalar parameters (not shape variables) failed in input making
    (`dtype is only available on a Var with BufferType`), reported as a TVM internal error."""
    runs = [executor.run(TestCase(SCALARS, targets=["llvm", "c"], input_seed=s), want_outputs=True, oracle=True)
            for s in (1, 1, 4)]
    assert [r.outcome for r in runs] == ["ok"] * 3, [(r.outcome, r.message) for r in runs]
    b = [r.outputs["llvm"]["main"][1] for r in runs]
    assert np.array_equal(b[0], b[1]) and not np.array_equal(b[0], b[2])  # from the seed, repeatably


def test_a_dead_servers_scratch_folder_is_removed_when_a_server_starts():
    """A campaign killed with its fork server leaves the server's scratch folder: the next server removes it
    (its pid runs nothing, untouched for an hour), and leaves a running server's folder alone."""
    import os
    import shutil
    import subprocess
    import tempfile
    import time
    from pathlib import Path

    from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig

    gone = subprocess.Popen(["true"])
    gone.wait()
    tmp, hour_ago = Path(tempfile.gettempdir()), time.time() - 3700
    dead, live, fresh = (tmp / f"tirfuzz-server-{pid:07d}-{tag}" for pid, tag in
                         ((gone.pid, "testdead"), (os.getpid(), "testlive"), (gone.pid, "testnew")))
    for folder in (dead, live, fresh):
        (folder / "0000001").mkdir(parents=True, exist_ok=True)
    for folder in (dead, live):
        os.utime(folder, (hour_ago, hour_ago))
    try:
        with Executor(ExecutorConfig(warmup=False)) as ex:
            scratch = ex.info["scratch"]
            assert os.path.basename(scratch).startswith(f"tirfuzz-server-{ex.proc.pid:07d}-")
        assert not dead.exists()
        assert live.exists() and fresh.exists()  # a running pid; a folder touched within the hour
        assert not os.path.exists(scratch)
    finally:
        for folder in (dead, live, fresh):
            shutil.rmtree(folder, ignore_errors=True)


def test_a_server_whose_executor_died_while_it_started_removes_its_folder():
    """The process that launched a fork server is killed while the server starts (as `kill -9` of a campaign
    in its first seconds): the server, finding no one to tell it is ready, removes its folder and exits."""
    import os

    from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
    from tirfuzz.fuzzer.execution.scratch import folders_of

    ex = Executor(ExecutorConfig(warmup=False))
    ex.launch()
    proc = ex.proc
    os.close(ex._w)  # what a killed executor leaves: both pipes closed, the server running on
    os.close(ex._r)
    ex._w = ex._r = ex.proc = None
    assert proc.wait(timeout=120) == 0
    assert folders_of(proc.pid) == []
