"""Index safety: prove every buffer access in bounds over the loop ranges, clamp what cannot be proven."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from tirfuzz.fuzzer.tir.exprgen import bits, const, int_range, safe_divisor
from tirfuzz.fuzzer.tir.tree import Site, Walker, collect, dtype_of, is_buffer, rewrite, tvm_mod, with_fields

MAX_ROUNDS = 3


@dataclass
class Access:
    """One buffer access site and the dimensions whose index could not be proven in bounds."""

    site: Site
    buffer: Any
    unproven: list[int] = field(default_factory=list)
    vector: bool = False          # a vector (Ramp/other) index that clamping cannot fix
    divisor: bool = False         # integer division by maybe 0 or -1 (guarded: max(b, 1)), or a shift amount
                                  # maybe out of [0, bits) (guarded: b mod bits)


@dataclass
class SafetyReport:
    """The outcome of making a module index-safe."""

    safe: bool
    clamped: int = 0
    unproven: int = 0             # accesses still unproven after clamping
    checked: int = 0
    reasons: list[str] = field(default_factory=list)


class Prover:
    """An Analyzer that knows the ranges, let values and conditions of one site's scope."""

    def __init__(self):
        tvm = tvm_mod()
        self.tvm = tvm
        self.ana = tvm.sym.Analyzer()
        self._bound: set[int] = set()

    def _bind_scope(self, scope) -> None:
        ir = self.tvm.ir
        for v in scope.hidden + scope.vars:
            if v.extent is not None and v.var.__hash__() not in self._bound:
                self._bound.add(v.var.__hash__())
                try:
                    self.ana.bind(v.var, ir.Range.from_min_extent(v.lo, v.extent), allow_override=True)
                except Exception:  # noqa: BLE001  (an odd range: the var stays unconstrained)
                    pass

    def may_overflow(self, scope, idx) -> bool:
        """Whether some integer arithmetic inside an index may leave its dtype's range (signed overflow is
        undefined, and a wrapped value defeats the range proof)."""
        import tvm_ffi


        nodes: list = []

        def visit(e):
            dt = dtype_of(e) or ""
            if dt.startswith(("int", "uint")) and "x" not in dt:
                nodes.append(e)

        tvm_ffi.structural_walk(idx, (_overflow_nodes(), visit))
        if not nodes:
            return False
        self._bind_scope(scope)
        for e in nodes:
            lo, hi = int_range(dtype_of(e))
            try:
                b = self.ana.const_int_bound(e)
            except Exception:  # noqa: BLE001
                return True
            if b.min_value < lo or b.max_value > hi:
                return True
        return False

    def in_bounds(self, scope, idx, extent) -> bool:
        """Whether 0 <= idx < extent holds everywhere in scope (vector indices: every lane)."""
        tx = self.tvm.tirx
        if _plainly_in_bounds(tx, scope, idx, extent):
            return True
        self._bind_scope(scope)
        with contextlib.ExitStack() as stack:
            for c in scope.facts + scope.conds:
                try:
                    stack.enter_context(self.ana.constraint_scope(c))
                except Exception:  # noqa: BLE001
                    pass
            for var, value in scope.lets:
                if dtype_of(var) in ("int32", "int64") and dtype_of(value) == dtype_of(var):
                    stack.enter_context(self.ana.constraint_scope(tx.EQ(var, value)))
            lanes = _lanes(idx)
            if lanes == 1:
                pts = [idx]
            elif isinstance(idx, tx.Ramp):
                pts = [idx.base, idx.base + idx.stride * (lanes - 1)]
                if not isinstance(idx.stride, tx.IntImm):
                    return False
            elif isinstance(idx, tx.Broadcast):
                pts = [idx.value]
            else:
                return False
            for p in pts:
                ext = extent if dtype_of(extent) == dtype_of(p) else tx.Cast(dtype_of(p), extent)
                try:
                    if not (self.ana.can_prove(p >= 0) and self.ana.can_prove(p < ext)):
                        return False
                except Exception:  # noqa: BLE001
                    return False
        return True


