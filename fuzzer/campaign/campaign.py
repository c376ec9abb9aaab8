"""The coverage-guided campaign: pick an entry, mutate it in a child, keep what finds new blocks."""

from __future__ import annotations

import random
import time
from pathlib import Path
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from tirfuzz.oracles.ub import explains_internal_error
from tirfuzz.fuzzer.core.case import TestCase, read_cases
from tirfuzz.fuzzer.campaign.corpus import MIN_NEW_BLOCKS
from tirfuzz.mutators.mutate import MUTATE_JOB
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.fuzzer.core.result import BUG_OUTCOMES, ExecResult
from tirfuzz.fuzzer.campaign.powerschedule import Entry, JointPolicy, PowerSchedule, UniformSchedule
from tirfuzz.fuzzer.campaign.store import CampaignDir, case_id
import platform
from tirfuzz import __version__
import json
from tirfuzz.corpus import list_seeds, load_seed
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.core.case import PassSpec
from tirfuzz.fuzzer.core.signature import signature
from tirfuzz.mutators.registry import TZER_MUTATORS



def parse_duration(text: str) -> float:
    """'90', '90s', '10m', '2h' -> seconds; ValueError naming the text otherwise."""
    units = {"s": 1, "m": 60, "h": 3600}
    t = text.strip().lower()
    try:
        return float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        raise ValueError(f"--time {text!r}: expected seconds or a number with s, m or h (e.g. 10m)") from None


@dataclass
class CampaignConfig:
    """What a campaign runs: its budget, seeds, targets, ablations and executor limits."""

    out: str
    time_s: float | None = None
    execs: int | None = None
    seed: int = 0
    targets: list[str] = field(default_factory=lambda: ["llvm", "c"])
    plugins: list[str] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)   # extra filters files
    seeds: list[str] | None = None        # names of built-in seeds to start from (None: all)
    corpus_dir: str | None = None         # start from the cases in this folder instead (a kept corpus)
    mode: str = "tirfuzz"                 # or "tzer"
    ir_mutation: bool = True
    pass_mutation: bool = True
    feedback: bool = True
    coverage: str = "tvm"
    timeout_s: float = 10.0
    memory_mb: int = 4096
    patience: int = 8
    oracle: bool = True                   # differential and round-trip oracles on every case


@dataclass
class Stats:
    """Counters shown on the status screen and written to stats.jsonl."""

    execs: int = 0
    declined: int = 0
    rejected: int = 0
    outcomes: Counter = field(default_factory=Counter)
    bugs: Counter = field(default_factory=Counter)       # kind -> unique signatures
    last_find: float = 0.0
    last_bug: str = ""
    mutator_crashes: int = 0
    slow_runs: int = 0                                   # time-outs while running compiled code
    ub_crashes: int = 0                                  # run-time crashes of cases that may have UB
    filtered: Counter = field(default_factory=Counter)   # filter name -> cases it hid (rejected or oracle)
    lost_runs: int = 0                                   # cases whose worker (Ray actor) died under them

    def valid_ratio(self) -> float:
        return (self.execs - self.rejected) / self.execs if self.execs else 0.0


