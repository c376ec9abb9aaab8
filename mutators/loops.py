"""Loop mutators: kind (serial/parallel/vectorized/unrolled/vthread), extent, step, wrap in a loop, split."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tirfuzz.fuzzer.tir.tree import Site, dtype_of, free_vars, substitute, tvm_mod, with_fields
from tirfuzz.mutators.base import MutationContext, MutationOutcome, Mutator
from tirfuzz.mutators.sites import choose, is_root_block, one, stmt_sites

MAX_UNROLL = 64      # unrolled or vectorized loops longer than this blow up compile time
SERIAL, PARALLEL, VECTORIZED, UNROLLED, THREAD_BINDING = 0, 1, 2, 3, 4


def _const_extent(f) -> int | None:
    tx = tvm_mod().tirx
    return int(f.extent.value) if isinstance(f.extent, tx.IntImm) else None


def _contains_kind(stmt, kind: int) -> bool:
    import tvm_ffi

    found: list = []

    def visit(f):
        found.append(int(f.kind) == kind)

    tvm_ffi.structural_walk(stmt, (tvm_mod().tirx.For, visit))
    return any(found)


def race_free(loop) -> bool:
    """Whether iterations of `loop` provably touch disjoint elements of every buffer written in its body."""
    import tvm_ffi

    tvm = tvm_mod()
    tx, ir = tvm.tirx, tvm.ir
    lv = loop.loop_var
    local = []
    tvm_ffi.structural_walk(loop.body, (tx.AllocBuffer, lambda a: local.append(a.buffer)))
    accesses: dict = {}

    def note(buf, idx):
        if any(buf.same_as(b) for b in local):
            return
        accesses.setdefault(buf.__hash__(), (buf, []))[1].append(list(idx))

    stores, blocks = [], []

    def on_store(st):
        stores.append(st)
        note(st.buffer, st.indices)

    def on_load(ld):
        note(ld.source, ld.indices)

    tvm_ffi.structural_walk(loop.body, [(tx.BufferStore, on_store), (ir.TensorLoad, on_load),
                                        (tvm.s_tir.SBlock, blocks.append)])
    if blocks:
        return False  # block IR: the schedule mutator's parallel/vectorize check this properly
    ana = tvm.sym.Analyzer()
    for s in stores:
        if any(s.buffer.same_as(b) for b in local):
            continue
        buf, idx_lists = accesses[s.buffer.__hash__()]
        first = idx_lists[0]
        if not all(len(ix) == len(first) and all(tvm_ffi.structural_equal(a, b) for a, b in zip(ix, first))
                   for ix in idx_lists):
            return False
        if not any(_injective_in(ana, e, lv) for e in first):
            return False
    return True


def _injective_in(ana, e, lv) -> bool:
    """Whether e = lv + R with R free of lv (distinct iterations then never share an element)."""
    rest = ana.simplify(e - lv)
    return not any(v.same_as(lv) for v in free_vars(rest))


@dataclass
class LoopKind(Mutator):
    """Change a loop's kind: serial, parallel, vectorized, unrolled, or a vthread binding."""

    name: str = "loop-kind"
    weight: float = 2.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tvm = tvm_mod()
        tx = tvm.tirx
        site = choose(rng, stmt_sites(ctx, lambda s: isinstance(s.node, tx.For) and s.node.thread_binding is None),
                      "loop")
        f = site.node
        ext = _const_extent(f)
        in_parallel = any(int(lp.kind) == PARALLEL for lp in site.scope.loops)
        kinds = [SERIAL, UNROLLED, PARALLEL, VECTORIZED, THREAD_BINDING]
        kinds = [k for k in kinds if k != int(f.kind)]
        if ext is None or ext > MAX_UNROLL:
            kinds = [k for k in kinds if k not in (UNROLLED, VECTORIZED, THREAD_BINDING)]
        if in_parallel or _contains_kind(f.body, PARALLEL):
            kinds = [k for k in kinds if k != PARALLEL]  # nested parallel loops are documented as unsupported
        if any(int(lp.kind) == THREAD_BINDING for lp in site.scope.loops) or _contains_kind(f.body, THREAD_BINDING):
            # two nested loops bound to one vthread axis: TVM's schedule accepts it, but the lowered
            # program then reads buffer elements no iteration wrote (seen as NaN only in the C build)
            kinds = [k for k in kinds if k != THREAD_BINDING]
        kind = choose(rng, kinds, "loop kind")
        names = {0: "serial", 1: "parallel", 2: "vectorized", 3: "unrolled", 4: "vthread"}
        if not _flat_site(site) and kind != SERIAL:
            mod = _via_schedule(ctx.mod, f, kind)  # block IR: TVM's own checks (no loop-carried dependences)
            if mod is not None:
                return MutationOutcome(detail={"site": site.index, "from": names.get(int(f.kind), str(f.kind)),
                                               "to": names[kind], "checked": "schedule"}, mod=mod)
        risks = []
        if kind in (PARALLEL, VECTORIZED, THREAD_BINDING) and not race_free(f):
            risks.append("race")
        if kind == THREAD_BINDING:
            iv = tx.IterVar(tvm.ir.Range.from_min_extent(f.min, f.extent), f.loop_var, 1, "vthread")
            new = with_fields(f, kind=THREAD_BINDING, thread_binding=iv)
        else:
            new = with_fields(f, kind=kind)
        return one(ctx, site, lambda n, s: new, {"from": names.get(int(f.kind), str(f.kind)), "to": names[kind]}, risks)


