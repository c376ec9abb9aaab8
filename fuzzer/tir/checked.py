"""The checked program: the same module with a check before every operation whose misuse is undefined.

`instrument(mod)` lowers blocks to loops the way TVM's pipeline starts (init blocks, opaque blocks, match
buffers: nothing reordered, nothing compacted), then puts a check before each statement for every
operation in it that can be undefined on the run's inputs:
- `out-of-bounds`: every buffer read and write, each index within the buffer's shape;
- `division-by-zero` and `division-overflow`: integer division and modulo (also the most negative value
  divided by -1);
- `shift-out-of-range`: shift amounts within the bit width;
- `uninitialized-read`: reads of a function-internal buffer's element that nothing wrote before (a shadow
  byte per element, set by every store);
- `signed-overflow`: signed integer add, subtract and multiply (TVM's simplifier and LLVM's `nsw` treat
  overflow as impossible), the exact result computed in float64;
- `float-to-int-overflow`: a float converted to an integer type that cannot hold it (or NaN).
A check that fails records (site, value, indices) in an extra float64 parameter `tirfuzz_trap` and stops
the function with an assertion. Parallel and vectorized loops run serially: the checks decide, not timing.
Checks inside `if_then_else` branches hold only when the branch is taken. What is not checked: while-loop
conditions, expressions under a `Let`, opaque calls, vector accesses other than ramps and broadcasts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tirfuzz.fuzzer.tir.irutil import call_name, dtype_of, tvm_mod, with_fields
from tirfuzz.fuzzer.tir.tree import OPAQUE_CALLS

TRAP_NAME = "tirfuzz_trap"
TRAP_SLOTS = 10            # [site + 1, value, index 0 .. index 7]
MAX_DIMS = TRAP_SLOTS - 2
CHECKS = ("out-of-bounds", "division-by-zero", "division-overflow", "shift-out-of-range", "uninitialized-read",
          "signed-overflow", "float-to-int-overflow")
BLOCK_LOWERING = ("s_tir.transform.LowerInitBlock", "s_tir.transform.ConvertBlocksToOpaque",
                  "s_tir.transform.LowerMatchBuffer", "s_tir.transform.LowerOpaqueBlock")


@dataclass(frozen=True)
class CheckSite:
    """One check put into the program: what it guards, where."""

    check: str          # one of CHECKS
    func: str
    what: str           # the buffer's name, or the expression in TVMScript
    access: str = ""    # "read" or "write" for buffer checks; "" otherwise
    shape: str = ""     # the buffer's shape, for out-of-bounds
    element_of: str = ""  # the buffer whose element the indices name
    rank: int = 0       # how many indices the trip records


@dataclass(frozen=True)
class Trip:
    """A check that failed on the run: the site, the offending value and the element."""

    site: CheckSite
    value: float
    index: tuple[int, ...]

    def describe(self) -> str:
        s, at = self.site, f" at {list(self.index)}" if self.index else ""
        if s.check == "out-of-bounds":
            return f"out-of-bounds {s.access} of `{s.what}`{at} (shape {s.shape}) in {s.func}"
        if s.check == "uninitialized-read":
            return f"read of `{s.what}`{at} before anything wrote it, in {s.func}"
        where = f" computing `{s.element_of}`{at}" if s.element_of else (at and f"{at}")
        if s.check == "division-by-zero":
            return f"division by zero in `{s.what}`{where}, in {s.func}"
        if s.check == "division-overflow":
            return f"most negative value divided by -1 in `{s.what}`{where}, in {s.func}"
        if s.check == "shift-out-of-range":
            return f"shift by {_num(self.value)} out of range in `{s.what}`{where}, in {s.func}"
        if s.check == "signed-overflow":
            return f"signed overflow in `{s.what}` (result {_num(self.value)}){where}, in {s.func}"
        return f"float {_num(self.value)} out of the integer range in `{s.what}`{where}, in {s.func}"


def _f64(v: int):
    return tvm_mod().tirx.const(float(v), "float64")


def _num(v: float) -> str:
    return str(int(v)) if v == v and abs(v) < 2 ** 63 and float(v).is_integer() else repr(v)


def _script(e) -> str:
    if type(e).__name__ == "Var" and getattr(e, "name", None):  # a bare variable prints as nothing
        return str(e.name)
    try:
        text = e.script()
    except Exception:  # noqa: BLE001  (printing is only for the message)
        text = str(e)
    text = " ".join(text.split())
    return text if len(text) <= 80 else text[:77] + "..."


def _int_limits(dt: str) -> tuple[int, int]:
    bits = int("".join(ch for ch in dt if ch.isdigit()) or 32)
    return (0, 2 ** bits - 1) if dt.startswith("uint") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _is_int(dt: str | None, kind: str = "int") -> bool:
    """A scalar (not vector) dtype of that kind: "int" (signed) or "uint"."""
    return dt is not None and dt.startswith(kind) and "x" not in dt


class _Instrumenter:
    """Rewrites one PrimFunc body, collecting its check sites."""

    def __init__(self, func_name: str, trap, sites: list[CheckSite]):
        self.tvm = tvm_mod()
        self.func, self.trap, self.sites = func_name, trap, sites
        self.shadows: list[tuple[Any, Any]] = []   # (internal buffer, its shadow)
        self.element: tuple[str, list] = ("", [])  # the store being computed: (buffer name, indices)

    # ---- statements ----
    def stmt(self, s):
        tx, ir = self.tvm.tirx, self.tvm.ir
        if isinstance(s, tx.SeqStmt):
            out: list = []
            for c in s.seq:
                out.extend(self.seq_item(c))
            return tx.SeqStmt(out) if len(out) != 1 else out[0]
        if isinstance(s, tx.BufferStore):
            self.element = (s.buffer.name, list(s.indices))
            checks = [c for i in s.indices for c in self.expr(i, None)] + self.expr(s.value, None)
            checks += self.access(s.buffer, list(s.indices), "write", None)
            self.element = ("", [])
            store = [s]
            shadow = self.shadow_of(s.buffer)
            if shadow is not None and all(dtype_of(i) is not None and "x" not in dtype_of(i) for i in s.indices):
                store.append(tx.BufferStore(shadow, tx.IntImm("int8", 1), list(s.indices)))
            return self.seq(checks + store)
        if isinstance(s, tx.Evaluate):
            return self.seq(self.expr(s.value, None) + [s])
        if isinstance(s, tx.IfThenElse):
            checks = self.expr(s.condition, None)
            new = tx.IfThenElse(s.condition, self.stmt(s.then_case),
                                self.stmt(s.else_case) if s.else_case is not None else None)
            return self.seq(checks + [new])
        if isinstance(s, tx.For):
            checks = self.expr(s.min, None) + self.expr(s.extent, None)
            kind = s.kind
            if kind in (tx.ForKind.PARALLEL, tx.ForKind.VECTORIZED):
                kind = tx.ForKind.SERIAL
            return self.seq(checks + [with_fields(s, body=self.stmt(s.body), kind=kind)])
        if isinstance(s, tx.While):
            return with_fields(s, body=self.stmt(s.body))
        if isinstance(s, (tx.Bind, tx.AssertStmt)):
            value = s.value if isinstance(s, tx.Bind) else s.condition
            return self.seq(self.expr(value, None) + [s])
        if isinstance(s, tx.AttrStmt):
            return with_fields(s, body=self.stmt(s.body))
        return s

    def seq_item(self, c) -> list:
        """A statement of a sequence, with what follows an internal allocation: its shadow, zeroed."""
        tx = self.tvm.tirx
        if isinstance(c, tx.AllocBuffer) and self.shadowable(c.buffer):
            shadow = tx.decl_buffer(list(c.buffer.shape), "int8", c.buffer.name + "_written",
                                    scope=c.buffer.scope() if callable(getattr(c.buffer, "scope", None)) else "")
            self.shadows.append((c.buffer, shadow))
            return [c, tx.AllocBuffer(shadow), self.zero_fill(shadow)]
        new = self.stmt(c)
        return list(new.seq) if isinstance(new, tx.SeqStmt) else [new]

    def shadowable(self, buf) -> bool:
        dt = str(buf.dtype)
        return dt != "handle" and len(buf.shape) <= MAX_DIMS and all(dtype_of(d) is not None for d in buf.shape)

    def shadow_of(self, buf):
        return next((s for b, s in self.shadows if b.same_as(buf)), None)

    def zero_fill(self, shadow):
        tx, ir = self.tvm.tirx, self.tvm.ir
        loop_vars = [tx.Var(f"z{k}", dtype_of(d)) for k, d in enumerate(shadow.shape)]
        body = tx.BufferStore(shadow, tx.IntImm("int8", 0), loop_vars)
        for v, d in reversed(list(zip(loop_vars, shadow.shape))):
            body = tx.For(v, tx.IntImm(dtype_of(d), 0), d, tx.ForKind.SERIAL, body)
        return body

    def seq(self, stmts: list):
        return stmts[0] if len(stmts) == 1 else self.tvm.tirx.SeqStmt(stmts)

    # ---- checks ----
    def check(self, ok, guard, site: CheckSite, value, index: list):
        """`if not ok: record the trip, stop`: the check as a statement."""
        tx, ir = self.tvm.tirx, self.tvm.ir
        self.sites.append(site)
        k = len(self.sites)
        cond = tx.Not(ok) if guard is None else tx.And(guard, tx.Not(ok))
        f64 = lambda e: e if dtype_of(e) == "float64" else tx.Cast("float64", e)  # noqa: E731
        record = [tx.BufferStore(self.trap, tx.FloatImm("float64", float(k)), [tx.IntImm("int32", 0)])]
        if value is not None:
            record.append(tx.BufferStore(self.trap, f64(value), [tx.IntImm("int32", 1)]))
        for j, i in enumerate(index[:MAX_DIMS]):
            record.append(tx.BufferStore(self.trap, f64(i), [tx.IntImm("int32", 2 + j)]))
        # the Python signature says (kind, condition, ...); the FFI constructor takes (condition, kind, ...)
        stop = tx.AssertStmt(tx.IntImm("bool", 0), ir.StringImm("RuntimeError"),
                             [ir.StringImm(f"tirfuzz check {k} failed: {site.check}")])
        return tx.IfThenElse(cond, tx.SeqStmt(record + [stop]), None)

    def access(self, buf, indices: list, access: str, guard) -> list:
        """In-bounds checks for each index (ramps by their first and last lane), then the shadow's."""
        tx, ir = self.tvm.tirx, self.tvm.ir
        conds, scalar = [], []
        for i, extent in zip(indices, buf.shape):
            if isinstance(i, tx.Ramp):
                last = i.base + i.stride * (int(i.lanes) - 1)
                conds += [tx.And(i.base >= 0, i.base < extent), tx.And(last >= 0, last < extent)]
                scalar.append(i.base)
            elif isinstance(i, tx.Broadcast):
                conds.append(tx.And(i.value >= 0, i.value < extent))
                scalar.append(i.value)
            elif dtype_of(i) is not None and "x" not in dtype_of(i):
                conds.append(tx.And(i >= 0, i < extent))
                scalar.append(i)
            else:
                return []
        if len(indices) != len(buf.shape) or not conds:
            return []
        shape = "[" + ", ".join(_script(d) for d in buf.shape) + "]"
        ok = conds[0]
        for c in conds[1:]:
            ok = tx.And(ok, c)
        out = [self.check(ok, guard, CheckSite("out-of-bounds", self.func, buf.name, access, shape,
                                                              rank=len(scalar)), None, scalar)]
        shadow = self.shadow_of(buf)
        if access == "read" and shadow is not None and len(scalar) == len(indices):
            written = tx.NE(tx.BufferLoad(shadow, scalar), tx.IntImm("int8", 0))
            out.append(self.check(written, guard, CheckSite("uninitialized-read", self.func, buf.name, "read",
                                                           rank=len(scalar)),
                                  None, scalar))
        return out

    def site(self, check: str, e) -> CheckSite:
        return CheckSite(check, self.func, _script(e), element_of=self.element[0], rank=len(self.element[1]))

    def expr(self, e, guard) -> list:
        """Checks for every operation in `e` (children first), each under `guard` (None: always evaluated)."""
        tx, ir = self.tvm.tirx, self.tvm.ir
        if isinstance(e, ir.TensorLoad):
            out = [c for i in e.indices for c in self.expr(i, guard)]
            return out + self.access(e.source, list(e.indices), "read", guard)
        if isinstance(e, tx.Let):
            return self.expr(e.value, guard)  # the body's checks would name the let's variable: not checked
        if isinstance(e, ir.Call):
            name = call_name(e)
            if name in OPAQUE_CALLS:
                return []
            if name == "if_then_else" and len(e.args) == 3:
                c, t, f = e.args
                taken = c if guard is None else tx.And(guard, c)
                other = tx.Not(c) if guard is None else tx.And(guard, tx.Not(c))
                return self.expr(c, guard) + self.expr(t, taken) + self.expr(f, other)
            out = [x for a in e.args for x in self.expr(a, guard)]
            if name in ("shift_left", "shift_right") and len(e.args) == 2:
                out += self.shift(e, e.args[1], guard)
            return out
        children = [getattr(e, f) for f in ("a", "b", "value", "condition", "true_value", "false_value", "base",
                                            "stride") if hasattr(e, f)]
        out = [x for ch in children if ch is not None and not isinstance(ch, (int, float)) for x in self.expr(ch, guard)]
        dt = dtype_of(e)
        if isinstance(e, (tx.Div, tx.Mod, tx.FloorDiv, tx.FloorMod)) and (_is_int(dt) or _is_int(dt, "uint")):
            out += self.division(e, dt, guard)
        elif isinstance(e, (tx.LShift, tx.RShift)) and dt and "x" not in dt:
            out += self.shift(e, e.b, guard)
        elif isinstance(e, (tx.Add, tx.Sub, tx.Mul)) and _is_int(dt):
            out += self.overflow(e, dt, guard)
        elif isinstance(e, tx.Cast) and dt and "x" not in dt and dt.startswith(("int", "uint")):
            src = dtype_of(e.value)
            if src and src.startswith(("float", "bfloat")) and "x" not in src:
                lo, hi = _int_limits(dt)
                v = tx.Cast("float64", e.value) if src != "float64" else e.value
                ok = tx.And(tx.GE(v, _f64(lo)), tx.LT(v, _f64(hi + 1)))
                out.append(self.check(ok, guard, self.site("float-to-int-overflow", e), v, self.element[1]))
        return out

    def division(self, e, dt: str, guard) -> list:
        """Divisor non-zero (a constant one needs no check) and, signed, not MIN / -1 (compared in float64:
        as an integer literal the simplifier folded it out of range, see overflow)."""
        tx = self.tvm.tirx
        idx, const = self.element[1], int(e.b.value) if isinstance(e.b, tx.IntImm) else None
        out = []
        if const is None or const == 0:
            ok = tx.NE(e.b, tx.const(0, dt)) if const is None else tx.IntImm("bool", 0)
            out.append(self.check(ok, guard, self.site("division-by-zero", e), e.b, idx))
        if _is_int(dt) and const in (None, -1):
            ok = tx.Or(tx.NE(e.b, tx.const(-1, dt)), tx.NE(tx.Cast("float64", e.a), _f64(_int_limits(dt)[0])))
            out.append(self.check(ok, guard, self.site("division-overflow", e), e.a, idx))
        return out

    def shift(self, e, amount, guard) -> list:
        tx = self.tvm.tirx
        dt = dtype_of(amount)
        if not dt or "x" in dt:
            return []
        width = int("".join(ch for ch in dtype_of(e) if ch.isdigit()) or 32)
        ok = tx.And(amount >= tx.const(0, dt), amount < tx.const(width, dt)) if dt.startswith("int") \
            else amount < tx.const(width, dt)
        return [self.check(ok, guard, self.site("shift-out-of-range", e), amount, self.element[1])]

    def overflow(self, e, dt: str, guard) -> list:
        """The exact result in float64 within the type's range: exact for types up to 32 bits (rounding is
        monotone and the limits are representable), within 2**10 of the limits for int64. Integer forms
        of this check made TVM's simplifier fold literals out of range (2**31 - 1 + 2) and refuse to build."""
        tx = self.tvm.tirx
        lo, hi = _int_limits(dt)
        a, b = tx.Cast("float64", e.a), tx.Cast("float64", e.b)
        value = a + b if isinstance(e, tx.Add) else a - b if isinstance(e, tx.Sub) else a * b
        top = tx.LT(value, _f64(2 ** 63)) if dt == "int64" else tx.LE(value, _f64(hi))
        ok = tx.And(tx.GE(value, _f64(lo)), top)
        return [self.check(ok, guard, self.site("signed-overflow", e), value, self.element[1])]


