"""TVM-specific wrappers: if (likely/assume), pragma attributes, asserts, Bind, scratch buffers, bounded while."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tirfuzz.fuzzer.tir.exprgen import Gen, const, is_scalar
from tirfuzz.fuzzer.tir.tree import Scope, Site, dtype_of, free_vars, rewrite, tvm_mod
from tirfuzz.mutators.base import MutationContext, MutationOutcome, Mutator
from tirfuzz.mutators.sites import choose, expr_sites, is_root_block, one, stmt_sites

DECL = ("Bind", "AllocBuffer", "DeclBuffer")
PRAGMAS = ("pragma_unroll_explicit", "pragma_auto_unroll_max_step", "pragma_loop_partition_hint",
           "pragma_debug_skip_region", "pragma_tirfuzz_unknown")


def _wrappable(s: Site) -> bool:
    """A statement a wrapper may enclose: not a declaration, not a block itself, not between loops and a block."""
    if type(s.node).__name__ in DECL + ("SBlock",) or s.role == "block" or is_root_block(s):
        return False
    return s.scope.block is None or s.scope.in_blocks


def true_fact(scope: Scope, rng: random.Random):
    """A condition that always holds where scope is: a loop range fact or a tautology."""
    tx = tvm_mod().tirx
    ranged = [v for v in scope.vars if v.extent is not None and dtype_of(v.var) in ("int32", "int64")]
    if ranged and rng.random() < 0.6:
        v = rng.choice(ranged)
        return tx.And(tx.GE(v.var, v.lo), tx.LT(v.var, v.lo + v.extent)), "range"
    gen = Gen(scope, rng, max_depth=1, specials=False)
    ints = [d for d in ("int32", "int64", "int8") if scope.scalars(d) or gen.readable_buffers(d)] or ["int32"]
    dt = rng.choice(ints)
    e = gen.expr(dt)
    c = rng.choice([3, 7, 16])
    form = rng.randrange(3)
    if form == 0:
        return tx.EQ(e, e), "e==e"
    if form == 1:
        return tx.LT(tx.FloorMod(e, const(dt, c)), const(dt, c)), "mod<c"
    return tx.GE(tx.Max(e, const(dt, c)), const(dt, c)), "max>=c"


@dataclass
class IfWrap(Mutator):
    """Wrap a statement in an if (plain, likely, or with an else branch), or put a true T.assume before it."""

    name: str = "if-wrap"
    weight: float = 1.5

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        site = choose(rng, stmt_sites(ctx, _wrappable), "statement to wrap")
        r = rng.random()
        if r < 0.25:
            fact, form = true_fact(site.scope, rng)
            new = tx.SeqStmt([tx.Evaluate(tx.assume(fact)), site.node])
            return one(ctx, site, lambda n, s: new, {"how": "assume", "fact": form})
        cond = Gen(site.scope, rng).cond()
        how = "if"
        if r < 0.6:
            cond, how = tx.likely(cond), "likely"
        els = None
        if rng.random() < 0.3:
            els, how = site.node, how + "+else"
        new = tx.IfThenElse(cond, site.node, els)
        return one(ctx, site, lambda n, s: new, {"how": how, "cond": str(cond)[:80]}, reduces_writes=els is None)


@dataclass
class AttrWrap(Mutator):
    """Wrap a statement in a pragma AttrStmt (unroll, partition hint, skip region, an unknown key)."""

    name: str = "attr-wrap"
    weight: float = 1.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        site = choose(rng, stmt_sites(ctx, _wrappable), "statement to wrap")
        visible = [lp.loop_var for lp in site.scope.loops if any(v.var.same_as(lp.loop_var) for v in site.scope.vars)]
        keys = [k for k in PRAGMAS if visible or k != "pragma_loop_partition_hint"]  # that one names a loop var
        key = rng.choice(keys)
        node = visible[-1] if visible and rng.random() < 0.7 else tx.IntImm("int32", 0)
        if key == "pragma_loop_partition_hint":
            node = visible[-1]
        value = tx.IntImm("int32", rng.choice([0, 1, 4, 16]))
        new = tx.AttrStmt(node, key, value, site.node)
        return one(ctx, site, lambda n, s: new, {"key": key, "value": int(value.value)},
                   reduces_writes=key == "pragma_debug_skip_region")


@dataclass
class AssertInsert(Mutator):
    """Put an AssertStmt of a condition that always holds before a statement."""

    name: str = "assert"
    weight: float = 1.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tvm = tvm_mod()
        tx = tvm.tirx
        site = choose(rng, stmt_sites(ctx, _wrappable), "statement")
        fact, form = true_fact(site.scope, rng)
        # the Python AssertStmt wrapper passes (kind, condition) to a constructor taking (condition, kind)
        a = tx.AssertStmt(fact, tvm.ir.StringImm("RuntimeError"), [tvm.ir.StringImm("tirfuzz assertion")])
        new = tx.SeqStmt([a, site.node])
        return one(ctx, site, lambda n, s: new, {"fact": form})


@dataclass
class BindInsert(Mutator):
    """Bind a subexpression to a new variable just before its statement and use the variable instead."""

    name: str = "bind"
    weight: float = 1.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tvm = tvm_mod()
        tx = tvm.tirx
        stmts = [s for s in ctx.sites() if s.kind == "stmt" and _wrappable(s)
                 and type(s.node).__name__ in ("BufferStore", "IfThenElse", "Evaluate")]
        host = choose(rng, stmts, "statement")
        own = {v.var.__hash__() for v in host.scope.vars}
        inner = [s for s in expr_sites(ctx, lambda s: s.role in ("value", "operand", "cond"))
                 if _inside(s, host) and type(s.node).__name__ not in ("IntImm", "FloatImm")]
        inner = [s for s in inner if all(v.__hash__() in own for v in free_vars(s.node))]
        pick = choose(rng, inner, "expression to bind")
        var = tvm.ir.Var(f"b{pick.index}", dtype_of(pick.node))

        def use(n, s):
            return var


        mod = rewrite(ctx.mod, {pick.index: use}, ctx.sites())
        # the host statement's index is unchanged (it precedes the expression in traversal order)
        mod = rewrite(mod, {host.index: lambda n, s: tx.SeqStmt([tx.Bind(var, pick.node), n])})
        return MutationOutcome(detail={"site": pick.index, "expr": str(pick.node)[:80]}, mod=mod)


def _inside(expr_site: Site, stmt_site: Site) -> bool:
    """Whether an expression site lies in a statement's own expressions (not in a nested statement)."""
    import tvm_ffi

    found: list = []

    def visit(x):
        if x.same_as(expr_site.node):
            found.append(x)

    tvm_ffi.structural_walk(stmt_site.node, (type(expr_site.node), visit))
    return bool(found) and expr_site.index > stmt_site.index and expr_site.scope.loops == stmt_site.scope.loops


