"""Known upstream issues: bugs already filed at apache/tvm, so nobody files them twice.

`reports/known_upstream.toml` lists them, one `[[issue]]` table each: number, state, title, a regex on
the bug's message, optional regexes on its kind and stage, and why the class is that issue. Triage and
the reports match every bug against it: a match is labelled "known upstream: apache/tvm#N" in report.md
and index.html and sorts last. `tirfuzz triage OUT --known-upstream FILE` adds a file of one's own (same format)
to the built-in one.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BUILT_IN = Path(__file__).resolve().parent / "known_upstream.toml"
REPO = "apache/tvm"
STATES = ("open", "closed", "merged")


class KnownUpstreamError(ValueError):
    """A known-upstream file that cannot be used (one line)."""


@dataclass(frozen=True)
class KnownIssue:
    """One upstream issue and the bug class it is."""

    number: int
    state: str
    title: str
    message: str                 # regex, searched in the bug's message
    why: str = ""
    kind: str | None = None      # exact
    stage: str | None = None     # regex, searched in the bug's stage

    @property
    def label(self) -> str:
        return f"known upstream: {REPO}#{self.number}"

    @property
    def url(self) -> str:
        return f"https://github.com/{REPO}/issues/{self.number}"

    def matches(self, kind: str | None, stage: str | None, message: str | None) -> bool:
        if self.kind and kind != self.kind:
            return False
        if self.stage and not re.search(self.stage, stage or ""):
            return False
        return re.search(self.message, message or "") is not None

    def record(self) -> dict[str, Any]:
        """What info.json keeps of the match."""
        return {"issue": self.number, "state": self.state, "title": self.title, "url": self.url, "why": self.why}


def load_known(extra: Path | None = None) -> list[KnownIssue]:
    """The built-in file's issues, then those of `extra`."""
    out = _read(BUILT_IN) if BUILT_IN.exists() else []
    return out + (_read(Path(extra)) if extra is not None else [])


def _read(path: Path) -> list[KnownIssue]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise KnownUpstreamError(f"{path}: cannot read known upstream issues: {e}") from None
    out = []
    for i, t in enumerate(data.get("issue", []), 1):
        where = f"{path}: [[issue]] {i}"
        missing = [k for k in ("number", "state", "title", "message") if k not in t]
        if missing:
            raise KnownUpstreamError(f"{where}: missing {', '.join(missing)}")
        if t["state"] not in STATES:
            raise KnownUpstreamError(f"{where}: state {t['state']!r} is not one of {', '.join(STATES)}")
        for key in ("message", "stage"):
            try:
                re.compile(t.get(key) or "")
            except re.error as e:
                raise KnownUpstreamError(f"{where}: {key} is not a regex: {e}") from None
        out.append(KnownIssue(number=int(t["number"]), state=t["state"], title=str(t["title"]),
                              message=t["message"], why=str(t.get("why", "")), kind=t.get("kind"),
                              stage=t.get("stage")))
    return out


def match(known: list[KnownIssue], kind: str | None, stage: str | None, message: str | None) -> KnownIssue | None:
    """The first known issue a bug is, or None."""
    return next((k for k in known if k.matches(kind, stage, message)), None)
