"""The round-trip oracle: print a module as TVMScript, parse it back, and require the same module
(up to the normalization block regions get when parsed: then one more round must change nothing).
A module whose printed text is the case's own text is its own round trip (a mutant, printed by TVM): no
second parse.

The check lives in fuzzer/core/runtime.py, which every repro.py embeds.
"""

from __future__ import annotations

from tirfuzz.fuzzer.core.runtime import NORMALIZED, check_roundtrip
from tirfuzz.oracles.base import PARSED, Finding, Oracle, OracleContext

STAGE = "roundtrip:parsed"


class RoundTripOracle(Oracle):
    """The parsed case's module must survive print and parse: outcome `roundtrip` when it does not."""

    name = "roundtrip"
    point = PARSED

    def check(self, ctx: OracleContext) -> Finding | None:
        problem = ctx.stage(STAGE, None, lambda: check_roundtrip(ctx.mod, ctx.case.ir))
        return Finding("roundtrip", STAGE, problem) if problem else None
