"""The mutator interface: `Mutator`, the `MutationContext` it reads, the `MutationOutcome` it returns.

IR mutators parse the case's TVMScript, and parsing evaluates Python: they run only in a process that
may run the case (an executor child). Pass, config and target mutators never parse the IR.
`mutators/mutate.py` draws a mutator and applies it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.passes import PassPool
from tirfuzz.fuzzer.core.tvmapi import parse
from tirfuzz.fuzzer.tir.tree import collect

KINDS = ("ir", "pass", "config", "target")


class Decline(Exception):
    """A mutator that does not apply to this case, with the reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class MutationOutcome:
    """What a mutator made: a new module (IR mutators) or a new case (the others), and what it did."""

    detail: dict[str, Any]
    mod: Any = None                     # IR mutators: the mutated IRModule
    case: TestCase | None = None        # pass, config and target mutators: the new case
    risks: list[str] = field(default_factory=list)  # undefined behaviour it may have introduced
    safety: bool = True                 # run the index-safety pass on the result (IR mutators)


@dataclass
class MutationContext:
    """The case being mutated, with its parsed module and sites computed on first use."""

    case: TestCase
    pool: PassPool | None = None
    donor: TestCase | None = None
    mod_json: str | None = None         # the module as TVM JSON, when a run of the case kept it
    donor_json: str | None = None
    ir_changed: bool = False            # an earlier mutation of the same stack changed the module
    _mod: Any = None
    _sites: Any = None
    _donor_mod: Any = None
    parse_ms: float = 0.0

    @property
    def mod(self):
        """The case's IRModule (parses the TVMScript: only in a process allowed to run the case)."""
        if self._mod is None:
            t0 = time.perf_counter()
            self._mod = _load(self.case.ir, self.mod_json)
            self.parse_ms += (time.perf_counter() - t0) * 1e3
        return self._mod

    def sites(self):
        """Every site of the module (see tree.Site), computed once."""
        if self._sites is None:
            self._sites = collect(self.mod)
        return self._sites

    @property
    def donor_mod(self):
        if self._donor_mod is None and self.donor is not None:
            t0 = time.perf_counter()
            self._donor_mod = _load(self.donor.ir, self.donor_json)
            self.parse_ms += (time.perf_counter() - t0) * 1e3
        return self._donor_mod

    @property
    def has_blocks(self) -> bool:
        """Whether the IR is block-level (s_tir); read from the text, so pass mutators need no parse."""
        return "T.sblock(" in self.case.ir


def _load(text: str, json_text: str | None):
    """The module from its TVM JSON when there is one (about 1 ms), else parsed from the TVMScript.

    The JSON was written by this TVM (`run_case(want_json=True)`), so it is read without
    `tvm.ir.load_json`'s upgrade step, which re-encodes the whole graph in Python (6-7 ms a module).
    """
    if json_text:
        from tvm_ffi.serialization import from_json_graph_str

        try:
            return from_json_graph_str(json_text)
        except Exception:  # noqa: BLE001  (never worse than parsing)
            pass

    return parse(text)


@dataclass
class Mutator:
    """A mutation operator: a name, a weight for random choice, a kind, and `apply`."""

    name: str = "mutator"
    weight: float = 1.0
    kind: str = "ir"

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        """A mutation of ctx.case, or None when this mutator does not apply (or raise Decline)."""
        raise NotImplementedError
