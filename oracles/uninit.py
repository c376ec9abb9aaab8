"""Reads of internal buffers that no earlier write is proven to cover (for cases without a mutator record).

A mutated case carries the mutators' record of what they could not prove (`ub_risks: uninit`). A case
without one (a seed, a user's case for `tirfuzz run`, the libFuzzer baseline's byte mutants) is judged
here, statically and conservatively: an internal buffer (`T.alloc_buffer`, a block's alloc_buffers) may
be read only where the program has already written every element of it, or at exactly the element the
current iteration has just written (a reduction's update after its init, `B[i] = ...; C[i] = B[i]`).

A covering write stores at distinct loop variables (or block iterators bound one-to-one to such loops),
each running from 0 over the buffer's whole extent, outside any `if` or `while`. It covers the buffer
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

    def reads(self, node: Any, allowed: list | None = None) -> None:
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
            self._finish(id_of(s))
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


def id_of(node: Any) -> int:
    return hash(node)


def _full(lo, extent, loop) -> bool:
    """Whether [lo, lo+extent) is [0, n) and the loop runs 0..n-1 with step 1."""
    from tvm import tirx as tx

    def const(x):
        return int(x.value) if isinstance(x, tx.IntImm) else None

    step = getattr(loop, "step", None)
    return (const(lo) == 0 and const(loop.min) == 0 and const(extent) is not None
            and const(extent) == const(loop.extent) and (step is None or const(step) == 1))


def _covering_loops(store, loops: list) -> set[int] | None:
    """The loops whose variables index every dimension of the store's buffer once, or None."""
    import tvm

    from tvm import tirx as tx

    shape = list(store.buffer.shape)
    idx = list(store.indices)
    if len(idx) != len(shape):
        return None
    used: set[int] = set()
    for i, dim in zip(idx, shape):
        if not isinstance(i, tvm.ir.Var) or not isinstance(dim, tx.IntImm):
            return None
        hit = [lp for lp, v in loops if v.same_as(i)]
        if not hit:
            return None
        lp = hit[-1]
        if isinstance(lp, tx.For) and not _full(tx.IntImm("int32", 0), dim, lp):
            return None
        if id_of(lp) in used:
            return None  # two dimensions on one loop: a diagonal
        used.add(id_of(lp))
    return used


def _same_indices(a, b) -> bool:
    return len(a) == len(b) and all(x.same_as(y) for x, y in zip(a, b))
