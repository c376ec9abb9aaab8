"""Mutator choice that learns: each mutator's yield per application, and the weights drawn from it.

MOpt (USENIX Security'19) moves mutator probabilities toward the operators that pay off; here a
mutator's weight is its base weight times its smoothed yield (finds per application, times the share of
its mutants that were valid) over the mean yield, with a floor so that none starves. Every mutator of a
stack shares the exec's credit. The counts persist in the campaign directory (mutators.json), so
`--resume` goes on learning; the report shows them as a table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

FLOOR = 0.2          # no weight below this share of its base weight times the mean yield
WARMUP = 100         # applications before the weights move off the base weights
PRIOR_FINDS = 0.5    # smoothing: a mutator never tried counts as half a find in ...
PRIOR_TRIES = 10     # ... ten applications
DECAY_EVERY = 2000   # applications in all after which every count is halved (old yields fade)


@dataclass
class MutatorYield:
    """What one mutator's applications came to."""

    applied: int = 0
    valid: int = 0        # the exec ran (not rejected, not a tool error)
    finds: int = 0        # kept for new coverage or new IR structure, or a new bug
    bugs: int = 0


@dataclass
class Yields:
    """Per-mutator yields of a campaign, and the weights they give."""

    by_name: dict[str, MutatorYield] = field(default_factory=dict)
    learn: bool = True
    since_decay: int = 0

    def record(self, names: Iterable[str], valid: bool, found: bool, bug: bool) -> None:
        for name in names:
            y = self.by_name.setdefault(name, MutatorYield())
            y.applied += 1
            y.valid += int(valid)
            y.finds += int(found or bug)
            y.bugs += int(bug)
            self.since_decay += 1
        if self.since_decay >= DECAY_EVERY:
            self.since_decay = 0
            for y in self.by_name.values():
                y.applied, y.valid, y.finds, y.bugs = y.applied // 2, y.valid // 2, y.finds // 2, y.bugs // 2

    def score(self, name: str) -> float:
        y = self.by_name.get(name, MutatorYield())
        rate = (y.finds + PRIOR_FINDS) / (y.applied + PRIOR_TRIES)
        valid = (y.valid + 1) / (y.applied + 2)
        return rate * valid

    def weights(self, base: dict[str, float]) -> dict[str, float] | None:
        """Weights by mutator name for the mutators in `base` (name -> base weight); None while the base
        weights stand (learning off, or too few applications yet)."""
        if not self.learn or sum(y.applied for y in self.by_name.values()) < WARMUP:
            return None
        scores = {n: self.score(n) for n in base}
        mean = sum(scores.values()) / len(scores) if scores else 0.0
        if mean <= 0:
            return None
        return {n: round(w * max(FLOOR, scores[n] / mean), 6) for n, w in base.items()}

    def to_dict(self) -> dict[str, Any]:
        return {"learn": self.learn, "since_decay": self.since_decay,
                "mutators": {n: asdict(y) for n, y in sorted(self.by_name.items())}}

    @classmethod
    def from_dict(cls, d: dict[str, Any], learn: bool = True) -> "Yields":
        """Counts saved by `to_dict`; what does not read as counts (a damaged file) starts from nothing."""
        try:
            out = cls(learn=learn, since_decay=int(d.get("since_decay", 0)))
            for n, y in (d.get("mutators") or {}).items():
                out.by_name[str(n)] = MutatorYield(**{k: int(y.get(k, 0)) for k in ("applied", "valid", "finds", "bugs")})
        except (AttributeError, TypeError, ValueError):
            return cls(learn=learn)
        return out

    def table(self, base: dict[str, float] | None = None) -> list[dict[str, Any]]:
        """Rows (mutator, applied, valid %, finds, bugs, weight) for the report, most applied first."""
        w = self.weights(base) if base else None
        rows = []
        for n, y in sorted(self.by_name.items(), key=lambda kv: (-kv[1].applied, kv[0])):
            rows.append({"mutator": n, "applied": y.applied, "valid_pct": round(100 * y.valid / y.applied, 1) if y.applied else 0.0,
                         "finds": y.finds, "bugs": y.bugs, "weight": (w or {}).get(n, (base or {}).get(n))})
        return rows
