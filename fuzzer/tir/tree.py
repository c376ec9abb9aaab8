"""Scoped traversal of TIR: enumerate mutation sites with what is in scope, and rewrite one or more of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from tirfuzz.fuzzer.tir.irutil import (call_name, dtype_of, free_vars, internal_writers, is_buffer, refresh_regions,
                                       substitute, tvm_mod, with_fields, written_buffers_with_views)

CONTROL_ROLES = frozenset({"cond", "loop-min", "loop-extent", "loop-step", "predicate", "iter-value"})
# Calls whose arguments are addresses, types or names, never ordinary values.
OPAQUE_CALLS = {"address_of", "tvm_access_ptr", "type_annotation", "reinterpret", "tvm_struct_get",
                "tvm_struct_set", "call_extern", "call_pure_extern", "call_llvm_intrin", "call_llvm_pure_intrin",
                "tvm_stack_make_array", "tvm_call_packed", "tvm_thread_allreduce", "ptr_to", "tvm_thread_context"}


_KINDS: dict[type, str] = {}  # node type -> how the walk treats it (isinstance on TVM's types is slow)


def _kind_of(cls: type) -> str:
    """"leaf" (not walked), "var", "node" (a statement or expression: a site) or "other" (walked through)."""
    tvm = tvm_mod()
    ir = tvm.ir
    if issubclass(cls, (ir.Range, ir.TensorRegion, tvm.tirx.IterVar, ir.Op, ir.Type)):
        kind = "leaf"
    elif issubclass(cls, ir.Var):
        kind = "var"
    elif issubclass(cls, (tvm.tirx.Stmt, ir.Expr)):
        kind = "node"
    else:
        kind = "other"
    _KINDS[cls] = kind
    return kind


@dataclass(frozen=True)
class VarInfo:
    """A variable in scope: its dtype, and its range when it is a loop or block iterator."""

    var: Any
    dtype: str
    lo: Any = None
    extent: Any = None
    kind: str = "param"  # param, loop, iter, let


@dataclass(frozen=True)
class Scope:
    """What a site may refer to: scalar variables, buffers, enclosing loops and conditions."""

    vars: tuple[VarInfo, ...] = ()
    buffers: tuple[Any, ...] = ()
    internal: tuple[Any, ...] = ()     # buffers allocated inside the function: may hold undefined values
    written: tuple[Any, ...] = ()      # buffers the function stores to, views of them included
    conds: tuple[Any, ...] = ()        # conditions known true here (if, if_then_else, block predicate)
    lets: tuple[tuple[Any, Any], ...] = ()
    loops: tuple[Any, ...] = ()        # enclosing For nodes, outermost first
    hidden: tuple[VarInfo, ...] = ()   # outer variables a block hides: used in proofs, never generated
    facts: tuple[Any, ...] = ()        # proof-only facts (block iterator == its binding, predicates)
    realize: Any = None                # the SBlockRealize of the block about to be entered
    block: Any = None                  # innermost enclosing SBlock (block IR), or None
    guards_internal: bool = False      # the enclosing statement stores (somewhere inside) to an internal buffer
    in_blocks: bool = False            # inside a non-root SBlock: only its iterators may be used
    func: str = ""

    def with_(self, **changes) -> "Scope":
        """A copy with these fields changed: `dataclasses.replace` without its per-call field checks (the
        walk makes tens of thousands of scopes per mutation)."""
        new = object.__new__(Scope)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    def push_var(self, info: VarInfo) -> "Scope":
        return self.with_(vars=self.vars + (info,))

    def push_buffer(self, buf, internal: bool = False) -> "Scope":
        return self.with_(buffers=self.buffers + (buf,), internal=self.internal + ((buf,) if internal else ()))

    def push_cond(self, cond) -> "Scope":
        return self.with_(conds=self.conds + (cond,))

    def scalars(self, dtype: str | None = None) -> list[VarInfo]:
        return [v for v in self.vars if dtype is None or v.dtype == dtype]


@dataclass
class Site:
    """One expression or statement occurrence, numbered in traversal order."""

    index: int
    node: Any
    kind: str                # "expr" or "stmt"
    scope: Scope
    role: str                # value, index, cond, loop-min, loop-extent, loop-step, iter-value, predicate, body, ...
    parent: str = ""         # type name of the node holding it
    in_seq: bool = False     # a statement directly inside a SeqStmt
    buffer: Any = None       # for index roles: the accessed buffer (inherited down the index expression)
    dim: int = -1
    store: bool = False      # inside the index of a BufferStore (buffer is the one written)
    control: bool = False    # part of a condition, loop bound, block binding or store index: decides what runs
    size: int = 1            # sites in its subtree, itself included: indices index .. index + size - 1

    @property
    def dtype(self) -> str | None:
        return dtype_of(self.node) if self.kind == "expr" else None


Rewrite = Callable[[Any, Site], Any]


@dataclass
class _Expect:
    """A child the current node's default mutation will visit, with the role and scope it has there."""

    node: Any
    kind: str
    role: str
    scope: Scope
    parent: str
    in_seq: bool = False
    buffer: Any = None
    dim: int = -1
    store: bool = False
    control: bool = False
    done: bool = False


