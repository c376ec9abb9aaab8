"""Well-typed expression generation from what is in scope (variables, initialised buffers, constants)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from tirfuzz.fuzzer.tir.tree import Scope, dtype_of, tvm_mod

INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")
FLOAT_DTYPES = ("float16", "float32", "float64", "bfloat16")
# Float intrinsics that lower for llvm on every float width the generator uses (fmod is left out: it has no
# llvm lowering in this release, an internal error every time).
UNARY_FLOAT = ("exp", "log", "sqrt", "tanh", "erf", "sigmoid", "floor", "ceil", "round", "trunc", "abs",
               "exp2", "log2", "sin", "cos", "rsqrt", "atan", "exp10", "log10", "log1p")
BINARY_FLOAT = ("pow", "atan2", "hypot", "copysign", "nextafter")


def dkind(dt: str) -> str:
    """'bool', 'int', 'uint' or 'float' for a scalar dtype string."""
    if dt == "bool":
        return "bool"
    if dt.startswith("uint"):
        return "uint"
    if dt.startswith("int"):
        return "int"
    if dt.startswith(("float", "bfloat")):
        return "float"
    return "other"


def bits(dt: str) -> int:
    digits = "".join(ch for ch in dt.split("x")[0] if ch.isdigit())
    return int(digits) if digits else 1


def is_scalar(dt: str | None) -> bool:
    return dt is not None and "x" not in dt and dkind(dt) != "other"


def int_range(dt: str) -> tuple[int, int]:
    b = bits(dt)
    return (0, 2**b - 1) if dkind(dt) == "uint" else (-(2 ** (b - 1)), 2 ** (b - 1) - 1)


def float_max(dt: str) -> float:
    return {"float16": 65504.0, "bfloat16": 3.3895313892515355e38,
            "float32": 3.4028234663852886e38}.get(dt, 1.7976931348623157e308)


def const(dt: str, value: Any):
    """A constant of dtype dt (ints wrapped into range)."""
    tx = tvm_mod().tirx
    k = dkind(dt)
    if k == "bool":
        return tx.IntImm("bool", 1 if value else 0)
    if k in ("int", "uint"):
        lo, hi = int_range(dt)
        v = int(value)
        v = lo + (v - lo) % (hi - lo + 1) if not lo <= v <= hi else v
        return tx.IntImm(dt, v)
    return tx.FloatImm(dt, float(value))


def special_values(dt: str) -> list:
    """The boundary constants of a dtype: 0, 1, -1, min, max and, for floats, NaN, +-Inf and -0.0."""
    k = dkind(dt)
    if k == "bool":
        return [True, False]
    if k in ("int", "uint"):
        lo, hi = int_range(dt)
        return sorted({0, 1, hi, lo, hi - 1, lo + 1} | ({-1} if k == "int" else set()))
    m = float_max(dt)
    return [0.0, -0.0, 1.0, -1.0, m, -m, math.inf, -math.inf, math.nan]


@dataclass
class Gen:
    """Random well-typed expressions for one site's scope."""

    scope: Scope
    rng: random.Random
    max_depth: int = 2
    specials: bool = True          # boundary constants (NaN, Inf, min/max) may appear
    loads: bool = True
    index_mode: bool = False       # for indices and bounds: small constants, no loads, shifts or big products

    def tvm(self):
        return tvm_mod()

    # -- leaves ----------------------------------------------------------------------------------
    def constant(self, dt: str):
        r = self.rng.random()
        k = dkind(dt)
        if self.index_mode and k in ("int", "uint"):
            return const(dt, self.rng.choice([0, 1, 2, 3, 4, 7, 8, 16]))
        if self.specials and r < 0.2:
            vals = special_values(dt)
            if k == "int" and bits(dt) >= 32:  # INT_MIN/INT_MAX make signed overflow (undefined) too likely
                vals = [v for v in vals if abs(v) < 2 ** 20]
            return const(dt, self.rng.choice(vals))
        if k == "bool":
            return const(dt, self.rng.random() < 0.5)
        if k == "int":
            return const(dt, self.rng.choice([0, 1, 2, 3, -1, -2, 7, 16, 100, -100]))
        if k == "uint":
            return const(dt, self.rng.choice([0, 1, 2, 3, 7, 16, 100]))
        return const(dt, self.rng.choice([0.0, 1.0, -1.0, 0.5, 2.0, -3.25, 1e-3, 100.0]))

    def variable(self, dt: str):
        vs = self.scope.scalars(dt)
        return self.rng.choice(vs).var if vs else None

    def readable_buffers(self, dt: str | None = None) -> list:
        """Buffers whose values are defined and never change: inputs the function does not write.

        Internal buffers may hold undefined values; buffers the function writes would make the value
        read depend on the order of execution, which passes and backends are free to change.
        """
        out = []
        for b in self.scope.buffers:
            if any(b.same_as(x) for x in self.scope.internal + self.scope.written):
                continue
            if dt is not None and str(b.dtype) != dt:
                continue
            if not all(isinstance(d, self.tvm().tirx.IntImm) and d.value >= 1 for d in b.shape):
                continue
            out.append(b)
        return out

    def load(self, dt: str):
        bufs = self.readable_buffers(dt)
        if not bufs or not self.loads or self.index_mode:
            return None
        b = self.rng.choice(bufs)
        return self.tvm().tirx.BufferLoad(b, [self.index(d) for d in b.shape])

    def index(self, extent):
        """An index expression provably in [0, extent) (extent a positive IntImm)."""
        tx = self.tvm().tirx
        dt = dtype_of(extent) or "int32"
        n = int(extent.value)
        r = self.rng.random()
        fits = [v for v in self.scope.vars if v.dtype == dt and isinstance(v.lo, tx.IntImm)
                and isinstance(v.extent, tx.IntImm) and v.lo.value >= 0 and v.lo.value + v.extent.value <= n]
        if fits and r < 0.5:
            return self.rng.choice(fits).var
        ints = self.scope.scalars(dt)
        if ints and r < 0.8:
            base = self.rng.choice(ints).var
            if self.rng.random() < 0.5:
                base = base * const(dt, self.rng.choice([1, 2, 3, 5])) + const(dt, self.rng.randrange(0, 4))
            return tx.FloorMod(base, const(dt, n))
        return const(dt, self.rng.randrange(n))

    def leaf(self, dt: str):
        k = dkind(dt)
        options = [self.constant]
        if self.scope.scalars(dt):
            options += [self.variable] * 2
        if self.loads and not self.index_mode and self.readable_buffers(dt):
            options += [self.load] * 2
        if k in ("int", "uint", "float") and self.scope.scalars():
            options.append(self.cast_leaf)
        e = self.rng.choice(options)(dt)
        return e if e is not None else self.constant(dt)

    def cast_leaf(self, dt: str):
        """A variable or load of another dtype cast to dt (never float to int: that can be undefined)."""
        tx = self.tvm().tirx
        srcs = [v.var for v in self.scope.vars if is_scalar(v.dtype) and dkind(v.dtype) != "bool"]
        if dkind(dt) != "float":
            srcs = [v for v in srcs if dkind(dtype_of(v)) in ("int", "uint")]
        if not srcs:
            return None
        return tx.Cast(dt, self.rng.choice(srcs))

    # -- trees -----------------------------------------------------------------------------------
    def expr(self, dt: str, depth: int = 0):
        """A random expression of dtype dt."""
        if depth >= self.max_depth or self.rng.random() < 0.3:
            return self.leaf(dt)
        k = dkind(dt)
        if k == "bool":
            return self.cond(depth)
        if k == "float":
            return self.float_node(dt, depth)
        return self.int_node(dt, depth)

    def _sub(self, dt, depth):
        return self.expr(dt, depth + 1)

    def int_node(self, dt: str, depth: int):
        tx = self.tvm().tirx
        a, b = self._sub(dt, depth), self._sub(dt, depth)
        ops = ["add", "sub", "mul", "min", "max", "div", "mod", "and", "or", "xor", "shl", "shr", "select", "ite",
               "abs"]
        if self.index_mode:  # keep index arithmetic far from overflow (the range proof assumes none)
            ops = ["add", "sub", "min", "max", "div", "mod", "select"]
        op = self.rng.choice(ops)
        if op in ("add", "sub", "mul", "min", "max"):
            return {"add": tx.Add, "sub": tx.Sub, "mul": tx.Mul, "min": tx.Min, "max": tx.Max}[op](a, b)
        if op in ("div", "mod"):
            cls = self.rng.choice([tx.FloorDiv, tx.FloorMod] if op == "div" else [tx.FloorMod, tx.Mod, tx.Div])
            return cls(a, safe_divisor(b))
        if op in ("and", "or", "xor"):
            return {"and": tx.BitwiseAnd, "or": tx.BitwiseOr, "xor": tx.BitwiseXor}[op](a, b)
        if op in ("shl", "shr"):
            amount = const(dt, self.rng.randrange(bits(dt)))
            return tx.LShift(a, amount) if op == "shl" else tx.RShift(a, amount)  # node classes: no constant folding
        if op == "select":
            return tx.Select(self.cond(depth + 1), a, b)
        if op == "ite":
            return tx.if_then_else(self.cond(depth + 1), a, b)
        return tx.abs(a) if dkind(dt) == "int" else a

    def float_node(self, dt: str, depth: int):
        tx = self.tvm().tirx
        a = self._sub(dt, depth)
        r = self.rng.random()
        if r < 0.45:
            b = self._sub(dt, depth)
            return self.rng.choice([tx.Add, tx.Sub, tx.Mul, tx.Div, tx.Min, tx.Max])(a, b)
        if dt == "bfloat16":  # TVM's intrinsics do not take bfloat16 (IsFloatType is false for it)
            r = 0.85 + r * 0.15 if r >= 0.45 else r
        if r < 0.7:
            return getattr(tx, self.rng.choice(UNARY_FLOAT))(a)
        if r < 0.8:
            names = [n for n in BINARY_FLOAT if dt != "float16" or n not in ("copysign", "nextafter")]
            return getattr(tx, self.rng.choice(names))(a, self._sub(dt, depth))
        if r < 0.85:
            return tx.call_intrin(dt, "tirx.fma", a, self._sub(dt, depth), self._sub(dt, depth))
        if r < 0.95:
            return tx.Select(self.cond(depth + 1), a, self._sub(dt, depth))
        return tx.if_then_else(self.cond(depth + 1), a, self._sub(dt, depth))

    def cond(self, depth: int = 0):
        """A random boolean expression."""
        tx = self.tvm().tirx
        if depth >= self.max_depth:
            return self._compare(depth)
        r = self.rng.random()
        if r < 0.6:
            return self._compare(depth)
        if r < 0.8:
            return self.rng.choice([tx.And, tx.Or])(self._compare(depth + 1), self._compare(depth + 1))
        if r < 0.9:
            return tx.Not(self._compare(depth + 1))
        fl = [b for b in self.readable_buffers() if dkind(str(b.dtype)) == "float"]
        if fl:
            return tx.isnan(self.load(str(self.rng.choice(fl).dtype)))
        return self._compare(depth)

    def _compare(self, depth: int):
        tx = self.tvm().tirx
        dts = [v.dtype for v in self.scope.vars if is_scalar(v.dtype) and v.dtype != "bool"]
        dts += [str(b.dtype) for b in self.readable_buffers() if str(b.dtype) != "bool"]
        dt = self.rng.choice(dts) if dts else "int32"
        a, b = self.expr(dt, depth + 1), self.expr(dt, depth + 1)
        return self.rng.choice([tx.LT, tx.LE, tx.GT, tx.GE, tx.EQ, tx.NE])(a, b)


def safe_divisor(b):
    """b if it is a constant that is neither 0 nor -1, else max(b, 1): integer division cannot trap."""
    tx = tvm_mod().tirx
    if isinstance(b, tx.IntImm) and b.value not in (0, -1):
        return b
    return tx.Max(b, const(dtype_of(b), 1))
