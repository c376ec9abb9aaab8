"""Pass-sequence validity model, plugin passes in the pool, and target strings (no IR parsing needed)."""

from __future__ import annotations

import random
import textwrap

import pytest

from tirfuzz.fuzzer.core.case import PassSpec, TestCase
from tirfuzz.fuzzer.core.passes import PassPool
from tirfuzz.fuzzer.core.targets import TargetError, check_target, make_target, parse_target, runnable_here
from tirfuzz.fuzzer.core.tvmapi import default_pipeline
from tirfuzz.mutators import MutationContext, mutate_case
from tirfuzz.mutators.passes import PassInsert, sequence_problems
from tirfuzz.mutators.registry import by_name
from tirfuzz.mutators.targets import random_target, runnable_mcpus


def test_default_pipeline_meets_every_precondition():
    assert sequence_problems(default_pipeline(), has_blocks=True) == []
    assert sequence_problems([], has_blocks=True) == []  # the build's completion alone is valid


def test_precondition_model_catches_documented_misorders():
    flat = PassSpec("tirx.transform.FlattenBuffer")
    assert "FlattenBuffer:block-free" in sequence_problems([flat], has_blocks=True)
    assert sequence_problems([flat], has_blocks=False) == []
    assert "BF16StorageLegalize:packed-api" in sequence_problems(
        [PassSpec("tirx.transform.BF16StorageLegalize")], has_blocks=False)
    lob = PassSpec("s_tir.transform.LowerOpaqueBlock")
    assert "LowerOpaqueBlock:opaque-blocks" in sequence_problems([lob], has_blocks=True)
    assert "NarrowDataType:args" in sequence_problems([PassSpec("tirx.transform.NarrowDataType")], False)


def test_pass_mutants_mostly_meet_preconditions():
    pool = PassPool()
    case = TestCase("# block IR marker: T.sblock(", passes=default_pipeline())
    bad = made = 0
    for k in range(200):
        new, info = mutate_case(case, k, pool, by_name(["pass-insert", "pass-delete", "pass-swap", "pass-replace",
                                                         "pass-splice", "pass-args"]))
        if new is not None:
            made += 1
            bad += bool(sequence_problems(new.passes, has_blocks=True))
    assert made > 150 and bad / made < 0.1


def test_plugin_passes_join_the_pool(tmp_path):
    plugin = tmp_path / "myplug.py"
    plugin.write_text(textwrap.dedent('''
        import tvm
        noop = tvm.tirx.transform.RemoveNoOp()
    '''))
    pool = PassPool([str(plugin)])
    assert "plugin:myplug.noop" in pool.names()
    ctx = MutationContext(TestCase("x", passes=[]), pool)
    seen = set()
    for k in range(400):
        out = PassInsert().apply(ctx, random.Random(k))
        seen.update(p.name for p in out.case.passes)
    assert "plugin:myplug.noop" in seen


def test_configs_are_bounded_and_accepted():
    import tvm

    case = TestCase("x")
    for k in range(60):
        new, info = mutate_case(case, k, None, by_name(["pass-config"]))
        if new is None:
            continue
        case = new
        tvm.transform.PassContext(opt_level=3, config=case.pass_config)
        assert "tirx.enable_fast_math" not in case.pass_config
        unroll = case.pass_config.get("tirx.UnrollLoop", {})
        assert unroll.get("auto_max_step", 0) <= 32 and unroll.get("auto_max_extent", 0) <= 32


def test_target_strings():
    assert parse_target("llvm") == {"kind": "llvm"}
    spec = parse_target("llvm -mcpu=haswell -mattr=+avx2,-fma -opt-level=2")
    assert spec == {"kind": "llvm", "mcpu": "haswell", "mattr": ["+avx2", "-fma"], "opt-level": 2}
    for bad in ("gpu", "llvm -bogus=1", "llvm -opt-level=x", "llvm mcpu=x", "llvm -mcpu", ""):
        with pytest.raises(TargetError):
            check_target(bad)
    t = make_target("llvm -mcpu=x86-64 -opt-level=1")
    assert str(t.attrs["mcpu"]) == "x86-64" and t.host is not None
    assert str(make_target("c").kind.name) == "c" and make_target("cuda").host is not None
    assert runnable_here("llvm") and runnable_here("c") and runnable_here("llvm -mcpu=x86-64")
    assert not runnable_here("llvm -mattr=+avx512f,+avx512vnni,+amx-tile") or "avx512f" in open("/proc/cpuinfo").read()


def test_target_mutants_run_here():
    assert "x86-64" in runnable_mcpus()
    rng = random.Random(0)
    for _ in range(40):
        name = random_target(rng)
        check_target(name)
        assert runnable_here(name)


def test_target_mutation_never_names_a_target_twice(executor):
    """[llvm, c] with llvm replaced by c was [c, c]: built once, finished twice, reported as a C build error
    (a tirfuzz defect). The mutator declines; a case that names a target twice builds it once."""
    from conftest import FLAT_IR

    from tirfuzz.mutators.base import Decline, MutationContext
    from tirfuzz.mutators.targets import TargetMutate

    case = TestCase(FLAT_IR, targets=["llvm", "c"])
    for seed in range(300):
        try:
            out = TargetMutate().apply(MutationContext(case), random.Random(seed))
        except Decline:
            continue
        assert len(set(out.case.targets)) == len(out.case.targets), out.case.targets
    res = executor.run(TestCase(FLAT_IR, targets=["c", "c"]))
    assert res.outcome == "ok", res.message
