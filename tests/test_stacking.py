"""Stacked mutations and the mutator choice that learns (issue 20): real TVM, real mutators."""

from __future__ import annotations

import json
import random
import statistics

import pytest

from tirfuzz.corpus import load_seed
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.campaign.yields import DECAY_EVERY, FLOOR, WARMUP, Yields
from tirfuzz.fuzzer.core.tvmapi import parse
from tirfuzz.mutators.mutate import mutate_module, stack_size
from tirfuzz.mutators.registry import all_mutators


def test_stack_size_spans_one_to_most_with_mean_about_two_and_a_half():
    rng = random.Random(0)
    sizes = [stack_size(rng, 4) for _ in range(4000)]
    assert min(sizes) == 1 and max(sizes) == 4
    assert 2.3 < statistics.mean(sizes) < 2.7
    assert {stack_size(rng, 1) for _ in range(50)} == {1}


@pytest.fixture(scope="module")
def conv():
    return seed_case(load_seed("conv2d_nchw"), ["llvm"])


def test_a_stack_applies_several_mutations_with_one_print(conv):
    irs = [m for m in all_mutators() if m.kind == "ir"]
    stacked = []
    for seed in range(40):
        new, info, mod = mutate_module(conv, seed, None, irs, stack=4)
        if new is not None and len(info["mutators"]) > 1:
            stacked.append((new, info, mod))
    assert len(stacked) >= 10
    for new, info, mod in stacked[:5]:
        hist = new.extra["history"][-len(info["mutators"]):]
        assert [h["mutator"] for h in hist] == info["mutators"] and all(h["stack"] == len(hist) for h in hist)
        assert new.ir == mod.script() and new.ir != conv.ir
        parse(new.ir)  # what runs is the printed text, and it parses
    again = mutate_module(conv, 7, None, irs, stack=4)[0]
    assert again is not None and again.ir == mutate_module(conv, 7, None, irs, stack=4)[0].ir  # repeatable
    both = mutate_module(conv, 7, None, irs, stack=4, features=True)[1]
    mutant_only = mutate_module(conv, 7, None, irs, stack=4, features="mutant")[1]
    assert both["features"] == mutant_only["features"] and both["parent_features"]
    assert "parent_features" not in mutant_only  # the campaign holds the parent's already


def test_a_mixed_stack_changes_the_ir_and_the_passes(conv):
    mixed = None
    for seed in range(200):
        new, info, _ = mutate_module(conv, seed, None, all_mutators(), stack=4)
        kinds = set(info.get("kind", "").split("+"))
        if new is not None and "ir" in kinds and "pass" in kinds:
            mixed = new
            break
    assert mixed is not None
    assert mixed.ir != conv.ir and [p.name for p in mixed.passes] != [p.name for p in conv.passes]


def test_one_place_is_the_single_mutation_it_always_was(conv):
    irs = [m for m in all_mutators() if m.kind == "ir"]
    for seed in range(10):
        new, info, _ = mutate_module(conv, seed, None, irs)
        assert "stack" not in (new.extra["history"][-1] if new is not None else {})
        assert new is None or info["mutators"] == [info["mutator"]]


def test_weights_follow_yields_with_a_floor():
    y = Yields()
    base = {"good": 1.0, "bad": 1.0, "never": 2.0}
    y.record(["good"], True, True, False)
    assert y.weights(base) is None  # too few applications yet
    for i in range(WARMUP):
        y.record(["good"], True, i % 4 == 0, False)
        y.record(["bad"], i % 2 == 0, False, False)
    w = y.weights(base)
    assert w["good"] > w["never"] / 2 > w["bad"] > 0  # the untried keeps its prior
    assert w["bad"] >= FLOOR * base["bad"] * 0.999
    assert Yields(learn=False).weights(base) is None
    back = Yields.from_dict(json.loads(json.dumps(y.to_dict())))
    assert back.weights(base) == w
    rows = y.table(base)
    assert rows[0]["mutator"] in ("good", "bad") and {"applied", "valid_pct", "finds", "weight"} <= set(rows[0])
    before = y.by_name["good"].applied
    for _ in range(DECAY_EVERY):
        y.record(["bad"], True, False, False)
    assert y.by_name["good"].applied == before // 2  # old yields fade


TWO_FEATURES = '''@T.prim_func
def main(A: T.Buffer((16,), "float32"), B: T.Buffer((16,), "float32"), n: T.int32):
    if n > 0:
        for i in T.vectorized(16):
            B[i] = A[i] * T.float32(2)
    k = T.alloc_buffer((1,), "int32")
    k[0] = 0
    while k[0] < 4:
        B[k[0]] = T.Select(A[k[0]] > T.float32(0), A[k[0]], T.float32(0))
        k[0] = k[0] + 1
'''


FOLDED_BRANCH = """@T.prim_func
def main(A: T.Buffer((8,), "int32")):
    T.func_attr({"global_symbol": "main"})
    if T.int32(3) > T.int32(1):
        for i in range(8):
            A[i] = i
"""


def test_a_pass_that_changed_the_module_gives_pass_feature_pairs():
    """(pass, feature) pairs: StmtSimplify folds the always-true branch away, so its pairs say the loop
    left the branch; its second run changes nothing and gives none; with two targets only the first
    target's passes count; none unless asked."""
    from tirfuzz.fuzzer.core.case import PassSpec, TestCase
    from tirfuzz.fuzzer.core.passes import PassPool
    from tirfuzz.fuzzer.execution.pipeline import run_case

    case = TestCase(FOLDED_BRANCH, targets=["llvm", "c"],
                    passes=[PassSpec("tirx.transform.StmtSimplify"), PassSpec("tirx.transform.StmtSimplify")])
    pool = PassPool()
    res = run_case(case, pool, want_outputs=False, pass_features=True)
    assert res.outcome == "ok" and res.pass_changed["llvm"] == [True, False]
    assert "pass|StmtSimplify|-nest|func|IfThenElse" in res.pass_features
    assert "pass|StmtSimplify|+nest|func|For:serial" in res.pass_features
    assert "pass|StmtSimplify|-under|If.then|For:serial" in res.pass_features
    assert len(set(res.pass_features)) == len(res.pass_features)  # the c target's same passes: not again
    assert run_case(case, pool, want_outputs=False).pass_features == []
    # Made while g++ builds the c target (spare work), or at the case's end without one: the same answers
    both = run_case(case, pool, want_outputs=False, pass_features=True, want_json=True)
    alone = run_case(TestCase(FOLDED_BRANCH, targets=["llvm"], passes=case.passes), pool, want_outputs=False,
                     pass_features=True, want_json=True)
    assert both.pass_features == alone.pass_features == res.pass_features
    assert both.ir_json and both.ir_json == alone.ir_json


def test_structure_features_name_what_sits_inside_what():
    from tirfuzz.fuzzer.tir.features import structure_features

    feats = structure_features(parse(TWO_FEATURES))
    assert "under|If.then|For:vectorized" in feats and "nest|If.then|For:vectorized" in feats
    assert "in|While|Select:float" in feats and "in|For:vectorized|Mul:float" in feats
    assert "in|If.then|Select:float" not in feats  # the Select is in the while loop, not the branch
    plain = structure_features(parse(seed_case(load_seed("relu_f32")).ir))
    assert not any("While" in f or "If." in f for f in plain)
