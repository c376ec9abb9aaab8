"""What the fuzzer itself costs: a campaign's execs/s against the raw cost of the same cases in one process.

1. A campaign runs for --time seconds exactly as `tirfuzz fuzz` runs it (the same driver loop, status
   output and checkpoints), recording every case it executed and the time of each step.
2. The same executed cases (the mutants, as they ran) then run again in one plain Python process, one
   after another: parse, pre-check, passes, build, run, and the same oracle work (`run_case`), with no
   fork server, no mutation, no coverage. Cases that crashed or hung in the campaign cannot run in one
   process; for them the child's own stage times count on both sides (for a hang, the time limit: the
   fresh child's run that judged it; a kept child's shorter try before it is the fuzzer's).

The ratio is the campaign's execs/s over the raw cases/s; `overhead` = raw case time per exec that the
campaign spends on top (target: at most 0.10); `overhead_without_follow_ups` leaves out the executor's
follow-ups (the reference try after a hang, the checked run after a crash), oracle work the replay
does not do. The breakdown splits the campaign's time per exec into
the case's own stages in the child, the mutation in the child (by default made ahead instead, in the
mutator child while the case before runs: then its time is reported apart, off the clock, and what the
step waited for it counts; `--no-ahead` makes it in the case's child), the fork server's own work (waiting for
the warm child, forking the next, reading coverage), the executor's IPC, the driver (schedule, bookkeeping,
stats) and declined mutations. A probe then re-runs a few of the cases through a fork server whose
steps are timed, to split the fork server's share: waiting for the standby child to be ready, the child's
work outside the case's stages (request, result), forking the next child (alongside the case), reaping
the one before. Last, the cost of isolation itself: each probed case runs twice in one forked child, the
first run paying for copy-on-write and cold caches, the second not.
Seeds are not counted: the measure starts at the first mutation.

    python bench/throughput.py [--time 120] [--seed 0] [--seeds a,b,...] [--targets llvm,c] [--probe 12] [--no-ahead]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine, run_forked, write_result  # noqa: E402

SEEDS = "relu_f32,add_int32,flat_argmax_axis1,conv2d_nchw,batch_norm_inference,tanh_f32,bitwise_and_int32,softmax_lastaxis"
NOT_IN_PROCESS = ("crash", "hang")
STALL_S = 60.0  # a replayed case with no result this long is given up (its child's time stands in)


@dataclass
class StepRecord:
    """One campaign step: when it ran, what came of it, and where its time went."""

    t0: float
    t1: float
    outcome: str
    run_s: float = 0.0                  # executor.run wall time, seen from the driver
    total_ms: float = 0.0               # the fork server's time for the case (from await-warm to next spawn)
    stages_ms: float = 0.0              # the child's own stage timings (parse ... run, oracles)
    mutate_ms: float = 0.0              # the mutation in the child (parse the parent, mutate, print)
    mutate_parse_ms: float = 0.0        # of which parsing the parent (and donor)
    followed_up: bool = False           # the executor ran a reference try or a checked run after the case
    ahead: bool = False                 # its mutation was made ahead, alongside the case before (mutate_ms not in total_ms)
    take_s: float = 0.0                 # waiting for that mutant (Executor.take), seen from the driver
    send_s: float = 0.0                 # handing the next mutation to the mutator (Executor.ahead)
    cases_before: int = 0               # cases its child ran before it (0: a fresh child)
    kept_run: bool = False              # a kept child's result other than ok, judged again in a fresh child
    confirming: bool = False            # such a result whose fresh run went on aside, alongside the next case
    stages: dict[str, float] = field(default_factory=dict)  # the child's stage timings
    case: dict[str, Any] | None = None


@dataclass
class Breakdown:
    """Campaign milliseconds per exec, by where they went."""

    case_stages_in_child: float = 0.0
    mutation_in_child: float = 0.0
    mutation_parse_in_child: float = 0.0   # part of mutation_in_child
    mutation_ahead: float = 0.0            # made in the mutator child alongside the case before: not on the clock
    waiting_for_mutant: float = 0.0        # the part of a mutation made ahead that the case before did not cover
    handing_over_mutation: float = 0.0     # Executor.ahead: the request to the mutator child
    fork_server: float = 0.0
    executor_ipc: float = 0.0
    executor_follow_ups: float = 0.0       # reference tries after hangs, checked runs after crashes
    driver: float = 0.0
    declined_mutations: float = 0.0
    raw_case_in_process: float = 0.0


def record_campaign(out: Path, seconds: float | None, seed: int, seeds: list[str], targets: list[str],
                    execs: int | None = None, ahead: bool = True) -> tuple[list[StepRecord], dict]:
    """Run a campaign the way `tirfuzz fuzz` does, recording every step."""
    from tirfuzz.fuzzer.campaign.campaign import Campaign, make_campaign
    from tirfuzz.fuzzer.campaign.config import CampaignConfig, config_record
    from tirfuzz.fuzzer.campaign.status import run_with_screen
    from tirfuzz.fuzzer.campaign.store import CampaignDir

    steps: list[StepRecord] = []

    class Recording(Campaign):
        """A campaign that keeps each step's timings and the case it ran."""

        def open(self, resume: bool) -> None:
            super().open(resume)
            run = self.runner.run

            def timed(*a, **k):
                t = time.perf_counter()
                res = run(*a, **k)
                self._run_s = time.perf_counter() - t
                return res

            self.runner.run = timed
            if hasattr(self.runner, "settle"):  # the verdict on the step before's result, whose fresh run went on aside
                settle = self.runner.settle

                def timed_settle(*a, **k):
                    t = time.perf_counter()
                    res = settle(*a, **k)
                    self._run_s += time.perf_counter() - t
                    return res

                self.runner.settle = timed_settle
            self._take_s = self._send_s = 0.0
            if hasattr(self.runner, "ahead"):
                take, send = self.runner.take, self.runner.ahead

                def timed_take(*a, **k):
                    t = time.perf_counter()
                    res = take(*a, **k)
                    self._take_s += time.perf_counter() - t
                    return res

                def timed_send(*a, **k):
                    t = time.perf_counter()
                    send(*a, **k)
                    self._send_s += time.perf_counter() - t

                self.runner.take, self.runner.ahead = timed_take, timed_send

        def step(self):
            self._run_s = self._take_s = self._send_s = 0.0
            t0 = time.perf_counter()
            res = super().step()
            rec = StepRecord(t0, time.perf_counter(), res.outcome, run_s=self._run_s, take_s=self._take_s,
                             send_s=self._send_s)
            tm = dict(res.timings_ms)
            rec.total_ms = float(tm.pop("total", 0.0))
            rec.stages_ms = float(sum(tm.values()))
            mut = res.mutation if isinstance(res.mutation, dict) else {}
            rec.mutate_ms = float(mut.get("ms", 0.0) or 0.0)
            rec.mutate_parse_ms = float(mut.get("parse_ms", 0.0) or 0.0)
            rec.ahead = bool(mut.get("ahead"))
            # the executor's own follow-ups: the reference try after a hang, the checked run after a crash (the
            # differential oracle's checked run, also under oracle["checked"], is the case's work in its child)
            rec.followed_up = res.reference_try is not None or (
                res.outcome in ("crash", "hang") and bool((res.oracle or {}).get("checked")))
            rec.cases_before = int(res.cases_before)
            rec.kept_run = res.kept_run is not None and "trusted" not in res.kept_run
            rec.confirming = res.confirming
            rec.stages = {k: round(float(v), 2) for k, v in tm.items()}
            rec.case = res.case
            steps.append(rec)
            return res

    config = CampaignConfig(out=str(out), time_s=seconds, execs=execs, seed=seed, targets=targets, seeds=seeds,
                            ahead=ahead)
    store = CampaignDir(out)
    store.create(config_record(config), False)
    camp = make_campaign(config, store, False, Recording)
    run_with_screen(camp, str(out), False)
    return steps, camp.stats_row()