def _plainly_in_bounds(tx, scope, idx, extent) -> bool:
    """0 <= idx < extent without the analyzer, for the common cases: a constant index, or a loop or block
    iterator whose whole range [min, min + extent) (constants) lies in [0, extent). What it cannot settle
    (False) goes to the analyzer, which binds the same ranges."""
    if type(extent) is not tx.IntImm:
        return False
    ext = int(extent.value)
    if type(idx) is tx.IntImm:
        return 0 <= int(idx.value) < ext
    if type(idx) is not tx.Var:
        return False
    for v in reversed(scope.vars + scope.hidden):
        if v.var.same_as(idx):
            lo, n = v.lo, v.extent
            return (type(lo) is tx.IntImm and type(n) is tx.IntImm and int(n.value) >= 1
                    and int(lo.value) >= 0 and int(lo.value) + int(n.value) <= ext)
    return False


def _is_zero(e) -> bool:
    return type(e).__name__ == "IntImm" and int(e.value) == 0


def _overflow_nodes():
    tx = tvm_mod().tirx
    return (tx.Add, tx.Sub, tx.Mul, tx.LShift, tx.Cast)


def _lanes(expr) -> int:
    dt = dtype_of(expr) or "int32"
    return int(dt.rsplit("x", 1)[1]) if "x" in dt and dt.rsplit("x", 1)[1].isdigit() else 1


def _divisor_ok(prover: Prover, site: Site, b) -> bool:
    """Whether an integer divisor is provably >= 1 or <= -2 (no division by zero, no INT_MIN / -1 trap)."""
    tx = prover.tvm.tirx
    if isinstance(b, tx.IntImm):
        return b.value not in (0, -1)
    prover._bind_scope(site.scope)
    try:
        return prover.ana.can_prove(b >= 1) or prover.ana.can_prove(b <= -2)
    except Exception:  # noqa: BLE001
        return False


def _shift_ok(prover: Prover, site: Site, node) -> bool:
    """Whether a shift amount is provably in [0, bits of the shifted type)."""
    tx = prover.tvm.tirx
    b, n = node.b, bits(dtype_of(node.a) or "int32")
    if isinstance(b, tx.IntImm):
        return 0 <= b.value < n
    prover._bind_scope(site.scope)
    try:
        return prover.ana.can_prove(b >= 0) and prover.ana.can_prove(b < n)
    except Exception:  # noqa: BLE001
        return False


