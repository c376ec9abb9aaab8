"""The coverage-guided campaign: pick an entry, mutate it in a child, keep what finds new blocks.

`Campaign(config, runner, corpus, bugs, stats)`: the runner (an Executor, or anything with its
start/run/covered/close) runs each case in an isolated child; the corpus, the bug store and the
stats are the campaign's state; the campaign directory persists them. `plan` decides the next
mutation, `absorb` takes its result in, `run` owns the loop and the checkpoint cadence.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any, Callable

from tirfuzz.corpus import list_seeds, load_seed
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.campaign.bugs import BugStore
from tirfuzz.fuzzer.campaign.config import CampaignConfig
from tirfuzz.fuzzer.campaign.corpus import MIN_NEW_BLOCKS, Corpus, Entry
from tirfuzz.fuzzer.campaign.focus import Focus, PassCounts
from tirfuzz.fuzzer.campaign.fresh import NAME as FRESH_NAME
from tirfuzz.fuzzer.campaign.fresh import BUILD_SHARE, FreshPrograms
from tirfuzz.fuzzer.campaign.powerschedule import JointPolicy, PowerSchedule, UniformSchedule
from tirfuzz.fuzzer.campaign.presets import preset
from tirfuzz.fuzzer.campaign.seeds import SEEDS_FILE, SeedSet, is_path, load_seeds
from tirfuzz.fuzzer.campaign.stats import Stats, StatsRow
from tirfuzz.fuzzer.campaign.yields import Yields
from tirfuzz.fuzzer.campaign.store import CampaignDir, case_id
from tirfuzz.fuzzer.core.case import PassSpec, TestCase, read_cases
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.fuzzer.tir.features import PASS_PREFIX
from tirfuzz.mutators.mutate import MUTATE_JOB
from tirfuzz.mutators.registry import all_mutators
from tirfuzz.mutators.targets import BuildTargetMutate
from tirfuzz.oracles.verdict import FILTERED, TOO_SLOW, TOOL_ERROR, difference_kind, judge

STATS_EVERY_S = 10.0      # a stats.jsonl row (and state.json)
# Cases a campaign's executor child runs one after another before a fresh one (AFL's persistent mode):
# a fresh child pays for every page it writes (copy-on-write) and a cold cache. Any result other than ok
# from a child that ran cases before is judged again in a fresh child (unless a fresh child gave that same
# result before: ForkServer._judge_fresh), so verdicts never depend on it.
PERSISTENT_CASES = 64  # 16 before: a child's first few cases pay most of it (10 ms a case less, bench/results/throughput.md)
COVERAGE_EVERY_S = 30.0   # coverage.npy
BUILD_TARGET = BuildTargetMutate.name  # the mutator `--no-build-targets` leaves out
FRESH_KIND = "generate"   # the kinds of a step that runs a fresh program (fresh.py)
MIXED_STACKS = 0.25       # with stacking, the share of IR turns whose stack may also change passes, config, target


def executor_config(config: CampaignConfig, preload_sites: Any = None) -> ExecutorConfig:
    """The executor a campaign's cases run in: its limits, plugins, filters, coverage and the mutate job."""
    return ExecutorConfig(timeout_s=config.timeout_s, memory_mb=config.memory_mb, coverage=config.coverage,
                          plugins=tuple(config.plugins), filters=tuple(config.filters),
                          preload_sites=preload_sites, jobs=(MUTATE_JOB,), persistent=PERSISTENT_CASES,
                          pass_features=bool(config.pass_structure and config.feedback))


def _channel(new_blocks: bool, novel: list[str]) -> str:
    """Which channel kept a mutant: "coverage" (new blocks), "structure" (a feature of its IR no case showed),
    or "pass-structure" (only a (pass, feature) pair no case showed)."""
    if new_blocks:
        return "coverage"
    return "structure" if any(not f.startswith(PASS_PREFIX) for f in novel) else "pass-structure"


