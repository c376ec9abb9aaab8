"""Several workers on one campaign: one corpus, one coverage map and one bug set.

`fuzz --jobs N` runs N local workers (fork servers on this machine); `fuzz --ray` runs workers as Ray
actors on a cluster (fuzzer/campaign/ray_workers.py). Either way a driver thread per worker asks the campaign
for the next mutation, hands it to its worker and gives the result back; the campaign's state
(schedule, corpus, bugs, stats) is touched only under one lock. Each worker reports the sites its case
reached first *for it*; the runner keeps the union, counts as new only what no worker reached before,
and hands every worker the sites the others found before its next run, so none keeps trapping on them.
A worker that is lost (its process or node died) is replaced once; the case it was running is lost,
nothing already found is. With more than one worker the order of events depends on timing: the same
--seed no longer gives the same corpus.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Protocol

import numpy as np

from tirfuzz.fuzzer.campaign.campaign import Campaign
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig


class WorkerLost(RuntimeError):
    """A worker's process or node went away; the case it was running has no result."""


class Worker(Protocol):
    """What the runner needs of a worker."""

    name: str

    def run(self, case: TestCase, spec: dict[str, Any], oracle: bool, preload: np.ndarray | None) -> ExecResult: ...

    def close(self) -> None: ...


class LocalWorker:
    """A fork server on this machine."""

    def __init__(self, executor: Executor, name: str, owned: bool = True):
        self.executor, self.name, self.owned = executor, name, owned

    def run(self, case: TestCase, spec: dict[str, Any], oracle: bool, preload: np.ndarray | None) -> ExecResult:
        if preload is not None and len(preload):
            self.executor.preload(preload)
        return self.executor.run(case, want_outputs=False, want_sites=True, mutate=spec, oracle=oracle)

    def close(self) -> None:
        if self.owned:
            self.executor.close()


def local_workers(campaign: Campaign, jobs: int, covered: np.ndarray) -> list[LocalWorker]:
    """The campaign's own executor plus jobs-1 more, each told what is covered already."""
    base: ExecutorConfig = campaign.runner.config
    extra = [LocalWorker(Executor(ExecutorConfig(**{**base.__dict__, "preload_sites": covered})), f"job {i + 1}")
             for i in range(jobs - 1)]
    return [LocalWorker(campaign.runner, "job 0", owned=False), *extra]


class ParallelRunner:
    """Runs a campaign's steps on several workers at once until `done()` is true."""

    def __init__(self, campaign: Campaign, make_workers: Callable[[np.ndarray], list[Worker]],
                 respawn: Callable[[Worker, np.ndarray], Worker] | None = None):
        self.campaign, self.make_workers, self.respawn = campaign, make_workers, respawn
        self.lock = threading.Lock()
        self.sites: set[int] = set()
        self.pending: list[list[np.ndarray]] = []
        self.errors: list[BaseException] = []

    def _covered(self) -> np.ndarray:
        return np.array(sorted(self.sites), dtype=np.uint32)

    def run(self, on_tick: Callable[[], None]) -> None:
        c = self.campaign
        covered = c.runner.covered()
        self.sites = set(int(x) for x in covered) if covered is not None else set()
        c.covered_fn = self._covered
        workers = self.make_workers(self._covered())
        self.pending = [[] for _ in workers]
        threads = [threading.Thread(target=self._drive, args=(i, w, workers), daemon=True)
                   for i, w in enumerate(workers)]
        try:
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                with self.lock:
                    on_tick()
                time.sleep(0.25)
        finally:
            for w in workers:
                try:
                    w.close()
                except Exception:  # noqa: BLE001  (a lost worker may not close cleanly)
                    pass
        if self.errors:
            raise self.errors[0]
        if not c.done():
            raise WorkerLost("every worker was lost before the campaign's budget was spent")

    def _drive(self, i: int, worker: Worker, workers: list[Worker]) -> None:
        c = self.campaign
        replaced = False
        try:
            while True:
                with self.lock:
                    if c.done() or self.errors:
                        return
                    entry, kinds, spec = c.plan()
                    case = c.case_for(entry)
                    todo, self.pending[i] = self.pending[i], []
                try:
                    res = worker.run(case, spec, c.config.oracle, np.concatenate(todo) if todo else None)
                except WorkerLost as e:
                    with self.lock:
                        c.stats.lost_runs += 1
                        c.on_event(f"{worker.name} lost ({e}); its case is dropped, nothing found is")
                    if replaced or self.respawn is None:
                        return
                    replaced = True
                    try:
                        worker = self.respawn(worker, self._covered())
                    except Exception as e:  # noqa: BLE001  (the others go on)
                        with self.lock:
                            c.on_event(f"no replacement: {e}")
                        return
                    workers[i] = worker
                    with self.lock:
                        self.pending[i] = []
                        c.on_event(f"{worker.name} replaces it")
                    continue
                with self.lock:
                    self._merge(i, res)
                    c.absorb(entry, kinds, res)
        except BaseException as e:  # noqa: BLE001  (reported by run() in the main thread)
            with self.lock:
                self.errors.append(e)

    def _merge(self, i: int, res: ExecResult) -> None:
        """Count as new only the sites no worker reached before; queue them for the other workers."""
        new = [s for s in res.new_sites if s not in self.sites]
        self.sites.update(new)
        if new:
            arr = np.array(new, dtype=np.uint32)
            for j in range(len(self.pending)):
                if j != i:
                    self.pending[j].append(arr)
        res.new_blocks, res.cov_total, res.new_sites = len(new), len(self.sites), []