def _bytes(buf):
    tx = tvm_mod().tirx
    n = tx.IntImm("int64", max(bits(str(buf.dtype)) // 8, 1))
    for d in buf.shape:
        n = n * (d if dtype_of(d) == "int64" else tx.Cast("int64", d))
    return n


def _view_fits(prover: Prover, decl) -> bool:
    """Whether a DeclBuffer view spans no more bytes than every buffer its data pointer comes from."""
    import tvm_ffi

    tvm = prover.tvm
    if decl.data is None:
        return True
    src: list = []
    tvm_ffi.structural_walk(decl.data, (tvm.ir.Var, src.append))

    bases = [v for v in src if is_buffer(v) and not v.same_as(decl.buffer)]
    try:
        return all(prover.ana.can_prove(_bytes(decl.buffer) <= _bytes(b)) for b in bases)
    except Exception:  # noqa: BLE001
        return False


def find_unsafe(mod, sites: list[Site] | None = None) -> tuple[list[Access], int]:
    """Every access with an index not provably in bounds (and every risky integer division), and the count
    checked. `sites`: the module's sites (tree.collect), when the caller has them."""
    tvm = tvm_mod()
    tx = tvm.tirx
    if sites is None:
        walker = Walker()
        walker.run(mod)
        sites = walker.sites
    prover = Prover()
    bad, checked = [], 0
    divs = (tx.Div, tx.Mod, tx.FloorDiv, tx.FloorMod)
    for site in sites:
        node = site.node
        if site.kind == "stmt" and isinstance(node, tvm.s_tir.SBlockRealize):
            # Accesses inside a block are proven with its iterators' declared domains: a binding that
            # leaves its domain (a mutated iter value) makes every such proof void, and cannot be clamped.
            for v, iv in zip(node.iter_values, node.block.iter_vars):
                off = v if _is_zero(iv.dom.min) else tx.Sub(v, iv.dom.min)
                if not prover.in_bounds(site.scope, off, iv.dom.extent):
                    bad.append(Access(site, None, [0], vector=True))
                    break
            continue
        if site.kind == "stmt" and isinstance(node, tx.DeclBuffer):
            if not _view_fits(prover, node):
                bad.append(Access(site, node.buffer, [0], vector=True))  # cannot be clamped
            continue
        if site.kind == "expr" and isinstance(node, (tx.LShift, tx.RShift)):
            if not _shift_ok(prover, site, node):
                bad.append(Access(site, None, [], divisor=True))
            continue
        if site.kind == "expr" and isinstance(node, divs):
            dt = dtype_of(node) or ""
            if dt.startswith(("int", "uint")) and not _divisor_ok(prover, site, node.b):
                bad.append(Access(site, None, [], divisor=True))
            continue
        if site.kind == "expr" and isinstance(node, tvm.ir.TensorLoad):
            buf = node.source
        elif site.kind == "stmt" and isinstance(node, tvm.tirx.BufferStore):
            buf = node.buffer
        else:
            continue
        checked += 1
        shape = list(buf.shape)
        if len(shape) != len(node.indices):
            bad.append(Access(site, buf, list(range(len(node.indices))), vector=True))
            continue
        acc = Access(site, buf)
        for d, (idx, ext) in enumerate(zip(node.indices, shape)):
            if not prover.in_bounds(site.scope, idx, ext):
                acc.unproven.append(d)
                acc.vector |= _lanes(idx) != 1
            if prover.may_overflow(site.scope, idx):
                acc.unproven.append(d)
                acc.vector = True  # undefined before any clamp could act: not fixable by clamping
        if acc.unproven:
            bad.append(acc)
    return bad, checked


def clamp_index(idx, extent):
    """max(min(idx, extent - 1), 0) in the index's dtype: in bounds whenever extent >= 1."""
    tx = tvm_mod().tirx
    dt = dtype_of(idx)
    ext = extent if dtype_of(extent) == dt else tx.Cast(dt, extent)
    return tx.Max(tx.Min(idx, ext - tx.IntImm(dt, 1)), tx.IntImm(dt, 0))


def _clamp_access(node, site: Site, dims: list[int]):
    tx = tvm_mod().tirx
    if isinstance(node, (tx.LShift, tx.RShift)):
        dt = dtype_of(node.b)
        return with_fields(node, b=tx.FloorMod(node.b, const(dt, bits(dtype_of(node.a)))))
    if isinstance(node, (tvm_mod().tirx.Div, tvm_mod().tirx.Mod, tvm_mod().tirx.FloorDiv, tvm_mod().tirx.FloorMod)):
        return with_fields(node, b=safe_divisor(node.b))
    buf = node.source if hasattr(node, "source") else node.buffer
    idx = list(node.indices)
    for d in dims:
        idx[d] = clamp_index(idx[d], buf.shape[d])
    return with_fields(node, indices=idx)


def make_safe(mod, clamp: bool = True) -> tuple[Any, SafetyReport]:
    """The module with every unprovable scalar access clamped into bounds, and what was done."""
    report = SafetyReport(safe=True)
    for _ in range(MAX_ROUNDS):
        sites = collect(mod)
        bad, checked = find_unsafe(mod, sites)
        report.checked = max(report.checked, checked)
        fixable = [a for a in bad if not a.vector]
        if not bad:
            report.safe = not report.reasons
            return mod, report
        if not clamp or not fixable:
            break
        rewrites = {a.site.index: (lambda n, s, dims=a.unproven: _clamp_access(n, s, dims)) for a in fixable}
        if any(a.buffer is not None and any(a.buffer.same_as(x) for x in a.site.scope.internal) for a in fixable):
            report.reasons.append("uninit")  # a clamped access to an internal buffer may touch an unwritten element

        mod = rewrite(mod, rewrites, sites)
        report.clamped += len(fixable)
    bad, _ = find_unsafe(mod)
    report.unproven = len(bad)
    report.safe = not bad and not report.reasons
    if any(not a.divisor for a in bad):
        report.reasons.append("oob")
    if any(a.divisor for a in bad):
        report.reasons.append("div")
    return mod, report
