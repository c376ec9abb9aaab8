"""Schedule-primitive mutations of block-level programs through `s_tir.Schedule`, keeping the trace."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tirfuzz.fuzzer.tir.tree import tvm_mod
from tirfuzz.mutators.base import Decline, MutationContext, MutationOutcome, Mutator
from tirfuzz.mutators.loops import PARALLEL, _contains_kind

ATTEMPTS = 4  # primitives tried before declining (each raises ScheduleError when its checks fail)
MAX_VECTOR = 64
REDUCE = 2  # IterVar.iter_type of a reduction iterator (CommReduce)
ANNOTATIONS = (("pragma_auto_unroll_max_step", [4, 16, 64]), ("pragma_unroll_explicit", [0, 1]),
               ("pragma_loop_partition_hint", [1]), ("tirfuzz.note", [1]))


def _blocks(sch) -> list[str]:
    import tvm_ffi

    names: list[str] = []

    def visit(b):
        names.append(str(b.name_hint))

    tvm_ffi.structural_walk(sch.mod, (tvm_mod().s_tir.SBlock, visit))
    return [n for n in names if n != "root"]


def _extent(sch, loop) -> int | None:
    tx = tvm_mod().tirx
    f = sch.get(loop)
    return int(f.extent.value) if isinstance(f.extent, tx.IntImm) else None


# Primitives that size buffers or loops from block regions: after a mutation made some block write only
# part of what its region claims (or update a buffer without an init), they can expose unwritten elements.
REGION_PRIMITIVES = {"cache_read", "cache_write", "rfactor", "set_scope", "compute_at", "reverse_compute_at",
                     "compute_inline", "reverse_compute_inline", "decompose_reduction", "decompose_padding"}


def irregular_writes(mod) -> bool:
    """Whether a block stores somewhere other than at its own distinct iterators, or updates without init."""
    import tvm_ffi

    tvm = tvm_mod()
    tx = tvm.tirx
    blocks: list = []

    def on_block(b):
        blocks.append(b)

    tvm_ffi.structural_walk(mod, (tvm.s_tir.SBlock, on_block))
    for b in blocks:
        if not b.iter_vars:
            continue
        ivs = [iv.var for iv in b.iter_vars]
        stores: list = []

        def on_store(s):
            stores.append(s)

        tvm_ffi.structural_walk(b.body, (tx.BufferStore, on_store))
        for s in stores:
            idx = list(s.indices)
            if not all(isinstance(i, tvm.ir.Var) and any(i.same_as(v) for v in ivs) for i in idx):
                return True
            if len({hash(i) for i in idx}) != len(idx):
                return True
        reads = {hash(r.source) for r in b.reads}
        if b.init is None and any(hash(w.source) in reads for w in b.writes):
            return True
    return False


def _reduction_loops(sch, block) -> list:
    """The loops of a block bound only to its reduction iterators."""
    blk = sch.get(block)
    red = [iv.var for iv in blk.iter_vars if int(iv.iter_type) == REDUCE]
    binding = _binding(sch, block)
    out = []
    for lp in sch.get_loops(block):
        lv = sch.get(lp).loop_var
        users = [v for v, val in binding if any(x.same_as(lv) for x in _vars(val))]
        if users and all(any(u.same_as(r) for r in red) for u in users):
            out.append(lp)
    return out


def _vars(expr) -> list:
    import tvm_ffi

    out: list = []
    tvm_ffi.structural_walk(expr, (tvm_mod().ir.Var, out.append))
    return out


def _binding(sch, block) -> list:
    """(iterator var, bound value) pairs of a block, read from its SBlockRealize."""
    import tvm_ffi

    blk = sch.get(block)
    found: list = []

    def visit(r):
        if r.block.same_as(blk):
            found.append(r)

    tvm_ffi.structural_walk(sch.mod, (tvm_mod().s_tir.SBlockRealize, visit))
    if not found:
        return []
    return [(iv.var, v) for iv, v in zip(blk.iter_vars, found[0].iter_values)]


class _Prims:
    """Each primitive: choose its operands at random and apply it (raising when TVM's checks refuse)."""

    def __init__(self, sch, rng: random.Random):
        self.sch, self.rng = sch, rng

    def block(self):
        names = _blocks(self.sch)
        if not names:
            raise Decline("no blocks")
        return self.sch.get_sblock(self.rng.choice(names))

    def loop(self, block=None):
        loops = self.sch.get_loops(block if block is not None else self.block())
        if not loops:
            raise ValueError("block has no loops")
        return self.rng.choice(loops)

    def split(self):
        lp = self.loop()
        n = _extent(self.sch, lp)
        if n is None or n < 2:
            raise ValueError("no constant extent to split")
        divisors = [d for d in range(2, n) if n % d == 0]
        f = self.rng.choice(divisors) if divisors and self.rng.random() < 0.7 else self.rng.randrange(2, max(n, 3))
        self.sch.split(lp, [None, f])
        return {"factor": f}

    def fuse(self):
        loops = self.sch.get_loops(self.block())
        if len(loops) < 2:
            raise ValueError("fewer than two loops")
        i = self.rng.randrange(len(loops) - 1)
        self.sch.fuse(loops[i], loops[i + 1])
        return {"at": i}

    def reorder(self):
        loops = self.sch.get_loops(self.block())
        if len(loops) < 2:
            raise ValueError("fewer than two loops")
        i, j = sorted(self.rng.sample(range(len(loops)), 2))
        self.sch.reorder(loops[j], loops[i])
        return {"swap": [i, j]}

    def parallel(self):
        block = self.block()
        lp = self.loop(block)
        nest = [self.sch.get(x) for x in self.sch.get_loops(block)]
        if any(int(f.kind) == PARALLEL for f in nest) or _contains_kind(self.sch.get(lp).body, PARALLEL):
            raise ValueError("nested parallel loops are documented as unsupported")
        self.sch.parallel(lp)
        return {}

    def vectorize(self):
        lp = self.loop()
        n = _extent(self.sch, lp)
        if n is None or n > MAX_VECTOR:
            raise ValueError("vector loop too long or symbolic")
        self.sch.vectorize(lp)
        return {"lanes": n}

    def unroll(self):
        lp = self.loop()
        n = _extent(self.sch, lp)
        if n is None or n > MAX_VECTOR:
            raise ValueError("unrolled loop too long or symbolic")
        self.sch.unroll(lp)
        return {"extent": n}

    def compute_inline(self):
        self.sch.compute_inline(self.block())
        return {}

    def reverse_compute_inline(self):
        self.sch.reverse_compute_inline(self.block())
        return {}

    def cache_read(self):
        b = self.block()
        n = len(self.sch.get(b).reads)
        if not n:
            raise ValueError("block reads nothing")
        scope = self.rng.choice(["global", "local", "shared"])
        self.sch.cache_read(b, self.rng.randrange(n), scope)
        return {"scope": scope}

    def cache_write(self):
        b = self.block()
        n = len(self.sch.get(b).writes)
        scope = self.rng.choice(["global", "local", "shared"])
        self.sch.cache_write(b, self.rng.randrange(n), scope)
        return {"scope": scope}

    def compute_at(self):
        b = self.block()
        consumers = self.sch.get_consumers(b)
        if not consumers:
            raise ValueError("no consumer")
        self.sch.compute_at(b, self.loop(self.rng.choice(consumers)), preserve_unit_loops=self.rng.random() < 0.5)
        return {}

    def reverse_compute_at(self):
        b = self.block()
        producers = self.sch.get_producers(b)
        if not producers:
            raise ValueError("no producer")
        self.sch.reverse_compute_at(b, self.loop(self.rng.choice(producers)))
        return {}

    def rfactor(self):
        b = self.block()
        red = _reduction_loops(self.sch, b)
        if not red:
            raise ValueError("no reduction loop")
        lp = self.rng.choice(red)
        n = _extent(self.sch, lp)
        if n is not None and n >= 4 and self.rng.random() < 0.6:
            lp = self.sch.split(lp, [None, 2 if n % 2 == 0 else n])[1]
        self.sch.rfactor(lp, 0)
        return {}

    def decompose_reduction(self):
        b = self.block()
        if self.sch.get(b).init is None:
            raise ValueError("no init")
        self.sch.decompose_reduction(b, self.loop(b))
        return {}

    def storage_align(self):
        b = self.block()
        writes = self.sch.get(b).writes
        if not writes:
            raise ValueError("no writes")
        i = self.rng.randrange(len(writes))
        ndim = len(writes[i].source.shape)
        if ndim < 2:
            raise ValueError("storage_align needs 2+ dimensions")
        factor = self.rng.choice([4, 8, 16, 32])
        self.sch.storage_align(b, i, self.rng.randrange(ndim - 1), factor, self.rng.randrange(factor))
        return {"factor": factor}

    def annotate(self):
        on_loop = self.rng.random() < 0.7
        # pragma_loop_partition_hint names a loop: on a block, LoopPartition later finds no loop var
        key, values = self.rng.choice([a for a in ANNOTATIONS if on_loop or a[0] != "pragma_loop_partition_hint"])
        target = self.loop() if on_loop else self.block()
        self.sch.annotate(target, key, self.rng.choice(values))
        return {"key": key}

    def bind_vthread(self):
        lp = self.loop()
        n = _extent(self.sch, lp)
        if n is None or n > 16:
            raise ValueError("vthread extent too large")
        self.sch.bind(lp, "vthread.x")
        return {}

    def set_scope(self):
        b = self.block()
        n = len(self.sch.get(b).writes)
        if not n:
            raise ValueError("no writes")
        scope = self.rng.choice(["local", "shared", "global"])
        self.sch.set_scope(b, self.rng.randrange(n), scope)
        return {"scope": scope}

    def add_unit_loop(self):
        self.sch.add_unit_loop(self.block())
        return {}

    def loop_partition(self):
        lp = self.loop()
        n = _extent(self.sch, lp)
        if n is None or n < 2:
            raise ValueError("no constant extent")
        self.sch.loop_partition(lp, [None, self.rng.randrange(1, n)])
        return {}

    def decompose_padding(self):
        b = self.block()
        self.sch.decompose_padding(b, self.loop(b))
        return {}


PRIMITIVES: dict[str, float] = {
    "split": 3, "fuse": 2, "reorder": 2, "parallel": 2, "vectorize": 2, "unroll": 1.5, "compute_inline": 2,
    "reverse_compute_inline": 1, "cache_read": 1.5, "cache_write": 1.5, "compute_at": 2, "reverse_compute_at": 1.5,
    "rfactor": 1, "decompose_reduction": 1.5, "storage_align": 1, "annotate": 1, "bind_vthread": 0.5,
    "set_scope": 1, "add_unit_loop": 0.5, "loop_partition": 0.7, "decompose_padding": 0.5,
}


@dataclass
class ScheduleMutator(Mutator):
    """Apply a random schedule primitive (split, fuse, reorder, parallel, compute_at, rfactor, ...) to block IR."""

    name: str = "schedule"
    weight: float = 4.0
    primitives: tuple[str, ...] = tuple(PRIMITIVES)

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tvm = tvm_mod()
        if not ctx.has_blocks:
            raise Decline("not block IR")
        funcs = [gv for gv, f in ctx.mod.functions.items() if isinstance(f, tvm.tirx.PrimFunc)]
        if len(funcs) != 1:
            raise Decline("schedules work on single-function modules here")
        names = list(self.primitives)
        weights = [PRIMITIVES.get(n, 1.0) for n in names]
        tried: list[str] = []
        for _ in range(ATTEMPTS):
            prim = rng.choices(names, weights)[0]
            sch = tvm.s_tir.Schedule(ctx.mod, seed=rng.randrange(1 << 30))
            try:
                args = getattr(_Prims(sch, rng), prim)()
            except Decline:
                raise
            except Exception as e:  # noqa: BLE001  (ScheduleError, or a precondition we checked first)
                tried.append(f"{prim}: {type(e).__name__}")
                continue
            trace = [str(ln) for ln in sch.trace.as_python()]  # the whole trace: get_sblock/get_loops + the primitive
            detail: dict[str, Any] = {"primitive": prim, **args, "trace": trace, "tried": len(tried)}
            risks = ["uninit"] if prim in REGION_PRIMITIVES and irregular_writes(ctx.mod) else []
            return MutationOutcome(detail=detail, mod=sch.mod, risks=risks)
        raise Decline("no primitive applied (" + ", ".join(tried) + ")")


def schedule_mutators() -> list[Mutator]:
    return [ScheduleMutator()]
