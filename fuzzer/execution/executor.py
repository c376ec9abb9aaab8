"""The executor: the campaign's handle on a fork server that runs cases in isolated children."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.result import ExecResult, ReferenceTry
from tirfuzz.fuzzer.core.runtime import kind_of
from tirfuzz.fuzzer.execution import wire
from tirfuzz.fuzzer.execution.reference import REFERENCE_JOB, reference_target
from tirfuzz.fuzzer.execution.scratch import folders_of
from tirfuzz.oracles.verdict import HANG_FACTOR, ran, reference_limit

ADDR_NO_RANDOMIZE = 0x0040000
# The fork server runs single-threaded with a fixed hash seed: with TVM's thread pool on, how its
# threads interleave changes which blocks a run reaches (tens per run), and a campaign is no longer
# repeatable. Parallel loops still compile and run, on one thread.
DETERMINISTIC_ENV = {"PYTHONHASHSEED": "0", "TVM_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
                     "OPENBLAS_NUM_THREADS": "1"}


def _no_aslr() -> None:
    """In the fork server before exec: fixed addresses, so TVM's pointer-keyed maps iterate alike every run."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.personality(ctypes.c_ulong(libc.personality(ctypes.c_ulong(0xFFFFFFFF)) | ADDR_NO_RANDOMIZE))
    except (OSError, AttributeError):
        pass  # no personality(2): runs stay valid, only less repeatable


class ExecutorError(RuntimeError):
    """The fork server could not start or keeps dying (never a verdict on a case)."""


@dataclass
class ExecutorConfig:
    """Limits and options every case of an executor runs under."""

    timeout_s: float = 10.0
    memory_mb: int = 4096
    coverage: str | None = None          # None, "tvm" or "all"
    granularity: str = "block"           # "block" or "function"
    plugins: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()        # extra filters files (oracles/filters.toml format)
    warmup: bool = True
    preload_sites: Any = None            # coverage sites already covered (resumed campaigns)
    env: dict[str, str] = field(default_factory=dict)
    jobs: tuple[tuple[str, str], ...] = ()  # (name, "module:function") a child may run before its case
    reference_on_hang: bool = True       # a time-limit hang is followed by the reference try (see `run`)
    # A kept child's time-limit hang: its reference try runs beside its fresh run, on another core (with two
    # or more; `_beside_try` says when its outcome stands)
    reference_beside: bool = True
    # Cases one child may run one after another (1: a fresh child per case). A result other than ok from
    # a child that ran cases before is judged again in a fresh one, unless a fresh one gave that same result
    # before (forkserver.ForkServer.run).
    persistent: int = 1
    # A kept child's verdict counts only when ok: a case using this many seconds of CPU time there (or the
    # case's limit, if shorter) is killed and run again, with the whole limit, in a fresh child. A hang
    # then costs this plus the limit, not the limit twice. CPU time, not the clock: on a loaded machine (a
    # second campaign, the mutator) a case must not be stopped where a quiet one finishes it, or which child
    # runs which case, and so its heap and the blocks it reaches, would follow the load. A kept child that
    # sleeps is stopped at the case's limit.
    kept_timeout_s: float = 2.0
    # And a kept child whose compiled code (a `run:` stage) uses this much CPU time is stopped there too: the
    # longest run of 1,321 ok cases in five campaigns took 18 ms, while a hang is most often a program that runs
    # forever (1 s before: each hang's kept try cost 1.2 s, a fifth of the fuzzer's own time in a campaign with 4).
    kept_run_s: float = 0.25
    pass_features: bool = False          # each case's (pass, feature) pairs in its result (pipeline.run_case)


