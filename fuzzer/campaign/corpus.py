"""The campaign's corpus: the kept entries with their cases, and what makes a case worth keeping."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from tirfuzz.fuzzer.core.case import TestCase

# A case counts as new only when it reaches at least this many blocks no case reached before (a
# handful is rarely worth its slot). Runs are repeatable (see forkserver.py and wire.py), so same --seed, same corpus.
MIN_NEW_BLOCKS = 4


@dataclass
class Entry:
    """A kept test case and what the power schedule knows about it."""

    id: str
    reason: str                   # why it was kept: "seed", "new-coverage:<n>"
    new_blocks: int = 0           # blocks it uncovered first when it was found
    chosen: int = 0               # times picked for mutation
    finds: int = 0                # children of it that were kept or were bugs
    stale: int = 0                # IR mutations in a row without new coverage (Tzer's joint schedule)
    parent: str | None = None
    found_at: int = 0             # exec count when kept
    meta: dict = field(default_factory=dict)


class Corpus:
    """Entries and their cases, in the order they were kept; saved to OUT/corpus/ by the campaign directory.

    `store` is the campaign directory (anything with `save_entry` and `load_corpus`), or None to keep
    the corpus in memory only. `ir_json` caches each entry's parsed module as TVM JSON (not saved): the
    child loads it instead of parsing the entry's TVMScript again when it mutates the entry.
    """

    def __init__(self, store: Any = None):
        self.store = store
        self.entries: list[Entry] = []
        self.cases: dict[str, TestCase] = {}
        self.ir_json: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, entry_id: str) -> bool:
        return entry_id in self.cases

    def add(self, entry: Entry, case: TestCase, ir_json: str | None = None) -> None:
        """Keep a case: saved first, then listed."""
        if self.store is not None:
            self.store.save_entry(entry, case)
        self.entries.append(entry)
        self.cases[entry.id] = case
        if ir_json:
            self.ir_json[entry.id] = ir_json

    def load(self) -> list[str]:
        """Read a resumed campaign's corpus; one line per file that could not be read (set aside)."""
        loaded, bad = self.store.load_corpus()
        for entry, case in loaded:
            self.entries.append(entry)
            self.cases[entry.id] = case
        return bad

    def donor(self, rng: random.Random) -> Entry:
        """Any entry, uniformly: the other parent of a splice."""
        return rng.choice(self.entries)
