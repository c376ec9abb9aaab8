"""The campaign's parts with a fake runner: plan, absorb, the power schedule, the joint policy, the loop.

No TVM here: the runner hands back results made in the test, so each test runs in milliseconds.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys

import pytest

from tirfuzz.fuzzer.campaign.bugs import BugRecord, BugStore
from tirfuzz.fuzzer.campaign.campaign import Campaign
from tirfuzz.fuzzer.campaign.config import CampaignConfig
from tirfuzz.fuzzer.campaign.corpus import MIN_NEW_BLOCKS, Corpus, Entry
from tirfuzz.fuzzer.campaign.powerschedule import JointPolicy, PowerSchedule, UniformSchedule
from tirfuzz.fuzzer.campaign.stats import Stats, StatsRow, read_stats
from tirfuzz.fuzzer.campaign.store import CampaignDir
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.result import ExecResult, ReferenceTry
from tirfuzz.oracles.verdict import TOO_SLOW, judge

IR = "@T.prim_func\ndef main(A: T.Buffer((4,), \"int32\")):\n    A[0] = {}\n"


class FakeRunner:
    """Stands in for the executor: each run returns the next scripted result (or a plain ok one)."""

    def __init__(self, results: list[ExecResult] | None = None):
        self.results = list(results or [])
        self.info: dict = {}
        self.calls: list[dict] = []
        self.closed = False

    def start(self) -> dict:
        self.info = {"cov_total": 1000, "passes": []}
        return self.info

    def run(self, case, want_outputs=True, want_sites=False, mutate=None, oracle=False, want_json=False):
        self.calls.append({"case": case, "mutate": mutate, "oracle": oracle})
        res = self.results.pop(0) if self.results else ExecResult("ok", stage="done")
        if mutate is not None and res.case is None and res.outcome != "declined":
            res.case = TestCase(IR.format(len(self.calls)), targets=case.targets).to_dict()
        return res

    def covered(self):
        return None

    def close(self) -> None:
        self.closed = True


def campaign(tmp_path=None, results=None, **config) -> Campaign:
    store = CampaignDir(tmp_path) if tmp_path is not None else None
    if store is not None:
        store.create({"config": {}}, False)
    cfg = CampaignConfig(out=str(tmp_path or "unused"), seeds=["add_int32", "relu_f32"], **config)
    return Campaign(cfg, FakeRunner(results), Corpus(store), BugStore(store), Stats(), store=store)


def test_open_runs_each_seed_once_and_keeps_it():
    c = campaign(results=[ExecResult("ok", stage="done", new_blocks=50), ExecResult("ok", stage="done", new_blocks=3)])
    c.open(resume=False)
    assert [e.meta["seed"] for e in c.corpus.entries] == ["add_int32", "relu_f32"]
    assert [e.new_blocks for e in c.corpus.entries] == [50, 3] and c.stats.execs == 2
    assert all(call["mutate"] is None and call["oracle"] for call in c.runner.calls)


def test_plan_asks_for_an_ir_mutation_with_a_donor_and_kept_json():
    c = campaign()
    c.open(resume=False)
    c.corpus.ir_json[c.corpus.entries[0].id] = "{json}"
    entry, kinds, spec = c.plan()
    assert kinds == ["ir"] and entry.chosen == 1
    assert spec["donor"]["format"] == "tirfuzz-case/1" and isinstance(spec["seed"], int)
    assert "ir_json" in spec and "mutators" not in spec  # tirfuzz's preset: every mutator


def test_tzer_preset_picks_uniformly_with_its_own_mutators_llvm_only_no_oracle():
    c = campaign(mode="tzer")
    assert isinstance(c.schedule, UniformSchedule) and c.config.targets == ["llvm"] and c.config.oracle is False
    c.open(resume=False)
    _, _, spec = c.plan()
    assert "expr-insert" in spec["mutators"] and "loop-split" not in spec["mutators"]
    explicit = campaign(mode="tzer", targets=["llvm", "c"], oracle=True)
    assert explicit.config.targets == ["llvm", "c"] and explicit.config.oracle is True  # options override


def test_joint_policy_turns_to_passes_after_patience_ir_mutations_without_new_blocks():
    policy, rng, e = JointPolicy(patience=3), random.Random(0), Entry("a", "seed")
    assert policy.kinds(e, rng) == ["ir"]
    e.stale = 3
    assert policy.kinds(e, rng) == ["pass", "config", "target"] and e.stale == 0
    assert JointPolicy(ir=False).kinds(e, rng) == ["pass", "config", "target"]
    assert JointPolicy(passes=False).kinds(Entry("b", "seed", stale=99), rng) == ["ir"]


def test_power_schedule_favours_rare_productive_rarely_chosen_entries():
    s = PowerSchedule()
    rare, common = Entry("r", "x", new_blocks=2000), Entry("c", "x", new_blocks=2)
    assert s.weight(rare) > s.weight(common)
    assert s.weight(Entry("f", "x", finds=3)) == 4 * s.weight(Entry("n", "x"))
    assert s.weight(Entry("o", "x", chosen=8)) == pytest.approx(s.weight(Entry("n", "x")) / 3)
    picks = [s.pick([rare, common], random.Random(i)).id for i in range(200)]
    assert picks.count("r") > picks.count("c")


def test_absorb_keeps_new_coverage_counts_staleness_and_saves_bugs_once_per_signature(tmp_path):
    c = campaign(tmp_path)
    c.open(resume=False)
    entry = c.corpus.entries[0]
    n = len(c.corpus)
    c.absorb(entry, ["ir"], c.runner.run(c.corpus.cases[entry.id], mutate={}, oracle=True))  # ok, no new blocks
    assert len(c.corpus) == n and entry.stale == 1
    res = ExecResult("ok", stage="done", new_blocks=MIN_NEW_BLOCKS, case=TestCase(IR.format(77)).to_dict())
    c.absorb(entry, ["ir"], res)
    assert len(c.corpus) == n + 1 and entry.finds == 1 and entry.stale == 0
    assert (tmp_path / "corpus" / f"{c.corpus.entries[-1].id}.json").exists()
    for k in range(2):
        crash = ExecResult("crash", stage="pass:tirfuzz.fake", signal="SIGSEGV", frame="src/x.cc:1",
                           case=TestCase(IR.format(100 + k)).to_dict())
        c.absorb(entry, ["ir"], crash)
    assert len(c.bugs) == 1 and c.stats.bugs["crash"] == 1
    rec = next(iter(c.bugs.records.values()))
    assert rec.count == 2 and rec.parent == entry.id
    on_disk = BugRecord.load(tmp_path / "bugs" / rec.signature)
    assert on_disk.count == 2 and on_disk.kind == "crash" and (tmp_path / "bugs" / rec.signature / "case.json").exists()


def test_absorb_counts_what_filters_hide_instead_of_reporting_it(tmp_path):
    c = campaign(tmp_path)
    c.open(resume=False)
    entry = c.corpus.entries[0]
    unsafe = TestCase(IR.format(5), extra={"safe": False, "ub_risks": ["oob"]}).to_dict()
    c.absorb(entry, ["ir"], ExecResult("hang", stage="run:llvm", resource="time", case=unsafe,
                                       reference_try=ReferenceTry("hang", 10.0)))
    c.absorb(entry, ["ir"], ExecResult("crash", stage="run:llvm", signal="SIGSEGV", case=unsafe,
                                       oracle={"checked": {"filter": "ub:out-of-bounds", "reason": "..."}}))
    c.absorb(entry, ["ir"], ExecResult("ok", case=unsafe, oracle={"diff": {"mismatches": 3}, "filtered": "ub:shift-out-of-range"}))
    c.absorb(entry, ["ir"], ExecResult("rejected", stage="parse", filter="unparseable-tvmscript", case=unsafe))
    c.absorb(entry, ["ir"], ExecResult("declined", stage="mutate"))
    c.absorb(entry, ["ir"], ExecResult("crash", stage="mutate", signal="SIGSEGV"))  # no case: the mutator died
    assert len(c.bugs) == 0
    assert (c.stats.slow_runs, c.stats.ub_crashes, c.stats.filtered["unparseable-tvmscript"]) == (1, 1, 1)
    assert c.stats.differences == {"ub:out-of-bounds": 1, "ub:shift-out-of-range": 1}  # by check
    assert c.stats.filtered["ub:out-of-bounds"] == 1 and c.stats.filtered["ub:shift-out-of-range"] == 1
    kept = sorted(p.parent.name for p in (tmp_path / "hidden").glob("*/*.json"))  # for a person to check
    assert kept == ["ub-out-of-bounds", "ub-shift-out-of-range"]
    assert (c.stats.declined, c.stats.mutator_crashes, c.stats.rejected) == (1, 1, 1)


def test_one_verdict_for_every_command():
    safe, unsafe = TestCase(IR.format(1)), TestCase(IR.format(1), extra={"safe": False, "ub_risks": ["div"]})
    assert judge(safe, ExecResult("crash", stage="run:llvm", signal="SIGSEGV")).is_bug
    # a crash once compiled code ran: hidden only when the checked run tripped a check, whatever the record says
    assert judge(unsafe, ExecResult("crash", stage="run:llvm", signal="SIGSEGV")).is_bug
    assert judge(unsafe, ExecResult("crash", stage="run:llvm", signal="SIGSEGV",
                                    oracle={"checked": {"filter": None}})).is_bug
    assert judge(safe, ExecResult("crash", stage="run:llvm", signal="SIGFPE",
                                  oracle={"checked": {"filter": "ub:division-by-zero"}})).filter == "ub:division-by-zero"
    assert judge(unsafe, ExecResult("crash", stage="pass:x", signal="SIGSEGV")).is_bug  # before any run: a bug
    slow, finished = ReferenceTry("hang", 10.0), ReferenceTry("finished", 10.0, 40.0)
    assert judge(safe, ExecResult("hang", stage="run:c", resource="time", reference_try=slow)).filter == TOO_SLOW
    assert judge(safe, ExecResult("hang", stage="build:c", resource="time", reference_try=finished)).is_bug
    # an internal error the program's own arithmetic causes: shown by a check on the program, not the record
    assert judge(unsafe, ExecResult("internal-error", stage="pass:x", message="Divide by zero")).is_bug
    assert judge(safe, ExecResult("internal-error", stage="pass:x", message="Divide by zero", oracle={
        "program_error": {"filter": "division-by-zero-in-program", "reason": "..."}})).filter == \
        "division-by-zero-in-program"
    assert judge(safe, ExecResult("ok", oracle={"filtered": "fast-math"})).filter == "fast-math"
    assert judge(safe, ExecResult("ok")).kind == "ok"


def test_run_loop_stops_at_its_budget_and_checkpoints_stats_state_and_closes(tmp_path):
    c = campaign(tmp_path, execs=6)
    c.run(resume=False)
    assert c.stats.execs == 6 and c.runner.closed
    rows = read_stats(tmp_path / "stats.jsonl")
    assert rows and rows[-1].execs == 6 and rows[-1].corpus_size == len(c.corpus)
    assert json.loads((tmp_path / "state.json").read_text())["execs"] == 6


def test_stats_rows_read_back_as_written():
    s = Stats(execs=10, rejected=2, declined=3, lost_runs=1)
    s.bugs["crash"] += 2
    s.filtered["ub"] += 4
    row = s.row(elapsed=5.0, cov_blocks=123, corpus_size=7)
    back = StatsRow.from_dict(json.loads(json.dumps(row.to_dict())))
    assert back == row and back.valid_ratio == 0.8 and back.lost_runs == 1
    assert StatsRow.from_dict({"execs": "x", "libfuzzer": {"runs": 3}}).extra == {"libfuzzer": {"runs": 3}}


def test_the_campaign_driver_never_imports_tvm():
    code = ("import sys, tests.test_campaign_parts as t, tempfile, pathlib\n"
            "t.test_run_loop_stops_at_its_budget_and_checkpoints_stats_state_and_closes(pathlib.Path(tempfile.mkdtemp()))\n"
            "assert 'tvm' not in sys.modules, 'tvm imported'\n")
    from pathlib import Path

    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=Path(__file__).resolve().parent.parent)
    assert p.returncode == 0, p.stderr


def test_tool_errors_are_counted_and_kept_never_reported(tmp_path):
    c = campaign(tmp_path)
    c.open(resume=False)
    res = ExecResult("tool-error", stage="run:llvm", message="tirfuzz error (not a TVM bug): making inputs ...",
                     case=TestCase(IR.format(9)).to_dict())
    c.absorb(c.corpus.entries[0], ["ir"], res)
    assert len(c.bugs) == 0 and c.stats.tool_errors == 1 and c.row().tool_errors == 1
    kept = list((tmp_path / "tool-errors").glob("*.json"))
    assert len(kept) == 1 and "making inputs" in json.loads(kept[0].read_text())["tirfuzz_message"]


def test_focus_puts_its_pass_in_every_seed_and_counts_the_execs_it_changed(executor, block_ir):
    """--focus: a seed gets the pass where its preconditions allow; an exec counts it as run and, when the
    module's hash moved, as changed; a case without it is not kept."""
    from conftest import FLAT_IR

    from tirfuzz.corpus import load_seed
    from tirfuzz.corpus.cases import seed_case
    from tirfuzz.fuzzer.campaign.focus import Focus, PassCounts
    from tirfuzz.fuzzer.core.case import PassSpec

    focus = Focus(("s_tir.transform.LoopPartition", "tirx.transform.FlattenBuffer"))
    seed = seed_case(load_seed("relu_f32"), ["llvm"])
    seeded = focus.seeded(seed, random.Random(0))
    names = [p.name for p in seeded.passes]
    assert focus.in_sequence(seeded) and names.count("s_tir.transform.LoopPartition") == 1
    assert names.index("tirx.transform.FlattenBuffer") > names.index("s_tir.transform.LowerOpaqueBlock")  # block-free only
    assert not focus.in_sequence(TestCase(FLAT_IR, passes=[PassSpec("tirx.transform.StmtSimplify")]))
    # UnrollLoop changes the loop only when its config asks for explicit unrolling
    unroll, counts = Focus(("tirx.transform.UnrollLoop",)), PassCounts()
    changes = TestCase(FLAT_IR, passes=[PassSpec("tirx.transform.UnrollLoop")],
                       pass_config={"tirx.UnrollLoop": {"auto_max_step": 32, "explicit_unroll": True}})
    same = TestCase(FLAT_IR, passes=[PassSpec("tirx.transform.StmtSimplify"), PassSpec("tirx.transform.UnrollLoop")])
    assert unroll.count(*counts.count(changes, executor.run(changes))) is True
    assert unroll.count(*counts.count(same, executor.run(same))) is False
    assert unroll.to_dict() == {"tirx.transform.UnrollLoop": {"ran": 2, "changed": 1}}
    assert counts.to_dict()["passes"]["tirx.transform.StmtSimplify"] == {"ran": 1, "changed": 0}
    assert PassCounts.from_dict(counts.to_dict()).counts == counts.counts