class Executor:
    """Starts a fork server on first use, sends it cases, restarts it if it dies."""

    def __init__(self, config: ExecutorConfig | None = None):
        self.config = config or ExecutorConfig()
        self.proc: subprocess.Popen | None = None
        self.info: dict[str, Any] = {}
        self.restarts = 0
        self._pending = False  # a request was sent and its answer not read (interrupted by Ctrl-C)
        self._unsettled: list[tuple] = []  # the cases of results `run` gave `confirming`, until `settle`
        self._cores = len(os.sched_getaffinity(0))  # a reference try beside a fresh run needs a core of its own
        self._starting = False  # launched, not yet ready (`launch`)

    def launch(self) -> None:
        """Start the fork server without waiting for it: it imports TVM and warms up (seconds), while the
        caller does its own work (a command checking its input); `start` waits for it."""
        if self.proc is not None:
            return
        to_srv_r, to_srv_w = os.pipe()
        from_srv_r, from_srv_w = os.pipe()
        env = dict(os.environ, **DETERMINISTIC_ENV, **self.config.env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tirfuzz.fuzzer.execution.forkserver", str(to_srv_r), str(from_srv_w)],
            pass_fds=(to_srv_r, from_srv_w), stdin=subprocess.DEVNULL, start_new_session=True, env=env,
            preexec_fn=_no_aslr)
        os.close(to_srv_r)
        os.close(from_srv_w)
        self._w, self._r = to_srv_w, from_srv_r
        self._starting = True
        c = self.config
        options = {"plugins": list(c.plugins), "filters": list(c.filters), "coverage": c.coverage, "granularity": c.granularity,
                   "warmup": c.warmup, "preload_sites": c.preload_sites, "persistent": c.persistent,
                   "kept_timeout_s": c.kept_timeout_s, "kept_run_s": c.kept_run_s, "pass_features": c.pass_features,
                   "jobs": list(c.jobs) + ([REFERENCE_JOB] if REFERENCE_JOB[0] not in dict(c.jobs) else [])}
        try:
            wire.send(self._w, options)
        except (BrokenPipeError, OSError):
            pass  # it died at once: `start` says so

    def start(self) -> dict[str, Any]:
        """The fork server, started (`launch`) and ready; its info."""
        if self.proc is not None and not self._starting:
            return self.info
        self.launch()
        try:
            kind, payload = wire.recv(self._r)
        except (EOFError, BrokenPipeError, OSError) as e:
            self.close()
            raise ExecutorError(f"fork server did not start: {e}") from None
        finally:
            self._starting = False
        if kind != "ready":
            self.close()
            raise ExecutorError(str(payload))
        self.info = payload
        return self.info

    def run(self, case: TestCase, want_outputs: bool = True, want_sites: bool = False,
            mutate: dict[str, Any] | None = None, oracle: bool = False, want_json: bool = False,
            check: bool = False, module_json: str | None = None, later: bool = False) -> ExecResult:
        """Run one case in a fresh child; the verdict on the case is in the result.

        With `mutate` ({"seed": int, "kinds": [...], "donor": case dict or None}) the child first mutates
        the case (it parses the IR, which this process never does) and runs the mutant: `result.case` is
        the mutant, `result.mutation` what was done; outcome "declined" when no mutation applied.
        With `oracle`, the child also runs the round-trip and differential oracles (`result.oracle`).
        With `want_json` (always when mutating), `result.ir_json` is the parsed case in TVM's JSON; pass it
        back as mutate["ir_json"] (or ["donor_json"]) and the child loads it instead of parsing the text.
        A case that runs past the time limit is followed by the reference try (`_try_reference`), whose
        outcome is `result.reference_try`: every command sees it, so every command judges a hang alike.
        A crash once compiled code ran (or such a hang whose reference finished) is followed by the
        checked run of the same case in another child (`check`), its record in `result.oracle["checked"]`.
        With `check`, the child runs only the checked run (pipeline.run_case(check=True)).
        Without oracles a mutant runs as the mutator's module (`result.ran_module`; a mutant made `ahead`:
        its `module_json`); a bug found so is run again from the mutant's text, and that run's verdict is
        the case's (`_from_text`).
        With `later`, a kept child's result other than ok that must be judged again in a fresh child may come
        back `confirming`, no verdict yet: that fresh run goes on alongside the next `run`, and `settle` gives
        the verdict (the fork server waits for it after the next case's run, before judging that one).
        """
        res = self._request(case, want_outputs, want_sites, mutate, oracle, want_json, check, module_json=module_json,
                            later=later)
        ran_case = TestCase.from_dict(res.case) if res.case is not None else case if not mutate else None
        if check or ran_case is None:
            return res
        if res.confirming:
            self._unsettled.append((ran_case, want_outputs, want_sites, oracle, want_json))
            return res
        return self._follow_up(res, ran_case, want_outputs, want_sites, oracle, want_json)

    def settle(self) -> ExecResult | None:
        """The verdict on the oldest result `run` marked `confirming` and not settled yet (None when there is
        none): its fresh run, with the follow-ups `run` gives any result. If the fork server died meanwhile, the
        case runs again in a fresh child now."""
        if not self._unsettled:
            return None
        ran_case, want_outputs, want_sites, oracle, want_json = self._unsettled.pop(0)
        got = None
        if self.proc is not None:
            try:
                self._drain()
                wire.send(self._w, {"op": "settle"})
                got = wire.recv(self._r)[1]
            except (EOFError, BrokenPipeError, OSError):
                self._reap()
                self.restarts += 1
        if got is None:
            got = self._request(ran_case, want_outputs, want_sites, None, oracle, want_json, fresh=True)
        return self._follow_up(got, ran_case, want_outputs, want_sites, oracle, want_json)

    def _follow_up(self, res: ExecResult, ran_case: TestCase, want_outputs: bool, want_sites: bool, oracle: bool,
                   want_json: bool) -> ExecResult:
        """What `run` adds to a case's result: the text's run of a module's bug, the reference try of a hang,
        the checked run of a crash."""
        if res.ran_module and (res.is_bug or res.outcome == "tool-error"):
            res = self._from_text(res, ran_case, want_outputs, want_sites, oracle, want_json)
        beside, res.reference_beside = res.reference_beside, None
        if self.config.reference_on_hang and res.outcome == "hang" and res.resource == "time":
            target = reference_target(res.target)
            res.reference_try = self._beside_try(beside, target)
            if res.reference_try is None:
                res.reference_try = self._try_reference(ran_case, target)
        finished = res.reference_try is not None and res.reference_try.outcome == "finished"
        if ran(res) and "checked" not in res.oracle and (res.outcome == "crash" or res.outcome == "hang" and finished):
            res.oracle["checked"] = self.check(ran_case)
        return res

    def _from_text(self, res: ExecResult, case: TestCase, want_outputs: bool, want_sites: bool, oracle: bool,
                   want_json: bool) -> ExecResult:
        """The verdict on a mutant that failed as the mutator's module, from its text parsed in a fresh child
        (what a report's reproducer runs); the module's run is kept in `module_run`, its coverage merged."""
        text = self._request(case, want_outputs, want_sites, None, oracle, want_json)
        text.case, text.mutation, text.ir_json = res.case, res.mutation, text.ir_json or res.ir_json
        text.module_run = {"outcome": res.outcome, "stage": res.stage, "target": res.target,
                           "message": res.message[:500]}
        seen = set(text.new_sites)
        text.new_sites += [s for s in res.new_sites if s not in seen]
        text.new_blocks += res.new_blocks
        text.cov_total = max(text.cov_total, res.cov_total)
        text.timings_ms["total"] = text.timings_ms.get("total", 0.0) + res.timings_ms.get("total", 0.0)
        return text

    def check(self, case: TestCase) -> dict[str, Any]:
        """The checked run's record for `case` (oracles/differential.explain_by_checks), from its own child;
        when that child fails too, what happened to it."""
        got = self.run(case, want_outputs=False, check=True)
        if "checked" in got.oracle:
            return got.oracle["checked"]
        return {"filter": None, "error": f"{got.outcome} at {got.stage}: {got.message[:300]}"}

    def _beside_try(self, beside: tuple[str, float, float | None, ExecResult] | None, target: str) -> ReferenceTry | None:
        """The reference try the fork server ran beside a kept child's hang's fresh run (`res.reference_beside`),
        when it was for `target` and its outcome is the one it would have had alone: it failed (no matter
        how fast), it finished within a tenth of the limit (another process on the machine only slows a
        run), or it was too slow even without the time it waited for a core (measured on the run; not for
        C, whose host compiler's waiting is not). Otherwise None: the try runs again, alone."""
        if beside is None or beside[0] != target:
            return None
        _, waited, queued_s, r = beside
        tried = reference_try_from(r, self.config.timeout_s, waited, target)
        fast_ms = self.config.timeout_s * 1e3 / HANG_FACTOR
        tried.beside = True
        if tried.outcome == "failed" or tried.outcome == "finished" and tried.elapsed_ms <= fast_ms:
            return tried
        if queued_s is not None and kind_of(target) != "c" and tried.elapsed_ms - queued_s * 1e3 > fast_ms:
            return tried
        return None

    def _try_reference(self, case: TestCase, target: str) -> ReferenceTry:
        """Build the case's program with TVM's default pipeline for `target` (no case passes, default config)
        and run it on the case's inputs, in a child stopped after `reference_limit` of this executor's time
        limit (past a tenth of it, the hang is too slow to test however the reference ends): did it finish?
        The child's code is private: none of it counts as coverage. How far a try stopped at its limit got
        depends on the machine's load, and a campaign's coverage, so its corpus, must not (the same seed
        keeps the same entries, however busy the machine)."""
        limit = self.config.timeout_s
        waited = reference_limit(limit)
        r = self._request(case, False, False, {"job": REFERENCE_JOB[0], "target": target}, False, False,
                          timeout_s=waited, private=True)
        return reference_try_from(r, limit, waited, target)

    def _request(self, case: TestCase, want_outputs: bool, want_sites: bool, mutate: dict[str, Any] | None,
                 oracle: bool, want_json: bool, check: bool = False, timeout_s: float | None = None,
                 module_json: str | None = None, later: bool = False, fresh: bool = False,
                 private: bool = False) -> ExecResult:
        """One request to the fork server (restarted once if it died); its result. `private`: the child's
        code is private, nothing it runs counts as coverage."""
        req = {"case": case.to_dict(), "timeout_s": timeout_s or self.config.timeout_s, "memory_mb": self.config.memory_mb,
               "want_outputs": want_outputs, "want_sites": want_sites, "mutate": mutate, "oracle": oracle,
               "want_json": want_json or bool(mutate), "check": check, "module_json": module_json, "later": later,
               "fresh": fresh, "private": private}
        if self.config.reference_on_hang and self.config.reference_beside and self._cores >= 2 and (
                mutate is None or mutate.get("job", "mutate") == "mutate") and not check:
            req["reference"] = {"job": REFERENCE_JOB[0], "timeout_s": reference_limit(self.config.timeout_s)}
        for attempt in range(2):
            self.start()
            try:
                self._drain()
                self._pending = True
                wire.send(self._w, req)
                kind, res = wire.recv(self._r)
                self._pending = False
                return res
            except (EOFError, BrokenPipeError, OSError):
                self._reap()
                self.restarts += 1
        raise ExecutorError("the fork server died twice on the same case")

    def ahead(self, case: TestCase, mutate: dict[str, Any]) -> None:
        """Start a mutation of `case` (`mutate` as `run` takes it) in the fork server's mutator child, a child
        of its own whose TVM code counts no coverage: it runs alongside the next `run`, on another core.
        `take` returns the mutant; run it with `module_json=mutant.ir_json`."""
        req = {"case": case.to_dict(), "timeout_s": self.config.timeout_s, "memory_mb": self.config.memory_mb,
               "mutate": mutate}
        self.start()
        self._drain()
        try:
            wire.send(self._w, {"op": "ahead", "req": req})
            wire.recv(self._r)
        except (EOFError, BrokenPipeError, OSError):  # `take` finds nothing handed over, and says so
            self._reap()
            self.restarts += 1

    def take(self) -> ExecResult:
        """The mutation `ahead` started: outcome ok with `case` (the mutant), `mutation` (what was done) and
        `ir_json` (its module); "declined"; or the mutator child's crash or hang, with no `case` (a failure
        of the mutation, as when a child dies while mutating in `run`)."""
        self.start()
        self._drain()
        try:
            wire.send(self._w, {"op": "take"})
            return wire.recv(self._r)[1]
        except (EOFError, BrokenPipeError, OSError):
            self._reap()
            self.restarts += 1
        return ExecResult(outcome="crash", stage="mutate", message="the fork server died while mutating")

    def covered(self):
        """Every coverage site covered so far in the fork server's process tree (None without coverage)."""
        self.start()
        self._drain()
        wire.send(self._w, {"op": "covered"})
        return wire.recv(self._r)[1]

    def preload(self, sites) -> int:
        """Mark these coverage sites covered (found by another executor of the campaign); how many were new."""
        self.start()
        self._drain()
        wire.send(self._w, {"op": "preload", "sites": np.asarray(sites, dtype=np.uint32)})
        return int(wire.recv(self._r)[1])

    def _drain(self) -> None:
        """Read and drop the answer to a request whose caller was interrupted."""
        if self._pending:
            wire.recv(self._r)
            self._pending = False

    def _reap(self) -> None:
        for fd in (getattr(self, "_w", None), getattr(self, "_r", None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._w = self._r = None
        self._pending = False
        if self.proc is not None:
            try:
                self.proc.kill()
            except OSError:
                pass
            self.proc.wait()
            # the server's children's temporary files, if it could not remove them itself (killed while
            # starting: its folder is known by its pid only)
            for scratch in [self.info["scratch"]] if self.info.get("scratch") else folders_of(self.proc.pid):
                shutil.rmtree(scratch, ignore_errors=True)
        self.proc = None
        self._starting = False

    def close(self) -> None:
        """Stop the fork server: told to exit when it is ready (it removes its children's files), killed
        when it was launched and never waited for (a command that found its input bad)."""
        if self.proc is not None and not self._starting:
            try:
                os.close(self._w)  # EOF: the server exits on its own
                self._w = None
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._reap()

    def __enter__(self) -> "Executor":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass


def reference_try_from(r: ExecResult, limit: float, waited: float, target: str) -> ReferenceTry:
    """The reference try's record from its child's result (the `reference` job, stopped after `waited`)."""
    total = float(r.timings_ms.get("total", 0.0))
    if r.outcome == "declined":  # the job ran to its end: its info says how the reference went
        info = r.mutation or {}
        return ReferenceTry(str(info.get("reference", "failed")), limit, float(info.get("elapsed_ms", total)),
                            str(info.get("stage", "")), str(info.get("message", "")), target, waited)
    if r.outcome == "hang" and r.resource == "time":
        return ReferenceTry("hang", limit, total, "", f"the reference did not finish within {waited:g} s", target, waited)
    # it crashed or ran out of memory: it did not finish either
    return ReferenceTry("failed", limit, total, r.stage, f"{r.outcome}: {r.message[:300]}", target, waited)
