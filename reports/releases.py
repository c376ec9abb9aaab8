"""Release range: replay every verified reproducer on the apache-tvm releases from PyPI.

Each release runs in its own virtual environment, made once (`pip install apache-tvm==V` with the
apache-tvm-ffi it loads with: reports/compat.py) and cached under ~/.cache/tirfuzz/releases/<version>/
($TIRFUZZ_RELEASES or $XDG_CACHE_HOME move it); the installed release is the running interpreter itself.
A reproducer is adapted to each release (reports/compat.py), run alone in a fresh process (PYTHONPATH
cleared: nothing of this environment leaks in) and judged as triage verifies it. Per release, one of:

- reproduces:          the same symptom;
- does not reproduce:  the script ran (its IR parsed, every name it uses exists) and the symptom did not show;
- cannot run:          the release cannot run it (its parser refuses the TVMScript, a pass or API it lacks,
                       no environment), said exactly: not the same as "does not reproduce".

`summarise` turns the outcomes into one line ("reproduces on 0.26.0 to 0.27.0.post1, not on 0.25.0 and
0.25.0.post1") and the first release of a regression (the last run of reproducing releases, after one that
ran and did not reproduce). Both go into info.json and report.md; summary.md and index.html list them,
regressions first.

Measured on a 2-core machine that was running other work: making an environment takes 24.4 s with nothing
in pip's cache (0.26.0, the ~100 MB wheel downloaded) and 28.7, 33.7, 36.6 and 40.8 s for 0.25.0,
0.25.0.post1, 0.26.0 and 0.27.0 with the wheels in pip's cache (2 min 20 s for the four, load varying);
finding a cached one takes under a millisecond (`tirfuzz releases` on a campaign without bugs: 1.0 s in
all, mostly Python starting). Replaying one short reproducer takes 2-4 s per release.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from tirfuzz.fuzzer.campaign.bugs import BugRecord
from tirfuzz.fuzzer.core.case import atomic_write, load_case
from tirfuzz.reports.bug_report import write_bug_report
from tirfuzz.reports.compat import adapt, explain_cannot, version_key
from tirfuzz.reports.repro import is_harness, judge_run, run_script
from tirfuzz.reports.summary import write_reports

# apache-tvm release -> the apache-tvm-ffi it loads with (reports/compat.py says how this was found).
RELEASES: dict[str, str] = {"0.25.0": "0.1.12", "0.25.0.post1": "0.1.12", "0.26.0": "0.1.13.post2",
                            "0.27.0": "0.1.14.post1", "0.27.0.post1": "0.1.14.post1"}
REPRODUCES, NOT_REPRODUCED, DIFFERENT, CANNOT = "reproduces", "does not reproduce", "fails differently", "cannot run"
OUTCOMES = (REPRODUCES, NOT_REPRODUCED, DIFFERENT, CANNOT)
READY = "ready.json"
PIP_TIMEOUT_S = 900


class ReleaseError(ValueError):
    """A release tirfuzz does not know, or an environment that could not be made."""


def cache_root() -> Path:
    """Where release environments live."""
    if os.environ.get("TIRFUZZ_RELEASES"):
        return Path(os.environ["TIRFUZZ_RELEASES"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tirfuzz" / "releases"


def installed_version() -> str | None:
    """The apache-tvm release of this interpreter, without importing tvm."""
    try:
        return metadata.version("apache-tvm")
    except metadata.PackageNotFoundError:
        return None


def check_versions(versions: list[str]) -> list[str]:
    """The versions in release order; ReleaseError naming an unknown one."""
    for v in versions:
        if v not in RELEASES:
            raise ReleaseError(f"unknown apache-tvm release {v!r} (known: {', '.join(RELEASES)})")
    return sorted(dict.fromkeys(versions), key=version_key)


@dataclass
class ReleaseEnv:
    """Where a release's Python is, and how it came to be."""

    version: str
    python: str
    installed: bool = False            # the running interpreter's own release
    made_s: float | None = None        # seconds it took to make it (recorded when it was made)
    cached: bool = True                # found ready (False: made now)
    lookup_s: float = 0.0


def env_dir(version: str, root: Path | None = None) -> Path:
    return (root or cache_root()) / version


def find_env(version: str, root: Path | None = None) -> ReleaseEnv | None:
    """The ready environment of a release (the running interpreter for the installed one), or None."""
    t0 = time.monotonic()
    if version == installed_version():
        return ReleaseEnv(version, sys.executable, installed=True, lookup_s=time.monotonic() - t0)
    d = env_dir(version, root)
    py = d / "venv" / "bin" / "python"
    try:
        ready = json.loads((d / READY).read_text())
    except (OSError, ValueError):
        return None
    if not py.exists() or ready.get("version") != version:
        return None
    return ReleaseEnv(version, str(py), made_s=ready.get("seconds"), lookup_s=time.monotonic() - t0)