def test_a_parents_structure_features_are_asked_for_once(tmp_path):
    """The child computes a parent's IR-structure features only until the campaign holds them: the first
    mutation of a seed asks for them; a mutant kept for new structure brings its own, so its mutations
    ask for the mutant's only (features="mutant")."""
    c = campaign(tmp_path)
    c.open(resume=False)
    seed = c.corpus.entries[0]
    c.schedule.pick = lambda entries, rng, weight=None: seed
    assert c.plan()[2]["features"] is True
    res = ExecResult("ok", stage="done", case=TestCase(IR.format(5)).to_dict(),
                     mutation={"features": ["in|If|Select:float"], "parent_features": ["in|For|Add:int"]})
    c.absorb(seed, ["ir"], res)
    assert c.plan()[2]["features"] == "mutant" and seed.id in c.featured
    child = c.corpus.entries[-1]
    assert child.reason == "new-structure:1" and child.id in c.featured
    c.schedule.pick = lambda entries, rng, weight=None: child
    assert c.plan()[2]["features"] == "mutant"
    assert c.features == {"in|If|Select:float", "in|For|Add:int"}


def test_a_pass_mutant_is_kept_for_a_pass_feature_pair_no_case_showed(tmp_path):
    """A mutant whose IR did not change is kept when one of its passes made a structure no pass made
    before (channel "pass-structure"); the seeds' pairs count as seen; the pairs are not kept with the
    result; the executor computes pairs only with --pass-structure (off by default) and structure on."""
    from tirfuzz.fuzzer.campaign.campaign import executor_config

    seen = "pass|StmtSimplify|+nest|func|For:serial"
    new = "pass|StmtSimplify|-nest|func|IfThenElse"
    c = campaign(tmp_path, results=[ExecResult("ok", stage="done", new_blocks=50, pass_features=[seen])],
                 pass_structure=True)
    c.open(resume=False)
    assert seen in c.features
    seed = c.corpus.entries[0]
    n = len(c.corpus)
    res = ExecResult("ok", stage="done", case=TestCase(IR.format(6)).to_dict(),
                     mutation={"mutators": ["pass_insert"]}, pass_features=[seen])
    c.absorb(seed, ["pass"], res)
    assert len(c.corpus) == n and res.pass_features == []  # nothing new
    res = ExecResult("ok", stage="done", case=TestCase(IR.format(7)).to_dict(),
                     mutation={"mutators": ["pass_insert"]}, pass_features=[seen, new])
    c.absorb(seed, ["pass"], res)
    child = c.corpus.entries[-1]
    assert len(c.corpus) == n + 1 and child.reason == "new-structure:1" and new in c.features
    assert dict(c.stats.kept) == {"pass-structure": 1} and child.id not in c.featured  # its IR features: not asked
    assert executor_config(c.config).pass_features is True
    assert executor_config(campaign().config).pass_features is False
    assert executor_config(campaign(pass_structure=True, structure=False).config).pass_features is False


