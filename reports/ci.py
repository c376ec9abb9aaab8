"""The nightly CI job: replay the known bugs, fuzz for a fixed time, and judge only what is new.

A known-bugs file lists the bugs already known (reported upstream, not failing CI): signature, kind,
title and the case that shows it, so a later night can tell which of them no longer reproduce.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from tirfuzz.fuzzer.campaign.bugs import BugRecord
from tirfuzz.fuzzer.campaign.campaign import Campaign, executor_config
from tirfuzz.fuzzer.campaign.config import CampaignConfig
from tirfuzz.fuzzer.campaign.distill import distill_corpus, write_corpus
from tirfuzz.fuzzer.core.case import CaseError, TestCase, atomic_write, load_case, read_cases
from tirfuzz.fuzzer.core.signature import signature
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.oracles.verdict import judge

KNOWN_BUGS_FORMAT = "tirfuzz-baseline/1"   # the file format's name since its first release


class KnownBugsError(ValueError):
    """A known-bugs file that cannot be read."""


@dataclass
class KnownBugs:
    """Known bugs by signature: {"kind", "title", "case"} each."""

    bugs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @staticmethod
    def load(path: Path) -> "KnownBugs":
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise KnownBugsError(f"known-bugs file {path}: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != KNOWN_BUGS_FORMAT or not isinstance(doc.get("bugs"), dict):
            raise KnownBugsError(f"known-bugs file {path}: not a {KNOWN_BUGS_FORMAT} file "
                                 "(write one with --update-known-bugs)")
        return KnownBugs(doc["bugs"])

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps({"format": KNOWN_BUGS_FORMAT, "bugs": self.bugs}, indent=1, sort_keys=True) + "\n")


@dataclass
class NightlyResult:
    """New bugs fail the job; known ones pass; fixed ones are reported."""

    new: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)        # found again tonight, or still reproducing
    fixed: list[str] = field(default_factory=list)        # known bugs that no longer reproduce
    elapsed_s: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.new else 0


def replay_known(config: CampaignConfig, known: KnownBugs) -> tuple[list[str], list[str]]:
    """(still reproducing, fixed) among the known bugs, by rerunning each one's case."""
    still, fixed = [], []
    if not known.bugs:
        return still, fixed
    replay = ExecutorConfig(timeout_s=config.replay_timeout_s, plugins=tuple(config.plugins), filters=tuple(config.filters))
    with Executor(replay) as ex:
        for sig, bug in sorted(known.bugs.items()):
            try:
                case = TestCase.from_dict(bug["case"])
            except (CaseError, KeyError, TypeError):
                still.append(sig)  # no case to replay: keep it known
                continue
            res = ex.run(case, want_outputs=False, oracle=True)
            (still if judge(case, res).is_bug and signature(res) == sig else fixed).append(sig)
    return still, fixed


def nightly_result(found: dict[str, BugRecord], known: KnownBugs, still: list[str], fixed: list[str],
                   elapsed_s: float) -> NightlyResult:
    return NightlyResult(new=sorted(set(found) - set(known.bugs)),
                         known=sorted(set(still) | (set(found) & set(known.bugs))), fixed=sorted(fixed),
                         elapsed_s=elapsed_s)


def updated_known(found: dict[str, BugRecord], out_dir: Path, known: KnownBugs, still: list[str]) -> KnownBugs:
    """Every bug found tonight (with its case) plus the known bugs that still reproduce."""
    out = {s: known.bugs[s] for s in still if s in known.bugs}
    for sig, rec in found.items():
        try:
            case: TestCase | None = load_case(out_dir / "bugs" / sig / "case.json")
        except CaseError:
            case = None
        out[sig] = {"kind": rec.kind, "title": rec.title, "case": case.to_dict() if case is not None else None}
    return KnownBugs(out)


