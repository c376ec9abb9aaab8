"""The power schedule (which corpus entry to fuzz next) and the joint policy (mutate its IR or its passes)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable

from tirfuzz.fuzzer.campaign.corpus import Entry


class PowerSchedule:
    """AFLFast-style energy: entries that reached rare blocks and keep paying off are picked more.

    Breakpoint coverage reports each block once, to the first case that reaches it, so the blocks an
    entry uncovered are by construction blocks no earlier case reached. Weight:
    rarity * (1 + finds) / sqrt(1 + chosen), rarity = 1 + bit_length(new_blocks) // 4 (1 for under 8
    blocks, 2 up to 127, 3 up to 2047, ...): coarse, so that a block more or less does not reorder
    the corpus.
    """

    name = "power"

    def weight(self, e: Entry) -> float:
        rarity = 1 + int(e.new_blocks).bit_length() // 4
        return rarity * (1 + e.finds) / math.sqrt(1 + e.chosen)

    def pick(self, entries: list[Entry], rng: random.Random, boost: Callable[[Entry], float] | None = None) -> Entry:
        weights = [self.weight(e) * (boost(e) if boost else 1.0) for e in entries]
        return rng.choices(entries, weights=weights, k=1)[0]


class UniformSchedule:
    """Tzer's choice: every entry equally likely."""

    name = "uniform"

    def pick(self, entries: list[Entry], rng: random.Random, boost: Callable[[Entry], float] | None = None) -> Entry:
        if boost is not None:
            return rng.choices(entries, weights=[boost(e) for e in entries], k=1)[0]
        return entries[rng.randrange(len(entries))]


@dataclass
class JointPolicy:
    """Tzer's joint IR/pass schedule: mutate IR until `patience` tries bring nothing, then the passes."""

    patience: int = 8
    ir: bool = True
    passes: bool = True
    mix: float = 0.0    # with stacked mutations: the share of IR turns whose stack may hold every kind

    def kinds(self, e: Entry, rng: random.Random) -> list[str]:
        if not self.passes:
            return ["ir"]
        if not self.ir:
            return ["pass", "config", "target"]
        if e.stale >= self.patience:
            e.stale = 0
            return ["pass", "config", "target"]
        if self.mix and rng.random() < self.mix:
            return ["ir", "pass", "config", "target"]
        return ["ir"]