def replay_worker(cases_path: Path, results_path: Path, start: int) -> int:
    """The plain process: run cases[start:] with run_case, one JSON line of timings per case."""
    from tirfuzz.fuzzer.core.case import TestCase
    from tirfuzz.fuzzer.execution.forkserver import ForkServer
    from tirfuzz.fuzzer.core.passes import PassPool
    from tirfuzz.fuzzer.execution.pipeline import run_case

    from tirfuzz.fuzzer.core.hostcc import HostCompiler
    from tirfuzz.fuzzer.execution.coverage_sites import cache_dir

    pool = PassPool()
    host_cc = HostCompiler.prepare(cache_dir())  # the C prelude precompiled, as the fork server has it
    for ir in ForkServer._warm_up_irs():  # the first-use costs the fork server pays before any case
        run_case(TestCase(ir), pool, want_outputs=False, host_cc=host_cc)
    lines = cases_path.read_text().splitlines()
    with open(results_path, "a") as f:
        for i in range(start, len(lines)):
            if json.loads(lines[i]).get("skip"):  # hung in the campaign: in one process it has no time limit
                f.write(json.dumps({"i": i, "ms": None, "outcome": "skipped"}) + "\n")
                continue
            case = TestCase.from_dict(json.loads(lines[i]))
            t0 = time.perf_counter()
            res = run_case(case, pool, want_outputs=False, oracle=True, host_cc=host_cc)
            ms = (time.perf_counter() - t0) * 1e3
            f.write(json.dumps({"i": i, "ms": ms, "outcome": res.outcome,
                                "stages": {k: round(float(v), 2) for k, v in res.timings_ms.items()}}) + "\n")
            f.flush()
    return 0