def instrument(mod) -> tuple[Any, list[CheckSite]]:
    """(the checked module: every PrimFunc with its checks and an extra `tirfuzz_trap` parameter, the sites;
    trap slot 0 holds the 1-based site of the check that failed)."""
    tvm = tvm_mod()
    tx = tvm.tirx
    seq = tvm.transform.Sequential([_pass(n) for n in BLOCK_LOWERING])
    with tvm.transform.PassContext(opt_level=3):
        lowered = seq(mod)
    sites: list[CheckSite] = []
    out = {}
    for gv, func in lowered.functions.items():
        if not isinstance(func, tx.PrimFunc):
            out[gv] = func
            continue
        trap = tx.decl_buffer((TRAP_SLOTS,), "float64", TRAP_NAME)
        body = _Instrumenter(gv.name_hint, trap, sites).stmt(func.body)
        out[gv] = with_fields(func, params=list(func.params) + [trap], body=body)
    return tvm.IRModule(out, attrs=lowered.attrs), sites


def _pass(name: str):
    tvm = tvm_mod()
    ns, _, short = name.rpartition(".")
    return getattr(tvm.s_tir.transform if ns.startswith("s_tir") else tvm.tirx.transform, short)()


def trip_from_message(message: str, sites: list[CheckSite]) -> Trip | None:
    """The check that failed, from the assertion it raised ("tirfuzz check K failed: NAME"), or None: for
    a run whose trap parameter does not hold the check's number although the check's assertion fired
    (seen on a mutant whose vthread loop has extent 0). The offending value and element are not known."""
    m = re.search(r"tirfuzz check (\d+) failed: ([a-z-]+)", message)
    if m is None or not 0 < int(m.group(1)) <= len(sites) or sites[int(m.group(1)) - 1].check != m.group(2):
        return None
    return Trip(sites[int(m.group(1)) - 1], float("nan"), ())


def read_trip(trap_values, sites: list[CheckSite]) -> Trip | None:
    """The check that failed, from the trap parameter's values after the run, or None."""
    k = int(trap_values[0])
    if k <= 0 or k > len(sites):
        return None
    site = sites[k - 1]
    index = tuple(int(v) for v in trap_values[2:2 + min(site.rank, MAX_DIMS)])
    return Trip(site, float(trap_values[1]), index)
