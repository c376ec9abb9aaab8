"""The record an execution returns: outcome, stage, error details, timings and outputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# "tool-error": a failure in tirfuzz's own code (making inputs, an oracle), never a TVM bug.
OUTCOMES = ("ok", "rejected", "crash", "hang", "internal-error", "miscompilation", "roundtrip",
            "tool-error")  # + "declined"
BUG_OUTCOMES = ("crash", "hang", "internal-error", "miscompilation", "roundtrip")


@dataclass
class ReferenceTry:
    """TVM's reference build of a case that ran past its time limit (default pipeline, default pass config,
    none of the case's passes; for the target that hung when this machine runs it, else llvm), built and
    run on the same inputs in a child, stopped after a tenth of the case's limit and a second
    (oracles/verdict.reference_limit): only a reference that fast makes the hang a bug."""

    outcome: str              # "finished", "hang" (it ran past waited_s), "failed" (it did not build or run)
    limit_s: float            # the case's time limit, the one it ran past
    elapsed_ms: float = 0.0
    stage: str = ""           # where it ended: "run" when it finished, "parse"/"build"/"run" when it failed
    message: str = ""         # why it failed
    target: str = "llvm"      # the target it was built for
    waited_s: float = 0.0     # how long the reference was let run (0: the whole limit, records of older versions)
    beside: bool = False      # run beside the fresh run of a kept child's hang, its outcome one it would have alone


@dataclass
class ExecResult:
    """What happened to one test case in an executor child."""

    outcome: str
    stage: str = ""                 # parse, precheck, pass:<name>, build:<target>, run:<target>, done
    target: str | None = None       # the target being built when the stage is target-specific
    message: str = ""
    exc_type: str | None = None
    frame: str | None = None        # top TVM C++ frame: "src/x.cc:123" or a function name
    frames: list[str] = field(default_factory=list)
    signal: str | None = None       # e.g. "SIGSEGV" for a crash
    resource: str | None = None     # "time" or "memory" for a hang
    filter: str | None = None       # the named filter that classified the case as rejected
    timings_ms: dict[str, float] = field(default_factory=dict)
    pass_changed: dict[str, list[bool]] = field(default_factory=dict)   # target -> per pass
    pass_features: list[str] = field(default_factory=list)  # (pass, feature) pairs, first target (tir/features.py)
    completion: list[str] = field(default_factory=list)  # passes the build added to the case's own
    skipped_runs: list[str] = field(default_factory=list)  # targets built but not runnable here
    dropped: dict[str, str] = field(default_factory=dict)  # target -> the backend gap (filter) it fell out by
    outputs: dict[str, dict[str, list[Any]]] = field(default_factory=dict)  # target -> func -> arrays
    stderr_tail: str = ""
    new_blocks: int = 0             # coverage sites this case uncovered first (0 without coverage)
    cov_total: int = 0
    new_sites: list[int] = field(default_factory=list)
    case: dict[str, Any] | None = None   # the case that ran, when the child made it by mutation
    mutation: dict[str, Any] = field(default_factory=dict)  # what the mutation did (or why it declined)
    oracle: dict[str, Any] = field(default_factory=dict)    # the oracles' records: the differential comparison
    ir_json: str | None = None      # the parsed module as TVM JSON: the next mutation loads it, not the text
    reference_try: ReferenceTry | None = None  # for a time-limit hang: did TVM's reference build finish?
    builds_reused: int = 0          # builds not generated again: same lowered module as one built in the case
    ran_module: bool = False        # ran the mutator's module, not its text parsed (no oracles: forkserver.py)
    module_run: dict[str, Any] | None = None  # a bug on the module, confirmed from the text (Executor.run)
    kept_run: dict[str, Any] | None = None    # not ok in a child that ran cases before: judged again fresh
    cases_before: int = 0           # cases its child ran before this one (0: a fresh child)
    confirming: bool = False        # a kept child's result other than ok, its fresh run under way: no verdict
                                    # yet (Executor.settle gives it)
    # A kept child's hang: the reference try run beside its fresh run, (target, time limit, seconds it waited
    # for a core, its result), for the executor to judge and drop (ForkServer._reference_beside)
    reference_beside: tuple[str, float, float | None, Any] | None = None

    @property
    def is_bug(self) -> bool:
        return self.outcome in BUG_OUTCOMES

    def summary(self) -> dict[str, Any]:
        """The JSON-safe part: everything but output arrays and raw site lists."""
        d = asdict(self)
        d.pop("outputs")
        d.pop("new_sites")
        d.pop("case")
        d.pop("ir_json")
        d.pop("reference_beside")
        d["outputs"] = {t: {f: [f"{a.dtype}{list(a.shape)}" for a in arrs] for f, arrs in fs.items()}
                        for t, fs in self.outputs.items()}
        return d