class Campaign:
    """One campaign: its runner, corpus, bug store and stats, and the loop over them."""

    def __init__(self, config: CampaignConfig, runner: Any, corpus: Corpus, bugs: BugStore, stats: Stats,
                 store: CampaignDir | None = None, on_event: Callable[[str], None] | None = None):
        self.config, self.runner, self.corpus, self.bugs, self.stats = config, runner, corpus, bugs, stats
        self.store = store
        self.on_event = on_event or (lambda msg: None)
        self.on_progress: Callable[[], None] = lambda: None
        self.rng = random.Random(config.seed)
        p = preset(config.mode)
        self.schedule = UniformSchedule() if p.schedule == "uniform" else PowerSchedule()
        self.mutators = list(p.mutators) if p.mutators is not None else None
        if not config.build_targets:
            self.mutators = [n for n in (self.mutators or [m.name for m in all_mutators()]) if n != BUILD_TARGET]
        self.policy = JointPolicy(config.patience, config.ir_mutation, config.pass_mutation,
                                  MIXED_STACKS if (config.stack or 1) > 1 else 0.0)
        self.yields = Yields(learn=bool(config.learn))
        self.focus = Focus(tuple(config.focus))
        self.passes = PassCounts()       # what each pass did (OUT/passes.json)
        self.features: set[str] = set()   # IR-structure features of every valid case run (tir/features.py)
        self.featured: set[str] = set()   # corpus entries whose features are in `features` (not asked again)
        self.fresh = FreshPrograms(float(config.fresh or 0.0) if config.ir_mutation else 0.0,
                                   BUILD_SHARE if config.build_targets else 0.0)
        self.pending: dict[str, TestCase] = {}  # fresh programs whose results have not come back
        self.planned: tuple[Entry, list[str], dict[str, Any] | None] | None = None  # the next step, mutating ahead
        # a step's `confirming` result: (entry, kinds, its case, its mutation), absorbed once `settle` has the verdict
        self.unsettled: tuple[Entry, list[str], dict[str, Any] | None, dict[str, Any]] | None = None
        self._base: dict[tuple[str, ...], dict[str, float]] = {}
        self.cov_blocks = 0
        self.elapsed_before = 0.0
        self.start = time.monotonic()
        self.covered_fn: Callable[[], Any] | None = None   # the campaign's coverage when several workers run
        self._last = {"stats": 0.0, "cov": 0.0}
        self._closed = False

    # setup -----------------------------------------------------------------
    def open(self, resume: bool) -> None:
        """Load a resumed campaign's state, start the runner, run the seeds of a new one."""
        if resume:
            for line in self.corpus.load():
                self.on_event(f"set aside unreadable corpus entry {line}")
            self.bugs.load()
            for rec in self.bugs.records.values():
                self.stats.bugs[rec.kind or "crash"] += 1
            state = self._load_state()
            self.yields = Yields.from_dict(self.store.read_json("mutators.json"), learn=bool(self.config.learn))
            saved = self.store.read_json("features.json").get("features")
            self.features = {f for f in saved if isinstance(f, str)} if isinstance(saved, list) else set()
            self.stats.features = len(self.features)
            self.stats.execs = int(state.get("execs", 0))
            self.focus.resume(state.get("focus"))
            self.passes = PassCounts.from_dict(self.store.read_json("passes.json"))
            self.stats.focus = self.focus.to_dict()
            self.elapsed_before = float(state.get("elapsed_s", 0.0))
            self.rng = random.Random(f"{self.config.seed}:{self.stats.execs}")
        info = self.runner.start()
        self.cov_blocks = int(info.get("cov_total", 0))
        if not len(self.corpus):
            self._run_seeds()

    def _load_state(self) -> dict[str, Any]:
        state = self.store.read_json("state.json")
        if state:
            return state
        rows = self.store.root / "stats.jsonl"  # state.json lost: the last stats row says the same
        lines = [ln for ln in rows.read_text().splitlines() if ln.strip()] if rows.exists() else []
        try:
            return json.loads(lines[-1]) if lines else {}
        except ValueError:
            return {}

    def _seed_cases(self) -> list[tuple[str, TestCase]]:
        if self.config.corpus_dir:
            kept, bad = read_cases(Path(self.config.corpus_dir))
            for line in bad:
                self.on_event(f"set aside unreadable case {line}")
            if kept:
                return [(name, case) for name, case in kept]
        plugin_passes = [PassSpec(n) for n in self.runner.info.get("passes", []) if n.startswith("plugin:")]
        saved = self.store.read_json(SEEDS_FILE) if self.store is not None else {}
        if saved.get("used"):  # --seeds with files: loaded (in children) when the campaign was created
            seeds = SeedSet.from_record(saved).cases()
        elif self.config.seeds and any(is_path(t) for t in self.config.seeds):  # seeds.json lost: again
            loaded = load_seeds(self.config.seeds, list(self.config.targets), plugins=self.config.plugins,
                                timeout_s=self.config.timeout_s, memory_mb=self.config.memory_mb)
            if self.store is not None:
                self.store.write_json(SEEDS_FILE, loaded.record(self.config.seeds))
            seeds = loaded.cases()
        else:
            names = self.config.seeds or [s.name for s in list_seeds()]
            seeds = [(n, seed_case(load_seed(n), self.config.targets)) for n in names]
        for _, case in seeds:
            case.passes = plugin_passes + case.passes  # users' own passes run from the first exec
        if self.focus:
            seeds = [(n, self.focus.seeded(case, self.rng)) for n, case in seeds]
        return seeds

    def _run_seeds(self) -> None:
        """Run each seed once for its coverage; with a time budget, at most a third of it goes here and
        the seeds not yet run join the corpus unrun (they are mutated like the others)."""
        budget = self.config.time_s / 3 if self.config.time_s is not None else None
        for name, case in self._seed_cases():
            if budget is not None and self.elapsed() >= budget:
                self.corpus.add(Entry(case_id(case), "seed", 0, found_at=self.stats.execs, meta={"seed": name}), case)
                continue
            self.on_progress()
            res = self.runner.run(case, want_outputs=False, oracle=self.config.oracle, want_json=True)
            self._count(res)
            changed = self._count_focus(case, res)
            entry = Entry(case_id(case), "seed", res.new_blocks, found_at=self.stats.execs,
                          meta={"seed": name, **({"focus_changed": True} if changed else {})})
            self.corpus.add(entry, case, res.ir_json)
            if res.outcome == "ok" and self.config.pass_structure:  # what the seeds' passes made is seen
                self.features.update(res.pass_features)
            res.pass_features = []
            self._judge(None, case, res)
            self.cov_blocks = max(self.cov_blocks, res.cov_total)

    # loop --------------------------------------------------------------------
    def run(self, resume: bool = False, on_tick: Callable[[], None] = lambda: None, parallel: Any = None,
            until: Callable[[], bool] | None = None) -> None:
        """Open, run steps until `until()` (default: the budget is spent), checkpoint as it goes, close.

        `parallel` (a ParallelRunner) runs the steps on several workers instead; `on_tick` is called
        after every step (the status screen).
        """
        until = until or self.done
        try:
            self.open(resume)
            self.checkpoint()
            self._last = {"stats": time.monotonic(), "cov": time.monotonic()}
            if parallel is not None:
                parallel.run(lambda: self.tick(on_tick))
            while not until():
                self.step()
                self.tick(on_tick)
        finally:
            self.close()

    def tick(self, on_tick: Callable[[], None] = lambda: None) -> None:
        """After a step: the screen, then a stats row every 10 s and the coverage map every 30 s."""
        on_tick()
        now = time.monotonic()
        if now - self._last["stats"] >= STATS_EVERY_S:
            with_cov = now - self._last["cov"] >= COVERAGE_EVERY_S
            self.checkpoint(coverage=with_cov)
            self._last = {"stats": now, "cov": now if with_cov else self._last["cov"]}

    def done(self) -> bool:
        c = self.config
        if c.execs is not None and self.stats.execs + (self.unsettled is not None) >= c.execs:
            return True
        return c.time_s is not None and self.elapsed() >= c.time_s

    def elapsed(self) -> float:
        return self.elapsed_before + time.monotonic() - self.start

    def step(self) -> ExecResult:
        """One mutation of one entry (or a fresh program), run in a child; keeps, records and counts what
        came of it. With `config.ahead` (and a runner that can), the next step's mutation is made while
        this step's case runs (`step_ahead`)."""
        if self.config.ahead and hasattr(self.runner, "ahead"):
            return self.step_ahead()
        entry, kinds, spec = self.plan()
        res = self.runner.run(self.case_for(entry), want_outputs=False, mutate=spec, oracle=self.config.oracle,
                              want_json=spec is None and self.fresh.base > 0)  # a fresh program kept is mutated next
        return self.absorb(entry, kinds, res)

    def step_ahead(self) -> ExecResult:
        """`step`, pipelined: take the mutant planned a step before, hand the next plan to the runner's
        mutator (`Executor.ahead`), then run this mutant. Planning is one step behind what it learns (the
        next entry is picked before this result is in), the same for every run of a seed: a campaign
        stays repeatable. The mutation runs on another core; none of its TVM code counts as coverage."""
        entry, kinds, spec = self.planned or self._plan_ahead()
        self.planned = None
        made = None
        if spec is None:  # a fresh program: nothing to mutate
            case = self.case_for(entry)
        else:
            made = self.runner.take()
            if made.outcome != "ok" or made.case is None:  # declined, or the mutator died (absorb counts it)
                return self.absorb(entry, kinds, made)
            case = TestCase.from_dict(made.case)
        if not self.done():
            self.planned = self._plan_ahead()
        res = self.runner.run(case, want_outputs=False, oracle=self.config.oracle,
                              want_json=made is not None or self.fresh.base > 0,
                              module_json=made.ir_json if made is not None and not self.config.oracle else None,
                              later=self.config.oracle)
        if made is not None:
            res.case, res.mutation = made.case, {**made.mutation, "ahead": True}
        self.settle()  # the step before's verdict, if its fresh run went on alongside this case
        if res.confirming:  # no verdict yet: counted with the next step (or at the end)
            res.case = res.case or case.to_dict()
            self.unsettled = (entry, kinds, res.case, res.mutation)
            return res
        return self.absorb(entry, kinds, res)

    def settle(self) -> None:
        """Absorb the result a step left `confirming` (its verdict from the fresh run that went on alongside
        the next step's case); first in, first counted, so every run of a seed counts alike."""
        if self.unsettled is None:
            return
        (entry, kinds, case, mutation), self.unsettled = self.unsettled, None
        res = self.runner.settle()
        if res is not None:
            res.case, res.mutation = case if case is not None else res.case, mutation or res.mutation
            self.absorb(entry, kinds, res)

    def _plan_ahead(self) -> tuple[Entry, list[str], dict[str, Any] | None]:
        """The next step's plan, its mutation handed to the runner's mutator child."""
        entry, kinds, spec = self.plan()
        if spec is not None:
            self.runner.ahead(self.case_for(entry), spec)
        return entry, kinds, spec

    def case_for(self, entry: Entry) -> TestCase:
        """The case a planned entry stands for."""
        return self.pending[entry.id] if entry.id in self.pending else self.corpus.cases[entry.id]

    def plan(self) -> tuple[Entry, list[str], dict[str, Any] | None]:
        """Which entry to mutate next, which kinds of mutation, and the request for the child (None: run a
        fresh program, `plan_fresh`)."""
        if self.fresh.base > 0 and self.rng.random() < self.fresh.share(self.yields):
            return self.plan_fresh()
        entry = self.schedule.pick(self.corpus.entries, self.rng, self.focus.weight if self.focus else None)
        entry.chosen += 1
        kinds = self.policy.kinds(entry, self.rng)
        donor_id = self.corpus.donor(self.rng).id if "ir" in kinds else None
        donor = self.corpus.cases[donor_id] if donor_id else None
        spec = {"seed": self.rng.getrandbits(48), "kinds": kinds, "donor": donor.to_dict() if donor else None,
                "stack": int(self.config.stack or 1), "features": bool(self.config.structure)}
        if self.config.structure and entry.id in self.featured:
            spec["features"] = "mutant"  # the parent's features are counted already
        weights = self.yields.weights(self.base_weights(kinds))
        if weights is not None:
            spec["weights"] = weights
        if "ir" in kinds:  # the child loads these instead of parsing the TVMScript again
            spec["ir_json"], spec["donor_json"] = self.corpus.ir_json.get(entry.id), self.corpus.ir_json.get(donor_id)
        if self.mutators is not None:
            spec["mutators"] = list(self.mutators)
        return entry, kinds, spec

    def plan_fresh(self) -> tuple[Entry, list[str], None]:
        """A freshly generated case, parked in `pending` under its id until its result comes back."""
        case = self.fresh.case(self.rng, self.runner.info.get("passes", []), self.config.targets,
                               lambda cid: cid in self.corpus or cid in self.pending)
        entry = Entry(case_id(case), "generated", found_at=self.stats.execs)
        self.pending[entry.id] = case
        return entry, [FRESH_KIND], None

    def base_weights(self, kinds: list[str]) -> dict[str, float]:
        """The fixed weights of the mutators an exec of these kinds may draw (name -> weight)."""
        key = tuple(sorted(kinds))
        if key not in self._base:
            allowed = set(self.mutators) if self.mutators is not None else None
            self._base[key] = {m.name: m.weight for m in all_mutators()
                               if m.kind in kinds and (allowed is None or m.name in allowed)}
        return self._base[key]

    def absorb(self, entry: Entry, kinds: list[str], res: ExecResult) -> ExecResult:
        """Count a mutant's result; keep it when it reached new blocks; save it when it is a bug."""
        if kinds == [FRESH_KIND]:  # a fresh program: no mutation ran, the case is the one planned
            case = self.pending.pop(entry.id, None)
            if res.case is None and case is not None:
                res.case = case.to_dict()
            if not res.mutation:
                res.mutation = {"mutator": FRESH_NAME, "mutators": [FRESH_NAME], "kind": FRESH_KIND}
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
        focus_changed = self._count_focus(case, res)
        new = res.new_blocks >= MIN_NEW_BLOCKS and self.config.feedback
        if kinds == ["ir"]:
            entry.stale = 0 if new else entry.stale + 1
        kept = False
        novel, featured = self._new_features(entry, res)
        focused = not self.focus or self.focus.in_sequence(case)  # --focus: the corpus keeps its passes
        if (new or novel) and res.outcome == "ok" and focused:  # valid cases only, as Tzer: rejected ones seed nothing
            reason = f"new-coverage:{res.new_blocks}" if new else f"new-structure:{len(novel)}"
            child = Entry(case_id(case), reason, res.new_blocks, parent=None if kinds == [FRESH_KIND] else entry.id,
                          found_at=self.stats.execs,
                          meta={"focus_changed": True} if focus_changed else {})
            if child.id not in self.corpus:
                self.corpus.add(child, case, res.ir_json)
                if featured:
                    self.featured.add(child.id)
                entry.finds += 1
                self.stats.last_find = self.elapsed()
                self.stats.kept[_channel(new, novel)] += 1
                kept = True
        bug = self._judge(entry, case, res)
        names = (res.mutation or {}).get("mutators") if isinstance(res.mutation, dict) else None
        if names:
            self.yields.record(names, res.outcome not in ("rejected", "tool-error"), kept, bug)
        return res

    def _count_focus(self, case: TestCase, res: ExecResult) -> bool:
        """Count what each pass of the case did; with --focus, whether a focused pass changed the module."""
        ran, changed = self.passes.count(case, res)
        if not self.focus:
            return False
        hit = self.focus.count(ran, changed)
        self.stats.focus = self.focus.to_dict()
        return hit

    def _new_features(self, entry: Entry, res: ExecResult) -> tuple[list[str], bool]:
        """The IR-structure features of a valid mutant that no case showed before (its parent's count as
        seen), and whether the mutant's features are all seen now (so a child made of it is `featured`)."""
        info = res.mutation if isinstance(res.mutation, dict) else {}
        feats, parents = info.pop("features", None), info.pop("parent_features", None)  # not kept with bugs
        mutated = feats is not None  # the mutant's own IR features came (its IR changed)
        feats, res.pass_features = (feats or []) + res.pass_features, []  # the passes' (pass, feature) pairs
        if not feats or not self.config.structure or not self.config.feedback:
            return [], False
        if parents is not None:
            self.features.update(parents)
            self.featured.add(entry.id)
        novel = [f for f in feats if f not in self.features] if res.outcome == "ok" else []
        if res.outcome == "ok":
            self.features.update(feats)
        self.stats.features = len(self.features)
        return novel, res.outcome == "ok" and mutated

    def _judge(self, entry: Entry | None, case: TestCase, res: ExecResult) -> bool:
        """Save a bug under its signature; count what a filter hid (oracles/verdict.py decides which).
        Whether the result was a bug not seen before."""
        v = judge(case, res)
        if v.kind == FILTERED and self.store is not None and difference_kind(res) == v.filter:
            reason = res.oracle.get("reason") or (res.oracle.get("checked") or {}).get("reason") or ""
            self.store.save_hidden(case, v.filter, reason)
        if v.is_bug:
            if entry is not None:
                entry.finds += 1
            rec = self.bugs.add(res, case, entry.id if entry is not None else None, self.stats.execs)
            if rec is not None:
                self.stats.bugs[res.outcome] += 1
                self.stats.last_bug = f"{res.outcome} at {res.stage}: {(res.frame or res.message)[:70]}"
                self.on_event(f"new bug {rec.signature}: {self.stats.last_bug}")
                return True
        elif v.kind == TOOL_ERROR:  # kept for whoever fixes tirfuzz; never reported as a TVM bug
            self.stats.tool_errors += 1
            if self.store is not None:
                self.store.save_tool_error(case, res.message)
            self.on_event(f"tirfuzz's own error (not a TVM bug), case kept in tool-errors/: {res.message[:100]}")
        elif v.filter == TOO_SLOW:
            self.stats.slow_runs += 1
        elif res.outcome == "crash":  # a crash once compiled code ran that a check of the checked run explained
            self.stats.ub_crashes += 1
            self.stats.filtered[v.filter] += 1
        elif res.outcome in ("internal-error", "hang"):  # rejected and oracle-filtered results are counted in _count
            self.stats.filtered[v.filter] += 1
        return False

    def _count(self, res: ExecResult) -> None:
        self.stats.execs += 1
        self.stats.outcomes[res.outcome] += 1
        if res.outcome == "rejected":
            self.stats.rejected += 1
            self.stats.filtered[res.filter or "?"] += 1
        if res.oracle.get("filtered"):
            self.stats.filtered[res.oracle["filtered"]] += 1
        for gap in res.dropped.values():
            self.stats.dropped[gap] += 1
        kind = difference_kind(res)
        if kind is not None:
            self.stats.differences[kind] += 1

    # persistence ---------------------------------------------------------------
    def row(self) -> StatsRow:
        return self.stats.row(self.elapsed(), self.cov_blocks, len(self.corpus))

    def stats_row(self) -> dict[str, Any]:
        return self.row().to_dict()

    def checkpoint(self, coverage: bool = True) -> None:
        if self.store is None:
            return
        row = self.stats_row()
        self.store.append_stats(row)
        self.store.write_json("state.json", row)
        self.store.write_json("mutators.json", self.yields.to_dict())
        self.store.write_json("features.json", {"features": sorted(self.features)})
        self.store.write_json("passes.json", self.passes.to_dict())
        sites = (self.covered_fn() if self.covered_fn is not None else self.runner.covered()) if coverage else None
        if sites is not None:
            self.store.save_coverage(sites)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            try:
                self.settle()
            finally:
                self.checkpoint()
        finally:
            self.runner.close()


def make_campaign(config: CampaignConfig, store: CampaignDir, resume: bool,
                  cls: type[Campaign] = Campaign, runner: Executor | None = None) -> Campaign:
    """A campaign over the directory `store`: an executor (told the sites a resumed campaign covered; or
    `runner`, made with `executor_config(config)` and maybe launched already), a corpus and a bug store
    saved there, fresh stats."""
    if runner is None:
        runner = Executor(executor_config(config, store.load_coverage() if resume else None))
    return cls(config, runner, Corpus(store), BugStore(store), Stats(), store=store)