def replay(cases: list[dict], tmp: Path) -> dict[int, dict]:
    """Run the cases in one plain process (restarted past a case that kills it); {index: {ms, outcome}}."""
    from tirfuzz.fuzzer.execution.executor import DETERMINISTIC_ENV

    cases_path, results_path = tmp / "cases.jsonl", tmp / "replay.jsonl"
    cases_path.write_text("".join(json.dumps(c) + "\n" for c in cases))
    done: dict[int, dict] = {}
    start = 0
    env = dict(os.environ, **DETERMINISTIC_ENV)
    while start < len(cases):
        _watch([sys.executable, __file__, "--replay", str(cases_path), str(results_path), str(start)], env, results_path)
        if results_path.exists():
            for line in results_path.read_text().splitlines():
                r = json.loads(line)
                done[r["i"]] = r
        nxt = max(done, default=-1) + 1
        if nxt < len(cases) and nxt == start:   # the case at `start` killed (or stalled) the process
            done[start] = {"i": start, "ms": None, "outcome": "died"}
            nxt = start + 1
        start = nxt
    return done


def _watch(cmd: list[str], env: dict[str, str], results_path: Path) -> None:
    """Run a replay worker; kill it when no case finished for STALL_S seconds (a case that deadlocks in a
    process an earlier case's wild write corrupted: in the campaign each ran in its own child)."""
    def lines() -> int:
        return len(results_path.read_text().splitlines()) if results_path.exists() else 0

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen, since = lines(), time.monotonic()
    while proc.poll() is None:
        time.sleep(0.5)
        n = lines()
        if n != seen:
            seen, since = n, time.monotonic()
        elif time.monotonic() - since > STALL_S:
            proc.kill()
            proc.wait()


def probe_worker(cases_path: Path, n: int, out_path: Path) -> int:
    """A fork server in this process, its steps timed: where the fork server's own share goes."""
    import statistics

    from tirfuzz.fuzzer.execution import forkserver as fs
    from tirfuzz.fuzzer.core.case import TestCase

    times: dict[str, list[float]] = {"warm_wait": [], "child_round_trip": [], "spawn_next": [], "reap": []}

    def timed(fn, key, static=False):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                times[key].append((time.perf_counter() - t) * 1e3)
        return staticmethod(wrapper) if static else wrapper

    fs.ForkServer._await_warm = timed(fs.ForkServer._await_warm, "warm_wait", static=True)
    fs.ForkServer._collect = timed(fs.ForkServer._collect, "child_round_trip")
    fs.ForkServer._spawn = timed(fs.ForkServer._spawn, "spawn_next")
    fs.ForkServer._reap = timed(fs.ForkServer._reap, "reap")
    server = fs.ForkServer({"coverage": "tvm", "warmup": True})
    for k in times:
        times[k].clear()
    stages, totals = [], []
    cases = [TestCase.from_dict(json.loads(line)) for line in cases_path.read_text().splitlines()[:n]]
    for case in cases:
        t = time.perf_counter()
        res = server.run({"case": case.to_dict(), "timeout_s": 10.0, "memory_mb": 4096, "want_outputs": False,
                          "oracle": True, "mutate": None})
        totals.append((time.perf_counter() - t) * 1e3)
        stages.append(sum(v for k, v in res.timings_ms.items() if k != "total"))
    rt = times.pop("child_round_trip")
    out = {k: round(statistics.mean(v), 1) for k, v in times.items() if v}
    out["child_outside_stages"] = round(statistics.mean(a - b for a, b in zip(rt, stages)), 1)
    out["other"] = round(statistics.mean(totals) - statistics.mean(stages) - sum(out.values()), 1)
    out["cases"] = len(totals)
    out["isolation"] = _isolation(server.pool, cases, server.host_cc)
    out_path.write_text(json.dumps(out))
    return 0


