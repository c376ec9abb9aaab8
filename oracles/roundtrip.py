"""The round-trip oracle: print a module as TVMScript, parse it back, and require the same module."""

from __future__ import annotations


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
    return f"structural mismatch after print and parse at {where[:300]}"


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else ""
