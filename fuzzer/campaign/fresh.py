"""Fresh programs inside a campaign: a share of execs runs a newly generated program, not a mutant.

Mutation reaches what is near the corpus; some code is reached only by programs unlike any seed (the
generation baseline covered thousands of blocks a mutation campaign of the same length did not). So a
campaign also runs, now and then, a random well-typed program (tir/program.py) under a randomly changed
default pipeline; one that reaches new blocks joins the corpus and is mutated from then on. Its share
starts at the preset's (10%) and follows its yield against the mutators' (yields.py), between 2% and 30%.
With build targets on (`--no-build-targets` turns them off), 30% of them are also built for a target this
machine does not run (CUDA or another GPU language, LLVM for another CPU): small generated programs reach
those backends more often than the seeds' multi-block ones.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from tirfuzz.fuzzer.campaign.store import case_id
from tirfuzz.fuzzer.campaign.yields import WARMUP, Yields
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.runtime import GPU_KINDS, kind_of
from tirfuzz.fuzzer.core.tvmapi import default_pipeline
from tirfuzz.fuzzer.tir.program import ProgramGen
from tirfuzz.mutators.mutate import mutate_case
from tirfuzz.mutators.passes import pass_mutators, with_gpu_schedule
from tirfuzz.mutators.targets import BUILD_ONLY, MAX_TARGETS

MAX_PASS_MUTATIONS = 6
BUILD_SHARE = 0.3     # with build targets on, the share of fresh programs that also get one (mutators/targets.py)
NAME = "generate"     # its row in the yields table (mutators.json, the report)
LEAST, MOST = 0.02, 0.30


class NamesPool:
    """The pass pool's names as the fork server reported them, so pass mutators need no TVM here."""

    def __init__(self, names: list[str]):
        self._names = list(names)

    def names(self) -> list[str]:
        return list(self._names)


def random_case(rng: random.Random, gen: ProgramGen, pass_names: list[str], targets: list[str],
                build_only: float = 0.0) -> TestCase:
    """A new program under a randomly mutated default pipeline, with a random input seed; with probability
    `build_only` also built for a target that is not run here (BUILD_ONLY)."""
    prog = gen.program()
    targets = list(targets)
    if build_only > 0 and rng.random() < build_only and len(targets) < MAX_TARGETS:
        extra_target = rng.choice(BUILD_ONLY)
        if extra_target not in targets:
            targets.append(extra_target)
    extra: dict[str, Any] = {"generated": {"kind": prog.kind, "stmts": prog.stmts}, "safe": not prog.risks}
    if prog.risks:
        extra["ub_risks"] = list(prog.risks)
    passes = default_pipeline()
    if any(kind_of(t) in GPU_KINDS for t in targets):
        passes = with_gpu_schedule(passes, prog.text, rng)
    case = TestCase(ir=prog.text, passes=passes, targets=list(targets), input_seed=rng.randrange(3), extra=extra)
    pool, muts = NamesPool(pass_names), pass_mutators()
    for _ in range(rng.randint(0, MAX_PASS_MUTATIONS)):
        new, _info = mutate_case(case, rng.getrandbits(48), pool, muts)
        if new is not None:
            case = new
    return case


class FreshPrograms:
    """When a campaign runs a fresh program, and which one."""

    def __init__(self, share: float, build_only: float = 0.0):
        self.base, self.build_only = share, build_only
        self.gen: ProgramGen | None = None

    def share(self, yields: Yields) -> float:
        """The share of execs for fresh programs now: the base share times their yield over the mutators'."""
        if self.base <= 0:
            return 0.0
        others = [yields.score(n) for n in yields.by_name if n != NAME]
        if not yields.learn or not others or sum(y.applied for y in yields.by_name.values()) < WARMUP:
            return self.base
        mean = sum(others) / len(others)
        return min(MOST, max(LEAST, self.base * yields.score(NAME) / mean)) if mean > 0 else self.base

    def case(self, rng: random.Random, pass_names: list[str], targets: list[str],
             taken: Callable[[str], bool]) -> TestCase:
        """A fresh case whose id is not `taken` (in the corpus, or in flight)."""
        if self.gen is None:
            self.gen = ProgramGen(rng)
        self.gen.rng = rng  # a resumed campaign re-seeds its rng in open()
        case = random_case(rng, self.gen, pass_names, targets, self.build_only)
        while taken(case_id(case)):
            case = random_case(rng, self.gen, pass_names, targets, self.build_only)
        return case
