"""Triage a campaign: replay and re-signature every bug, merge duplicates, minimize, write and verify
reproducers, write report.md per bug and the campaign report."""

from __future__ import annotations

import json
import queue
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tirfuzz.fuzzer.campaign.bugs import BugRecord
from tirfuzz.fuzzer.campaign.config import REPLAY_TIMEOUT_FACTOR
from tirfuzz.fuzzer.core.case import TestCase, load_case, save_case
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.fuzzer.core.signature import basis, signature
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.fuzzer.tir.reduce import REDUCE_JOB
from tirfuzz.oracles.standard import STANDARD_JOB, annotate, applies
from tirfuzz.oracles.verdict import judge
from tirfuzz.reports.bug_report import issue_title, write_bug_report
from tirfuzz.reports.minimize import Minimizer
from tirfuzz.reports.repro import make_repro
from tirfuzz.reports.summary import write_reports
from tirfuzz.reports.upstream import KnownIssue, load_known, match


@dataclass
class TriageResult:
    """What triage did to a campaign's bugs."""

    bugs_before: int = 0
    bugs_after: int = 0
    not_reproduced: list[str] = field(default_factory=list)
    merged: dict[str, str] = field(default_factory=dict)        # old signature -> the one it joined
    why: dict[str, str] = field(default_factory=dict)           # old signature -> what its signature is made of
    joined: list[str] = field(default_factory=list)             # old signatures merged into another bug's folder
    minimized: dict[str, dict] = field(default_factory=dict)
    verified: dict[str, bool] = field(default_factory=dict)


def plugin_files(config: dict[str, Any]) -> dict[str, str]:
    """Plugin stem -> path, from a campaign's configuration."""
    return {Path(p).stem: p for p in config.get("plugins", [])}


def replay(executor: Executor, case: TestCase) -> ExecResult:
    """Run a case with the oracles on, as the campaign did."""
    return executor.run(case, want_outputs=False, oracle=True)


