"""How a campaign scales out: `--jobs N` fork servers on this machine, or Ray actors with `--ray`."""

from __future__ import annotations

from typing import Callable

from tirfuzz.fuzzer.campaign.campaign import Campaign
from tirfuzz.fuzzer.campaign.parallel import ParallelRunner, local_workers
from tirfuzz.fuzzer.campaign.ray_workers import RayPool, connect


def parallel_runner(ray_address: str | None, jobs: int | None) -> Callable[[Campaign], ParallelRunner] | None:
    """None for one local job; else a function making a campaign's ParallelRunner: `jobs` fork servers here,
    or Ray actors on the cluster at `ray_address` (RayUnavailable when none answers)."""
    if ray_address is None:
        if (jobs or 1) == 1:
            return None
        return lambda c: ParallelRunner(c, lambda covered: local_workers(c, jobs, covered))
    cluster = connect(ray_address)
    count = jobs or max(cluster["cpus"], 1)

    def runner(c: Campaign) -> ParallelRunner:
        pool = RayPool(c, count)
        return ParallelRunner(c, pool.make, pool.respawn)

    return runner
