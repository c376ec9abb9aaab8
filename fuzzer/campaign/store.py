"""The campaign directory: config, stats, corpus, bugs and coverage, every write atomic."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from tirfuzz.fuzzer.campaign.corpus import Entry
from tirfuzz.fuzzer.core.case import CaseError, TestCase, atomic_write


class StoreError(RuntimeError):
    """The campaign directory cannot be used (unwritable, corrupted, or not a campaign)."""


def case_id(case: TestCase) -> str:
    """A stable name from what the case is (not from its history or metadata)."""
    d = case.to_dict()
    key = json.dumps({k: d[k] for k in ("ir", "passes", "pass_config", "targets", "input_seed")}, sort_keys=True)
    return hashlib.sha1(key.encode()).hexdigest()[:16]


class CampaignDir:
    """OUT/campaign.json, stats.jsonl, corpus/<id>.json, bugs/<sig>/, coverage.npy, state.json."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.corpus = self.root / "corpus"
        self.bugs = self.root / "bugs"

    def create(self, config: dict[str, Any], resume: bool) -> None:
        exists = (self.root / "campaign.json").exists()
        if exists and not resume:
            raise StoreError(f"{self.root} already holds a campaign (use --resume, or another --out)")
        if resume and not exists:
            raise StoreError(f"{self.root} holds no campaign to resume (no campaign.json)")
        try:
            for d in (self.root, self.corpus, self.bugs, self.root / "reports"):
                d.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".write-probe"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise StoreError(f"cannot write to output folder {self.root}: {e.strerror or e}") from None
        if not exists:
            self.write_json("campaign.json", config)

    def config(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / "campaign.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise StoreError(f"{self.root / 'campaign.json'}: unreadable: {e}") from None

    def read_json(self, rel: str) -> dict[str, Any]:
        """A JSON object the campaign wrote (state.json, mutators.json, ...); {} when missing or unreadable."""
        try:
            obj = json.loads((self.root / rel).read_text())
        except (OSError, ValueError):
            return {}
        return obj if isinstance(obj, dict) else {}

    def write_json(self, rel: str, obj: Any) -> None:
        atomic_write(self.root / rel, json.dumps(obj, indent=1, default=str) + "\n")

    def append_stats(self, row: dict[str, Any]) -> None:
        with open(self.root / "stats.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())

    # corpus
    def save_entry(self, entry: Entry, case: TestCase) -> None:
        case.extra["tirfuzz"] = {"reason": entry.reason, "new_blocks": entry.new_blocks, "parent": entry.parent,
                                 "found_at": entry.found_at}
        atomic_write(self.corpus / f"{entry.id}.json", case.to_json() + "\n")

    def load_corpus(self) -> tuple[list[tuple[Entry, TestCase]], list[str]]:
        """Kept cases, and one line per file that could not be read (set aside, never deleted)."""
        out, bad = [], []
        for p in sorted(self.corpus.glob("*.json")):
            try:
                case = TestCase.from_json(p.read_text(encoding="utf-8"))
            except (CaseError, OSError, UnicodeDecodeError) as e:
                bad.append(f"{p.name}: {e}")
                continue
            meta = case.extra.get("tirfuzz", {}) if isinstance(case.extra.get("tirfuzz"), dict) else {}
            out.append((Entry(p.stem, str(meta.get("reason", "resumed")), int(meta.get("new_blocks", 0) or 0),
                              parent=meta.get("parent"), found_at=int(meta.get("found_at", 0) or 0)), case))
        return out, bad

    # coverage
    def save_coverage(self, sites: np.ndarray) -> None:
        buf = io.BytesIO()
        np.save(buf, np.asarray(sites, dtype=np.uint32))
        tmp = self.root / ".coverage.npy.tmp"
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, self.root / "coverage.npy")

    def load_coverage(self) -> np.ndarray | None:
        p = self.root / "coverage.npy"
        if not p.exists():
            return None
        try:
            return np.load(p)
        except (OSError, ValueError) as e:
            raise StoreError(f"{p}: corrupted coverage file ({e}); move it away to resume without it") from None

    # bugs
    def bug_dir(self, sig: str) -> Path:
        return self.bugs / sig

    def load_bugs(self) -> dict[str, dict[str, Any]]:
        out = {}
        for d in sorted(self.bugs.iterdir()) if self.bugs.exists() else []:
            try:
                out[d.name] = json.loads((d / "info.json").read_text())
            except (OSError, json.JSONDecodeError):
                if (d / "case.json").exists():  # killed between the two writes: the case is kept
                    out[d.name] = {"signature": d.name, "kind": d.name.split("-")[0], "count": 1}
        return out

    def save_tool_error(self, case: TestCase, message: str, keep: int = 20) -> None:
        """A case tirfuzz's own code failed on, with the traceback (the first `keep` only)."""
        d = self.root / "tool-errors"
        d.mkdir(exist_ok=True)
        if sum(1 for _ in d.glob("*.json")) < keep:
            atomic_write(d / f"{case_id(case)}.json", TestCase(case.ir, case.passes, case.pass_config, case.targets,
                                                               case.input_seed, dict(case.extra, tirfuzz_message=message)
                                                               ).to_json() + "\n")

    def save_hidden(self, case: TestCase, name: str, reason: str, keep: int = 10) -> None:
        """A case whose difference or run-time crash a filter hid, with the filter's reason (the first `keep`
        per filter): OUT/hidden/<filter>/, so a person can check what each filter hides."""
        d = self.root / "hidden" / name.replace(":", "-").replace("/", "-")
        d.mkdir(parents=True, exist_ok=True)
        if sum(1 for _ in d.glob("*.json")) < keep:
            atomic_write(d / f"{case_id(case)}.json", TestCase(case.ir, case.passes, case.pass_config, case.targets,
                                                               case.input_seed, dict(case.extra, tirfuzz_hidden=name,
                                                                                     tirfuzz_message=reason)
                                                               ).to_json() + "\n")

    def save_example(self, sig: str, case: TestCase, message: str) -> None:
        """One raw failure of a bug, as it was found (before any minimization)."""
        d = self.bug_dir(sig) / "examples"
        d.mkdir(parents=True, exist_ok=True)
        extra = dict(case.extra, tirfuzz_message=message)
        atomic_write(d / f"{case_id(case)}.json", TestCase(case.ir, case.passes, case.pass_config, case.targets,
                                                           case.input_seed, extra).to_json() + "\n")

    def save_bug(self, sig: str, case: TestCase | None, info: dict[str, Any]) -> None:
        d = self.bug_dir(sig)
        d.mkdir(parents=True, exist_ok=True)
        if case is not None:  # the campaign passes a case only when it is the first or a smaller one
            atomic_write(d / "case.json", case.to_json() + "\n")
        atomic_write(d / "info.json", json.dumps(info, indent=1, default=str) + "\n")
