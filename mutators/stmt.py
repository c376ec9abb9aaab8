"""Statement mutators: delete from a sequence, unwrap to a child, splice code from another program."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tirfuzz.fuzzer.tir.exprgen import Gen, is_scalar
from tirfuzz.fuzzer.tir.tree import Scope, Site, collect, deleted_stmt, dtype_of, is_buffer, substitute, tvm_mod
from tirfuzz.mutators.base import Decline, MutationContext, MutationOutcome, Mutator
from tirfuzz.mutators.sites import choose, expr_sites, is_root_block, one, stmt_sites, writes_internal

DECLARATIONS = ("Bind", "AllocBuffer", "DeclBuffer")


@dataclass
class StmtDelete(Mutator):
    """Delete a statement from a sequence (never a declaration the rest of the sequence may use)."""

    name: str = "stmt-delete"
    weight: float = 2.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        cands = stmt_sites(ctx, lambda s: (s.in_seq or s.role == "init") and type(s.node).__name__ not in DECLARATIONS)
        safe = [s for s in cands if not writes_internal(s.node, s.scope)]
        pool = safe if safe and rng.random() < 0.8 else cands
        site = choose(rng, pool, "deletable statement")
        risks = ["uninit"] if writes_internal(site.node, site.scope) else []
        return one(ctx, site, lambda n, s: deleted_stmt(), {"stmt": type(site.node).__name__}, risks)


@dataclass
class StmtUnwrap(Mutator):
    """Replace a loop, branch or attribute by its body (a loop's variable becomes its start)."""

    name: str = "stmt-unwrap"
    weight: float = 1.5

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        kinds = (tx.For, tx.IfThenElse, tx.AttrStmt, tx.While)
        site = choose(rng, stmt_sites(ctx, lambda s: isinstance(s.node, kinds)), "loop, branch or attribute")
        n = site.node
        if isinstance(n, tx.For):
            body = substitute(n.body, [(n.loop_var, n.min)])
            what = "for"
        elif isinstance(n, tx.IfThenElse):
            body = n.else_case if n.else_case is not None and rng.random() < 0.5 else n.then_case
            what = "if"
        else:
            body = n.body
            what = type(n).__name__
        return one(ctx, site, lambda _n, s: body, {"unwrap": what}, reduces_writes=what != "AttrStmt")


def remap_into(expr, scope: Scope, rng: random.Random):
    """A copy of a foreign expression whose variables and buffers are replaced by ones in scope (or leaves)."""
    import tvm_ffi

    tvm = tvm_mod()
    ir, tx = tvm.ir, tvm.tirx
    gen = Gen(scope, rng, max_depth=0)
    own = {id(v.var) for v in scope.vars}
    mapping: list = []

    def var(v):
        if is_buffer(v) or dtype_of(v) is None:
            return v
        for k, e in mapping:
            if k.same_as(v):
                return e
        dt = dtype_of(v)
        same = scope.scalars(dt)
        new = rng.choice(same).var if same else gen.constant(dt)
        mapping.append((v, new))
        return new

    def load(ld):
        dt = dtype_of(ld)
        bufs = gen.readable_buffers(dt)
        if not bufs:
            return gen.leaf(dt)
        b = rng.choice(bufs)
        idx = list(ld.indices)[: len(b.shape)]
        idx += [gen.index(d) for d in list(b.shape)[len(idx):]]
        idx = [i if dtype_of(i) == dtype_of(d) else tx.Cast(dtype_of(d), i) for i, d in zip(idx, b.shape)]
        return tx.BufferLoad(b, idx)

    del own
    return tvm_ffi.structural_map(expr, [(ir.TensorLoad, load), (ir.Var, var)])


@dataclass
class Splice(Mutator):
    """Splice an expression or a store from another program (the donor, else this one), free variables remapped."""

    name: str = "splice"
    weight: float = 2.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        donor_sites = collect(ctx.donor_mod) if ctx.donor is not None else ctx.sites()
        if rng.random() < 0.6:
            src = [s for s in donor_sites if s.kind == "expr" and s.role in ("value", "operand") and is_scalar(s.dtype)
                   and type(s.node).__name__ not in ("IntImm", "FloatImm", "Var")]
            piece = choose(rng, src, "donor expression")
            site = choose(rng, expr_sites(ctx, lambda s: s.dtype == piece.dtype and s.role in ("value", "operand")),
                          f"{piece.dtype} site")
            new = remap_into(piece.node, site.scope, rng)
            return one(ctx, site, lambda n, s: new, {"expr": str(piece.node)[:100], "donor": ctx.donor is not None})
        stores = [s for s in donor_sites if s.kind == "stmt" and isinstance(s.node, tx.BufferStore)]
        piece = choose(rng, stores, "donor store")
        dt = str(piece.node.buffer.dtype)

        def outputs(s: Site) -> list:  # stores go to buffers the function already writes, never to its inputs
            return [b for b in s.scope.buffers if str(b.dtype) == dt and any(b.same_as(w) for w in s.scope.written)
                    and not any(b.same_as(x) for x in s.scope.internal)
                    and all(isinstance(d, tx.IntImm) and d.value >= 1 for d in b.shape)]

        def target_ok(s: Site) -> bool:
            return s.role not in ("block",) and not is_root_block(s) and (s.scope.block is None or s.scope.in_blocks) \
                and bool(outputs(s))

        site = choose(rng, stmt_sites(ctx, target_ok), "place for a store")
        gen = Gen(site.scope, rng)
        buf = rng.choice(outputs(site))
        value = remap_into(piece.node.value, site.scope, rng)
        idx = remap_into(tx.BufferLoad(piece.node.buffer, list(piece.node.indices)), site.scope, rng)
        indices = list(idx.indices)[: len(buf.shape)] if hasattr(idx, "indices") else []
        indices += [gen.index(d) for d in list(buf.shape)[len(indices):]]
        indices = [i if dtype_of(i) == dtype_of(d) else tx.Cast(dtype_of(d), i) for i, d in zip(indices, buf.shape)]
        store = tx.BufferStore(buf, value, indices)
        after = rng.random() < 0.5
        if type(site.node).__name__ in DECLARATIONS:
            after = True
        if not site.in_seq and type(site.node).__name__ in DECLARATIONS:
            raise Decline("declaration outside a sequence")
        new = tx.SeqStmt([site.node, store] if after else [store, site.node])
        return one(ctx, site, lambda n, s: new, {"store": str(piece.node)[:100], "after": after,
                                                 "donor": ctx.donor is not None})


def stmt_mutators() -> list[Mutator]:
    return [StmtDelete(), StmtUnwrap(), Splice()]