class Campaign:
    """Owns the executor, the corpus entries, the schedule and the campaign directory."""

    def __init__(self, config: CampaignConfig, store: CampaignDir, on_event: Callable[[str], None] | None = None):
        self.config, self.store, self.on_event = config, store, on_event or (lambda msg: None)
        self.on_progress: Callable[[], None] = lambda: None
        self.rng = random.Random(config.seed)
        self.schedule = UniformSchedule() if config.mode == "tzer" else PowerSchedule()
        self.policy = JointPolicy(config.patience, config.ir_mutation, config.pass_mutation)
        self.entries: list[Entry] = []
        self.cases: dict[str, TestCase] = {}
        self.ir_json: dict[str, str] = {}    # entry id -> its parsed module as TVM JSON (not saved: a cache)
        self.bugs: dict[str, dict[str, Any]] = {}
        self.stats = Stats()
        self.cov_blocks = 0
        self.elapsed_before = 0.0
        self.start = time.monotonic()
        self.executor: Executor | None = None
        self.covered_fn: Callable[[], Any] | None = None   # the campaign's coverage when several executors run

    # setup -----------------------------------------------------------------
    def open(self, resume: bool) -> None:
        """Load a resumed campaign's state, start the executor, run the seeds of a new one."""
        preload = None
        if resume:
            preload = self.store.load_coverage()
            loaded, bad = self.store.load_corpus()
            for line in bad:
                self.on_event(f"set aside unreadable corpus entry {line}")
            for entry, case in loaded:
                self.entries.append(entry)
                self.cases[entry.id] = case
            self.bugs = self.store.load_bugs()
            for info in self.bugs.values():
                self.stats.bugs[info.get("kind", "crash")] += 1
            state = self._load_state()
            self.stats.execs = int(state.get("execs", 0))
            self.elapsed_before = float(state.get("elapsed_s", 0.0))
            self.rng = random.Random(f"{self.config.seed}:{self.stats.execs}")
        self.executor = Executor(ExecutorConfig(timeout_s=self.config.timeout_s, memory_mb=self.config.memory_mb,
                                                coverage=self.config.coverage, plugins=tuple(self.config.plugins),
                                                filters=tuple(self.config.filters),
                                                preload_sites=preload, jobs=(MUTATE_JOB,)))
        info = self.executor.start()
        self.cov_blocks = int(info.get("cov_total", 0))
        if not self.entries:
            self._run_seeds()

    def _load_state(self) -> dict[str, Any]:
        try:
            return json.loads((self.store.root / "state.json").read_text())
        except (OSError, ValueError):
            rows = (self.store.root / "stats.jsonl")
            if rows.exists():
                lines = [ln for ln in rows.read_text().splitlines() if ln.strip()]
                if lines:
                    try:
                        return json.loads(lines[-1])
                    except ValueError:
                        return {}
            return {}

    def _seed_cases(self) -> list[tuple[str, TestCase]]:
        if self.config.corpus_dir:
            kept, bad = read_cases(Path(self.config.corpus_dir))
            for line in bad:
                self.on_event(f"set aside unreadable case {line}")
            if kept:
                return [(name, case) for name, case in kept]
        seeds = [load_seed(n) for n in self.config.seeds] if self.config.seeds else list_seeds()
        plugin_passes = [PassSpec(n) for n in self.executor.info.get("passes", []) if n.startswith("plugin:")]
        out = []
        for s in seeds:
            case = seed_case(s, self.config.targets)
            case.passes = plugin_passes + case.passes  # users' own passes run from the first exec
            out.append((s.name, case))
        return out

    def _run_seeds(self) -> None:
        """Run each seed once for its coverage; with a time budget, at most a third of it goes here and
        the seeds not yet run join the corpus unrun (they are mutated like the others)."""
        budget = self.config.time_s / 3 if self.config.time_s is not None else None
        for name, case in self._seed_cases():
            if budget is not None and self.elapsed() >= budget:
                self._keep(Entry(case_id(case), "seed", 0, found_at=self.stats.execs, meta={"seed": name}), case)
                continue
            self.on_progress()
            res = self.executor.run(case, want_outputs=False, oracle=self.config.oracle, want_json=True)
            self._count(res)
            entry = Entry(case_id(case), "seed", res.new_blocks, found_at=self.stats.execs, meta={"seed": name})
            self._keep(entry, case, res)
            if res.is_bug:
                self._save_bug(res, case, parent=None)
            self.cov_blocks = max(self.cov_blocks, res.cov_total)

    # loop --------------------------------------------------------------------
    def done(self) -> bool:
        c = self.config
        if c.execs is not None and self.stats.execs >= c.execs:
            return True
        return c.time_s is not None and self.elapsed() >= c.time_s

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.start

    def step(self) -> ExecResult:
        """One mutation of one entry, run in a child; keeps, records and counts what came of it."""
        entry, kinds, spec = self.plan()
        res = self.executor.run(self.cases[entry.id], want_outputs=False, mutate=spec, oracle=self.config.oracle)
        return self.absorb(entry, kinds, res)

    def plan(self) -> tuple[Entry, list[str], dict[str, Any]]:
        """Which entry to mutate next, which kinds of mutation, and the request for the child."""
        entry = self.schedule.pick(self.entries, self.rng)
        entry.chosen += 1
        kinds = self.policy.kinds(entry, self.rng)
        donor_id = self.rng.choice(self.entries).id if "ir" in kinds else None
        donor = self.cases[donor_id] if donor_id else None
        spec = {"seed": self.rng.getrandbits(48), "kinds": kinds, "donor": donor.to_dict() if donor else None}
        if "ir" in kinds:  # the child loads these instead of parsing the TVMScript again
            spec["ir_json"], spec["donor_json"] = self.ir_json.get(entry.id), self.ir_json.get(donor_id)
        if self.config.mode == "tzer":
            spec["mutators"] = list(TZER_MUTATORS)
        return entry, kinds, spec

    def absorb(self, entry: Entry, kinds: list[str], res: ExecResult) -> ExecResult:
        """Count a mutant's result; keep it when it reached new blocks; save it when it is a bug."""
        if res.outcome == "declined":
            self.stats.declined += 1
            return res
        if res.case is None:  # the child died while mutating: a tirfuzz/TVM-API problem, not a case
            self.stats.mutator_crashes += 1
            self.on_event(f"mutation crashed ({res.signal or res.message[:80]}) on {entry.id}")
            return res
        self._count(res)
        self.cov_blocks = max(self.cov_blocks, res.cov_total)
        case = TestCase.from_dict(res.case)
        new = res.new_blocks >= MIN_NEW_BLOCKS and self.config.feedback
        if kinds == ["ir"]:
            entry.stale = 0 if new else entry.stale + 1
        if new and res.outcome == "ok":  # valid cases only, as Tzer: rejected ones seed nothing
            child = Entry(case_id(case), f"new-coverage:{res.new_blocks}", res.new_blocks, parent=entry.id,
                          found_at=self.stats.execs)
            if child.id not in self.cases:
                self._keep(child, case, res)
                entry.finds += 1
                self.stats.last_find = self.elapsed()
        if res.outcome == "hang" and res.stage.startswith("run:"):
            # A mutated program may simply run long (a loop extent grew): not a bug until an oracle
            # shows the reference build finishes. Counted, not reported.
            self.stats.slow_runs += 1
        elif res.outcome == "crash" and _ran(res) and not case.extra.get("safe", True):
            # The mutator could not prove the program free of undefined behaviour (ub_risks says what):
            # a crash once compiled code has run (heap corruption may surface in a later stage) may be
            # that behaviour, not a compiler bug. Counted, not reported.
            self.stats.ub_crashes += 1
        elif res.outcome == "internal-error" and explains_internal_error(case, res.message):
            self.stats.filtered[explains_internal_error(case, res.message)] += 1
        elif res.is_bug:
            entry.finds += 1
            self._save_bug(res, case, parent=entry.id)
        return res

    def _count(self, res: ExecResult) -> None:
        self.stats.execs += 1
        self.stats.outcomes[res.outcome] += 1
        if res.outcome == "rejected":
            self.stats.rejected += 1
            self.stats.filtered[res.filter or "?"] += 1
        if res.oracle.get("filtered"):
            self.stats.filtered[res.oracle["filtered"]] += 1

    def _keep(self, entry: Entry, case: TestCase, res: ExecResult | None = None) -> None:
        self.store.save_entry(entry, case)
        self.entries.append(entry)
        self.cases[entry.id] = case
        if res is not None and res.ir_json:
            self.ir_json[entry.id] = res.ir_json

    def _save_bug(self, res: ExecResult, case: TestCase, parent: str | None) -> None:
        sig = signature(res)
        info = self.bugs.get(sig)
        if info is None:
            info = {"signature": sig, "kind": res.outcome, "count": 0, "first_exec": self.stats.execs,
                    "stage": res.stage, "target": res.target, "frame": res.frame, "signal": res.signal,
                    "resource": res.resource, "exc_type": res.exc_type, "message": res.message[:2000],
                    "frames": res.frames[:12],
                    "parent": parent, "case_id": case_id(case), "stderr_tail": res.stderr_tail[-4000:],
                    "oracle": res.oracle}
            self.bugs[sig] = info
            self.stats.bugs[res.outcome] += 1
            self.stats.last_bug = f"{res.outcome} at {res.stage}: {(res.frame or res.message)[:70]}"
            self.on_event(f"new bug {sig}: {self.stats.last_bug}")
            saved_case = case
        elif case_size(case) < int(info.get("case_size", 1 << 30)):  # keep the smallest case seen
            saved_case = case
        else:
            saved_case = None
        if saved_case is not None:
            info["case_size"], info["case_id"] = case_size(case), case_id(case)
        info["count"] += 1
        info["last_exec"] = self.stats.execs
        self.store.save_bug(sig, saved_case, info)
        if info["count"] <= EXAMPLES:  # the first few raw failures, to check that one signature is one bug
            self.store.save_example(sig, case, res.message[:500])

    # persistence ---------------------------------------------------------------
    def stats_row(self) -> dict[str, Any]:
        el = self.elapsed()
        return {"elapsed_s": round(el, 1), "execs": self.stats.execs,
                "execs_per_s": round(self.stats.execs / el, 3) if el > 0 else 0.0,
                "cov_blocks": self.cov_blocks, "corpus_size": len(self.entries),
                "valid_ratio": round(self.stats.valid_ratio(), 4), "bugs": dict(self.stats.bugs),
                "declined": self.stats.declined, "mutator_crashes": self.stats.mutator_crashes,
                "slow_runs": self.stats.slow_runs, "ub_crashes": self.stats.ub_crashes,
                "lost_runs": self.stats.lost_runs,
                "filtered": dict(self.stats.filtered),
                "outcomes": dict(self.stats.outcomes), "last_find_s": round(self.stats.last_find, 1)}

    def checkpoint(self, coverage: bool = True) -> None:
        row = self.stats_row()
        self.store.append_stats(row)
        self.store.write_json("state.json", row)
        if coverage and self.executor is not None:
            self.store.save_coverage(self.covered_fn() if self.covered_fn is not None else self.executor.covered())

    def close(self) -> None:
        if self.executor is not None:
            try:
                self.checkpoint()
            finally:
                self.executor.close()
                self.executor = None


def _ran(res: ExecResult) -> bool:
    """Whether compiled code of the case had started running when the child died."""
    return res.stage.startswith("run:") or any(k.startswith("run") for k in res.timings_ms)


EXAMPLES = 5  # raw failures kept per signature (bugs/<sig>/examples/)


def case_size(case: TestCase) -> int:
    """A case's size for keeping the smallest example of a bug: IR lines plus passes."""
    return len(case.ir.splitlines()) + len(case.passes)


def config_record(config: CampaignConfig, executor_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """campaign.json: the configuration and the versions it ran with."""
    import tvm
    import tvm_ffi


    rec = {"config": asdict(config), "versions": {"tirfuzz": __version__, "tvm": tvm.__version__,
                                                   "tvm_ffi": tvm_ffi.__version__, "python": platform.python_version()},
           "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    if executor_info and "coverage" in executor_info:
        rec["versions"]["libtvm_build_id"] = executor_info["coverage"].get("build_id")
    return rec
