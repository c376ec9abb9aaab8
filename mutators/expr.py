"""General-purpose expression mutators: insert, replace by child, flip, constants, swap, cast, intrinsics, vectors."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tirfuzz.fuzzer.tir.exprgen import BINARY_FLOAT, UNARY_FLOAT, Gen, bits, const, dkind, int_range, special_values
from tirfuzz.fuzzer.tir.tree import call_name, dtype_of, tvm_mod
from tirfuzz.mutators.base import Decline, MutationContext, MutationOutcome, Mutator
from tirfuzz.mutators.sites import choose, expr_sites, one


def _op_groups():
    tx = tvm_mod().tirx
    return [
        (tx.Add, tx.Sub, tx.Mul, tx.Min, tx.Max),  # float Div joins this group (see OpFlip)
        (tx.FloorDiv, tx.Div, tx.FloorMod, tx.Mod),
        (tx.LT, tx.LE, tx.GT, tx.GE, tx.EQ, tx.NE),
        (tx.And, tx.Or),
        (tx.BitwiseAnd, tx.BitwiseOr, tx.BitwiseXor),
        (tx.LShift, tx.RShift),
    ]


@dataclass
class ExprInsert(Mutator):
    """Replace an expression by a fresh well-typed one, or grow it: e -> e op fresh."""

    name: str = "expr-insert"
    weight: float = 3.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        site = choose(rng, expr_sites(ctx, lambda s: s.role != "index" or rng.random() < 0.3))
        gen = Gen(site.scope, rng, index_mode=site.control or site.role == "index")
        dt = site.dtype
        tx = tvm_mod().tirx
        if rng.random() < 0.5 or dkind(dt) == "bool":
            new = gen.expr(dt)
            how = "replace"
        else:
            other = gen.expr(dt, 1)
            ops = [tx.Add, tx.Sub, tx.Mul, tx.Min, tx.Max]
            op = rng.choice(ops)
            new = op(site.node, other) if rng.random() < 0.5 else op(other, site.node)
            how = f"grow:{op.__name__}"
        return one(ctx, site, lambda n, s: new, {"how": how, "new": str(new)})


@dataclass
class ExprReplaceByChild(Mutator):
    """Replace an expression by one of its children of the same dtype (Tzer's deletion for expressions)."""

    name: str = "expr-child"
    weight: float = 2.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        def kids(s):
            n = s.node
            cands = []
            for attr in ("a", "b", "true_value", "false_value", "value", "base", "body"):
                c = getattr(n, attr, None) if type(n).__name__ != "TensorLoad" else None
                if c is not None and hasattr(c, "ty") and dtype_of(c) == s.dtype:
                    cands.append(c)
            if type(n).__name__ == "Call" and call_name(n) not in ("likely",):
                cands += [a for a in n.args if dtype_of(a) == s.dtype]
            return cands

        site = choose(rng, expr_sites(ctx, lambda s: bool(kids(s))))
        child = rng.choice(kids(site))
        return one(ctx, site, lambda n, s: child, {"child": str(child)[:80]})


@dataclass
class OpFlip(Mutator):
    """Swap an operator for another of the same arity and type (Add/Sub/Mul/Min/Max, div/mod, compare, ...)."""

    name: str = "op-flip"
    weight: float = 3.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        groups = _op_groups()
        tx = tvm_mod().tirx

        def group(s):
            for g in groups:
                if type(s.node) in g:
                    if g[0] is tx.FloorDiv and dkind(dtype_of(s.node.a)) == "float":
                        return (tx.Add, tx.Sub, tx.Mul, tx.Div, tx.Min, tx.Max) if type(s.node) is tx.Div else None
                    if g[0] is tx.LShift and dkind(dtype_of(s.node.a)) not in ("int", "uint"):
                        return None
                    return g
            if type(s.node).__name__ == "Call" and call_name(s.node) in UNARY_FLOAT + BINARY_FLOAT:
                return "call"
            return None

        site = choose(rng, expr_sites(ctx, lambda s: group(s) is not None))
        g = group(site)
        n = site.node
        if g == "call":
            dt = site.dtype
            names = UNARY_FLOAT if len(n.args) == 1 else BINARY_FLOAT
            if dt == "float16":
                names = tuple(x for x in names if x not in ("copysign", "nextafter"))
            to = rng.choice([x for x in names if x != call_name(n)])
            new = getattr(tx, to)(*n.args)
            return one(ctx, site, lambda _n, s: new, {"from": call_name(n), "to": to})
        to = rng.choice([c for c in g if c is not type(n)])
        a, b = n.a, n.b
        if g[0] is tx.LShift:
            b = tx.FloorMod(b, const(dtype_of(b), bits(dtype_of(b))))
        new = to(a, b)
        return one(ctx, site, lambda _n, s: new, {"from": type(n).__name__, "to": to.__name__})


@dataclass
class ConstMutate(Mutator):
    """Nudge a constant (+-1, *2, negate) or replace it by a boundary value (0, 1, -1, min, max, NaN, +-Inf, -0.0)."""

    name: str = "constant"
    weight: float = 2.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        site = choose(rng, expr_sites(ctx, lambda s: isinstance(s.node, (tx.IntImm, tx.FloatImm))
                                      and s.dtype != "bool"), "constant")
        dt, v = site.dtype, site.node.value
        if rng.random() < 0.5:
            how = rng.choice(["+1", "-1", "*2", "neg", "/2"])
            half = v / 2 if dkind(dt) == "float" else v // 2
            nv = {"+1": v + 1, "-1": v - 1, "*2": v * 2, "neg": -v, "/2": half}[how]
        else:
            how = "special"
            nv = rng.choice(special_values(dt))
        if dkind(dt) in ("int", "uint"):
            lo, hi = int_range(dt)
            nv = min(max(int(nv), lo), hi)
        if nv == v and str(nv) == str(v):
            raise Decline("same constant")
        new = const(dt, nv)
        risks = []
        if dkind(dt) == "int" and bits(dt) >= 32 and abs(int(nv)) >= 2 ** 30:
            risks.append("overflow")  # signed overflow is undefined in C and poison in LLVM (nsw)
        return one(ctx, site, lambda n, s: new, {"from": str(v), "to": str(nv), "how": how}, risks)


@dataclass
class OperandSwap(Mutator):
    """Swap the operands of a binary operator, the branches of a Select or of an if_then_else."""

    name: str = "operand-swap"
    weight: float = 1.5

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx

        def ok(s):
            n = s.node
            if isinstance(n, tx.Select) or call_name(n) == "if_then_else":
                return True
            if hasattr(n, "a") and hasattr(n, "b") and not isinstance(n, (tx.Add, tx.Mul, tx.Min, tx.Max, tx.EQ,
                                                                          tx.NE, tx.And, tx.Or)):
                return dtype_of(n.a) == dtype_of(n.b)
            return False

        site = choose(rng, expr_sites(ctx, ok))
        n = site.node
        if isinstance(n, tx.Select):
            new = tx.Select(n.condition, n.false_value, n.true_value)
        elif call_name(n) == "if_then_else":
            new = tx.if_then_else(n.args[0], n.args[2], n.args[1])
        else:
            new = type(n)(n.b, n.a)
        return one(ctx, site, lambda _n, s: new, {})


CAST_PARTNERS = {"int": ["int8", "int16", "int64", "uint8", "float32", "float16", "float64"],
                 "uint": ["uint16", "int32", "int64", "uint32", "float32"],
                 "float": ["float16", "float64", "bfloat16", "float32", "int32", "int8"]}


@dataclass
class CastInsert(Mutator):
    """Insert a cast: e -> cast(dt, cast(other, e)) through a narrower, wider or other-kind dtype."""

    name: str = "cast"
    weight: float = 1.5

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        site = choose(rng, expr_sites(ctx, lambda s: dkind(s.dtype) in CAST_PARTNERS))
        dt = site.dtype
        other = rng.choice([d for d in CAST_PARTNERS[dkind(dt)] if d != dt])
        risks = []
        if dkind(dt) == "float" and dkind(other) in ("int", "uint"):
            risks.append("f2i")  # NaN, Inf and out-of-range floats make the conversion undefined
        new = tx.Cast(dt, tx.Cast(other, site.node))
        return one(ctx, site, lambda n, s: new, {"via": other}, risks)


@dataclass
class IntrinsicWrap(Mutator):
    """Wrap an expression in an intrinsic: exp/log/sqrt/tanh/erf/pow/fma, shifts, popcount, clz, select."""

    name: str = "intrinsic"
    weight: float = 2.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        site = choose(rng, expr_sites(ctx, lambda s: dkind(s.dtype) in ("int", "uint", "float") and s.role != "index"))
        dt, e = site.dtype, site.node
        gen = Gen(site.scope, rng, max_depth=1)
        k = dkind(dt)
        r = rng.random()
        if r < 0.25:
            how = "select"
            new = tx.Select(gen.cond(1), e, gen.expr(dt, 1)) if rng.random() < 0.5 else \
                tx.if_then_else(gen.cond(1), e, gen.expr(dt, 1))
        elif k == "float" and dt != "bfloat16":
            how = rng.choice(UNARY_FLOAT + ("pow", "fma"))
            if how == "pow":
                new = tx.pow(e, gen.expr(dt, 1))
            elif how == "fma":
                new = tx.call_intrin(dt, "tirx.fma", e, gen.expr(dt, 1), gen.expr(dt, 1))
            else:
                new = getattr(tx, how)(e)
        elif k in ("int", "uint"):
            how = rng.choice(["shl", "shr", "popcount", "clz", "abs", "not"])
            amount = const(dt, rng.randrange(bits(dt)))
            if how == "shl":
                new = tx.LShift(e, amount)
            elif how == "shr":
                new = tx.RShift(e, amount)
            elif how == "popcount":
                new = tx.popcount(e)
            elif how == "clz":
                if bits(dt) < 32:
                    raise Decline("clz on a narrow integer")
                new = tx.clz(e)
            elif how == "abs":
                new = tx.abs(e)
            else:
                new = tx.BitwiseNot(e)
            if dtype_of(new) != dt:
                new = tx.Cast(dt, new)
        else:
            raise Decline(f"no intrinsic for {dt}")
        return one(ctx, site, lambda n, s: new, {"how": how})


@dataclass
class VectorLane(Mutator):
    """Route a scalar through vector nodes: e -> Shuffle([Broadcast(e, L)], [k]) or lane k of Ramp(e, s, L)."""

    name: str = "vector-lane"
    weight: float = 1.0

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        tx = tvm_mod().tirx
        site = choose(rng, expr_sites(ctx, lambda s: dkind(s.dtype) in ("int", "float") and s.dtype != "bfloat16"))
        dt, e = site.dtype, site.node
        lanes = rng.choice([2, 4, 8, 16, 3])
        k = rng.randrange(lanes)
        if rng.random() < 0.5:
            new = tx.Shuffle([tx.Broadcast(e, lanes)], [const("int32", k)])
            how = f"broadcast{lanes}[{k}]"
        else:
            lane0 = rng.random() < 0.6
            stride = const(dt, rng.choice([0, 1, 2, -1]))
            new = tx.Shuffle([tx.Ramp(e, stride, lanes)], [const("int32", 0 if lane0 else k)])
            how = f"ramp{lanes}[{0 if lane0 else k}]"
        return one(ctx, site, lambda n, s: new, {"how": how})


def expr_mutators() -> list[Mutator]:
    return [ExprInsert(), ExprReplaceByChild(), OpFlip(), ConstMutate(), OperandSwap(), CastInsert(),
            IntrinsicWrap(), VectorLane()]
