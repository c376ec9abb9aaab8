"""What each pass did in a campaign (PassCounts, OUT/passes.json), and --focus PASS[,PASS]: aim a
campaign at the passes a developer is writing or reviewing.

Every seed's sequence gets each focused pass it lacks, at a position its documented preconditions allow;
a mutant whose sequence lost every focused pass is not kept in the corpus (it is still judged for bugs);
an entry whose run saw a focused pass change the module is picked twice as often. Per focused pass the
campaign counts the execs in which it ran and those in which it changed the module (stats `focus`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Any

from tirfuzz.fuzzer.campaign.corpus import Entry
from tirfuzz.fuzzer.core.case import PassSpec, TestCase
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.mutators.passes import PASS_ARGS, sequence_problems, short

CHANGED_BOOST = 2.0   # weight factor of an entry whose run saw a focused pass change the module


@dataclass
class PassCounts:
    """Per pass of the cases' own sequences: the execs it ran in and those in which it changed the module
    (on any target). A pass twice in a sequence counts once per exec."""

    counts: dict[str, list[int]] = field(default_factory=dict)   # name -> [ran, changed]

    def count(self, case: TestCase, res: ExecResult) -> tuple[set[str], set[str]]:
        """Count this exec; the names of the passes that ran, and of those that changed the module."""
        ran: set[str] = set()
        changed: set[str] = set()
        for flags in res.pass_changed.values():
            for spec, flag in zip(case.passes, flags):
                ran.add(spec.name)
                if flag:
                    changed.add(spec.name)
        for name in ran:
            c = self.counts.setdefault(name, [0, 0])
            c[0] += 1
            c[1] += name in changed
        return ran, changed

    def to_dict(self) -> dict[str, Any]:
        return {"passes": {n: {"ran": r, "changed": c} for n, (r, c) in sorted(self.counts.items())}}

    @classmethod
    def from_dict(cls, d: Any) -> "PassCounts":
        out = cls()
        for n, c in ((d or {}).get("passes") or {}).items() if isinstance(d, dict) else ():
            if isinstance(c, dict):
                out.counts[str(n)] = [int(c.get("ran", 0)), int(c.get("changed", 0))]
        return out


@dataclass
class Focus:
    """The focused passes and what the campaign saw them do."""

    names: tuple[str, ...] = ()
    counts: dict[str, dict[str, int]] = field(default_factory=dict)   # pass -> {"ran": n, "changed": n}

    def __bool__(self) -> bool:
        return bool(self.names)

    def in_sequence(self, case: TestCase) -> bool:
        return any(p.name in self.names for p in case.passes)

    def seeded(self, case: TestCase, rng: random.Random) -> TestCase:
        """The seed's case with every focused pass it lacks inserted where the preconditions allow (a
        random such place; the end when none does: the campaign's filters will say why)."""
        passes = list(case.passes)
        blocks = "T.sblock" in case.ir
        for name in self.names:
            if any(p.name == name for p in passes):
                continue
            args = PASS_ARGS.get(short(name))
            spec = PassSpec(name, tuple(args[0]) if args else ())
            base = len(sequence_problems(passes, blocks))
            legal = [i for i in range(len(passes) + 1)
                     if len(sequence_problems(passes[:i] + [spec] + passes[i:], blocks)) <= base]
            at = rng.choice(legal) if legal else len(passes)
            passes.insert(at, spec)
        return replace(case, passes=passes)

    def count(self, ran: set[str], changed: set[str]) -> bool:
        """Count an exec from the passes that ran and changed the module (PassCounts.count); whether a
        focused one changed it."""
        for name in self.names:
            if name in ran:
                c = self.counts.setdefault(name, {"ran": 0, "changed": 0})
                c["ran"] += 1
                c["changed"] += name in changed
        return any(n in changed for n in self.names)

    def weight(self, entry: Entry) -> float:
        return CHANGED_BOOST if entry.meta.get("focus_changed") else 1.0

    def to_dict(self) -> dict[str, Any]:
        return {n: dict(self.counts.get(n, {"ran": 0, "changed": 0})) for n in self.names}

    def resume(self, saved: Any) -> None:
        """Counts from a resumed campaign's last stats row."""
        if isinstance(saved, dict):
            for n in self.names:
                c = saved.get(n)
                if isinstance(c, dict):
                    self.counts[n] = {"ran": int(c.get("ran", 0)), "changed": int(c.get("changed", 0))}
