"""What a campaign runs (CampaignConfig, resolved against its mode's preset) and how long: durations."""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from tirfuzz import __version__
from tirfuzz.fuzzer.campaign.presets import preset

REPLAY_TIMEOUT_FACTOR = 3   # a bug is replayed (triage, ci) with this many times the campaign's per-case limit


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
    """What a campaign runs: its budget, seeds, targets, ablations and executor limits.

    `targets` and `oracle` left as None take the mode's preset (presets.py); given, they override it.
    """

    out: str
    time_s: float | None = None
    execs: int | None = None
    seed: int = 0
    targets: list[str] | None = None
    plugins: list[str] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)   # extra filters files
    seeds: list[str] | None = None        # names of built-in seeds to start from (None: all)
    corpus_dir: str | None = None         # start from the cases in this folder instead (a kept corpus)
    mode: str = "tirfuzz"                 # a preset: tirfuzz, tzer, generate, libfuzzer
    ir_mutation: bool = True
    pass_mutation: bool = True
    feedback: bool = True
    coverage: str = "tvm"
    timeout_s: float = 10.0
    memory_mb: int = 4096
    patience: int = 8
    oracle: bool | None = None            # differential and round-trip oracles on every case
    stack: int | None = None              # most mutations one exec stacks (None: the mode's; 1: one)
    learn: bool | None = None             # mutator weights follow their yields (None: the mode's)
    structure: bool | None = None         # IR-structure feedback beside coverage (None: the mode's)
    pass_structure: bool | None = None    # with it, (pass, feature) pairs of the passes (None: the mode's)
    fresh: float | None = None            # share of execs running a fresh program (None: the mode's; 0: none)
    build_targets: bool | None = None     # cases may add targets built, not run, here (None: the mode's)
    focus: list[str] = field(default_factory=list)   # passes the campaign favours (fuzzer/campaign/focus.py)
    ahead: bool = True                    # one worker: the next mutation made while the case runs, a kept child's
                                          # failure judged aside while the next one runs (Campaign.step_ahead)

    def __post_init__(self) -> None:
        p = preset(self.mode)
        if self.targets is None:
            self.targets = list(p.targets)
        if self.oracle is None:
            self.oracle = p.oracle
        if self.stack is None:
            self.stack = p.stack
        if self.learn is None:
            self.learn = p.learn
        if self.structure is None:
            self.structure = p.structure
        if self.pass_structure is None:
            self.pass_structure = p.pass_structure
        self.pass_structure = bool(self.pass_structure and self.structure)
        if self.fresh is None:
            self.fresh = p.fresh
        if self.build_targets is None:
            self.build_targets = p.build_targets

    @property
    def replay_timeout_s(self) -> float:
        return self.timeout_s * REPLAY_TIMEOUT_FACTOR


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