def test_a_share_of_execs_runs_fresh_programs_kept_when_they_find_blocks(tmp_path):
    """--fresh: some steps run a newly generated program (no mutation request); one that reaches new
    blocks joins the corpus with no parent and its yield is counted under "generate"."""
    c = campaign(tmp_path, fresh=0.3)
    c.open(resume=False)
    plans = [c.plan() for _ in range(60)]
    fresh = [(e, k, s) for e, k, s in plans if k == ["generate"]]
    assert 8 <= len(fresh) <= 30 and all(s is None for _, _, s in fresh)
    assert all(s is not None for _, k, s in plans if k != ["generate"])
    entry = fresh[0][0]
    case = c.case_for(entry)
    assert "T.prim_func" in case.ir and case.extra["generated"] and entry.id in c.pending
    n = len(c.corpus)
    c.absorb(entry, ["generate"], ExecResult("ok", stage="done", new_blocks=MIN_NEW_BLOCKS + 5))
    kept = c.corpus.entries[-1]
    assert len(c.corpus) == n + 1 and kept.id == entry.id and kept.parent is None
    assert c.corpus.cases[kept.id].ir == case.ir and entry.id not in c.pending
    assert c.yields.by_name["generate"].finds == 1
    off = campaign(fresh=0.0)
    off.open(resume=False)
    assert all(off.plan()[1] != ["generate"] for _ in range(60))
    assert campaign(mode="tzer").fresh.base == 0.0 and campaign().fresh.base == 0.1


