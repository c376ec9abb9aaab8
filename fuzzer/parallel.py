"""`--jobs N`: N fork servers on one campaign, one corpus, one coverage map and one bug set.

Each worker thread drives its own executor; the campaign's state (schedule, corpus, bugs, stats) is
touched only under one lock. Each executor reports the sites its case reached first *for it*; the
campaign keeps the union, counts as new only what no executor reached before, and hands every
executor the sites the others found before its next run, so none keeps trapping on them. With more
than one job the order of events depends on timing: the same --seed no longer gives the same corpus.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

from .campaign import Campaign
from .executor import Executor, ExecutorConfig


class ParallelRunner:
    """Runs a campaign's steps on `jobs` executors at once until `done()` is true."""

    def __init__(self, campaign: Campaign, jobs: int):
        self.campaign, self.jobs = campaign, jobs
        self.lock = threading.Lock()
        self.sites: set[int] = set()
        self.pending: list[list[np.ndarray]] = [[] for _ in range(jobs)]
        self.errors: list[BaseException] = []

    def _covered(self) -> np.ndarray:
        return np.array(sorted(self.sites), dtype=np.uint32)

    def run(self, on_tick: Callable[[], None]) -> None:
        c = self.campaign
        covered = c.executor.covered()
        self.sites = set(int(x) for x in covered) if covered is not None else set()
        c.covered_fn = self._covered
        base: ExecutorConfig = c.executor.config
        extra = [Executor(ExecutorConfig(**{**base.__dict__, "preload_sites": self._covered()}))
                 for _ in range(self.jobs - 1)]
        executors = [c.executor, *extra]
        threads = [threading.Thread(target=self._worker, args=(i, ex), daemon=True) for i, ex in enumerate(executors)]
        try:
            for t in threads:
                t.start()
            while any(t.is_alive() for t in threads):
                with self.lock:
                    on_tick()
                time.sleep(0.25)
        finally:
            for ex in extra:
                ex.close()
        if self.errors:
            raise self.errors[0]

    def _worker(self, i: int, ex: Executor) -> None:
        c = self.campaign
        try:
            while True:
                with self.lock:
                    if c.done() or self.errors:
                        return
                    entry, kinds, spec = c.plan()
                    case = c.cases[entry.id]
                    todo, self.pending[i] = self.pending[i], []
                if todo:
                    ex.preload(np.concatenate(todo))
                res = ex.run(case, want_outputs=False, want_sites=True, mutate=spec, oracle=c.config.oracle)
                with self.lock:
                    new = [s for s in res.new_sites if s not in self.sites]
                    self.sites.update(new)
                    if new:
                        arr = np.array(new, dtype=np.uint32)
                        for j in range(self.jobs):
                            if j != i:
                                self.pending[j].append(arr)
                    res.new_blocks, res.cov_total, res.new_sites = len(new), len(self.sites), []
                    c.absorb(entry, kinds, res)
        except BaseException as e:  # noqa: BLE001  (reported by run() in the main thread)
            with self.lock:
                self.errors.append(e)