@dataclass
class Walker:
    """One traversal: records every site, applies the rewrites keyed by site index.

    Built on `tvm_ffi.structural_mutate`: each visited node lists the children it expects to be visited
    (with role and scope); the engine's default mutation visits them in field order and rebuilds
    parents copy-on-write. Anything visited that was not expected (annotations, types) is left alone.
    """

    rewrites: dict[int, Rewrite] = field(default_factory=dict)
    sites: list[Site] = field(default_factory=list)
    record: bool = True
    # The sites of the same module from an earlier walk (`collect`): a subtree holding no rewrite is then
    # passed over whole, its sites counted by its size, instead of visited (a rewrite walks one path).
    known: list[Site] | None = None
    changed_blocks: int = 0
    _suspend: int = 0
    _count: int = 0
    _writers: set = field(default_factory=set)
    _stack: list = field(default_factory=list)
    _done: bool = False  # not recording, and the last rewrite applied: nothing after it is visited

    def run(self, mod):
        """Walk (and rewrite) every PrimFunc of an IRModule; returns the new module (or mod unchanged)."""
        tvm = tvm_mod()
        changed = {}
        for gv, f in mod.functions.items():
            if isinstance(f, tvm.tirx.PrimFunc):
                nf = self.func(f, str(gv.name_hint))
                if not nf.same_as(f):
                    changed[gv] = nf
        if not changed:
            return mod
        return tvm.IRModule({gv: changed.get(gv, f) for gv, f in mod.functions.items()}, attrs=mod.attrs)

    def func(self, f, name: str):
        import tvm_ffi

        scope = Scope(func=name, written=tuple(written_buffers_with_views(f.body)))
        for p in f.params:
            if is_buffer(p):
                scope = scope.push_buffer(p)
            elif dtype_of(p) is not None:
                scope = scope.push_var(VarInfo(p, dtype_of(p)))
        self._writers = internal_writers(f.body)
        self._stack = [[_Expect(f.body, "stmt", "body", scope, "PrimFunc")]]
        body = tvm_ffi.structural_mutate(f.body, [(object, self._cb)])
        self._stack = []
        if body.same_as(f.body):
            return f
        return f.with_body(body)

    def _take(self, value) -> _Expect | None:
        if not self._stack:
            return None
        for e in self._stack[-1]:
            if not e.done and e.node is not None and e.node.same_as(value):
                e.done = True
                return e
        return None

    def _cb(self, value, m):
        if self._done:
            return value
        kind = _KINDS.get(type(value)) or _kind_of(type(value))
        if kind == "leaf":
            return value
        if kind == "var" and (is_buffer(value) or dtype_of(value) is None):
            return value
        if kind == "other":
            return m.default_mutate(value)
        e = self._take(value)
        if e is None:
            return value
        index = self._count
        if self.known is not None and not self._suspend:
            if index >= len(self.known) or not self.known[index].node.same_as(value):
                raise ValueError(f"site {index} of the walk is not site {index} of the sites given: another module's")
            size = self.known[index].size
            if not any(index <= k < index + size for k in self.rewrites):
                self._count += size  # nothing to rewrite in it: passed over, its sites counted
                return value
        site = Site(index, value, e.kind, e.scope, e.role, e.parent, e.in_seq, e.buffer, e.dim, e.store,
                    e.control)
        self._count += 1
        if self.record:
            self.sites.append(site)
        if site.index in self.rewrites and not self._suspend:
            result = self.rewrites[site.index](value, site)
            if not self.record and site.index == max(self.rewrites):
                self._done = True  # no later index to count: the rest of the tree stays as it is
                return result
            if self.known is not None:  # the replaced subtree's sites counted by its size
                self._count = index + self.known[index].size
                return result
            self._suspend += 1  # still count the replaced subtree's sites, so later indices stay valid
            try:
                self._descend(value, e, m)
            finally:
                self._suspend -= 1
            return result
        new = self._descend(value, e, m)
        site.size = self._count - index
        return new

    def _descend(self, value, e: _Expect, m):
        kids = self._children_stmt(value, e.scope) if e.kind == "stmt" else self._children_expr(value, e)
        if not kids:
            return value
        self._stack.append(kids)
        try:
            new = m.default_mutate(value)
        finally:
            self._stack.pop()
        if new.same_as(value):
            return value
        return self._post(new, value, e.scope)

    def _post(self, new, old, scope: Scope):
        """Fix-ups after children changed: drop deleted statements, flatten sequences, refresh block regions."""
        tvm = tvm_mod()
        tx = tvm.tirx
        if isinstance(new, tx.SeqStmt):
            out = []
            for s in new.seq:
                if _is_deleted(s):
                    continue
                out.extend(s.seq if isinstance(s, tx.SeqStmt) else [s])
            if not out:
                return tx.Evaluate(tx.IntImm("int32", 0))
            return out[0] if len(out) == 1 else tx.SeqStmt(out)
        if isinstance(new, tvm.tirx.Stmt):
            new = _undelete(new)
        if isinstance(new, tvm.s_tir.SBlock) and (old.iter_vars or scope.in_blocks or scope.block is not None):
            self.changed_blocks += 1
            return refresh_regions(new, scope.buffers + tuple(new.alloc_buffers))
        return new

    # -- what each node's children are ------------------------------------------------------------
    def _children_stmt(self, node, scope: Scope) -> list[_Expect]:
        tvm = tvm_mod()
        tx, sx = tvm.tirx, tvm.s_tir
        writes = hash(node) in self._writers  # this statement's own expressions decide internal writes
        if writes != scope.guards_internal:
            scope = scope.with_(guards_internal=writes)

        def E(*a, **k):  # conditions, loop bounds, bindings and store indices decide what runs
            if a[1] == "expr" and (a[2] in CONTROL_ROLES or k.get("store")):
                k["control"] = True
            return _Expect(*a, **k)

        if isinstance(node, tx.SeqStmt):
            out, inner = [], scope
            for s in node.seq:
                out.append(E(s, "stmt", "body", inner, "SeqStmt", True))
                inner = _declare(s, inner)
            return out
        if isinstance(node, tx.For):
            inner = scope.push_var(VarInfo(node.loop_var, dtype_of(node.loop_var), node.min, node.extent,
                                           "loop")).with_(loops=scope.loops + (node,))
            out = [E(node.min, "expr", "loop-min", scope, "For"), E(node.extent, "expr", "loop-extent", scope, "For"),
                   E(node.body, "stmt", "body", inner, "For")]
            if node.step is not None:
                out.append(E(node.step, "expr", "loop-step", scope, "For"))
            return out
        if isinstance(node, tx.While):
            return [E(node.condition, "expr", "cond", scope, "While"), E(node.body, "stmt", "body", scope, "While")]
        if isinstance(node, tx.IfThenElse):
            out = [E(node.condition, "expr", "cond", scope, "IfThenElse"),
                   E(node.then_case, "stmt", "then", scope.push_cond(node.condition), "IfThenElse")]
            if node.else_case is not None:
                out.append(E(node.else_case, "stmt", "else", scope.push_cond(tx.Not(node.condition)), "IfThenElse"))
            return out
        if isinstance(node, tx.BufferStore):
            return [E(node.value, "expr", "value", scope, "BufferStore")] + \
                [E(i, "expr", "index", scope, "BufferStore", buffer=node.buffer, dim=d, store=True)
                 for d, i in enumerate(node.indices)]
        if isinstance(node, tx.Bind):
            return [E(node.value, "expr", "value", scope, "Bind")]
        if isinstance(node, tx.AttrStmt):
            out = [E(node.body, "stmt", "body", scope, "AttrStmt")]
            if dtype_of(node.value) and not isinstance(node.node, tvm.tirx.IterVar):
                out.insert(0, E(node.value, "expr", "attr", scope, "AttrStmt"))
            return out
        if isinstance(node, tx.AssertStmt):
            return [E(node.condition, "expr", "cond", scope, "AssertStmt")]
        if isinstance(node, tx.Evaluate):
            return [E(node.value, "expr", "eval", scope, "Evaluate")]
        if isinstance(node, sx.SBlockRealize):
            out = [E(v, "expr", "iter-value", scope, "SBlockRealize") for v in node.iter_values]
            out.append(E(node.predicate, "expr", "predicate", scope, "SBlockRealize"))
            out.append(E(node.block, "stmt", "block", scope.with_(realize=node), "SBlockRealize"))
            return out
        if isinstance(node, sx.SBlock):
            return self._children_block(node, scope, E)
        return []

    def _children_block(self, blk, scope: Scope, E) -> list[_Expect]:
        """A block's init and body, in a scope of its own: iterators bound to their values, buffers declared."""
        tx = tvm_mod().tirx
        root = not blk.iter_vars and not scope.in_blocks and scope.block is None
        inner = scope
        if not root:
            facts = scope.facts + scope.conds
            rz = scope.realize
            if rz is not None and len(rz.iter_values) == len(blk.iter_vars):
                facts += tuple(tx.EQ(iv.var, v) for iv, v in zip(blk.iter_vars, rz.iter_values)
                               if dtype_of(iv.var) == dtype_of(v))
                if not (isinstance(rz.predicate, tx.IntImm) and rz.predicate.value == 1):
                    facts += (rz.predicate,)
            hidden = scope.hidden + tuple(v for v in scope.vars if v.kind != "param")
            inner = scope.with_(vars=tuple(v for v in scope.vars if v.kind == "param"), conds=(), lets=(),
                                in_blocks=True, hidden=hidden, facts=facts)
            for iv in blk.iter_vars:
                inner = inner.push_var(VarInfo(iv.var, dtype_of(iv.var), iv.dom.min, iv.dom.extent, "iter"))
        inner = inner.with_(realize=None, block=blk)
        for b in blk.alloc_buffers:
            inner = inner.push_buffer(b, internal=True)
        for mb in blk.match_buffers:
            inner = inner.push_buffer(mb.buffer)
        out = [E(blk.body, "stmt", "body", inner, "SBlock")]
        if blk.init is not None:
            out.insert(0, E(blk.init, "stmt", "init", inner, "SBlock"))
        return out

    def _children_expr(self, node, parent: _Expect) -> list[_Expect]:
        tvm = tvm_mod()
        ir, tx = tvm.ir, tvm.tirx
        scope, role = parent.scope, parent.role
        sub = "index" if role == "index" else "operand"

        def E(*a, **k):  # index subexpressions inherit the accessed buffer; everything inherits control
            if a[2] == "index" and "buffer" not in k:
                k.update(buffer=parent.buffer, dim=parent.dim, store=parent.store)
            k["control"] = parent.control or a[2] == "cond"
            return _Expect(*a, **k)

        name = type(node).__name__

        def ok(x):
            return x is not None and dtype_of(x) is not None and not isinstance(x, (ir.StringImm,)) \
                and not (isinstance(x, ir.Var) and is_buffer(x))

        if isinstance(node, (ir.Var, tx.IntImm, tx.FloatImm, tx.Reduce)):
            return []
        if isinstance(node, ir.TensorLoad):
            return [E(i, "expr", "index", scope, "TensorLoad", buffer=node.source, dim=d)
                    for d, i in enumerate(node.indices)]
        if isinstance(node, ir.Call):
            cname = call_name(node)
            if cname in OPAQUE_CALLS:
                return []
            if cname == "if_then_else" and len(node.args) == 3:
                c, a, b = node.args
                return [E(c, "expr", "cond", scope, name), E(a, "expr", sub, scope.push_cond(c), name),
                        E(b, "expr", sub, scope.push_cond(tx.Not(c)), name)]
            return [E(a, "expr", sub, scope, name) for a in node.args if ok(a)]
        if isinstance(node, tx.Let):
            inner = scope.push_var(VarInfo(node.var, dtype_of(node.var), kind="let")).with_(
                lets=scope.lets + ((node.var, node.value),))
            return [E(node.value, "expr", sub, scope, name), E(node.body, "expr", sub, inner, name)]
        if isinstance(node, tx.Select):
            return [E(node.condition, "expr", "cond", scope, name), E(node.true_value, "expr", sub, scope, name),
                    E(node.false_value, "expr", sub, scope, name)]
        if isinstance(node, (tx.Cast, tx.Broadcast)):
            return [E(node.value, "expr", sub, scope, name)]
        if isinstance(node, tx.Ramp):
            return [E(node.base, "expr", sub, scope, name), E(node.stride, "expr", sub, scope, name)]
        if isinstance(node, tx.Not):
            return [E(node.a, "expr", sub, scope, name)]
        if isinstance(node, (tx.LShift, tx.RShift)):  # a constant amount out of range breaks the printer
            return [E(node.a, "expr", sub, scope, name), E(node.b, "expr", "shift-amount", scope, name)]
        if hasattr(node, "a") and hasattr(node, "b"):
            return [E(node.a, "expr", sub, scope, name), E(node.b, "expr", sub, scope, name)]
        return []


