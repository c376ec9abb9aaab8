"""Index safety and undefined-behaviour guards: the prover, clamping, and llvm-vs-c on mutated cases."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tirfuzz.corpus import list_seeds, load_seed
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.core.passes import PassPool
from tirfuzz.fuzzer.core.tvmapi import parse
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.fuzzer.tir.safety import find_unsafe, make_safe
from tirfuzz.mutators import all_mutators, mutate_case

OOB = '''@T.prim_func
def main(A: T.Buffer((16,), "int32"), B: T.Buffer((16,), "int32")):
    for i in range(16):
        B[i] = A[i + 1] + A[i]
'''

GUARDED = '''@T.prim_func
def main(A: T.Buffer((16,), "int32"), B: T.Buffer((16,), "int32")):
    for i in range(16):
        if i < 15:
            B[i] = A[i + 1]
        B[i] = T.if_then_else(1 <= i, A[i - 1], 0)
'''

RISKY = '''@T.prim_func
def main(A: T.Buffer((16,), "int32"), B: T.Buffer((16,), "int32")):
    for i in range(16):
        B[i] = A[i] // A[15 - i] + T.shift_left(A[i], B[i]) + A[i] // 4
'''

VIEW = '''@T.prim_func
def main(A: T.Buffer((16,), "uint8"), B: T.Buffer((16,), "int32")):
    A_1 = T.decl_buffer((16,), "int32", data=A.data)
    for i in range(16):
        B[i] = A_1[i]
'''

OVERFLOW = '''@T.prim_func
def main(A: T.Buffer((16,), "int32"), B: T.Buffer((16,), "int32")):
    for i in range(16):
        B[i] = A[T.max(T.min(i - T.shift_left(i, 31), 15), 0)]
'''


def test_prover_flags_out_of_bounds_and_clamping_fixes_it():
    bad, checked = find_unsafe(parse(OOB))
    assert checked == 3 and len(bad) == 1 and bad[0].unproven == [0]
    mod, report = make_safe(parse(OOB))
    assert report.safe and report.clamped == 1
    assert find_unsafe(mod)[0] == []
    assert "T.max(T.min(i + 1, 15), 0)" in mod.script()


PLAIN = '''@T.prim_func
def main(A: T.Buffer((16,), "int32"), B: T.Buffer((8,), "int32")):
    for i in range(16):
        A[i] = A[3] + A[15]
    for j in range(2, 8):
        B[j] = A[j]
    for k in range(1, 9):
        B[k - 1] = A[k]
    for m in range(9):
        B[m] = A[m]
    B[8] = A[16]
'''


def test_constant_and_loop_variable_indices_are_settled_alike_with_and_without_the_analyzer():
    """The prover's shortcut (a constant, or a loop variable whose range fits) agrees with the analyzer:
    B[m] for m < 9 and the constants 8 and 16 are out of bounds; k - 1 is left to the analyzer."""
    from tirfuzz.fuzzer.tir import safety

    bad, checked = find_unsafe(parse(PLAIN))
    assert checked == 11
    assert sorted((a.buffer.name, a.unproven) for a in bad) == [("A", [0]), ("B", [0]), ("B", [0])]
    shortcut = safety._plainly_in_bounds
    try:
        safety._plainly_in_bounds = lambda *a: False  # every access through the analyzer
        slow, _ = find_unsafe(parse(PLAIN))
    finally:
        safety._plainly_in_bounds = shortcut
    assert [(a.site.index, a.unproven) for a in slow] == [(a.site.index, a.unproven) for a in bad]


def test_prover_uses_conditions_of_if_and_if_then_else():
    assert find_unsafe(parse(GUARDED))[0] == []


def test_divisions_and_shifts_are_guarded():
    bad, _ = find_unsafe(parse(RISKY))
    assert len(bad) == 2 and all(a.divisor for a in bad)  # A[15 - i] may be 0 or -1; B[i] may be >= 32
    mod, report = make_safe(parse(RISKY))
    assert report.safe and find_unsafe(mod)[0] == []
    text = mod.script()
    assert "T.max(A[15 - i], 1)" in text and "% 32" in text and "A[i] // 4" in text  # a constant divisor stays


def test_index_arithmetic_that_may_overflow_is_unsafe_even_when_clamped():
    """Signed overflow is undefined (LLVM's nsw): a clamp after it proves nothing, so the case is unsafe."""
    mod, report = make_safe(parse(OVERFLOW))
    assert not report.safe and "oob" in report.reasons and report.clamped == 0


def test_view_larger_than_its_memory_is_unsafe():
    mod, report = make_safe(parse(VIEW))
    assert not report.safe and "oob" in report.reasons


def test_seed_corpus_is_mostly_provable():
    """The prover reasons well enough that clamping rarely touches a seed (data-dependent gathers aside)."""
    unproven = checked = 0
    for s in list_seeds()[::4]:
        bad, n = find_unsafe(parse(load_seed(s.name).path.read_text()))
        unproven += len(bad)
        checked += n
    assert checked > 200 and unproven / checked < 0.05


def _differ(outs) -> bool:
    for fn, arrs in outs["llvm"].items():
        for a, b in zip(arrs, outs["c"][fn]):
            a, b = np.asarray(a), np.asarray(b)
            if a.dtype.kind == "f":
                same = np.isclose(a, b, rtol=1e-4, atol=1e-4) | (np.isnan(a) & np.isnan(b)) | (a == b)
            else:
                same = a == b
            if not same.all():
                return True
    return False


def test_safe_mutants_agree_on_llvm_and_c_or_have_every_access_proven():
    """Mutated cases on both backends: a difference on a case marked safe never has an unproven access.

    (The bench runs this over 1,000 cases: `python bench/mutators.py --apps 0 --safety 1000`.)
    """
    seeds = [s for s in list_seeds() if "int8" not in s.name and "f16" not in s.name]
    ir = [m for m in all_mutators() if m.kind == "ir"]
    rng = random.Random(3)
    pool = PassPool()
    compared = safe_compared = 0
    with Executor(ExecutorConfig(timeout_s=20.0)) as ex:
        for k in range(18):
            case = seed_case(rng.choice(seeds), ["llvm", "c"], input_seed=rng.randrange(3))
            for _ in range(2):
                new, _ = mutate_case(case, rng.randrange(1 << 30), pool, ir)
                case = new or case
            if "history" not in case.extra:
                continue
            res = ex.run(case, want_outputs=True)
            if "llvm" not in res.outputs or "c" not in res.outputs:
                continue
            compared += 1
            safe = case.extra["safe"]
            safe_compared += safe
            if safe and _differ(res.outputs):
                bad, _ = find_unsafe(parse(case.ir))
                assert bad == [], f"safe case differs with unproven accesses: {case.extra['history']}"
    assert compared >= 10 and safe_compared >= 6


@pytest.mark.parametrize("name", ["loop-extent", "stmt-unwrap", "expr-insert", "constant"])
def test_index_touching_mutators_leave_every_access_proven(name):
    from tirfuzz.mutators.registry import by_name

    pool = PassPool()
    seeds = list_seeds()
    done = 0
    for k in range(12):
        new, info = mutate_case(seed_case(seeds[(k * 13) % len(seeds)]), k, pool, by_name([name]))
        if new is None:
            continue
        done += 1
        bad, _ = find_unsafe(parse(new.ir))
        assert (bad == []) == ("oob" not in new.extra.get("ub_risks", [])), info
    assert done >= 4
