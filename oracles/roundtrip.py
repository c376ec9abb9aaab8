"""The round-trip oracle: print a module as TVMScript, parse it back, and require the same module
(up to the normalization block regions get when parsed: then one more round must change nothing)."""

from __future__ import annotations

from tirfuzz.oracles.base import PARSED, Finding, Oracle, OracleContext

NORMALIZED = (".reads[", ".writes[", ".extent")  # parts the parser recomputes and simplifies
STAGE = "roundtrip:parsed"


class RoundTripOracle(Oracle):
    """The parsed case's module must survive print and parse: outcome `roundtrip` when it does not."""

    name = "roundtrip"
    point = PARSED

    def check(self, ctx: OracleContext) -> Finding | None:
        problem = ctx.stage(STAGE, None, lambda: check_roundtrip(ctx.mod))
        return Finding("roundtrip", STAGE, problem) if problem else None


def check_roundtrip(mod) -> str | None:
    """None when `parse(script(mod))` is structurally equal to mod; otherwise what went wrong, one line."""
    import tvm
    import tvm.script
    import tvm_ffi

    try:
        text = mod.script()
    except Exception as e:  # noqa: BLE001
        return f"printer: {type(e).__name__}: {_first_line(e)}"
    try:
        back = tvm.script.from_source(text, check_well_formed=False)
    except Exception as e:  # noqa: BLE001
        return f"parser: {type(e).__name__}: {_first_line(e)}"
    if isinstance(back, tvm.tirx.PrimFunc):
        back = tvm.IRModule({"main": back})
    if tvm_ffi.structural_equal(mod, back, map_free_vars=True):
        return None
    mismatch = tvm_ffi.get_first_structural_mismatch(mod, back, map_free_vars=True)
    where = str(mismatch[0]) if mismatch else "?"
    if any(k in where for k in NORMALIZED) and _settles(mod, back):
        # Loop ranges and block regions print as start:stop (range(start, stop)) and parse back as
        # simplify(stop - start): `v * 9 % 4` may come back as `v % 4`, a + b as b + a (and back again on
        # the next round). The same value, normalized: not reported as a printer/parser bug.
        return None
    return f"structural mismatch after print and parse at {where[:300]}"


def _settles(mod, back) -> bool:
    """Whether one more print and parse of `back` gives `back` again or the original `mod`."""
    import tvm
    import tvm.script
    import tvm_ffi

    again = tvm.script.from_source(back.script(), check_well_formed=False)
    if isinstance(again, tvm.tirx.PrimFunc):
        again = tvm.IRModule({"main": again})
    return bool(tvm_ffi.structural_equal(back, again, map_free_vars=True)
                or tvm_ffi.structural_equal(mod, again, map_free_vars=True))


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else ""
