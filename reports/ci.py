"""The nightly CI job: replay the known bugs, fuzz for a fixed time, and judge only what is new.

A baseline file lists the bugs already known (reported upstream, not failing CI): signature, kind,
title and the case that shows it, so a later night can tell which of them no longer reproduce.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from tirfuzz.fuzzer.core.case import CaseError, TestCase
from tirfuzz.reports.minimize import signature_of
from tirfuzz.reports.summary import bug_title
from tirfuzz.fuzzer.core.case import atomic_write

BASELINE_FORMAT = "tirfuzz-baseline/1"


class BaselineError(ValueError):
    """A baseline file that cannot be read."""


@dataclass
class Baseline:
    """Known bugs by signature: {"kind", "title", "case"} each."""

    bugs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @staticmethod
    def load(path: Path) -> "Baseline":
        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise BaselineError(f"baseline {path}: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != BASELINE_FORMAT or not isinstance(doc.get("bugs"), dict):
            raise BaselineError(f"baseline {path}: not a {BASELINE_FORMAT} file (write one with --update-baseline)")
        return Baseline(doc["bugs"])

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps({"format": BASELINE_FORMAT, "bugs": self.bugs}, indent=1, sort_keys=True) + "\n")


@dataclass
class Verdict:
    """New bugs fail the job; known ones pass; fixed ones are reported."""

    new: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)        # found again tonight, or still reproducing
    fixed: list[str] = field(default_factory=list)        # baseline bugs that no longer reproduce
    elapsed_s: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.new else 0


def replay_baseline(executor, baseline: Baseline) -> tuple[list[str], list[str]]:
    """(still reproducing, fixed) among the baseline's bugs, by rerunning each one's case."""
    still, fixed = [], []
    for sig, bug in sorted(baseline.bugs.items()):
        try:
            case = TestCase.from_dict(bug["case"])
        except (CaseError, KeyError, TypeError):
            still.append(sig)  # no case to replay: keep it known
            continue
        got = signature_of(executor.run(case, want_outputs=False, oracle=True))
        (still if got == sig else fixed).append(sig)
    return still, fixed


def judge(found: dict[str, dict[str, Any]], baseline: Baseline, still: list[str], fixed: list[str],
          elapsed_s: float) -> Verdict:
    known = sorted(set(still) | (set(found) & set(baseline.bugs)))
    return Verdict(new=sorted(set(found) - set(baseline.bugs)), known=known, fixed=sorted(fixed), elapsed_s=elapsed_s)


def updated_baseline(found: dict[str, dict[str, Any]], cases: dict[str, TestCase], baseline: Baseline,
                     still: list[str]) -> Baseline:
    """Every bug found tonight plus the baseline's bugs that still reproduce."""
    out = {s: baseline.bugs[s] for s in still if s in baseline.bugs}
    for sig, info in found.items():
        case = cases.get(sig)
        out[sig] = {"kind": info.get("kind"), "title": bug_title(info),
                    "case": case.to_dict() if case is not None else None}
    return Baseline(out)


def junit_xml(verdict: Verdict, found: dict[str, dict[str, Any]], baseline: Baseline, out_dir: str) -> str:
    """One <testcase> per signature: new ones fail, known and fixed ones pass (JUnit XML, Jenkins schema)."""
    cases = []
    for sig in verdict.new:
        title = bug_title(found[sig])
        msg = f"new bug {sig}: {title}"
        body = f"{title}\nbug folder: {out_dir}/bugs/{sig}/ (case.json, info.json)\nmessage: {found[sig].get('message', '')}"
        cases.append(f'  <testcase classname="tirfuzz.{found[sig].get("kind")}" name={quoteattr(sig)} time="0">\n'
                     f'    <failure message={quoteattr(msg[:500])} type="new-bug">{escape(body[:4000])}</failure>\n'
                     f'  </testcase>')
    for sig in verdict.known:
        kind = (found.get(sig) or baseline.bugs.get(sig) or {}).get("kind", "bug")
        cases.append(f'  <testcase classname="tirfuzz.{kind}" name={quoteattr(sig)} time="0">\n'
                     f'    <system-out>known bug (in the baseline)</system-out>\n  </testcase>')
    for sig in verdict.fixed:
        kind = baseline.bugs.get(sig, {}).get("kind", "bug")
        cases.append(f'  <testcase classname="tirfuzz.{kind}" name={quoteattr(sig)} time="0">\n'
                     f'    <system-out>baseline bug no longer reproduces (fixed upstream?)</system-out>\n'
                     f'  </testcase>')
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<testsuites name="tirfuzz" tests="{len(cases)}" failures="{len(verdict.new)}" errors="0" '
            f'time="{verdict.elapsed_s:.1f}">\n'
            f'<testsuite name="tirfuzz-ci" tests="{len(cases)}" failures="{len(verdict.new)}" errors="0" '
            f'skipped="0" time="{verdict.elapsed_s:.1f}" timestamp="{stamp}">\n' + "\n".join(cases) +
            "\n</testsuite>\n</testsuites>\n")


def step_summary(verdict: Verdict, found: dict[str, dict[str, Any]], stats: dict[str, Any], out_dir: str) -> str:
    """The Markdown a GitHub Actions job shows ($GITHUB_STEP_SUMMARY)."""
    head = "new bugs found" if verdict.new else "no new bugs"
    lines = [f"## tirfuzz: {head}", "",
             f"{stats.get('execs', 0)} executions in {stats.get('elapsed_s', 0):.0f} s "
             f"({stats.get('execs_per_s', 0):.2f}/s), {stats.get('cov_blocks', 0):,} blocks, "
             f"valid {stats.get('valid_ratio', 0):.0%}. Campaign directory: `{out_dir}`.", ""]
    if verdict.new:
        lines += ["| new bug | kind | what |", "|---|---|---|"]
        lines += [f"| `{s}` | {found[s].get('kind')} | {bug_title(found[s]).replace('|', '/')} |" for s in verdict.new]
        lines.append("")
    lines.append(f"Known bugs seen or still reproducing: {len(verdict.known)}. "
                 f"Baseline bugs that no longer reproduce: {len(verdict.fixed)}"
                 + (": " + ", ".join(f"`{s}`" for s in verdict.fixed) if verdict.fixed else "") + ".")
    return "\n".join(lines) + "\n"