def test_the_fresh_share_follows_its_yield_within_bounds():
    from tirfuzz.fuzzer.campaign.fresh import LEAST, MOST, FreshPrograms
    from tirfuzz.fuzzer.campaign.yields import MutatorYield, Yields

    f = FreshPrograms(0.1)
    y = Yields()
    assert f.share(y) == 0.1  # before the yields say anything
    y.by_name = {"splice": MutatorYield(200, 190, 20), "generate": MutatorYield(50, 50, 25)}
    assert f.share(y) == MOST  # fresh programs found five times as often
    y.by_name["generate"] = MutatorYield(200, 200, 0)
    assert f.share(y) == LEAST
    y.by_name["generate"] = MutatorYield(200, 190, 20)
    assert abs(f.share(y) - 0.1) < 1e-9
    assert FreshPrograms(0.0).share(y) == 0.0


class AheadRunner(FakeRunner):
    """A runner that mutates ahead and gives some results `confirming`: their verdicts come from `settle`."""

    def __init__(self, results=None, verdicts=None):
        super().__init__(results)
        self.verdicts = list(verdicts or [])
        self.handed = 0
        self.unsettled = 0

    def ahead(self, case, mutate):
        self.handed += 1

    def take(self):
        return ExecResult("ok", stage="mutate", case=TestCase(IR.format(100 + self.handed)).to_dict(),
                          mutation={"mutator": "m", "mutators": ["m"], "kind": "ir"})

    def run(self, case, want_outputs=True, want_sites=False, mutate=None, oracle=False, want_json=False,
            module_json=None, later=False):
        res = super().run(case, want_outputs, want_sites, mutate, oracle, want_json)
        self.calls[-1]["later"] = later
        self.unsettled += res.confirming
        return res

    def settle(self):
        if not self.unsettled:
            return None
        self.unsettled -= 1
        return self.verdicts.pop(0)