def _clean_env() -> dict[str, str]:
    """This process's environment without what would mix another Python's packages in."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_CONSTRAINT"] = ""        # a machine-wide constraints file must not pin apache-tvm here
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def make_env(version: str, root: Path | None = None) -> ReleaseEnv:
    """The release's environment, made now when none is ready (one process at a time: a lock file)."""
    check_versions([version])
    found = find_env(version, root)
    if found is not None:
        return found
    d = env_dir(version, root)
    d.parent.mkdir(parents=True, exist_ok=True)
    with open(d.parent / f".{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = find_env(version, root)   # made by another process while this one waited
        if found is not None:
            return found
        t0 = time.monotonic()
        shutil.rmtree(d, ignore_errors=True)  # a half-made one (killed while installing)
        d.mkdir(parents=True)
        py = d / "venv" / "bin" / "python"
        pins = [f"apache-tvm=={version}", f"apache-tvm-ffi=={RELEASES[version]}", "numpy"]
        for step in ([sys.executable, "-m", "venv", str(d / "venv")],
                     [str(py), "-m", "pip", "install", "--quiet", *pins],
                     [str(py), "-c", "import tvm, tvm_ffi; print(tvm.__version__, tvm_ffi.__version__)"]):
            try:
                p = subprocess.run(step, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, env=_clean_env())
            except subprocess.TimeoutExpired:
                raise ReleaseError(f"{version}: `{' '.join(step[-3:])}` took over {PIP_TIMEOUT_S} s") from None
            if p.returncode != 0:
                last = (p.stderr.strip().splitlines() or [f"exit code {p.returncode}"])[-1]
                raise ReleaseError(f"{version}: could not make its environment ({' '.join(step[2:4])}): {last}")
        seconds = round(time.monotonic() - t0, 1)
        atomic_write(d / READY, json.dumps({"version": version, "ffi": RELEASES[version], "seconds": seconds,
                                            "made": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}) + "\n")
    return ReleaseEnv(version, str(py), made_s=seconds, cached=False)


# running one reproducer ------------------------------------------------------------------------------

@dataclass
class ReleaseRun:
    """What one release did with one reproducer."""

    version: str
    outcome: str                     # REPRODUCES, NOT_REPRODUCED or CANNOT
    detail: str = ""
    seconds: float = 0.0
    adapted: list[str] = field(default_factory=list)   # the rewrites this release needed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_on_release(env: ReleaseEnv, text: str, info: dict[str, Any], timeout_s: float = 120.0) -> ReleaseRun:
    """Adapt a reproducer (its text) to the release, run it there alone, and judge the run."""
    t0 = time.monotonic()
    a = adapt(text, env.version)
    if a.cannot:
        return ReleaseRun(env.version, CANNOT, a.cannot, 0.0, a.changes)
    with tempfile.TemporaryDirectory(prefix=f"tirfuzz-{env.version}-") as tmp:
        path = Path(tmp) / "repro.py"
        path.write_text(a.text)
        code, out = run_script(env.python, path, timeout_s, env=_clean_env())
    seconds = round(time.monotonic() - t0, 1)
    ok, how = judge_run(a.text, info, code, out, timeout_s)
    if ok:
        return ReleaseRun(env.version, REPRODUCES, how, seconds, a.changes)
    why = (explain_cannot(out, env.version) if code is not None else None) or a.unsure()
    if why is not None:
        return ReleaseRun(env.version, CANNOT, why, seconds, a.changes)
    return ReleaseRun(env.version, NOT_REPRODUCED if ran_clean(a.text, code, out) else DIFFERENT, how, seconds,
                      a.changes)


def ran_clean(text: str, code: int | None, out: str) -> bool:
    """Whether a reproducer that did not show the bug ran without any failure (the release works on the
    program), rather than failing another way."""
    if code is None or code < 0:
        return False
    if is_harness(text):
        return code == 1 and "NOT REPRODUCED: it built and ran" in out or "survives print and parse" in out
    return code == 0


# the range -------------------------------------------------------------------------------------------

@dataclass
class RangeSummary:
    """Per-release outcomes as one line, and the release a regression started in."""

    text: str
    regression_since: str | None = None


def _spans(versions: list[str], order: list[str]) -> str:
    """Consecutive releases (in `order`) as "a to c", joined: "0.25.0, 0.26.0 to 0.27.0"."""
    runs: list[list[str]] = []
    for v in versions:
        if runs and order.index(v) == order.index(runs[-1][-1]) + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    parts = [r[0] if len(r) == 1 else f"{r[0]} and {r[1]}" if len(r) == 2 else f"{r[0]} to {r[-1]}" for r in runs]
    return ", ".join(parts)


def summarise(outcomes: dict[str, str]) -> RangeSummary:
    """One line for per-release outcomes (version -> one of OUTCOMES). Consecutive means consecutive among
    the releases that ran it. A regression: the newest release that ran it reproduces, and the release
    before that run of reproducing releases ran the program without any failure."""
    ran = sorted((v for v, o in outcomes.items() if o != CANNOT), key=version_key)
    order = sorted(outcomes, key=version_key)
    parts = []
    for outcome, prefix in ((REPRODUCES, "reproduces on "), (DIFFERENT, "fails differently on "),
                            (NOT_REPRODUCED, "not on "), (CANNOT, "cannot run on ")):
        these = [v for v in order if outcomes[v] == outcome]
        if these:
            parts.append(prefix + _spans(these, ran if outcome != CANNOT else order))
    if parts and not parts[0].startswith("reproduces"):
        parts[0] = "reproduces on none; " + parts[0]
    since = None
    if ran and outcomes[ran[-1]] == REPRODUCES:
        first = len(ran) - 1
        while first > 0 and outcomes[ran[first - 1]] == REPRODUCES:
            first -= 1
        if first > 0 and outcomes[ran[first - 1]] == NOT_REPRODUCED:
            since = ran[first]
    return RangeSummary(", ".join(parts) or "no release ran it", since)


# a campaign --------------------------------------------------------------------------------------------

@dataclass
class ReleaseReport:
    """What `tirfuzz releases OUT` did."""

    envs: dict[str, dict[str, Any]] = field(default_factory=dict)    # version -> made_s, cached, python
    bugs: dict[str, dict[str, str]] = field(default_factory=dict)    # signature -> version -> outcome
    ranges: dict[str, str] = field(default_factory=dict)             # signature -> summary line
    regressions: dict[str, str] = field(default_factory=dict)        # signature -> since
    skipped: list[str] = field(default_factory=list)                 # bugs without a verified reproducer


Progress = Callable[[str, int, int], None]   # (what now, steps done, steps in all)


def prepare_envs(versions: list[str], root: Path | None, report: ReleaseReport,
                 on_step: Callable[[str], None]) -> dict[str, ReleaseEnv | str]:
    """Each release's environment (made when missing), or the line saying why it could not be made."""
    envs: dict[str, ReleaseEnv | str] = {}
    for v in versions:
        found = find_env(v, root)
        if found is None:
            on_step(f"making the {v} environment (pip install apache-tvm=={v})")
        try:
            env = found or make_env(v, root)
        except ReleaseError as e:
            envs[v] = str(e)
            report.envs[v] = {"error": str(e)}
            continue
        envs[v] = env
        report.envs[v] = {"python": env.python, "installed": env.installed, "cached": env.cached,
                          "made_s": env.made_s, "lookup_s": round(env.lookup_s, 4)}
        if found is None:
            on_step(f"{v} environment made in {env.made_s:.0f} s")
    return envs


def replay_releases(out: Path, versions: list[str] | None = None, root: Path | None = None,
                    timeout_s: float = 120.0, jobs: int = 1, on_progress: Progress | None = None,
                    only: list[str] | None = None) -> ReleaseReport:
    """Replay every verified reproducer of campaign `out` (or those whose signature starts with one of
    `only`) on each release; record the outcomes in each bug's info.json and report.md, then rewrite the
    campaign report."""
    versions = check_versions(versions or list(RELEASES))
    root = Path(root) if root is not None else None
    report = ReleaseReport()
    bugs_dir = Path(out) / "bugs"
    dirs = sorted(d for d in bugs_dir.iterdir() if (d / "info.json").is_file()) if bugs_dir.is_dir() else []
    dirs = [d for d in dirs if not only or any(d.name.startswith(sig) for sig in only)]
    todo = []
    for d in dirs:
        rec = BugRecord.load(d)
        if rec.verified and (d / "repro.py").is_file():
            todo.append((d, rec))
        else:
            report.skipped.append(d.name)
    missing = [v for v in versions if find_env(v, root) is None]
    total, done = 2 * len(missing) + len(todo) * len(versions), 0
    tell = on_progress or (lambda what, n, of: None)

    def step(what: str) -> None:
        nonlocal done
        done += 1
        tell(what, done, total)

    envs = prepare_envs(versions, root, report, step)

    def one(d: Path, rec: BugRecord, v: str) -> ReleaseRun:
        env = envs[v]
        if isinstance(env, str):
            return ReleaseRun(v, CANNOT, f"no environment: {env}")
        return run_on_release(env, (d / "repro.py").read_text(), rec.to_dict(), timeout_s)

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        for d, rec in todo:
            runs: dict[str, ReleaseRun] = {}
            for v, fut in [(v, pool.submit(one, d, rec, v)) for v in versions]:
                runs[v] = fut.result()
                step(f"{d.name} on {v}: {runs[v].outcome}")
            record(d, rec, runs)
            report.bugs[d.name] = {v: r.outcome for v, r in runs.items()}
            report.ranges[d.name] = rec.release_range or ""
            if rec.regression_since:
                report.regressions[d.name] = rec.regression_since
    write_reports(Path(out))
    return report


def record(d: Path, rec: BugRecord, runs: dict[str, ReleaseRun]) -> None:
    """Write the outcomes into a bug's info.json and report.md."""
    summary = summarise({v: r.outcome for v, r in runs.items()})
    rec.releases = {v: r.to_dict() for v, r in sorted(runs.items(), key=lambda kv: version_key(kv[0]))}
    rec.release_range, rec.regression_since = summary.text, summary.regression_since
    rec.save(d)
    case_file = d / "minimized.json" if (d / "minimized.json").is_file() else d / "case.json"
    if case_file.is_file():
        (d / "report.md").write_text(write_bug_report(rec, load_case(case_file), (d / "repro.py").read_text()))
