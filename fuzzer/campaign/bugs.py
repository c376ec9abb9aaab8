"""The bug store: one record per bug signature (OUT/bugs/<signature>/), counted, with the smallest case seen.

`BugRecord` is the one record of a bug: the campaign writes it as info.json, triage adds what it
learns (replay, minimization, reproducer), and the reports and the nightly CI read it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tirfuzz.fuzzer.campaign.store import case_id
from tirfuzz.fuzzer.core.case import TestCase, atomic_write
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.fuzzer.core.signature import signature

EXAMPLES = 5   # raw failures kept per signature (bugs/<sig>/examples/)
TITLE_MAX = 180


def case_size(case: TestCase) -> int:
    """A case's size for keeping the smallest example of a bug: IR lines plus passes."""
    return len(case.ir.splitlines()) + len(case.passes)


@dataclass
class BugRecord:
    """One unique bug: what the campaign saw first, how often, and what triage added."""

    signature: str
    kind: str
    count: int = 0
    first_exec: int | None = None
    last_exec: int | None = None
    stage: str | None = None
    target: str | None = None
    frame: str | None = None
    signal: str | None = None
    resource: str | None = None
    exc_type: str | None = None
    message: str = ""
    frames: list[str] = field(default_factory=list)
    parent: str | None = None            # the corpus entry whose mutant showed it (None: a seed)
    case_id: str | None = None           # the case kept in case.json (the smallest seen)
    case_size: int | None = None
    stderr_tail: str = ""
    oracle: dict[str, Any] = field(default_factory=dict)
    reference_try: dict[str, Any] | None = None   # a hang: how TVM's reference build of the program went
    # added by triage
    reproduces: bool | None = None
    replayed_signature: str | None = None
    minimized: dict[str, Any] | None = None
    verified: bool | None = None
    verify: str | None = None
    known_upstream: dict[str, Any] | None = None   # the apache/tvm issue it already is (reports/upstream.py)
    repro_form: str | None = None        # which reproducer repro.py is: compile, pass, build, run, roundtrip, harness
    # added by the release replay (reports/releases.py)
    releases: dict[str, Any] | None = None    # version -> {"outcome", "detail", ...}
    release_range: str | None = None          # "reproduces on 0.26.0 to 0.27.0.post1, not on 0.25.0"
    regression_since: str | None = None       # the first release of the last run that reproduces, after one that did not
    extra: dict[str, Any] = field(default_factory=dict)   # keys this version does not know, kept

    @classmethod
    def from_result(cls, sig: str, res: ExecResult, case: TestCase, parent: str | None, execs: int) -> BugRecord:
        return cls(signature=sig, kind=res.outcome, first_exec=execs, stage=res.stage, target=res.target,
                   frame=res.frame, signal=res.signal, resource=res.resource, exc_type=res.exc_type,
                   message=res.message[:2000], frames=res.frames[:12], parent=parent, case_id=case_id(case),
                   stderr_tail=res.stderr_tail[-4000:], oracle=res.oracle,
                   reference_try=asdict(res.reference_try) if res.reference_try is not None else None)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BugRecord:
        known = {f.name for f in fields(cls)} - {"extra"}
        rec = cls(**{k: v for k, v in d.items() if k in known and k not in ("signature", "kind")},
                  signature=str(d.get("signature", "")), kind=str(d.get("kind", "")))
        rec.extra = {k: v for k, v in d.items() if k not in known}
        rec.frames = list(rec.frames or [])
        rec.oracle = dict(rec.oracle or {})
        return rec

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.update(d.pop("extra"))
        return d

    @classmethod
    def load(cls, folder: Path) -> BugRecord:
        """The record of a bug folder; a folder whose info.json is missing or unreadable (a campaign killed
        between writing case.json and info.json) gives a record made from its name."""
        try:
            d = json.loads((Path(folder) / "info.json").read_text())
        except (OSError, ValueError):
            d = None
        if not isinstance(d, dict):
            d = {"count": 1}
        d.setdefault("signature", Path(folder).name)
        d.setdefault("kind", Path(folder).name.rsplit("-", 1)[0])
        return cls.from_dict(d)

    def save(self, folder: Path) -> None:
        atomic_write(Path(folder) / "info.json", json.dumps(self.to_dict(), indent=1, default=str) + "\n")

    @property
    def title(self) -> str:
        """A one-line title, e.g. 'crash (SIGSEGV) in build:llvm at <frame>'."""
        kind, stage, frame = self.kind or "bug", self.stage or "unknown stage", self.frame
        message = _first_line(self.message)
        gcc = re.search(r"error: ([^\n]*)", self.message or "")
        if gcc and message.startswith("Compilation error"):  # the host compiler's complaint says what broke
            message = "host compiler: " + gcc.group(1)
        if kind == "crash":
            title = f"crash ({self.signal or 'exit'}) in {stage}" + (f" at {frame}" if frame else "")
        elif kind == "hang":
            title = f"hang ({self.resource or 'time'}) in {stage}"
        elif kind == "miscompilation":
            target = self.oracle.get("target") or self.target or "a build"
            culprit = self.oracle.get("culprit") or frame
            title = f"miscompilation: {target} differs from reference" + (f", culprit {culprit}" if culprit else "")
        elif kind == "roundtrip":
            title = f"roundtrip: {message or stage}"
        else:
            title = f"{kind} in {stage}"
            if frame:
                title += f" at {frame}"
            elif message or self.exc_type:
                title += ": " + ": ".join(p for p in (self.exc_type, message) if p)
        title = " ".join(title.split())
        return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


def _first_line(text: Any) -> str:
    for line in str(text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


class BugStore:
    """Unique bugs by signature; `store` (the campaign directory, or None) persists each as it changes."""

    def __init__(self, store: Any = None):
        self.store = store
        self.records: dict[str, BugRecord] = {}

    def __len__(self) -> int:
        return len(self.records)

    def load(self) -> None:
        """Read a resumed campaign's bugs."""
        for sig, info in self.store.load_bugs().items():
            self.records[sig] = BugRecord.from_dict(info)

    def add(self, res: ExecResult, case: TestCase, parent: str | None, execs: int) -> BugRecord | None:
        """Count a bug result under its signature; the new record when the signature was not seen before."""
        sig = signature(res)
        rec = self.records.get(sig)
        new = rec is None
        if new:
            rec = self.records[sig] = BugRecord.from_result(sig, res, case, parent, execs)
            saved: TestCase | None = case
        elif case_size(case) < (rec.case_size if rec.case_size is not None else 1 << 30):  # keep the smallest
            saved = case
        else:
            saved = None
        if saved is not None:
            rec.case_size, rec.case_id = case_size(case), case_id(case)
        rec.count += 1
        rec.last_exec = execs
        if self.store is not None:
            self.store.save_bug(sig, saved, rec.to_dict())
            if rec.count <= EXAMPLES:  # the first few raw failures, to check that one signature is one bug
                self.store.save_example(sig, case, res.message[:500])
        return rec if new else None
