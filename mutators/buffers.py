"""Buffer mutators: dtype (float16/bfloat16/int8/int64...), shape and strides, storage scope."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tirfuzz.fuzzer.tir.exprgen import dkind, is_scalar
from tirfuzz.fuzzer.tir.tree import dtype_of, is_buffer, tvm_mod
from tirfuzz.mutators.base import MutationContext, MutationOutcome, Mutator
from tirfuzz.mutators.sites import choose

DTYPES = {"float": ["float16", "bfloat16", "float64", "float32"], "int": ["int8", "int16", "int64", "int32", "uint8"],
          "uint": ["uint16", "int32", "uint32", "uint8"]}


@dataclass
class BufferInfo:
    """A buffer that may be changed: where it is defined and whether the function's caller provides it."""

    buf: Any
    func: str
    param: bool
    stored: bool
    viewed: bool = False  # some DeclBuffer view aliases its memory


def _buffers(mod) -> list[BufferInfo]:
    """Internal buffers (AllocBuffer, block alloc_buffers) and parameter buffers of every PrimFunc."""
    import tvm_ffi

    tvm = tvm_mod()
    tx = tvm.tirx
    out: list[BufferInfo] = []
    for gv, f in mod.functions.items():
        if not isinstance(f, tx.PrimFunc):
            continue
        stored: list = []
        allocs: list = []

        def on_store(s):
            stored.append(s.buffer)

        def on_alloc(a):
            allocs.append(a.buffer)

        def on_block(b):
            allocs.extend(b.alloc_buffers)

        tvm_ffi.structural_walk(f.body, [(tx.BufferStore, on_store), (tx.AllocBuffer, on_alloc),
                                         (tvm.s_tir.SBlock, on_block)])
        views: list = []  # (view buffer, buffers its data pointer comes from)

        def on_decl(d):
            src: list = []
            tvm_ffi.structural_walk(d.data, (tvm.ir.Var, src.append))
            views.append((d.buffer, src))

        tvm_ffi.structural_walk(f.body, (tx.DeclBuffer, on_decl))

        def is_stored(b):
            if any(b.same_as(x) for x in stored):
                return True
            return any(any(b.same_as(x) for x in src) and is_stored(v) for v, src in views if not v.same_as(b))

        aliased = [x for _, src in views for x in src]

        def viewed(b):  # a DeclBuffer view reads the same memory with its own dtype and shape
            return any(b.same_as(x) for x in aliased)

        for b in allocs:
            out.append(BufferInfo(b, str(gv.name_hint), False, True, viewed(b)))
        for p in f.params:
            if is_buffer(p):
                out.append(BufferInfo(p, str(gv.name_hint), True, is_stored(p), viewed(p)))
    return out


def _new_buffer(old, shape=None, dtype=None, scope=None, strides=None):
    tx = tvm_mod().tirx
    return tx.decl_buffer(list(shape if shape is not None else old.shape), dtype or str(old.dtype), str(old.name),
                          strides=strides if strides is not None else (list(old.strides) or None),
                          elem_offset=old.elem_offset, scope=scope or old.scope(),
                          data_alignment=int(old.data_alignment), offset_factor=int(old.offset_factor))


def replace_buffer(mod, func: str, old, new, recast: bool = False):
    """The module with buffer `old` replaced by `new` in one function (casting loads and stores when asked)."""
    import tvm_ffi

    tvm = tvm_mod()
    ir, tx = tvm.ir, tvm.tirx
    old_dt, new_dt = str(old.dtype), str(new.dtype)

    def var(v):
        return new if v.same_as(old) else v

    def load(ld):
        if recast and ld.source.same_as(new):
            return tx.Cast(old_dt, tx.BufferLoad(new, list(ld.indices)))
        return ld

    def store(st):
        if recast and st.buffer.same_as(new):
            return tx.BufferStore(new, tx.Cast(new_dt, st.value), list(st.indices))
        return st

    gv = mod.get_global_var(func)
    f = tvm_ffi.structural_map(mod[gv], [(ir.TensorLoad, load), (tx.BufferStore, store), (ir.Var, var)])
    return tvm.IRModule({g: (f if g.same_as(gv) else fn) for g, fn in mod.functions.items()}, attrs=mod.attrs)


@dataclass
class BufferDtype(Mutator):
    """Change the dtype of an internal buffer or an input parameter; loads and stores convert at the boundary."""

    name: str = "buffer-dtype"
    weight: float = 1.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        cands = [b for b in _buffers(ctx.mod) if is_scalar(str(b.buf.dtype)) and dkind(str(b.buf.dtype)) in DTYPES
                 and not (b.param and b.stored) and not b.viewed]
        info = choose(rng, cands, "internal or input buffer")
        old_dt = str(info.buf.dtype)
        options = [d for d in DTYPES[dkind(old_dt)] if d != old_dt]
        if info.param:
            options = [d for d in options if d != "bfloat16"]  # tirfuzz cannot make bfloat16 inputs
        new_dt = rng.choice(options)
        risks = ["f2i"] if dkind(old_dt) == "float" and dkind(new_dt) != "float" else []
        new = _new_buffer(info.buf, dtype=new_dt)
        mod = replace_buffer(ctx.mod, info.func, info.buf, new, recast=True)
        return MutationOutcome(detail={"buffer": str(info.buf.name), "from": old_dt, "to": new_dt,
                                       "param": info.param}, mod=mod, risks=risks)


@dataclass
class BufferShape(Mutator):
    """Grow a buffer's dimensions (accesses stay in bounds) or give an internal buffer padded strides."""

    name: str = "buffer-shape"
    weight: float = 1.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        cands = [b for b in _buffers(ctx.mod) if b.buf.shape and all(isinstance(d, tx.IntImm) for d in b.buf.shape)]
        info = choose(rng, cands, "buffer with a constant shape")
        shape = [int(d.value) for d in info.buf.shape]
        dt = dtype_of(info.buf.shape[0]) or "int32"
        if not info.param and rng.random() < 0.5:
            strides, acc = [], 1
            pad = rng.choice([1, 3, 8])
            for i, d in enumerate(reversed(shape)):
                strides.append(acc)
                acc *= d + (pad if i == 0 and len(shape) > 1 else 0)
            strides = [tx.IntImm(dt, s) for s in reversed(strides)]
            new = _new_buffer(info.buf, strides=strides)
            how = f"strides+{pad}"
        else:
            d = rng.randrange(len(shape))
            grow = rng.choice([1, 2, 7])
            shape[d] += grow
            new = _new_buffer(info.buf, shape=[tx.IntImm(dt, s) for s in shape])
            how = f"dim{d}+{grow}"
        mod = replace_buffer(ctx.mod, info.func, info.buf, new)
        return MutationOutcome(detail={"buffer": str(info.buf.name), "how": how, "param": info.param}, mod=mod)


@dataclass
class BufferScope(Mutator):
    """Move an internal buffer to another storage scope (global, local, shared)."""

    name: str = "buffer-scope"
    weight: float = 0.7

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        info = choose(rng, [b for b in _buffers(ctx.mod) if not b.param], "internal buffer")
        old = info.buf.scope()
        to = rng.choice([s for s in ("global", "local", "shared") if s != old])
        new = _new_buffer(info.buf, scope=to)
        mod = replace_buffer(ctx.mod, info.func, info.buf, new)
        return MutationOutcome(detail={"buffer": str(info.buf.name), "from": old, "to": to}, mod=mod)


def buffer_mutators() -> list[Mutator]:
    return [BufferDtype(), BufferShape(), BufferScope()]