def junit_xml(result: NightlyResult, found: dict[str, BugRecord], known: KnownBugs, out_dir: str) -> str:
    """One <testcase> per signature: new ones fail, known and fixed ones pass (JUnit XML, Jenkins schema)."""
    cases = []
    for sig in result.new:
        rec = found[sig]
        msg = f"new bug {sig}: {rec.title}"
        body = f"{rec.title}\nbug folder: {out_dir}/bugs/{sig}/ (case.json, info.json)\nmessage: {rec.message}"
        cases.append(f'  <testcase classname="tirfuzz.{rec.kind}" name={quoteattr(sig)} time="0">\n'
                     f'    <failure message={quoteattr(msg[:500])} type="new-bug">{escape(body[:4000])}</failure>\n'
                     f'  </testcase>')
    for sig in result.known:
        kind = found[sig].kind if sig in found else known.bugs.get(sig, {}).get("kind", "bug")
        cases.append(f'  <testcase classname="tirfuzz.{kind}" name={quoteattr(sig)} time="0">\n'
                     f'    <system-out>known bug (in the known-bugs file)</system-out>\n  </testcase>')
    for sig in result.fixed:
        kind = known.bugs.get(sig, {}).get("kind", "bug")
        cases.append(f'  <testcase classname="tirfuzz.{kind}" name={quoteattr(sig)} time="0">\n'
                     f'    <system-out>known bug no longer reproduces (fixed upstream?)</system-out>\n'
                     f'  </testcase>')
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuites name="tirfuzz" tests="{len(cases)}" failures="{len(result.new)}" errors="0" '
            f'time="{result.elapsed_s:.1f}">\n'
            f'<testsuite name="tirfuzz-ci" tests="{len(cases)}" failures="{len(result.new)}" errors="0" '
            f'skipped="0" time="{result.elapsed_s:.1f}" timestamp="{stamp}">\n' + "\n".join(cases) +
            "\n</testsuite>\n</testsuites>\n")


def step_summary(result: NightlyResult, found: dict[str, BugRecord], stats: dict[str, Any], out_dir: str) -> str:
    """The Markdown a GitHub Actions job shows ($GITHUB_STEP_SUMMARY)."""
    head = "new bugs found" if result.new else "no new bugs"
    lines = [f"## tirfuzz: {head}", "",
             f"{stats.get('execs', 0)} executions in {stats.get('elapsed_s', 0):.0f} s "
             f"({stats.get('execs_per_s', 0):.2f}/s), {stats.get('cov_blocks', 0):,} blocks, "
             f"valid {stats.get('valid_ratio', 0):.0%}. Campaign directory: `{out_dir}`.", ""]
    if result.new:
        lines += ["| new bug | kind | what |", "|---|---|---|"]
        lines += [f"| `{s}` | {found[s].kind} | {found[s].title.replace('|', '/')} |" for s in result.new]
        lines.append("")
    lines.append(f"Known bugs seen or still reproducing: {len(result.known)}. "
                 f"Known bugs that no longer reproduce: {len(result.fixed)}"
                 + (": " + ", ".join(f"`{s}`" for s in result.fixed) if result.fixed else "") + ".")
    return "\n".join(lines) + "\n"


def finish_night(campaign: Campaign, known: KnownBugs, still: list[str], fixed: list[str], elapsed_s: float,
                 junit: Path | None, corpus_dir: Path | None, known_path: Path | None,
                 on_event=lambda msg: None) -> tuple[NightlyResult, str]:
    """After the night's campaign: judge, write the JUnit XML, the step summary, the corpus and the known bugs."""
    out = Path(campaign.config.out)
    found = dict(campaign.bugs.records)
    result = nightly_result(found, known, still, fixed, elapsed_s)
    if junit is not None:
        junit.write_text(junit_xml(result, found, known, str(out)))
    summary = step_summary(result, found, campaign.stats_row(), str(out))
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a") as fh:
            fh.write(summary)
    if corpus_dir is not None:
        entries, _ = read_cases(out / "corpus")
        merged = distill_corpus(entries, executor_config(campaign.config))
        write_corpus(merged.kept, corpus_dir)
        on_event(f"corpus: kept {len(merged.kept)} of {merged.total} cases in {corpus_dir}")
    if known_path is not None:
        updated_known(found, out, known, still).save(known_path)
    return result, summary