def _isolation(pool, cases: list, host_cc: Any = None) -> dict[str, Any]:
    """What running in a fresh fork costs by itself: each case run twice in one forked child.

    The first run pays for every page it writes being copied (copy-on-write) and cold in the cache;
    the second, in the same child, finds them copied and warm, as a case in one long process does.
    """
    import resource
    import statistics

    from tirfuzz.fuzzer.execution.pipeline import run_case

    def twice(case) -> bytes:
        got = []
        for _ in range(2):
            u0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
            run_case(case, pool, want_outputs=False, oracle=True, host_cc=host_cc)
            u1 = resource.getrusage(resource.RUSAGE_SELF)
            got.append({"ms": (time.perf_counter() - t0) * 1e3, "page_faults": u1.ru_minflt - u0.ru_minflt,
                        "system_ms": (u1.ru_stime - u0.ru_stime) * 1e3})
        return json.dumps(got).encode()

    runs: list[list[dict[str, float]]] = []
    for case in cases:
        data, _, _ = run_forked(lambda case=case: twice(case))
        if data:
            runs.append(json.loads(data))
    if not runs:
        return {}
    out: dict[str, Any] = {"cases": len(runs)}
    for i, name in enumerate(("first_run_in_fresh_child", "same_case_again_in_that_child")):
        for k in ("ms", "page_faults", "system_ms"):
            out[f"{name}_{k}"] = round(statistics.mean(x[i][k] for x in runs), 1)
    return out


def probe(cases: list[dict], n: int, tmp: Path) -> dict[str, Any]:
    """Split the fork server's own time per case (run in a separate process, coverage planted there)."""
    from tirfuzz.fuzzer.execution.executor import DETERMINISTIC_ENV

    cases_path, out_path = tmp / "probe-cases.jsonl", tmp / "probe.json"
    cases_path.write_text("".join(json.dumps(c) + "\n" for c in cases[:n]))
    subprocess.run([sys.executable, __file__, "--probe", str(cases_path), str(n), str(out_path)],
                   env=dict(os.environ, **DETERMINISTIC_ENV), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=False, timeout=n * 60 + 120)
    return json.loads(out_path.read_text()) if out_path.exists() else {"error": "the probe process failed"}