@dataclass
class ScratchBuffer(Mutator):
    """Route a store through a new local/shared/global scratch buffer: t[0] = v; B[i] = t[0]."""

    name: str = "scratch"
    weight: float = 1.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        site = choose(rng, stmt_sites(ctx, lambda s: type(s.node).__name__ == "BufferStore" and _wrappable(s)
                                      and is_scalar(dtype_of(s.node.value))), "scalar store")
        st = site.node
        dt = dtype_of(st.value)
        scope = rng.choice(["local", "shared", "global"])
        size = rng.choice([1, 1, 4])
        tmp = tx.decl_buffer((size,), dt, f"scratch{site.index}", scope=scope)
        k = tx.IntImm("int32", rng.randrange(size))
        new = tx.SeqStmt([tx.AllocBuffer(tmp), tx.BufferStore(tmp, st.value, [k]),
                          tx.BufferStore(st.buffer, tx.BufferLoad(tmp, [k]), list(st.indices))])
        return one(ctx, site, lambda n, s: new, {"scope": scope, "size": size})


@dataclass
class WhileWrap(Mutator):
    """Wrap a statement in a while loop bounded by a local counter (1-3 iterations)."""

    name: str = "while-wrap"
    weight: float = 0.7

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        site = choose(rng, stmt_sites(ctx, lambda s: _wrappable(s) and int(getattr(s.node, "kind", 0)) != 2
                                      and not any(int(lp.kind) == 2 for lp in s.scope.loops)), "statement")
        n = rng.choice([1, 2, 3])
        ctr = tx.decl_buffer((1,), "int32", f"trip{site.index}", scope="local")
        zero = tx.IntImm("int32", 0)
        body = tx.SeqStmt([site.node, tx.BufferStore(ctr, tx.BufferLoad(ctr, [zero]) + 1, [zero])])
        new = tx.SeqStmt([tx.AllocBuffer(ctr), tx.BufferStore(ctr, zero, [zero]),
                          tx.While(tx.LT(tx.BufferLoad(ctr, [zero]), tx.IntImm("int32", n)), body)])
        return one(ctx, site, lambda _n, s: new, {"trips": n})


def wrapper_mutators() -> list[Mutator]:
    return [IfWrap(), AttrWrap(), AssertInsert(), BindInsert(), ScratchBuffer(), WhileWrap()]