_DELETED_KEY = "tirfuzz.deleted"


def deleted_stmt():
    """A placeholder statement a rewrite returns to remove a statement from its sequence."""
    tx = tvm_mod().tirx
    return tx.AttrStmt(tx.IntImm("int32", 0), _DELETED_KEY, tx.IntImm("int32", 0), tx.Evaluate(tx.IntImm("int32", 0)))


def _is_deleted(s) -> bool:
    return type(s).__name__ == "AttrStmt" and str(s.attr_key) == _DELETED_KEY


def _undelete(s):
    """A statement whose only child was deleted becomes a no-op evaluate."""
    tx = tvm_mod().tirx
    return tx.Evaluate(tx.IntImm("int32", 0)) if _is_deleted(s) else s


def _declare(s, scope: Scope) -> Scope:
    """The scope after statement s in a sequence (Bind, AllocBuffer and DeclBuffer scope over the rest)."""
    tx = tvm_mod().tirx
    if isinstance(s, tx.Bind):
        dt = dtype_of(s.var)
        return scope.push_var(VarInfo(s.var, dt, kind="let")).with_(lets=scope.lets + ((s.var, s.value),)) \
            if dt else scope
    if isinstance(s, tx.AllocBuffer):
        return scope.push_buffer(s.buffer, internal=True)
    if isinstance(s, tx.DeclBuffer):
        return scope.push_buffer(s.buffer)
    return scope


def collect(mod) -> list[Site]:
    """Every site of every PrimFunc of the module, in traversal order."""
    w = Walker()
    w.run(mod)
    return w.sites


def rewrite(mod, rewrites: dict[int, Rewrite], sites: list[Site] | None = None):
    """The module with each site index in `rewrites` replaced by what its function returns. `sites`: the
    module's sites from `collect(mod)`, when the caller has them: the walk then follows only the paths to
    the rewritten sites (the same result, a fraction of the visits)."""
    w = Walker(rewrites=dict(rewrites), record=False, known=sites)
    return w.run(mod)
