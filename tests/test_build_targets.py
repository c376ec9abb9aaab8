"""Targets built but not run here: CUDA/OpenCL/Metal/WebGPU source and LLVM cross-compiling for other CPUs."""

from __future__ import annotations

import random

import pytest

from tirfuzz.fuzzer.campaign.config import CampaignConfig
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.targets import check_target, cuda_device_present, native_code, runnable_here
from tirfuzz.mutators.base import Decline, MutationContext
from tirfuzz.mutators.targets import BUILD_ONLY, BuildTargetMutate, TargetMutate

# One block: TVM 0.27's DefaultGPUSchedule, which gives GPU targets their thread bindings, stops at a
# function with two blocks ("Duplicated block name root"), so the GPU builds below use one.
ONE_BLOCK = '''@T.prim_func(s_tir=True)
def main(A: T.Buffer((16,), "DT"), B: T.Buffer((16,), "DT")):
    for i in range(16):
        with T.sblock("b"):
            vi = T.axis.remap("S", [i])
            B[vi] = A[vi] * T.DT(3)
'''


def one_block(dtype: str) -> str:
    return ONE_BLOCK.replace("DT", dtype)


def test_other_architectures_and_gpu_source_kinds_are_known_and_not_run_here():
    for name in BUILD_ONLY:
        check_target(name)
        if not name.startswith("cuda") or not cuda_device_present():
            assert not runnable_here(name), name
    assert native_code("llvm") and native_code("c") and native_code("llvm -mtriple=x86_64-linux-gnu")
    assert not native_code("llvm -mtriple=aarch64-linux-gnu") and not native_code("llvm -mtriple=i686-linux-gnu")


def test_a_case_builds_its_build_only_targets_and_compares_the_one_that_runs(executor):
    """An AArch64 cross build was loaded into this process ("Cannot run module, architecture mismatch") and
    reported as a TVM internal error before: a tool defect. Now its assembly is made and its run skipped."""
    foreign = ["llvm -mtriple=aarch64-linux-gnu -mattr=+sve", "opencl", "metal"]
    res = executor.run(TestCase(one_block("float32"), targets=["llvm", *foreign]), oracle=True)
    assert res.outcome == "ok", (res.stage, res.message[:300])
    assert res.skipped_runs == foreign and list(res.outputs) == ["llvm"]
    assert res.oracle.get("compared") == ["llvm"]


def test_missing_64_bit_types_of_metal_and_webgpu_are_named_gaps(executor):
    i64 = executor.run(TestCase(one_block("int64"), targets=["llvm", "webgpu"]), oracle=True)
    assert i64.outcome == "ok" and i64.dropped == {"webgpu": "webgpu-no-64-bit"} and list(i64.outputs) == ["llvm"]
    f64 = executor.run(TestCase(one_block("float64"), targets=["llvm", "metal"]), oracle=True)
    assert f64.outcome == "ok" and f64.dropped == {"metal": "metal-no-float64"}, (f64.outcome, f64.message[:200])
    alone = executor.run(TestCase(one_block("int64"), targets=["webgpu"]), oracle=True)
    assert alone.outcome == "rejected" and alone.filter == "webgpu-no-64-bit"


def test_target_mutations_keep_a_target_that_runs_and_name_none_twice():
    from conftest import FLAT_IR

    case, seen = TestCase(FLAT_IR, targets=["llvm", "c"]), set()
    rng = random.Random(0)
    for _ in range(600):
        mut = rng.choice([BuildTargetMutate(), TargetMutate()])
        try:
            case = mut.apply(MutationContext(case), rng).case
        except Decline:
            continue
        assert any(t not in BUILD_ONLY for t in case.targets), case.targets
        assert len(set(case.targets)) == len(case.targets) <= 3, case.targets
        seen.update(t for t in case.targets if t in BUILD_ONLY)
    assert len(seen) >= 6, seen


