"""Random well-typed TIR programs written as TVMScript text (the TVMFuzz-like generation baseline).

Programs are made from scratch, with no seed and no feedback: a few parameter buffers of random dtypes
and shapes, then loop nests (flat loops, or s_tir blocks with reductions) that store random expression
trees into them. Every index is in bounds by construction (loop variables within the dimension, `% extent`,
clamped offsets, constants), integer divisors are non-zero constants and shift amounts are in range;
what could still be undefined (signed overflow, float-to-int casts out of range) is recorded as
`ub_risks`, in the same vocabulary as the mutators. No TVM is imported: text only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tirfuzz.fuzzer.tir.exprgen import BINARY_FLOAT, UNARY_FLOAT, bits, dkind

INT_DTYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32")
FLOAT_DTYPES = ("float32", "float64", "float16")
# How often each dtype is drawn: float16 is rare (the C backend has no half type: such cases are rejected).
WEIGHTS = {"int8": 1, "int16": 1, "int32": 3, "int64": 1, "uint8": 1, "uint16": 0.5, "uint32": 0.5,
           "float32": 4, "float64": 1.5, "float16": 0.25}
EXTENTS = (1, 2, 3, 4, 5, 7, 8, 16)
COMPARE = ("<", "<=", ">", ">=", "==", "!=")


@dataclass
class ProgramOptions:
    """Size limits of a generated program."""

    max_buffers: int = 5
    max_dims: int = 3
    max_stmts: int = 4
    max_depth: int = 3
    block_share: float = 0.4       # share of programs written with s_tir blocks
    float_share: float = 0.5       # share of float buffers


@dataclass
class Buf:
    """A buffer of the program: name, dtype, shape, and whether it is a parameter or a scratch allocation."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    param: bool = True


@dataclass
class Program:
    """A generated program: its TVMScript, its style and what undefined behaviour it may have."""

    text: str
    kind: str                      # "flat" or "block"
    risks: list[str] = field(default_factory=list)
    stmts: int = 0


@dataclass
class _Env:
    """What an expression may use: index variables with their extents, readable buffers, let-bound scalars."""

    ivars: list[tuple[str, int]]
    readable: list[Buf]
    scalars: list[tuple[str, str]] = field(default_factory=list)
    own: Buf | None = None         # the buffer being stored: readable only at the store's own index
    own_index: str = ""


