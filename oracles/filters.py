"""Named filters: errors that are invalid input or known backend gaps, never reported as bugs."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RejectFilter:
    """An exception at a stage that means `rejected`, with the reason a person can read."""

    name: str
    stage: str          # stage prefix it applies to: "pass:", "build:", "run:", "" for any
    pattern: str        # regex searched in "<ExceptionType>: <message>"
    reason: str
    target: str | None = None   # only for targets of this kind, or of these kinds ("cuda|opencl"), or this exact string


DEFAULT_FILTERS = Path(__file__).with_name("filters.toml")


class FilterError(ValueError):
    """A filters file that cannot be read or has a malformed entry."""


def load_filters(extra: tuple[str, ...] | list[str] = ()) -> tuple[RejectFilter, ...]:
    """The shipped filters (oracles/filters.toml) followed by those of each extra file."""
    out: list[RejectFilter] = []
    for path in (DEFAULT_FILTERS, *extra):
        try:
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise FilterError(f"filters file {path}: {e}") from None
        for i, entry in enumerate(doc.get("filter", [])):
            try:
                f = RejectFilter(name=str(entry["name"]), stage=str(entry.get("stage", "")),
                                 pattern=str(entry["pattern"]), reason=str(entry["reason"]),
                                 target=entry.get("target"))
                re.compile(f.pattern)
            except (KeyError, TypeError, re.error) as e:
                raise FilterError(f"filters file {path}: entry {i + 1}: {type(e).__name__}: {e}") from None
            out.append(f)
    return tuple(out)


FILTERS: tuple[RejectFilter, ...] = load_filters()


def _stage_ok(f: RejectFilter, stage: str) -> bool:
    return any(stage.startswith(s) for s in f.stage.split("|")) if f.stage else True


def _target_ok(f: RejectFilter, target: str | None) -> bool:
    """A gap of a backend holds for its targets with any options ("cuda -arch=sm_90" for a `cuda` filter)."""
    if f.target is None or f.target == target:
        return True
    return target is not None and target.split()[0] in f.target.split("|")


def classify_error(stage: str, target: str | None, exc_type: str, message: str,
                   filters: tuple[RejectFilter, ...] = FILTERS) -> RejectFilter | None:
    """The first filter that explains this error as invalid input or a known gap, or None (a bug)."""
    text = f"{exc_type}: {message}"
    for f in filters:
        if _stage_ok(f, stage) and _target_ok(f, target) \
                and re.search(f.pattern, text, re.S):
            return f
    return None
