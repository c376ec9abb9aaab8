"""Mutators on the real seed corpus: every IR mutant parses and passes the well-formedness check (or the
mutator declines with a reason), pass/config/target mutants stay in the pool, and safety holds."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tirfuzz.corpus import list_seeds
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.passes import PassPool
from tirfuzz.mutators import Decline, MutationContext, all_mutators, mutate_case
from tirfuzz.mutators.registry import by_name

SEEDS = list_seeds()
IR = [m.name for m in all_mutators() if m.kind == "ir"]
OTHER = [m.name for m in all_mutators() if m.kind != "ir"]
BAD_REASONS = ("unparseable", "ill-formed", "error:")
FAILURES: Counter = Counter()  # (mutator, reason) of every mutant that broke, for the message


@pytest.fixture(scope="module")
def pool() -> PassPool:
    return PassPool()


def _case(i: int, targets=("llvm",)) -> TestCase:
    return seed_case(SEEDS[i % len(SEEDS)], list(targets))


def test_registry_names_weights_kinds():
    muts = all_mutators()
    names = [m.name for m in muts]
    assert len(names) == len(set(names)) >= 30
    assert all(m.weight > 0 and m.kind in ("ir", "pass", "config", "target") for m in muts)
    assert {"ir", "pass", "config", "target"} == {m.kind for m in muts}
    with pytest.raises(KeyError):
        by_name(["no-such-mutator"])


@pytest.mark.parametrize("name", IR)
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, len(SEEDS) - 1), rng_seed=st.integers(0, 2**31 - 1))
def test_ir_mutant_is_well_formed_or_declined(pool, name, seed, rng_seed):
    case = _case(seed)
    donor = _case(seed * 7 + 3)
    new, info = mutate_case(case, rng_seed, pool, by_name([name]), donor=donor, check=True)
    if new is None:
        if info["reason"].startswith(BAD_REASONS):
            FAILURES[(name, info["reason"][:80])] += 1
        assert not info["reason"].startswith(BAD_REASONS), f"{name} broke the IR: {info['reason']}"
        return
    assert new.ir != case.ir and new.passes == case.passes
    entry = new.extra["history"][-1]
    assert entry["mutator"] == name and isinstance(entry["safe"], bool)
    assert new.extra["safe"] == entry["safe"]
    json.dumps(new.to_dict())  # the history is plain JSON
    assert TestCase.from_json(new.to_json()).extra["history"] == new.extra["history"]


@pytest.mark.parametrize("name", OTHER)
@settings(max_examples=15, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, len(SEEDS) - 1), rng_seed=st.integers(0, 2**31 - 1))
def test_pass_config_target_mutants_stay_valid(pool, name, seed, rng_seed):
    import tvm

    from tirfuzz.fuzzer.core.targets import check_target

    case = _case(seed)
    new, info = mutate_case(case, rng_seed, pool, by_name([name]), donor=_case(seed + 1))
    if new is None:
        assert not info["reason"].startswith("error:"), info["reason"]
        return
    assert new.ir == case.ir
    for spec in new.passes:
        pool.instantiate(spec)  # known name, arguments the pass accepts
    for t in new.targets:
        check_target(t)
    tvm.transform.PassContext(opt_level=3, config=new.pass_config)  # every key and value accepted
    assert new.extra["history"][-1]["mutator"] == name


def test_pass_mutators_never_parse_the_ir(pool):
    case = TestCase("this is not TVMScript (and would be code if it were)", passes=_case(0).passes)
    for m in by_name(OTHER):
        made = 0
        for k in range(10):
            new, info = mutate_case(case, k, pool, [m])
            assert new is not None or not info["reason"].startswith("error:"), (m.name, info)
            made += new is not None
        assert made, m.name


def test_history_accumulates_over_a_chain(pool):
    case = _case(3)
    for k in range(6):
        new, info = mutate_case(case, 100 + k, pool)
        if new is not None:
            case = new
    hist = case.extra["history"]
    assert 1 <= len(hist) <= 6
    assert all(set(h) == {"mutator", "detail", "safe"} for h in hist)
    assert case.extra["safe"] == all(h["safe"] for h in hist)


def test_mutation_is_deterministic_for_a_seed(pool):
    a, _ = mutate_case(_case(5), 42, pool)
    b, _ = mutate_case(_case(5), 42, pool)
    assert (a is None and b is None) or (a.ir == b.ir and a.passes == b.passes and a.targets == b.targets)


def test_decline_is_reported_not_raised(pool):
    flat = next(i for i, s in enumerate(SEEDS) if s.kind == "flat")
    new, info = mutate_case(_case(flat), 0, pool, by_name(["schedule"]))
    assert new is None and info["reason"] == "not block IR"
    ctx = MutationContext(_case(flat), pool)
    with pytest.raises(Decline):
        by_name(["schedule"])[0].apply(ctx, __import__("random").Random(0))


def test_schedule_keeps_its_trace(pool):
    block = [i for i, s in enumerate(SEEDS) if s.kind == "block"]
    for k in range(12):
        new, info = mutate_case(_case(block[k]), k, pool, by_name(["schedule"]))
        if new is not None:
            d = new.extra["history"][-1]["detail"]
            assert d["primitive"] and any(f"sch.{d['primitive']}" in ln or "sch." in ln for ln in d["trace"])
            assert any(ln.startswith("b0 = sch.get_sblock") for ln in d["trace"])
            return
    pytest.fail("no schedule primitive applied to 12 block-level seeds")


def test_failures_were_counted():
    """Every broken mutant met above was counted with its reason (and each one failed its test)."""
    assert all(isinstance(k, tuple) and v > 0 for k, v in FAILURES.items())


def test_rewrite_with_known_sites_follows_one_path_to_the_same_module():
    """A rewrite given the module's sites passes over subtrees holding no rewrite: the same module as the
    full walk, on every seed, for rewrites at the first, a middle, nested and the last sites."""
    import random

    import tvm_ffi

    from tirfuzz.fuzzer.core.tvmapi import parse
    from tirfuzz.fuzzer.tir.irutil import tvm_mod
    from tirfuzz.fuzzer.tir.tree import collect, rewrite

    tx = tvm_mod().tirx
    rng = random.Random(0)
    checked = 0
    for seed in list_seeds()[::4]:
        mod = parse(seed_case(seed, ["llvm"]).ir)
        sites = collect(mod)
        exprs = [s for s in sites if s.kind == "expr" and s.dtype and s.dtype.startswith("int") and "x" not in s.dtype]
        if len(exprs) < 3:
            continue
        assert sites[0].size == len([s for s in sites if s.scope.func == sites[0].scope.func])  # a body holds its function
        picks = {exprs[0].index, exprs[-1].index, rng.choice(exprs).index, rng.choice(exprs).index}
        fns = {i: (lambda n, s: tx.Add(n, tx.IntImm(s.dtype, 1))) for i in picks}
        full, fast = rewrite(mod, fns), rewrite(mod, fns, sites)
        assert not fast.same_as(mod)
        assert tvm_ffi.structural_equal(full, fast, map_free_vars=True), seed.name
        checked += 1
    assert checked >= 15
    with pytest.raises(ValueError, match="another module"):  # sites of another module are refused, not misapplied
        other = parse(seed_case(list_seeds()[1], ["llvm"]).ir)
        rewrite(other, {len(collect(other)) - 1: lambda n, s: n}, collect(parse(seed_case(list_seeds()[0], ["llvm"]).ir)))