class ProgramGen:
    """Generates one program per call of `program()` from a random.Random."""

    def __init__(self, rng: random.Random, options: ProgramOptions | None = None):
        self.rng = rng
        self.o = options or ProgramOptions()
        self.risks: set[str] = set()
        self._names = 0

    # names and constants -----------------------------------------------------------------------
    def _name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}{self._names}"

    def dtype(self, kinds: tuple[str, ...] = INT_DTYPES + FLOAT_DTYPES, avoid: str | None = None) -> str:
        """A dtype drawn by WEIGHTS."""
        choices = [d for d in kinds if d != avoid]
        return self.rng.choices(choices, weights=[WEIGHTS[d] for d in choices], k=1)[0]

    def const(self, dt: str) -> str:
        k, r = dkind(dt), self.rng
        if k == "bool":
            return r.choice(["True", "False"])
        if k == "int":
            v = r.choice([0, 1, 2, 3, -1, -2, 5, 7, 16, 100, -100]) if bits(dt) > 8 else r.choice([0, 1, 2, -1, 3, 7, -5])
            return f"T.{dt}({v})"
        if k == "uint":
            return f"T.{dt}({r.choice([0, 1, 2, 3, 5, 7, 16, 100] if bits(dt) > 8 else [0, 1, 2, 3, 7, 15])})"
        return f"T.{dt}({r.choice([0.0, 1.0, -1.0, 0.5, 2.0, -3.25, 0.001, 100.0])!r})"

    @staticmethod
    def const_one(dt: str) -> str:
        return f"T.{dt}(1.0)" if dkind(dt) == "float" else f"T.{dt}(1)"

    # expressions ---------------------------------------------------------------------------------
    def index(self, extent: int, env: _Env) -> str:
        """An int32 index in [0, extent)."""
        r = self.rng
        if not env.ivars or r.random() < 0.1:
            return str(r.randrange(extent))
        v, e = r.choice(env.ivars)
        if extent == 1:
            return "0"
        x = r.random()
        if e <= extent and x < 0.6:
            return v
        if x < 0.8:
            return f"{v} % {extent}" if r.random() < 0.5 else f"({v} * {r.randint(1, 3)} + {r.randint(0, 4)}) % {extent}"
        return f"T.min({v} + {r.randint(0, 3)}, {extent - 1})"

    def load(self, b: Buf, env: _Env) -> str:
        return f"{b.name}[{', '.join(self.index(n, env) for n in b.shape)}]"

    def leaf(self, dt: str, env: _Env) -> str:
        r = self.rng
        same = [b for b in env.readable if b.dtype == dt]
        scal = [n for n, d in env.scalars if d == dt]
        x = r.random()
        if same and x < 0.45:
            return self.load(r.choice(same), env)
        if env.own is not None and env.own.dtype == dt and x < 0.55:
            return f"{env.own.name}[{env.own_index}]"
        if scal and x < 0.65:
            return r.choice(scal)
        if env.ivars and x < 0.8 and dkind(dt) != "bool":
            v = r.choice(env.ivars)[0]
            return v if dt == "int32" else self.cast(dt, "int32", v)
        if env.readable and x < 0.9 and dkind(dt) != "bool":
            b = r.choice(env.readable)
            return self.cast(dt, b.dtype, self.load(b, env))
        return self.const(dt)

    def cast(self, dt: str, src: str, text: str) -> str:
        if dt == src:
            return text
        if dkind(src) == "float" and dkind(dt) in ("int", "uint"):
            self.risks.add("overflow")  # out-of-range float-to-int conversion is undefined
        return f"T.Cast(\"{dt}\", {text})"

    def cond(self, env: _Env, depth: int) -> str:
        r = self.rng
        if env.ivars and r.random() < 0.5:
            v, e = r.choice(env.ivars)
            return f"{v} {r.choice(COMPARE)} {r.randrange(max(e, 1))}"
        dt = self.dtype()
        c = f"{self.expr(dt, env, depth + 1)} {r.choice(COMPARE)} {self.expr(dt, env, depth + 1)}"
        if r.random() < 0.2:
            c = f"T.Not({c})"
        return c

    def expr(self, dt: str, env: _Env, depth: int = 0) -> str:
        """A random expression of dtype `dt`."""
        r = self.rng
        if depth >= self.o.max_depth or r.random() < 0.3:
            return self.leaf(dt, env)
        k = dkind(dt)
        a = lambda: self.expr(dt, env, depth + 1)  # noqa: E731
        x = r.random()
        if x < 0.35:
            op = r.choice(["+", "-", "*"])
            if k == "int":
                self.risks.add("overflow")
            return f"({a()} {op} {a()})"
        if x < 0.45:
            return f"T.{r.choice(['min', 'max'])}({a()}, {a()})"
        if x < 0.55:
            return f"T.Select({self.cond(env, depth)}, {a()}, {a()})"
        if x < 0.62:
            return f"T.if_then_else({self.cond(env, depth)}, {a()}, {a()})"
        if x < 0.72:
            src = self.dtype(avoid=dt)
            return self.cast(dt, src, self.expr(src, env, depth + 1))
        if k == "float":
            if x < 0.86:
                return f"T.{r.choice(UNARY_FLOAT)}({a()})"
            if x < 0.93:
                return f"T.{r.choice(BINARY_FLOAT)}({a()}, {a()})"
            # |x| + 1 is never zero, nor folds to zero (the parser's constant folding refuses x / 0.0)
            return f"({a()} / (T.fabs({a()}) + {self.const_one(dt)}))"
        if x < 0.82:  # integer division by a non-zero positive constant
            op = r.choice(["//", "%", "T.truncdiv", "T.truncmod"])
            d = f"T.{dt}({r.randint(1, 7)})"
            return f"({a()} {op} {d})" if op in ("//", "%") else f"{op}({a()}, {d})"
        if x < 0.92:
            return f"({a()} {r.choice(['&', '|', '^'])} {a()})"
        amount = f"T.{dt}({r.randrange(bits(dt))})"
        if r.random() < 0.5:
            if k == "int":
                self.risks.add("overflow")  # shifting a negative value left is undefined
            return f"({a()} << {amount})"
        return f"({a()} >> {amount})"

    # statements ----------------------------------------------------------------------------------
    def _buffers(self) -> list[Buf]:
        r, bufs = self.rng, []
        for i in range(r.randint(2, self.o.max_buffers)):
            dt = self.dtype(FLOAT_DTYPES if r.random() < self.o.float_share else INT_DTYPES)
            shape = tuple(r.choice(EXTENTS) for _ in range(r.randint(1, self.o.max_dims)))
            bufs.append(Buf(f"{'ABCDEFGH'[i]}", dt, shape))
        return bufs

    def _loop(self, var: str, extent: int, pos: int, depth: int, flat: bool) -> str:
        """A `for` header; loop kinds vary (parallel outermost, vectorized innermost and short)."""
        r = self.rng
        x = r.random()
        if pos == 0 and x < 0.2:
            kind = f"T.parallel({extent})"
        elif pos == depth - 1 and extent <= 16 and x < 0.35:
            kind = f"T.vectorized({extent})"
        elif x < 0.45 and extent <= 8:
            kind = f"T.unroll({extent})"
        else:
            kind = f"range({extent})" if flat else f"T.serial({extent})"
        return f"for {var} in {kind}:"

    def _flat_store(self, out: Buf, readable: list[Buf], pad: str) -> list[str]:
        """A loop nest over `out`'s shape storing an expression into every element (a scratch buffer, which
        holds nothing before, is neither read at the store's index nor left partly unwritten by an `if`)."""
        r = self.rng
        ivs = [(self._name("i"), n) for n in out.shape]
        lines = []
        for d, (v, n) in enumerate(ivs):
            lines.append(pad + "    " * d + self._loop(v, n, d, len(ivs), True))
        inner = pad + "    " * len(ivs)
        idx = ", ".join(v for v, _ in ivs)
        env = _Env(ivs, readable, own=out if out.param else None, own_index=idx)
        if r.random() < 0.3:
            sdt = self.dtype()
            s = self._name("t")
            lines.append(f"{inner}{s}: T.{sdt} = {self.expr(sdt, env)}")
            env.scalars.append((s, sdt))
        store = f"{out.name}[{idx}] = "
        if r.random() < 0.25:
            lines.append(f"{inner}if {self.cond(env, 1)}:")
            lines.append(f"{inner}    {store}{self.expr(out.dtype, env)}")
            if r.random() < 0.5 or not out.param:
                lines.append(f"{inner}else:")
                lines.append(f"{inner}    {store}{self.expr(out.dtype, env)}")
        else:
            lines.append(f"{inner}{store}{self.expr(out.dtype, env)}")
        return lines

    def _flat_reduce(self, out: Buf, readable: list[Buf], pad: str) -> list[str]:
        ivs = [(self._name("i"), n) for n in out.shape]
        k = (self._name("k"), self.rng.choice(EXTENTS))
        lines = [pad + "    " * d + f"for {v} in range({n}):" for d, (v, n) in enumerate(ivs)]
        inner = pad + "    " * len(ivs)
        idx = ", ".join(v for v, _ in ivs)
        lines.append(f"{inner}{out.name}[{idx}] = {self.const(out.dtype)}")
        lines.append(f"{inner}for {k[0]} in range({k[1]}):")
        env = _Env(ivs + [k], readable)
        op = self.rng.choice(["+", "max", "min"])
        cur, term = f"{out.name}[{idx}]", self.expr(out.dtype, env)
        if op == "+" and dkind(out.dtype) == "int":
            self.risks.add("overflow")
        value = f"{cur} + {term}" if op == "+" else f"T.{op}({cur}, {term})"
        lines.append(f"{inner}    {out.name}[{idx}] = {value}")
        return lines

    def _block_stmt(self, out: Buf, readable: list[Buf], pad: str, reduce: bool) -> list[str]:
        r = self.rng
        loops = [(self._name("i"), n) for n in out.shape]
        kinds = "S" * len(loops)
        if reduce:
            loops.append((self._name("k"), r.choice(EXTENTS)))
            kinds += "R"
        vs = [f"v{v}" for v, _ in loops]
        lines = [f"{pad}for {', '.join(v for v, _ in loops)} in T.grid({', '.join(str(n) for _, n in loops)}):"]
        b = pad + "    "
        lines.append(f"{b}with T.sblock(\"{self._name('b')}\"):")
        b += "    "
        if len(vs) == 1:
            lines.append(f"{b}{vs[0]} = T.axis.{'spatial' if kinds == 'S' else 'reduce'}({loops[0][1]}, {loops[0][0]})")
        else:
            lines.append(f"{b}{', '.join(vs)} = T.axis.remap(\"{kinds}\", [{', '.join(v for v, _ in loops)}])")
        n_out = len(out.shape)
        idx = ", ".join(vs[:n_out])
        env = _Env([(v, n) for v, (_, n) in zip(vs, loops)], readable, own=None if reduce else out, own_index=idx)
        if reduce:
            lines.append(f"{b}with T.init():")
            lines.append(f"{b}    {out.name}[{idx}] = {self.const(out.dtype)}")
            op = r.choice(["+", "max", "min"])
            cur, term = f"{out.name}[{idx}]", self.expr(out.dtype, env)
            if op == "+" and dkind(out.dtype) == "int":
                self.risks.add("overflow")
            lines.append(f"{b}{out.name}[{idx}] = {cur} + {term}" if op == "+" else
                         f"{b}{out.name}[{idx}] = T.{op}({cur}, {term})")
        else:
            lines.append(f"{b}{out.name}[{idx}] = {self.expr(out.dtype, env)}")
        return lines

    def program(self) -> Program:
        """A fresh random program."""
        r = self.rng
        self.risks, self._names = set(), 0
        block = r.random() < self.o.block_share
        bufs = self._buffers()
        n_out = r.randint(1, max(1, len(bufs) - 1))
        outs, ins = bufs[-n_out:], bufs[:-n_out]
        readable = list(ins)
        body: list[str] = []
        pad = "    "
        if not block and r.random() < 0.3:  # a scratch buffer, fully written before anything reads it
            sdt = self.dtype()
            scratch = Buf(self._name("S"), sdt, tuple(r.choice(EXTENTS) for _ in range(r.randint(1, 2))), param=False)
            scope = r.choice(["global", "local"])
            body.append(f"{pad}{scratch.name} = T.alloc_buffer(({', '.join(map(str, scratch.shape))},), \"{sdt}\", scope=\"{scope}\")")
            body += self._flat_store(scratch, readable, pad)
            readable.append(scratch)
        stmts = 0
        for i in range(r.randint(1, self.o.max_stmts)):
            out = outs[i % len(outs)] if i < len(outs) else r.choice(outs)
            others = [b for b in readable if b is not out]
            reduce = r.random() < 0.25
            if block:
                body += self._block_stmt(out, others, pad, reduce)
            else:
                body += (self._flat_reduce if reduce else self._flat_store)(out, others, pad)
            if out not in readable:
                readable.append(out)  # fully written now: later statements may read it
            stmts += 1
        params = ", ".join(f"{b.name}: T.Buffer(({', '.join(map(str, b.shape))},), \"{b.dtype}\")" for b in bufs)
        head = "@T.prim_func(s_tir=True)" if block else "@T.prim_func"
        lines = [head, f"def main({params}):"]
        if r.random() < 0.7:
            lines.append(f"{pad}T.func_attr({{\"tirx.noalias\": True}})")
        text = "\n".join(lines + body) + "\n"
        return Program(text=text, kind="block" if block else "flat", risks=sorted(self.risks), stmts=stmts)