class Triage:
    """Walks bugs/<sig>/ of a campaign directory and does each step, reporting progress."""

    def __init__(self, out: Path, budget_s: float = 120.0, minimize: bool = True,
                 on_progress: Callable[[str], None] | None = None, jobs: int = 1,
                 on_advance: Callable[[int, int], None] | None = None,
                 known: list[KnownIssue] | None = None):
        self.out, self.budget_s, self.do_minimize, self.jobs = Path(out), budget_s, minimize, max(1, jobs)
        self.known = load_known() if known is None else known
        self.on_progress = on_progress or (lambda msg: None)
        self.on_advance = on_advance or (lambda done, total: None)   # steps done of all (a progress bar)
        self._done, self._total, self._lock = 0, 0, threading.Lock()
        cfg = json.loads((self.out / "campaign.json").read_text()).get("config", {})
        self.config = cfg
        self.executor_config = ExecutorConfig(timeout_s=float(cfg.get("timeout_s", 10.0)) * REPLAY_TIMEOUT_FACTOR,
                                              plugins=tuple(cfg.get("plugins", [])),
                                              filters=tuple(cfg.get("filters", [])),
                                              jobs=(REDUCE_JOB, STANDARD_JOB))

    def bug_dirs(self) -> list[Path]:
        root = self.out / "bugs"
        return sorted(d for d in root.iterdir() if (d / "info.json").exists()) if root.exists() else []

    def run(self) -> TriageResult:
        result = TriageResult()
        dirs = self.bug_dirs()
        result.bugs_before = len(dirs)
        self._done, self._total = 0, 2 * len(dirs)  # a replay and a finish each, until replays say otherwise
        todo = []
        with Executor(self.executor_config) as ex:  # replay and merge one by one: folders move
            for i, d in enumerate(dirs, 1):
                self.on_progress(f"[{i}/{len(dirs)}] {d.name}: replay")
                job = self._replay(ex, d, result)
                if job is not None:
                    todo.append(job)
                else:
                    self._total -= 1  # nothing more to do for this one
                self._step()
            if self.jobs == 1:
                for job in todo:
                    self._finish(ex, *job, result)
            else:  # each bug's folder is its own: minimize and verify several at once, one executor each
                self._parallel(ex, todo, result)
        result.bugs_after = len(self.bug_dirs())

        write_reports(self.out)
        return result

    def _step(self) -> None:
        with self._lock:
            self._done += 1
            self.on_advance(self._done, self._total)

    def _parallel(self, ex: Executor, todo: list, result: TriageResult) -> None:
        jobs: queue.Queue = queue.Queue()
        for job in todo:
            jobs.put(job)
        errors: list[BaseException] = []

        def work(own: Executor) -> None:
            try:
                while True:
                    try:
                        job = jobs.get_nowait()
                    except queue.Empty:
                        return
                    self._finish(own, *job, result)
            except BaseException as e:  # noqa: BLE001  (raised below, in the caller's thread)
                errors.append(e)

        extra = [Executor(self.executor_config) for _ in range(min(self.jobs, len(todo)) - 1)]
        threads = [threading.Thread(target=work, args=(e,)) for e in [ex, *extra]]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            for e in extra:
                e.close()
        if errors:
            raise errors[0]

    def _replay(self, ex: Executor, d: Path, result: TriageResult):
        """Replay a bug and re-signature it (merging or renaming its folder); what is left to do, or None."""
        rec = BugRecord.load(d)
        if not (d / "case.json").exists():
            result.not_reproduced.append(d.name)
            return None
        case = load_case(d / "case.json")
        res = replay(ex, case)
        is_bug = judge(case, res).is_bug
        sig = signature(res) if is_bug else res.outcome
        rec.replayed_signature = sig
        if not is_bug:
            rec.reproduces = False
            result.not_reproduced.append(d.name)
            rec.save(d)
            return None
        rec.reproduces = True
        hit = match(self.known, res.outcome, res.stage, res.message)
        rec.known_upstream = hit.record() if hit is not None else None
        if applies(case, res):  # an unmodified program: does tvm.compile fail on it the same way?
            if res.outcome == "miscompilation":  # the check compares outputs
                res = ex.run(case, want_outputs=True, oracle=True)
            if annotate(ex, case, res) is not None:
                rec.oracle["standard_build"] = res.oracle["standard_build"]
        if sig != d.name:  # the signature rules changed, or the bug now shows another way
            result.why[d.name] = basis(res)
            target = d.parent / sig
            if target.exists():
                other = BugRecord.load(target)
                other.count = (other.count or 1) + (rec.count or 1)
                other.save(target)
                shutil.rmtree(d)
                result.merged[d.name] = sig
                result.joined.append(d.name)
                return None
            d.rename(target)
            result.merged[d.name] = sig
            d, rec.signature = target, sig
        return d, rec, case, sig

    def _finish(self, ex: Executor, d: Path, rec: BugRecord, case: TestCase, sig: str,
                result: TriageResult) -> None:
        """Minimize, write and verify the reproducer, write report.md."""
        if self.do_minimize:
            self.on_progress(f"{d.name}: minimize (up to {self.budget_s:g} s)")
            m = Minimizer(ex, self.budget_s).minimize(case, sig)
            if m.reproduced:
                save_case(m.case, d / "minimized.json")
                rec.minimized = m.record()
                result.minimized[d.name] = m.record()
                case = m.case
        self.on_progress(f"{d.name}: reproducer")
        form, v = make_repro(case, rec.to_dict(), d / "repro.py", issue_title(rec), plugin_files(self.config))
        rec.verified, rec.verify, rec.repro_form = v.reproduced, v.how, form
        result.verified[d.name] = v.reproduced
        rec.save(d)
        (d / "report.md").write_text(write_bug_report(rec, case, (d / "repro.py").read_text()))
        self._step()