def analyse(steps: list[StepRecord], raw: dict[int, dict], limit_s: float = 10.0) -> dict[str, Any]:
    """Campaign ms per exec against raw ms per case, and where the difference went (`limit_s`: the
    campaign's time limit per case, a hang's own cost on both sides)."""
    execd = [s for s in steps if s.outcome != "declined" and s.case is not None]
    n = len(execd)
    loop_s = steps[-1].t1 - steps[0].t0
    raw_ms = 0.0
    substituted = 0
    for s in execd:  # a hang's own cost is the time limit: any runner waits that long to call it one
        if s.outcome == "hang" and s.stages_ms < limit_s * 1e3:
            s.stages_ms = limit_s * 1e3
    for k, s in enumerate(execd):
        r = raw.get(k)
        if s.outcome in NOT_IN_PROCESS or r is None or r.get("ms") is None:
            raw_ms += s.stages_ms          # the child's own stage time stands in for both sides
            substituted += 1
        else:
            raw_ms += r["ms"]
    run_s = sum(s.run_s for s in steps)
    b = Breakdown()
    b.case_stages_in_child = sum(s.stages_ms for s in execd) / n
    b.mutation_in_child = sum(s.mutate_ms for s in execd if not s.ahead) / n
    b.mutation_parse_in_child = sum(s.mutate_parse_ms for s in execd if not s.ahead) / n
    b.mutation_ahead = sum(s.mutate_ms for s in execd if s.ahead) / n
    b.waiting_for_mutant = sum(s.take_s for s in steps) * 1e3 / n
    b.handing_over_mutation = sum(s.send_s for s in steps) * 1e3 / n
    b.fork_server = sum(s.total_ms - s.stages_ms - (0.0 if s.ahead else s.mutate_ms) for s in execd) / n
    b.executor_ipc = sum(s.run_s * 1e3 - s.total_ms for s in execd if not s.followed_up) / n
    b.executor_follow_ups = sum(s.run_s * 1e3 - s.total_ms for s in execd if s.followed_up) / n
    b.driver = (loop_s - run_s - sum(s.take_s + s.send_s for s in steps)) * 1e3 / n
    ran = {id(s) for s in execd}
    b.declined_mutations = sum(s.run_s * 1e3 for s in steps if id(s) not in ran) / n
    b.raw_case_in_process = raw_ms / n
    camp_ms = loop_s * 1e3 / n
    return {"execs": n, "steps": len(steps), "loop_s": round(loop_s, 2),
            "campaign_execs_per_s": round(n / loop_s, 3), "raw_cases_per_s": round(n / (raw_ms / 1e3), 3),
            "campaign_ms_per_exec": round(camp_ms, 1), "raw_ms_per_case": round(raw_ms / n, 1),
            "ratio": round((n / loop_s) / (n / (raw_ms / 1e3)), 3), "overhead": round(camp_ms / (raw_ms / n) - 1, 3),
            # the executor's follow-ups are oracle work the in-process replay does not do: counted apart
            "overhead_without_follow_ups": round((camp_ms - b.executor_follow_ups) / (raw_ms / n) - 1, 3),
            "followed_up": sum(1 for s in execd if s.followed_up),
            "outcomes": {o: sum(1 for s in execd if s.outcome == o) for o in sorted({s.outcome for s in execd})},
            "child_time_substituted": substituted,
            "breakdown_ms_per_exec": {k: round(v, 1) for k, v in asdict(b).items()},
            # of the fork server's share, the kept child's try before a hang's fresh run (ExecutorConfig.kept_timeout_s)
            "fork_server_in_hangs_ms_per_exec": round(sum(s.total_ms - s.stages_ms - (0.0 if s.ahead else s.mutate_ms)
                                                          for s in execd if s.outcome == "hang") / n, 1),
            "mutations_ahead": sum(1 for s in execd if s.ahead),
            "ok_case_ms_in_child": _quantiles([s.total_ms for s in execd if s.outcome == "ok"]),
            "coverage_and_fork_in_case_stages_ms": round(b.case_stages_in_child - b.raw_case_in_process, 1)}