def _via_schedule(mod, loop, kind: int):
    """The module with `loop` made parallel/vectorized/unrolled/vthread by s_tir.Schedule, or None if refused."""
    import tvm_ffi

    tvm = tvm_mod()
    names: list = []

    def visit(b):
        names.append(str(b.name_hint))

    tvm_ffi.structural_walk(loop.body, (tvm.s_tir.SBlock, visit))
    if not names:
        return None
    try:
        sch = tvm.s_tir.Schedule(mod)
        for lp in sch.get_loops(sch.get_sblock(names[0])):
            if sch.get(lp).loop_var.same_as(loop.loop_var):
                {PARALLEL: sch.parallel, VECTORIZED: sch.vectorize, UNROLLED: sch.unroll,
                 THREAD_BINDING: lambda x: sch.bind(x, "vthread.x")}[kind](lp)
                return sch.mod
    except Exception:  # noqa: BLE001  (ScheduleError: the loop carries a dependence, or is not affine)
        return None
    return None


def _flat_site(s: Site) -> bool:
    """A statement outside block bindings: loops above blocks define block domains and are left to schedules."""
    import tvm_ffi

    if s.scope.block is not None and not s.scope.in_blocks:
        return False
    return not _has_blocks(s.node)


def _has_blocks(stmt) -> bool:
    import tvm_ffi

    found: list = []

    def visit(b):
        found.append(b)

    tvm_ffi.structural_walk(stmt, (tvm_mod().s_tir.SBlockRealize, visit))
    return bool(found)


