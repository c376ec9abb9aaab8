"""The oracle interface: `Oracle`, the `OracleContext` it reads, the `Finding` it returns.

An oracle runs at one point of a case's pipeline (fuzzer/execution/pipeline.py). At `PARSED`, right
after the case parsed and passed its pre-check, it sees the module. At `BUILT`, after every target was
built and run, it also sees the builds with their outputs and can compile the module with other pass
sequences. The pipeline runs the oracles of a list in order at each point; the first finding that is a
bug becomes the case's outcome and ends the case.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

from tirfuzz.fuzzer.core.case import TestCase

PARSED = "parsed"   # after parse and pre-check: the module only
BUILT = "built"     # after every target was built and run: the builds and their outputs too
POINTS = (PARSED, BUILT)

# A build that ran: (the runnable functions by name, the device it ran on, the buffers after its run
# by function). Targets built but not runnable here (no GPU) have none.
Build = tuple[Any, Any, dict]

# Runs `fn` as a named stage of the pipeline for a target (or None), times it and returns fn's value;
# an exception becomes a failure of that stage. Oracles run their work through it.
StageRunner = Callable[[str, str | None, Callable[[], Any]], Any]

# Compiles the case's module for a target with a pass sequence (then the completion passes it does not
# name), under the case's pass config or the given one; returns the runnable functions by name.
Compiler = Callable[..., dict[str, Any]]


@dataclass
class Finding:
    """What an oracle concluded: a bug (any outcome but "ok"), or with "ok" only a record to keep."""

    outcome: str                    # "roundtrip", "miscompilation", ...; "ok" when nothing is wrong
    stage: str = ""                 # the result's stage for a bug: "roundtrip:parsed", "oracle:<target>"
    message: str = ""
    target: str | None = None       # the build that is wrong, when one is
    frame: str | None = None        # where the bug is: the culprit pass of a miscompilation
    record: dict[str, Any] = field(default_factory=dict)  # merged into ExecResult.oracle

    @property
    def is_bug(self) -> bool:
        return self.outcome != "ok"


@dataclass
class OracleContext:
    """What an oracle reads: the case, its module and entry functions, and at `BUILT` its builds."""

    case: TestCase
    mod: Any                        # the parsed, pre-checked IRModule
    funcs: dict[str, Any]           # entry PrimFuncs by global symbol
    stage: StageRunner
    compile_with: Compiler | None = None
    builds: dict[str, Build] = field(default_factory=dict)  # target -> build, for targets that ran


class Oracle(ABC):
    """A check of a case at one point of the pipeline: a name, the point, and `check`."""

    name: str = "oracle"
    point: str = BUILT

    @abstractmethod
    def check(self, ctx: OracleContext) -> Finding | None:
        """A finding about ctx's case, or None when there is nothing to report or record."""