def _quantiles(ms: list[float]) -> dict[str, float]:
    """Median, 99th percentile and most of a list of milliseconds (what a kept child's time limit must pass)."""
    if not ms:
        return {}
    ms = sorted(ms)
    return {"median": round(ms[len(ms) // 2], 1), "p99": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1),
            "max": round(ms[-1], 1)}


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--replay":
        return replay_worker(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
    if len(sys.argv) == 5 and sys.argv[1] == "--probe":
        return probe_worker(Path(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time", type=float, default=120.0, help="campaign seconds")
    ap.add_argument("--execs", type=int, default=None,
                    help="run the campaign for this many execs instead of --time: the same cases under two commits "
                         "whose mutants and verdicts agree (a fair side-by-side)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", default=SEEDS, help="built-in seeds the campaign starts from (comma-separated)")
    ap.add_argument("--targets", default="llvm,c")
    ap.add_argument("--out", default="throughput", help="result name under bench/results/")
    ap.add_argument("--probe", type=int, default=12, help="cases run through a timed fork server (0: none)")
    ap.add_argument("--dump", default=None, help="also write each executed case's times here (JSON lines: the "
                                                  "child's stages, its replay, its child's earlier cases)")
    ap.add_argument("--no-ahead", action="store_true", help="each mutation in the case's child before its run "
                                                            "(`tirfuzz fuzz --no-ahead`), not ahead in the mutator")
    args = ap.parse_args()
    from tirfuzz.corpus import list_seeds

    known = {s.name for s in list_seeds()}
    seeds = [s for s in args.seeds.split(",") if s]
    if args.time <= 0 or not seeds or any(s not in known for s in seeds):
        bad = next((s for s in seeds if s not in known), None)
        print(f"error: {'--seeds: no built-in seed named ' + repr(bad) if bad else '--time must be positive'}",
              file=sys.stderr)
        return 2
    targets = [t for t in args.targets.split(",") if t]
    with tempfile.TemporaryDirectory(prefix="tirfuzz-throughput-") as tmp:
        steps, row = record_campaign(Path(tmp) / "campaign", None if args.execs else args.time, args.seed, seeds,
                                     targets, args.execs, ahead=not args.no_ahead)
        execd = [s for s in steps if s.outcome != "declined" and s.case is not None]
        if not execd:
            print("error: the campaign executed no mutant (too short a --time?)", file=sys.stderr)
            return 1
        print(f"campaign: {len(execd)} executed cases in {steps[-1].t1 - steps[0].t0:.1f} s after the seeds; "
              "replaying them in one process", file=sys.stderr)
        t0 = time.perf_counter()
        raw = replay([s.case if s.outcome != "hang" else {"skip": True} for s in execd], Path(tmp))
        replay_s = time.perf_counter() - t0
        replayable = [s.case for s in execd if s.outcome not in NOT_IN_PROCESS]
        split = probe(replayable, args.probe, Path(tmp)) if args.probe > 0 else {}
    from tirfuzz.fuzzer.campaign.config import CampaignConfig

    res = analyse(steps, raw, CampaignConfig(out="").timeout_s)  # the campaign runs with the default limit
    if args.dump:
        with open(args.dump, "w") as f:
            for k, s in enumerate(execd):
                f.write(json.dumps({"i": k, "outcome": s.outcome, "child_ms": round(s.stages_ms, 2),
                                    "replay_ms": raw.get(k, {}).get("ms"), "total_ms": round(s.total_ms, 2),
                                    "cases_before": s.cases_before, "kept_run": s.kept_run,
                                    "confirming": s.confirming,
                                    "followed_up": s.followed_up, "stages": s.stages,
                                    "replay_stages": raw.get(k, {}).get("stages")}) + "\n")
    res["fork_server_split_ms_per_case"] = split
    res["replay_wall_s"] = round(replay_s, 1)
    res["replay_outcomes_differing"] = sum(1 for k, s in enumerate(execd) if raw.get(k, {}).get("outcome")
                                           not in (None, s.outcome) and s.outcome not in NOT_IN_PROCESS)
    res.update({"time_s": None if args.execs else args.time, "execs_asked": args.execs, "seed": args.seed,
                "ahead": not args.no_ahead,
                "seeds": seeds, "targets": targets, "target_overhead": 0.10})
    info = machine()
    write_result(args.out, {"summary": res, "machine": info, "campaign_final_row": row})
    for k, v in res["breakdown_ms_per_exec"].items():
        print(f"{k:28} {v:10.1f} ms/exec", file=sys.stderr)
    for k, v in split.items():
        if k != "isolation":
            print(f"  fork server, {k:24} {v:>8} (ms per case, {split.get('cases', 0)} cases re-run)", file=sys.stderr)
    for k, v in split.get("isolation", {}).items():
        print(f"  isolation, {k:42} {v:>9}", file=sys.stderr)
    print(json.dumps({**{k: res[k] for k in ("ratio", "overhead", "overhead_without_follow_ups", "campaign_execs_per_s", "raw_cases_per_s",
                                             "campaign_ms_per_exec", "raw_ms_per_case", "execs")},
                      "breakdown_ms_per_exec": res["breakdown_ms_per_exec"],
                      "fork_server_split_ms_per_case": split, "time_s": None if args.execs else args.time,
                      "execs_asked": args.execs,
                      "cores": info["cores"], "cpu": info["cpu"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