@dataclass
class LoopExtent(Mutator):
    """Change a loop's extent (+-1, *2, /2, 0, 1); accesses it pushes out of bounds are clamped afterwards."""

    name: str = "loop-extent"
    weight: float = 1.5

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        site = choose(rng, stmt_sites(ctx, lambda s: isinstance(s.node, tx.For) and _const_extent(s.node) is not None
                                      and (s.scope.block is None or s.scope.in_blocks or _has_blocks(s.node))),
                      "loop with constant extent")
        f = site.node
        n = _const_extent(f)
        choices = {n + 1, max(n - 1, 0), min(2 * n, n + 64), n // 2, 1, 0, n + 7}
        if not _flat_site(site):
            choices = {c for c in choices if c < n}  # a longer loop would bind block iterators outside their domain
        choices.discard(n)
        if int(f.kind) in (UNROLLED, VECTORIZED, THREAD_BINDING):
            choices = {c for c in choices if 1 <= c <= MAX_UNROLL}
        new_n = choose(rng, sorted(choices), "extent")
        new = with_fields(f, extent=tx.IntImm(dtype_of(f.extent), new_n))
        if f.thread_binding is not None:
            new = with_fields(new, thread_binding=tx.IterVar(tvm_mod().ir.Range.from_min_extent(f.min, new.extent),
                                                             f.loop_var, 1, f.thread_binding.thread_tag))
        return one(ctx, site, lambda _n, s: new, {"from": n, "to": new_n}, reduces_writes=new_n < n)


@dataclass
class LoopStep(Mutator):
    """Give a serial loop a step (2, 3, 4) or take its step away."""

    name: str = "loop-step"
    weight: float = 0.7

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        site = choose(rng, stmt_sites(ctx, lambda s: isinstance(s.node, tx.For) and int(s.node.kind) == SERIAL),
                      "serial loop")
        f = site.node
        dt = dtype_of(f.extent)
        if f.step is not None and rng.random() < 0.5:
            new = with_fields(f, step=None)
            to = None
        else:
            to = rng.choice([2, 3, 4])
            new = with_fields(f, step=tx.IntImm(dt, to))
        return one(ctx, site, lambda _n, s: new, {"step": to}, reduces_writes=to is not None)


@dataclass
class LoopWrap(Mutator):
    """Wrap a statement in a new loop of 1-4 iterations (Tzer's loop wrapper)."""

    name: str = "loop-wrap"
    weight: float = 1.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tvm = tvm_mod()
        tx = tvm.tirx
        decl = ("Bind", "AllocBuffer", "DeclBuffer")
        site = choose(rng, stmt_sites(ctx, lambda s: type(s.node).__name__ not in decl + ("SBlock",)
                                      and s.role != "block" and not is_root_block(s)), "statement")
        ext = rng.choice([1, 2, 3, 4])
        kind = rng.choice([SERIAL, SERIAL, UNROLLED])
        v = tvm.ir.Var(f"w{site.index}", "int32")
        new = tx.For(v, tx.IntImm("int32", 0), tx.IntImm("int32", ext), kind, site.node)
        return one(ctx, site, lambda _n, s: new, {"extent": ext, "kind": kind})


@dataclass
class LoopSplit(Mutator):
    """Split a loop by hand: i -> io * f + ii under a guard when f does not divide the extent."""

    name: str = "loop-split"
    weight: float = 1.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tvm = tvm_mod()
        tx = tvm.tirx
        site = choose(rng, stmt_sites(ctx, lambda s: isinstance(s.node, tx.For) and int(s.node.kind) == SERIAL
                                      and (_const_extent(s.node) or 0) >= 2 and s.node.step is None),
                      "serial loop with constant extent")
        f = site.node
        n = _const_extent(f)
        dt = dtype_of(f.loop_var)
        facs = [2, 3, 4, 8, 16]
        if not _flat_site(site):  # a guard between a loop and a block is not block IR: exact factors only
            facs = [x for x in facs + [5, 6, 7] if n % x == 0 and x < n] or [n]
        fac = rng.choice(facs)
        outer = (n + fac - 1) // fac
        vo, vi = tvm.ir.Var(f"{f.loop_var.name}_o", dt), tvm.ir.Var(f"{f.loop_var.name}_i", dt)
        idx = vo * tx.IntImm(dt, fac) + vi + f.min
        body = substitute(f.body, [(f.loop_var, idx)])
        if n % fac:
            cond = tx.LT(vo * tx.IntImm(dt, fac) + vi, tx.IntImm(dt, n))
            body = tx.IfThenElse(tx.likely(cond) if rng.random() < 0.5 else cond, body, None)
        inner = tx.For(vi, tx.IntImm(dt, 0), tx.IntImm(dt, fac), SERIAL, body)
        new = tx.For(vo, tx.IntImm(dt, 0), tx.IntImm(dt, outer), SERIAL, inner)
        return one(ctx, site, lambda _n, s: new, {"factor": fac, "extent": n})


def loop_mutators() -> list[Mutator]:
    return [LoopKind(), LoopExtent(), LoopStep(), LoopWrap(), LoopSplit()]
