"""The generation baseline (`fuzz --mode generate`, TVMFuzz-like): a fresh random program every exec, no feedback.

After the same seeds as any campaign, each exec runs a new program from `mutators.program` (random
well-typed TIR, no seed behind it) under a random pass sequence: TVM's default pipeline changed by 0 to
6 pass-sequence and PassContext mutations drawn like a campaign draws them. Nothing a run finds steers
the next one; the campaign's accounting (stats, bugs, filters, coverage) is the same as tirfuzz's.
"""

from __future__ import annotations

import random
from typing import Any

from tirfuzz.fuzzer.campaign.campaign import Campaign
from tirfuzz.fuzzer.campaign.corpus import Entry
from tirfuzz.fuzzer.campaign.store import case_id
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.fuzzer.core.tvmapi import default_pipeline
from tirfuzz.fuzzer.tir.program import ProgramGen
from tirfuzz.mutators.mutate import mutate_case
from tirfuzz.mutators.passes import pass_mutators

MAX_PASS_MUTATIONS = 6


class NamesPool:
    """The pass pool's names as the fork server reported them, so pass mutators need no TVM here."""

    def __init__(self, names: list[str]):
        self._names = list(names)

    def names(self) -> list[str]:
        return list(self._names)


def random_case(rng: random.Random, gen: ProgramGen, pass_names: list[str], targets: list[str]) -> TestCase:
    """A new program under a randomly mutated default pipeline, with a random input seed."""
    prog = gen.program()
    extra: dict[str, Any] = {"generated": {"kind": prog.kind, "stmts": prog.stmts}, "safe": not prog.risks}
    if prog.risks:
        extra["ub_risks"] = list(prog.risks)
    case = TestCase(ir=prog.text, passes=default_pipeline(), targets=list(targets), input_seed=rng.randrange(3),
                    extra=extra)
    pool, muts = NamesPool(pass_names), pass_mutators()
    for _ in range(rng.randint(0, MAX_PASS_MUTATIONS)):
        new, _info = mutate_case(case, rng.getrandbits(48), pool, muts)
        if new is not None:
            case = new
    return case


class GenerateCampaign(Campaign):
    """A campaign whose every step is a freshly generated case (works with one job or several)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.gen = ProgramGen(self.rng)
        self.pending: dict[str, TestCase] = {}   # generated cases whose results have not come back

    def plan(self) -> tuple[Entry, list[str], dict[str, Any] | None]:
        """A new case, parked in `pending` under its id until its result comes back; no mutation request."""
        self.gen.rng = self.rng  # a resumed campaign re-seeds self.rng in open()
        case = random_case(self.rng, self.gen, self.runner.info.get("passes", []), self.config.targets)
        while case_id(case) in self.corpus or case_id(case) in self.pending:  # the same program, again: draw another
            case = random_case(self.rng, self.gen, self.runner.info.get("passes", []), self.config.targets)
        entry = Entry(case_id(case), "generated", found_at=self.stats.execs)
        self.pending[entry.id] = case
        return entry, ["generate"], None

    def case_for(self, entry: Entry) -> TestCase:
        return self.pending[entry.id]

    def absorb(self, entry: Entry, kinds: list[str], res: ExecResult) -> ExecResult:
        """The campaign's accounting; a generated case is kept (for the record) only when it found blocks."""
        case = self.pending.pop(entry.id, None)
        if res.case is None and case is not None:
            res.case = case.to_dict()
        return super().absorb(entry, kinds, res)
