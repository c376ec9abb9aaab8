"""IR-structure features: a second coverage channel beside TVM's blocks (issue 20; MLIRod's idea).

A feature is a pair of a construct and what sits inside it: the statement kinds each control construct
holds directly ("nest"), every construct under every enclosing one at any depth ("under"), and the
expression kinds, with a dtype class, under every enclosing construct ("in"). Constructs are loops by
kind (For:vectorized, ...), While, the two branches of IfThenElse, blocks, lets and attributes by key.
"a vectorized loop inside an if-branch" is `under|If.then|For:vectorized`; "a Select inside a while loop"
is `in|While|Select:float`. Beside the features of the module a mutation made, a (pass, feature) pair
records what each of the case's passes that changed the module made or took away (`pass_features`,
computed as the case's passes run: fuzzer/execution/pipeline.py), so a pass mutation whose pass now
builds a structure it never built before counts as new too. The campaign keeps a mutant that shows a
feature no case showed before, even without new blocks.
"""

from __future__ import annotations

from typing import Any

from tirfuzz.fuzzer.tir.irutil import dtype_of

PASS_PREFIX = "pass|"  # how a (pass, feature) pair starts
_CHILD_STMTS = ("body", "then_case", "else_case", "block", "init")
_EXPRS = ("condition", "value", "min", "extent", "indices", "predicate", "iter_values", "args")
_FOR_KIND = {0: "serial", 1: "parallel", 2: "vectorized", 3: "unrolled", 4: "thread_binding"}


def dtype_class(dtype: Any) -> str:
    """float, int, uint, bool, handle or other; with ".vec" for more than one lane."""
    text = str(dtype)
    base = ("bool" if text.startswith("bool") else "float" if text.startswith(("float", "bfloat")) else
            "uint" if text.startswith("uint") else "int" if text.startswith("int") else
            "handle" if text.startswith("handle") else "other")
    return base + (".vec" if "x" in text and base not in ("handle", "other") else "")


def _construct(stmt, tx, sx) -> str | None:
    """The construct a statement opens, or None for plain statements."""
    if isinstance(stmt, tx.For):
        return "For:" + _FOR_KIND.get(int(stmt.kind), str(stmt.kind))
    if isinstance(stmt, tx.While):
        return "While"
    if isinstance(stmt, sx.SBlock):
        return "SBlock"
    if isinstance(stmt, tx.LetStmt):
        return "Let"
    if isinstance(stmt, tx.AttrStmt):
        return "Attr:" + str(stmt.attr_key)
    return None


def structure_features(mod, exprs: bool = True) -> set[str]:
    """The module's structure features (see the module docstring); `exprs=False`: the statement ones only
    ("nest" and "under", a fifth of the cost)."""
    import tvm
    import tvm.s_tir as sx
    import tvm_ffi

    tx = tvm.tirx
    feats: set[str] = set()

    def expr_kinds(node, ctx: tuple[str, ...]) -> None:
        if not exprs:
            return
        kinds: set[str] = set()

        def on(e) -> None:
            kinds.add(type(e).__name__ + ":" + dtype_class(dtype_of(e) or "handle"))

        tvm_ffi.structural_walk(node, ((tvm.ir.Expr,), on))
        for k in kinds:
            for c in ctx:
                feats.add(f"in|{c}|{k}")

    def stmt(s, ctx: tuple[str, ...]) -> None:
        if isinstance(s, tx.SeqStmt):
            for x in s.seq:
                stmt(x, ctx)
            return
        if isinstance(s, sx.SBlockRealize):
            expr_kinds(s.iter_values, ctx)
            expr_kinds(s.predicate, ctx)
            stmt(s.block, ctx)
            return
        if isinstance(s, tx.IfThenElse):
            expr_kinds(s.condition, ctx)
            feats.add(f"nest|{ctx[-1]}|IfThenElse")
            for c in ctx:
                feats.add(f"under|{c}|If")
            stmt(s.then_case, ctx + ("If.then",))
            if s.else_case is not None:
                stmt(s.else_case, ctx + ("If.else",))
            return
        own = _construct(s, tx, sx)
        feats.add(f"nest|{ctx[-1]}|{own or type(s).__name__}")
        if own is not None:
            for c in ctx:
                feats.add(f"under|{c}|{own}")
        for name in _EXPRS:
            value = getattr(s, name, None)
            if value is not None:
                expr_kinds(value, ctx + ((own,) if own and name != "min" and name != "extent" else ()))
        inner = ctx + ((own,) if own else ())
        for name in _CHILD_STMTS:
            child = getattr(s, name, None)
            if isinstance(child, tx.Stmt):
                stmt(child, inner)

    for _, f in mod.functions.items():
        if isinstance(f, tx.PrimFunc):
            stmt(f.body, ("func",))
    return feats


def pass_features(name: str, before: set[str], after: set[str]) -> set[str]:
    """(pass, feature) pairs of a pass that changed the module: the statement features its output shows
    that its input did not ("+"), and those it took away ("-"), e.g. `pass|VectorizeLoop|+nest|If.then|
    For:vectorized`. The campaign keeps a mutant whose pass made a structure no pass made before."""
    head = PASS_PREFIX + name.rsplit(".", 1)[-1]
    return {f"{head}|+{f}" for f in after - before} | {f"{head}|-{f}" for f in before - after}