def test_a_confirming_result_is_counted_with_its_verdict_one_step_later(tmp_path):
    """With the mutation made ahead, a result whose fresh run goes on aside (`confirming`) is absorbed once
    `settle` gives the verdict, after the next step's run: the verdict, not the kept child's result, is what
    the campaign counts and saves; `--execs` stays exact, the last one settled when the campaign closes."""
    seeds = [ExecResult("ok", stage="done", new_blocks=50), ExecResult("ok", stage="done", new_blocks=3)]
    kept = [ExecResult("internal-error", stage="pass:x", message="kept child", exc_type="E", confirming=True),
            ExecResult("ok", stage="done"),
            ExecResult("internal-error", stage="pass:y", message="kept child", exc_type="E", confirming=True),
            ExecResult("internal-error", stage="pass:z", message="last", exc_type="E", confirming=True)]
    verdicts = [ExecResult("internal-error", stage="pass:x", message="fresh", exc_type="E"),
                ExecResult("ok", stage="done"),  # the fresh run disagreed: no bug
                ExecResult("internal-error", stage="pass:z", message="last", exc_type="E")]
    store = CampaignDir(tmp_path)
    store.create({"config": {}}, False)
    cfg = CampaignConfig(out=str(tmp_path), seeds=["add_int32", "relu_f32"], execs=6, oracle=True)
    c = Campaign(cfg, AheadRunner(seeds + kept, verdicts), Corpus(store), BugStore(store), Stats(), store=store)
    c.open(resume=False)
    first = c.step()
    assert first.confirming and c.stats.execs == 2 and c.unsettled is not None  # counted with the next step
    assert c.runner.calls[-1]["later"]
    c.step()
    assert c.stats.execs == 4 and c.unsettled is None and c.stats.bugs["internal-error"] == 1
    c.step()
    assert c.stats.execs == 4 and c.unsettled is not None
    assert not c.done()
    c.step()  # the fourth mutant: confirming too, and the campaign's sixth exec
    assert c.stats.execs == 5 and c.done()  # the one confirming counts toward --execs
    c.close()
    assert c.stats.execs == 6 and c.unsettled is None and c.runner.closed
    assert c.stats.outcomes["ok"] == 4 and c.stats.outcomes["internal-error"] == 2 and c.stats.bugs["internal-error"] == 2
    assert json.loads((tmp_path / "state.json").read_text())["execs"] == 6
