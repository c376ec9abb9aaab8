"""Reads of internal buffers that no earlier write is proven to cover (for cases without a mutator record).

A mutated case carries the mutators' record of what they could not prove (`ub_risks: uninit`). A case
without one (a seed, a user's case for `tirfuzz run`, the libFuzzer baseline's byte mutants) is judged
here, statically and conservatively: an internal buffer (`T.alloc_buffer`, a block's alloc_buffers) may
be read only where the program has already written every element of it, or at exactly the element the
current iteration has just written (a reduction's update after its init, `B[i] = ...; C[i] = B[i]`).

A covering write indexes each dimension by one whole loop (or a block iterator bound to one), or by
whole loops in row-major order (`i * 16 + j` into a flattened buffer), no loop twice, outside any `if`
or `while`. It covers the buffer
once the last of those loops has finished. Anything else (a predicate, a fused binding, a diagonal
`B[v, v]`, a store through a view) leaves the buffer unproven, and a read of it makes the case's
result unspecified: its differing outputs are never reported as a miscompilation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Write:
    """A covering store seen inside loops still running: its index expressions and those loops."""

    indices: list
    loops: set[int]


@dataclass
class _State:
    buffers: list = field(default_factory=list)          # internal buffers
    covered: set[int] = field(default_factory=set)       # index into buffers: every element written
    pending: dict[int, list[_Write]] = field(default_factory=dict)
    unproven: list[str] = field(default_factory=list)    # buffer names read before proven written


def unproven_internal_reads(mod) -> list[str]:
    """Names of internal buffers some read of which is not proven to follow a write of that element."""
    import tvm

    out: list[str] = []
    for _, f in mod.functions.items():
        if isinstance(f, tvm.tirx.PrimFunc):
            st = _State()
            _Walker(st).stmt(f.body, loops=[], cond=False)
            out += [n for n in st.unproven if n not in out]
    return out


class _Walker:
    """Walks statements in execution order, tracking which loops enclose each store and load."""

    def __init__(self, st: _State):
        import tvm

        self.st, self.tvm, self.tx = st, tvm, tvm.tirx

    def _index(self, buf) -> int | None:
        for i, b in enumerate(self.st.buffers):
            if b.same_as(buf):
                return i
        return None

    def reads(self, node: Any) -> None:
        """Check every BufferLoad inside an expression (or statement fields given as expressions)."""
        import tvm_ffi

        loads: list = []
        tvm_ffi.structural_walk(node, (self.tvm.ir.TensorLoad, loads.append))
        for ld in loads:
            k = self._index(ld.source)
            if k is None or k in self.st.covered:
                continue
            if any(_same_indices(ld.indices, w.indices) for w in self.st.pending.get(k, [])):
                continue
            name = str(ld.source.name)
            if name not in self.st.unproven:
                self.st.unproven.append(name)

    def stmt(self, s: Any, loops: list, cond: bool) -> None:
        tx, sblock = self.tx, self.tvm.s_tir
        if isinstance(s, tx.SeqStmt):
            for x in s.seq:
                self.stmt(x, loops, cond)
        elif isinstance(s, tx.For):
            self.reads([s.min, s.extent])
            self.stmt(s.body, loops + [(s, s.loop_var)], cond)
            self._finish(_id(s))
        elif isinstance(s, sblock.SBlockRealize):
            self.reads(list(s.iter_values) + [s.predicate])
            true_pred = isinstance(s.predicate, tx.IntImm) and int(s.predicate.value) == 1
            blk = s.block
            self.st.buffers += list(blk.alloc_buffers)
            # a block iterator counts as the loop it is bound to, when bound to a bare loop variable
            inner = list(loops)
            for iv, val in zip(blk.iter_vars, s.iter_values):
                hit = [lp for lp, v in loops if isinstance(val, self.tvm.ir.Var) and v.same_as(val)]
                if hit and true_pred and _full(iv.dom.min, iv.dom.extent, hit[0]):
                    inner.append((hit[0], iv.var))
            if blk.init is not None:
                self.stmt(blk.init, inner, cond or not true_pred)
            self.stmt(blk.body, inner, cond or not true_pred)
        elif isinstance(s, tx.BufferStore):
            self.reads([s.value] + list(s.indices))
            k = self._index(s.buffer)
            if k is not None and not cond:
                used = _covering_loops(s, loops)
                if used is not None:
                    self.st.pending.setdefault(k, []).append(_Write(list(s.indices), used))
        elif isinstance(s, tx.IfThenElse):
            self.reads(s.condition)
            self.stmt(s.then_case, loops, True)
            if s.else_case is not None:
                self.stmt(s.else_case, loops, True)
        elif isinstance(s, tx.While):
            self.reads(s.condition)
            self.stmt(s.body, loops, True)
        elif isinstance(s, tx.AllocBuffer):
            self.st.buffers.append(s.buffer)
        elif isinstance(s, tx.AttrStmt):
            self.reads(s.value)
            self.stmt(s.body, loops, cond)
        else:  # Bind, AssertStmt, Evaluate, DeclBuffer and the rest: their loads are reads
            self.reads(s)

    def _finish(self, loop_id: int) -> None:
        """A loop ended: a pending write whose outermost covering loop it was now covers its buffer."""
        for k, writes in list(self.st.pending.items()):
            left = []
            for w in writes:
                if loop_id in w.loops:
                    w.loops.discard(loop_id)
                    if not w.loops:
                        self.st.covered.add(k)
                        continue
                left.append(w)
            self.st.pending[k] = left


def _id(node: Any) -> int:
    return hash(node)


def _same_extent(a, b) -> bool:
    """Two extents known equal: the same constant, or the same symbolic expression."""
    from tvm import tirx as tx

    if isinstance(a, tx.IntImm) and isinstance(b, tx.IntImm):
        return int(a.value) == int(b.value)
    return a.same_as(b)


def _full(lo, extent, loop) -> bool:
    """Whether [lo, lo+extent) is [0, n) and the loop runs 0..n-1 with step 1."""
    from tvm import tirx as tx

    def zero(x):
        return isinstance(x, tx.IntImm) and int(x.value) == 0

    step = getattr(loop, "step", None)
    return (zero(lo) and zero(loop.min) and _same_extent(extent, loop.extent)
            and (step is None or (isinstance(step, tx.IntImm) and int(step.value) == 1)))


def _linear(expr) -> list[tuple[Any, int]] | None:
    """expr as [(var, constant stride)] when it is a sum of variables times constants, else None."""
    import tvm
    from tvm import tirx as tx

    if isinstance(expr, tvm.ir.Var):
        return [(expr, 1)]
    if isinstance(expr, tx.Add):
        a, b = _linear(expr.a), _linear(expr.b)
        return a + b if a is not None and b is not None else None
    if isinstance(expr, tx.Mul):
        for v, c in ((expr.a, expr.b), (expr.b, expr.a)):
            if isinstance(c, tx.IntImm) and int(c.value) > 0:
                inner = _linear(v)
                return [(x, k * int(c.value)) for x, k in inner] if inner is not None else None
    return None


def _covers(index, dim, loops: list, used: set[int]) -> bool:
    """Whether index runs over all of [0, dim) once as its loops run: one whole loop, or several whole
    loops in row-major order (i * 16 + j, a flattened buffer). Adds those loops to `used`."""
    from tvm import tirx as tx

    terms = _linear(index)
    if not terms:
        return False
    found = []
    for var, stride in terms:
        hit = [lp for lp, v in loops if v.same_as(var)]
        if not hit or not isinstance(hit[-1], tx.For) or not _full(hit[-1].min, hit[-1].extent, hit[-1]):
            return False
        found.append((stride, hit[-1]))
    if len(found) == 1:
        ok = found[0][0] == 1 and _same_extent(found[0][1].extent, dim)
    else:  # constant extents only: strides 1, e1, e1*e2, ... and their product the dimension
        found.sort(key=lambda t: t[0])
        size = 1
        for stride, lp in found:
            if stride != size or not isinstance(lp.extent, tx.IntImm):
                return False
            size *= int(lp.extent.value)
        ok = isinstance(dim, tx.IntImm) and size == int(dim.value)
    ids = {_id(lp) for _, lp in found}
    if not ok or len(ids) != len(found) or ids & used:
        return False  # the same loop twice (a diagonal) is not a cover
    used |= ids
    return True


def _covering_loops(store, loops: list) -> set[int] | None:
    """The loops that together run every index of the store's buffer over its whole extent, or None."""
    shape = list(store.buffer.shape)
    idx = list(store.indices)
    if len(idx) != len(shape):
        return None
    used: set[int] = set()
    for i, dim in zip(idx, shape):
        if not _covers(i, dim, loops, used):
            return None
    return used


def _same_indices(a, b) -> bool:
    return len(a) == len(b) and all(x.same_as(y) for x, y in zip(a, b))
