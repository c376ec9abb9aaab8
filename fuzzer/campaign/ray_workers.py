"""`fuzz --ray auto|ADDRESS|local`: workers as Ray actors, one fork server each, spread over the nodes.

The driver (the `tirfuzz fuzz` process) keeps the campaign: schedule, corpus, coverage map, bugs and
the campaign directory, exactly as with --jobs. Each actor owns an Executor (its own fork server and
coverage map) on its node and runs the mutations the driver sends it; results (mutant, outcome, new
coverage sites) come back to the driver, which merges them (fuzzer/campaign/parallel.py). Coverage sites are
indices into the compiler library's block table, so every node must run the same TVM wheel: an actor
whose libtvm build-id differs from the driver's is refused. Every node needs tirfuzz installed in the
Python that runs its Ray workers. Ray is an optional extra: `pip install "tirfuzz[ray]"`.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import numpy as np

from tirfuzz.fuzzer.campaign.campaign import Campaign
from tirfuzz.fuzzer.campaign.parallel import LocalWorker, WorkerLost
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig

START_TIMEOUT_S = 300.0   # an actor that cannot start its fork server in this long is a failed start


class RayUnavailable(RuntimeError):
    """Ray is not installed, the cluster cannot be reached, or an actor cannot start."""


def _ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--ray needs Ray: pip install \"tirfuzz[ray]\" (or pip install ray)") from None
    return ray


def connect(address: str) -> dict[str, Any]:
    """Join the cluster at `address` ("auto", "HOST:PORT", "ray://HOST:PORT", or "local" for a new
    single-node instance); returns its CPU count and node count."""
    ray = _ray()
    if not ray.is_initialized():
        _probe(address)
        try:
            ray.init(address=None if address == "local" else address, include_dashboard=False,
                     log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise RayUnavailable(f"--ray {address}: cannot connect to a Ray cluster: {first}") from None
    res = ray.cluster_resources()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {"cpus": int(res.get("CPU", 0)), "nodes": len(nodes)}


def _probe(address: str, timeout_s: float = 10.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on (Ray itself retries for minutes)."""
    hostport = address.split("://", 1)[-1]
    if address in ("auto", "local") or ":" not in hostport:
        return
    host, _, port = hostport.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except (OSError, ValueError) as e:
        raise RayUnavailable(f"--ray {address}: no Ray cluster answers there ({e})") from None


class _ExecutorActor:
    """The body of a Ray actor: one local worker (fork server) on the actor's node."""

    def __init__(self, config: dict[str, Any]):
        self.worker = LocalWorker(Executor(ExecutorConfig(**config)), "actor")
        self.info = self.worker.executor.start()

    def hello(self) -> dict[str, Any]:
        cov = self.info.get("coverage") or {}
        return {"host": socket.gethostname(), "pid": os.getpid(), "server_pid": self.worker.executor.proc.pid,
                "build_id": cov.get("build_id")}

    def run(self, case: dict[str, Any], spec: dict[str, Any], oracle: bool, preload: np.ndarray | None) -> ExecResult:
        return self.worker.run(TestCase.from_dict(case), spec, oracle, preload)

    def close(self) -> None:
        self.worker.close()


@dataclass
class RayWorker:
    """The driver's handle on one actor."""

    name: str
    actor: Any
    where: dict[str, Any]

    def run(self, case: TestCase, spec: dict[str, Any], oracle: bool, preload: np.ndarray | None) -> ExecResult:
        ray = _ray()
        try:
            return ray.get(self.actor.run.remote(case.to_dict(), spec, oracle, preload))
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError,
                ray.exceptions.NodeDiedError, ray.exceptions.OwnerDiedError) as e:
            raise WorkerLost(type(e).__name__) from None

    def close(self) -> None:
        ray = _ray()
        try:
            ray.get(self.actor.close.remote(), timeout=10)
        except Exception:  # noqa: BLE001  (dead or stuck: kill it below)
            pass
        ray.kill(self.actor)


class RayPool:
    """Starts actors for a campaign, checks them against the driver, and replaces lost ones."""

    def __init__(self, campaign: Campaign, count: int):
        self.campaign, self.count, self.started = campaign, count, 0
        self.build_id = (campaign.runner.info.get("coverage") or {}).get("build_id")
        self.workers_log: list[dict[str, Any]] = []
        ray = _ray()
        self.actor_class = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0)(_ExecutorActor)

    def _start(self, covered: np.ndarray) -> RayWorker:
        ray = _ray()
        base = self.campaign.runner.config
        config = {**base.__dict__, "preload_sites": covered}
        actor = self.actor_class.options(scheduling_strategy="SPREAD").remote(config)
        name = f"ray worker {self.started}"
        self.started += 1
        try:
            where = ray.get(actor.hello.remote(), timeout=START_TIMEOUT_S)
        except Exception as e:  # noqa: BLE001
            ray.kill(actor)
            raise RayUnavailable(f"{name} did not start: {str(e).strip().splitlines()[-1] if str(e).strip() else e}") from None
        if self.build_id and where.get("build_id") != self.build_id:
            ray.kill(actor)
            raise RayUnavailable(f"{name} on {where['host']} runs another libtvm (build-id {where.get('build_id')}, "
                                 f"driver {self.build_id}): install the same TVM wheel on every node")
        self.workers_log.append({"name": name, **where})
        self.campaign.store.write_json("workers.json", self.workers_log)
        self.campaign.on_event(f"{name} on {where['host']} (pid {where['pid']})")
        return RayWorker(name, actor, where)

    def make(self, covered: np.ndarray) -> list[RayWorker]:
        return [self._start(covered) for _ in range(self.count)]

    def respawn(self, lost: RayWorker, covered: np.ndarray) -> RayWorker:
        _ray().kill(lost.actor)
        for rec in self.workers_log:
            if rec["name"] == lost.name:
                rec["lost"] = True
        return self._start(covered)