def test_no_build_targets_leaves_the_mutator_out(tmp_path):
    from tirfuzz.fuzzer.campaign.bugs import BugStore
    from tirfuzz.fuzzer.campaign.campaign import Campaign
    from tirfuzz.fuzzer.campaign.corpus import Corpus
    from tirfuzz.fuzzer.campaign.stats import Stats
    from tirfuzz.fuzzer.campaign.store import CampaignDir

    def mutators(**kw):
        cfg = CampaignConfig(out=str(tmp_path / "c"), **kw)
        store = CampaignDir(cfg.out)
        return cfg.build_targets, Campaign(cfg, None, Corpus(store), BugStore(store), Stats(), store=store).mutators

    on, names = mutators()
    assert on and names is None  # every mutator, build-target among them
    off, names = mutators(build_targets=False)
    assert not off and "build-target" not in names and "target" in names
    tzer_on, names = mutators(mode="tzer")
    assert not tzer_on and "build-target" not in names


@pytest.mark.parametrize("target", ["opencl", "llvm -mtriple=riscv64-unknown-linux-gnu -mattr=+m,+f,+d,+v"])
def test_reproducer_of_a_build_only_target_compiles_without_loading(target):
    from tirfuzz.reports.repro_short import _jit

    assert _jit(target) == "" and _jit("llvm") == ".jit()"


def test_fresh_programs_get_a_build_only_target_only_when_asked():
    from tirfuzz.fuzzer.campaign.fresh import FreshPrograms

    def targets(build_only: float) -> list[list[str]]:
        fresh, rng = FreshPrograms(0.1, build_only), random.Random(1)
        return [fresh.case(rng, ["tirx.transform.Simplify"], ["llvm", "c"], lambda _: False).targets for _ in range(12)]

    assert all(t == ["llvm", "c"] for t in targets(0.0))
    assert all(t[:2] == ["llvm", "c"] and len(t) == 3 and t[2] in BUILD_ONLY for t in targets(1.0))


def test_a_gpu_build_of_statements_left_without_thread_bindings_drops_out_by_name(executor):
    """A program without blocks (TIR as the fresh-program generator writes it; found by a campaign) keeps
    statements without thread bindings after DefaultGPUSchedule (it binds blocks only); VerifyMemory, run
    before FlattenBuffer, refuses its GPU build. Filter kinds given as "cuda|opencl|..." match a target
    with options too."""
    ir = '''@T.prim_func
def main(A: T.Buffer((7,), "float64"), B: T.Buffer((7,), "uint16")):
    for i1 in range(7):
        B[i1] = T.uint16(0)
        for k2 in range(8):
            B[i1] = T.min(B[i1], T.Cast("uint16", k2))
'''
    from tirfuzz.fuzzer.core.tvmapi import default_pipeline

    passes = [p for p in default_pipeline() if p.name != "tirx.transform.FlattenBuffer"]  # as the campaign's case
    res = executor.run(TestCase(ir, passes=passes, targets=["llvm", "cuda -arch=sm_75"]), oracle=True)
    assert res.outcome == "ok" and res.dropped == {"cuda -arch=sm_75": "gpu-statements-left-unbound"}, res.message[:300]


# A campaign's pass sequence (mutated from TVM's) that names MakePackedAPI but not SplitHostDevice.
PACKED_NO_SPLIT = ["s_tir.transform.CanonicalizeLoop", "s_tir.transform.ConvertBlocksToOpaque",
                   "s_tir.transform.LowerOpaqueBlock", "tirx.transform.FlattenBuffer", "tirx.transform.MakePackedAPI"]


