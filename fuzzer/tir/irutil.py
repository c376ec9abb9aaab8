"""Small TIR helpers shared by the mutators: dtypes, field replacement, substitution, buffer facts."""

from __future__ import annotations

from typing import Any

DEBUG = False


def tvm_mod():
    """The tvm module, imported on first use (pass mutators never import TVM through this file)."""
    import tvm
    import tvm.s_tir  # noqa: F401

    return tvm


_FIELDS: dict[str, list] = {}


def _all_fields(cls) -> list:
    key = cls.__tvm_ffi_type_info__.type_key
    if key not in _FIELDS:
        out, info = [], cls.__tvm_ffi_type_info__
        while info is not None:
            out = list(info.fields) + out
            info = info.parent_type_info
        _FIELDS[key] = out
    return _FIELDS[key]


def with_fields(node, **kw):
    """A new FFI object like `node` with some fields replaced (the reflection constructor, all fields)."""
    import tvm_ffi

    make = tvm_ffi.get_global_func("ffi.MakeObjectFromPackedArgs")
    args: list = []
    for f in _all_fields(type(node)):
        args += [f.name, kw.pop(f.name) if f.name in kw else f.getter(node)]
    if kw:
        raise KeyError(f"{type(node).__name__} has no fields {sorted(kw)}")
    return make(type(node).__tvm_ffi_type_info__.type_key, *args)


def dtype_of(expr) -> str | None:
    """The dtype string of a primitive expression ("int32", "float32x4", "bool"), or None for handles etc."""
    ty = getattr(expr, "ty", None)
    dt = getattr(ty, "dtype", None) if ty is not None else None
    return str(dt) if dt is not None and type(ty).__name__ == "PrimType" else None


def is_buffer(var) -> bool:
    return type(getattr(var, "ty", None)).__name__ == "BufferType"


def call_name(expr) -> str | None:
    """The name of a Call's op without its namespace ("exp", "if_then_else"), or None."""
    op = getattr(expr, "op", None)
    return str(op.name).rpartition(".")[2] if op is not None and hasattr(op, "name") else None


def substitute(node, mapping: list[tuple[Any, Any]]):
    """node with every occurrence of each variable replaced by its expression."""
    import tvm_ffi

    ir = tvm_mod().ir

    def sub(v):
        for k, e in mapping:
            if v.same_as(k):
                return e
        return v

    return tvm_ffi.structural_map(node, (ir.Var, sub)) if mapping else node


def free_vars(node) -> list:
    """The scalar variables a node uses (each once, in first-use order)."""
    import tvm_ffi

    ir = tvm_mod().ir
    out: list = []

    def visit(v):
        if dtype_of(v) is not None and not is_buffer(v) and not any(v.same_as(x) for x in out):
            out.append(v)

    tvm_ffi.structural_walk(node, (ir.Var, visit))
    return out


def written_buffers_with_views(body) -> list:
    """Buffers stored to anywhere in a function body, plus the buffers their views (DeclBuffer) alias."""
    import tvm_ffi

    tvm = tvm_mod()
    stored: list = []
    views: list = []  # (view, buffers named in its data pointer)

    def on_store(s):
        stored.append(s.buffer)

    def on_decl(d):
        src: list = []
        if d.data is not None:
            tvm_ffi.structural_walk(d.data, (tvm.ir.Var, src.append))
        views.append((d.buffer, [v for v in src if is_buffer(v)]))

    tvm_ffi.structural_walk(body, [(tvm.tirx.BufferStore, on_store), (tvm.tirx.DeclBuffer, on_decl)])
    out = list(stored)
    changed = True
    while changed:  # a written view writes what it aliases, and the other way round
        changed = False
        for v, src in views:
            group = [v] + src
            if any(any(g.same_as(x) for x in out) for g in group):
                for g in group:
                    if not any(g.same_as(x) for x in out):
                        out.append(g)
                        changed = True
    return out


def refresh_regions(blk, buffers):
    """An SBlock with reads/writes recomputed from its body (after a mutation changed the accesses)."""
    tvm = tvm_mod()
    try:
        rw = tvm.s_tir.analysis.get_sblock_read_write_region(blk, {b: b for b in buffers})
        return with_fields(blk, reads=list(rw[0]), writes=list(rw[1]))
    except Exception as e:  # noqa: BLE001  (regions stay as they were; the verifier judges)
        if DEBUG:
            print("refresh_regions:", e)
        return blk


def internal_writers(body) -> set[int]:
    """Hashes of the statements that (somewhere inside) store to a buffer allocated in the function."""
    import tvm_ffi

    tvm = tvm_mod()
    tx = tvm.tirx
    internal: list = []

    def on_alloc(a):
        internal.append(a.buffer)

    def on_block(b):
        internal.extend(b.alloc_buffers)

    tvm_ffi.structural_walk(body, [(tx.AllocBuffer, on_alloc), (tvm.s_tir.SBlock, on_block)])
    marks: set[int] = set()
    if not internal:
        return marks
    stack = [False]

    def on_stmt(v, vis):
        stack.append(isinstance(v, tx.BufferStore) and any(v.buffer.same_as(b) for b in internal))
        vis.default_visit(v)
        if stack.pop():
            marks.add(hash(v))
            stack[-1] = True

    tvm_ffi.structural_visit(body, [(tx.Stmt, on_stmt)])
    return marks
