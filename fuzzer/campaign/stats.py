"""The campaign's counters and the schema of OUT/stats.jsonl, written and read by the same class."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class StatsRow:
    """One line of stats.jsonl (and state.json); missing keys read as zero or empty."""

    elapsed_s: float = 0.0
    execs: int = 0
    execs_per_s: float = 0.0
    cov_blocks: int = 0
    corpus_size: int = 0
    valid_ratio: float = 0.0
    bugs: dict[str, int] = field(default_factory=dict)       # kind -> unique signatures
    declined: int = 0
    mutator_crashes: int = 0
    slow_runs: int = 0
    ub_crashes: int = 0
    lost_runs: int = 0
    tool_errors: int = 0
    filtered: dict[str, int] = field(default_factory=dict)   # filter name -> cases it hid
    dropped: dict[str, int] = field(default_factory=dict)    # backend gap -> targets it dropped from a case
    differences: dict[str, int] = field(default_factory=dict)  # verdict on each difference/crash seen (DIFF_KEYS)
    outcomes: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)        # channel (coverage, structure, pass-structure) -> kept
    features: int = 0                                         # IR-structure features seen (fuzzer/tir/features.py)
    focus: dict[str, Any] = field(default_factory=dict)       # --focus: pass -> {"ran": execs, "changed": execs}
    last_find_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)      # a mode's own keys (libfuzzer, seed_blocks)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(d.pop("extra"))
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StatsRow:
        """A row from a parsed JSON object; values of the wrong type read as the default, other keys as extra."""
        row = cls()
        known = {f.name for f in fields(cls)} - {"extra"}
        for name in known:
            value, default = d.get(name), getattr(row, name)
            if value is None:
                continue
            try:
                setattr(row, name, dict(value) if isinstance(default, dict) else type(default)(value))
            except (TypeError, ValueError):
                continue
        row.extra = {k: v for k, v in d.items() if k not in known}
        return row


def read_stats(path: Path) -> list[StatsRow]:
    """The rows of a stats.jsonl; unparsable lines (a half-written last line) are skipped."""
    rows: list[StatsRow] = []
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return rows
    for line in lines:
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if isinstance(d, dict):
            rows.append(StatsRow.from_dict(d))
    return rows


@dataclass
class Stats:
    """What the campaign counts as it goes: shown on the status screen, written as StatsRow."""

    execs: int = 0
    declined: int = 0
    rejected: int = 0
    outcomes: Counter = field(default_factory=Counter)
    bugs: Counter = field(default_factory=Counter)       # kind -> unique signatures
    last_find: float = 0.0
    last_bug: str = ""
    mutator_crashes: int = 0
    slow_runs: int = 0                                   # hangs whose reference also ran past the limit
    ub_crashes: int = 0                                  # run-time crashes a check of the checked run explained
    filtered: Counter = field(default_factory=Counter)   # filter name -> cases it hid (rejected or oracle)
    lost_runs: int = 0                                   # cases whose worker (Ray actor) died under them
    tool_errors: int = 0                                 # cases tirfuzz's own code failed on (not TVM bugs)
    dropped: Counter = field(default_factory=Counter)    # backend gap -> targets it dropped (the case went on)
    # each output difference and each crash once compiled code ran, by verdict: "reported", the filter
    # that hid it ("ub:<check>" when a check of the checked run tripped), or "unexplained" (the checked run
    # itself failed: nothing known, counted as a tool error)
    differences: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)       # channel -> mutants kept (coverage, structure, pass-structure)
    features: int = 0
    focus: dict[str, Any] = field(default_factory=dict)  # --focus counts (Focus.to_dict)

    def valid_ratio(self) -> float:
        return (self.execs - self.rejected) / self.execs if self.execs else 0.0

    def row(self, elapsed: float, cov_blocks: int, corpus_size: int) -> StatsRow:
        """The counters as a stats.jsonl row."""
        return StatsRow(elapsed_s=round(elapsed, 1), execs=self.execs,
                        execs_per_s=round(self.execs / elapsed, 3) if elapsed > 0 else 0.0,
                        cov_blocks=cov_blocks, corpus_size=corpus_size, valid_ratio=round(self.valid_ratio(), 4),
                        bugs=dict(self.bugs), declined=self.declined, mutator_crashes=self.mutator_crashes,
                        slow_runs=self.slow_runs, ub_crashes=self.ub_crashes, lost_runs=self.lost_runs,
                        tool_errors=self.tool_errors,
                        filtered=dict(self.filtered), dropped=dict(self.dropped),
                        differences=dict(self.differences), outcomes=dict(self.outcomes),
                        kept=dict(self.kept), features=self.features, focus=dict(self.focus),
                        last_find_s=round(self.last_find, 1))