def test_a_gpu_build_splits_kernels_before_a_named_make_packed_api(executor):
    """The completion ran SplitHostDevice after the sequence's MakePackedAPI: the host's LLVM code generation
    met thread indices and raised "not implemented", reported as a Metal bug (a tirfuzz defect)."""
    from tirfuzz.fuzzer.core.case import PassSpec
    from tirfuzz.fuzzer.core.runtime import lowering_sequence

    names = [n for n, _, _ in lowering_sequence("metal", [(p, ()) for p in PACKED_NO_SPLIT])]
    assert names.index("tirx.transform.SplitHostDevice") < names.index("tirx.transform.MakePackedAPI")
    cpu = [n for n, _, _ in lowering_sequence("llvm", [(p, ()) for p in PACKED_NO_SPLIT])]
    assert cpu.index("tirx.transform.SplitHostDevice") > cpu.index("tirx.transform.MakePackedAPI")  # as before
    case = TestCase(one_block("int32"), passes=[PassSpec(p) for p in PACKED_NO_SPLIT], targets=["llvm", "metal"])
    res = executor.run(case, oracle=True)
    assert res.outcome == "ok" and res.skipped_runs == ["metal"], (res.stage, res.message[:300])


def test_a_backend_filter_holds_for_its_targets_with_any_options():
    """`cuda-global-allocation` (target = 'cuda') did not match "cuda -arch=sm_90", a target the build-target
    mutator adds: the CUDA backend's documented gap would have been reported as a bug there."""
    from tirfuzz.oracles.filters import classify_error

    msg = "Cannot allocate global memory when targeting CUDA"
    for target in ("cuda", "cuda -arch=sm_90"):
        flt = classify_error("build:" + target, target, "InternalError", msg)
        assert flt is not None and flt.name == "cuda-global-allocation", target
    assert classify_error("build:llvm", "llvm", "InternalError", msg) is None


# Two blocks (a padding stage, then a reduction): DefaultGPUSchedule stops here in TVM 0.27.
TWO_BLOCKS = '''@T.prim_func(s_tir=True)
def main(A: T.Buffer((8, 8), "float32"), B: T.Buffer((8,), "float32")):
    P = T.sblock_alloc_buffer((8, 10))
    for i, j in T.grid(8, 10):
        with T.sblock("pad"):
            vi, vj = T.axis.remap("SS", [i, j])
            P[vi, vj] = T.if_then_else(1 <= vj and vj < 9, A[vi, vj - 1], T.float32(0))
    for i, k in T.grid(8, 10):
        with T.sblock("sum"):
            vi, vk = T.axis.remap("SR", [i, k])
            with T.init():
                B[vi] = T.float32(0)
            B[vi] = B[vi] + P[vi, vk]
'''


def test_dlight_schedules_for_the_gpu_what_default_gpu_schedule_cannot(executor):
    """dlight's rules in the sequence replace the DefaultGPUSchedule a GPU build adds; the CPU build is
    untouched by them (the rules stand aside) and still compared."""
    from tirfuzz.fuzzer.core.case import PassSpec
    from tirfuzz.fuzzer.core.runtime import DLIGHT_PASS, GPU_BINDING_PASS, lowering_sequence

    assert lowering_sequence("opencl", [])[0][0] == GPU_BINDING_PASS
    assert GPU_BINDING_PASS not in [n for n, _, _ in lowering_sequence("opencl", [(DLIGHT_PASS, ())])]
    plain = executor.run(TestCase(TWO_BLOCKS, targets=["llvm", "opencl"]), oracle=True)
    assert plain.outcome == "internal-error" and plain.stage == "pass:" + GPU_BINDING_PASS, plain.message[:200]
    for rules in ([], ["gpu.Reduction", "gpu.Fallback"], ["gpu.Fallback"]):
        case = TestCase(TWO_BLOCKS, passes=[PassSpec(DLIGHT_PASS, rules)], targets=["llvm", "opencl"])
        res = executor.run(case, oracle=True)
        assert res.outcome == "ok" and res.skipped_runs == ["opencl"], (rules, res.stage, res.message[:300])
        assert res.oracle.get("compared") == ["llvm"]


def test_a_gpu_schedule_refusing_an_in_place_program_drops_the_gpu_target_by_name(executor):
    """A block reading and writing one buffer breaks the schedule primitives' documented compact dataflow:
    dlight's `bind` raises a ScheduleError, a program these schedules are not for, not a TVM bug."""
    from tirfuzz.fuzzer.core.case import PassSpec
    from tirfuzz.fuzzer.core.runtime import DLIGHT_PASS

    ir = '''@T.prim_func(s_tir=True)
def main(A: T.Buffer((16,), "int32"), B: T.Buffer((16,), "int32")):
    for i in range(16):
        with T.sblock("first"):
            vi = T.axis.remap("S", [i])
            B[vi] = A[vi] + 1
    for i in range(16):
        with T.sblock("again"):
            vi = T.axis.remap("S", [i])
            B[vi] = B[vi] * 2
'''
    case = TestCase(ir, passes=[PassSpec(DLIGHT_PASS, ["gpu.Fallback"])], targets=["llvm", "opencl"])
    res = executor.run(case, oracle=True)
    assert res.outcome == "ok" and res.dropped == {"opencl": "gpu-schedule-needs-dataflow"}, res.message[-300:]


def test_gpu_targets_bring_dlight_rules_to_block_programs_in_early_place():
    """The build-target mutator puts dlight's pass first for a GPU target in some draws, never for a program
    without blocks; pass mutations keep it before blocks turn opaque; the reproducer makes its rules."""
    import tvm

    from conftest import FLAT_IR
    from tirfuzz.fuzzer.core.case import PassSpec
    from tirfuzz.fuzzer.core.runtime import DLIGHT_PASS
    from tirfuzz.mutators.passes import sequence_problems
    from tirfuzz.reports.repro_short import _call

    def schedules(ir: str) -> int:
        rng, n = random.Random(3), 0
        for _ in range(200):
            try:
                out = BuildTargetMutate().apply(MutationContext(TestCase(ir, targets=["llvm"])), rng)
            except Decline:
                continue
            n += any(p.name == DLIGHT_PASS for p in out.case.passes)
            if out.case.passes:
                assert out.case.passes[0].name == DLIGHT_PASS and any(t.split()[0] in ("cuda", "opencl", "metal", "webgpu")
                                                                     for t in out.case.targets), out.case.targets
        return n

    assert schedules(one_block("float32")) >= 20 and schedules(FLAT_IR) == 0
    late = [PassSpec("s_tir.transform.ConvertBlocksToOpaque"), PassSpec(DLIGHT_PASS)]
    assert "ApplyDefaultSchedule:schedulable-blocks" in sequence_problems(late, has_blocks=True)
    assert not [p for p in sequence_problems(late[::-1], has_blocks=True) if p.startswith("ApplyDefaultSchedule")]
    made = eval(_call(DLIGHT_PASS, ["gpu.Matmul", "gpu.Fallback"], {}), {"tvm": tvm})
    assert [type(r).__name__ for r in made.rules] == ["Matmul", "Fallback"]


def test_the_dlight_rules_a_case_may_name_stand_aside_on_cpu_targets():
    """gpu.RMSNorm checks no target: a campaign's llvm build ran it and failed (a root block not named
    "root"), a GPU rule applied to a CPU build. Every rule a case may name is a GPUScheduleRule."""
    from tvm.s_tir.dlight.gpu.base import GPUScheduleRule

    from tirfuzz.fuzzer.core.runtime import DLIGHT_RULES, dlight_rule, make_target

    for name in DLIGHT_RULES:
        rule = dlight_rule(name)
        assert isinstance(rule, GPUScheduleRule), name
        assert not rule.is_target_available(make_target("llvm")) and rule.is_target_available(make_target("cuda"))
    with pytest.raises(ValueError, match="unknown dlight rule"):
        dlight_rule("gpu.RMSNorm")
