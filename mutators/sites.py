"""Choosing mutation sites: filters over tree.Site lists shared by the IR mutators."""

from __future__ import annotations

import random
from typing import Any, Callable

from tirfuzz.fuzzer.tir.exprgen import is_scalar
from tirfuzz.fuzzer.tir.tree import Site, rewrite, tvm_mod
from tirfuzz.mutators.base import Decline, MutationContext, MutationOutcome

# Expression roles a value mutation may touch. Loop bounds have their own mutators; block bindings and
# predicates define the block iteration space, which schedule primitives and verifiers depend on.
VALUE_ROLES = frozenset({"value", "operand", "cond", "eval", "attr", "index"})


def expr_sites(ctx: MutationContext, pred: Callable[[Site], bool] | None = None,
               roles: frozenset[str] = VALUE_ROLES, scalar: bool = True) -> list[Site]:
    """Expression sites with a role in `roles` (scalar dtype unless told otherwise) matching pred."""
    return [s for s in ctx.sites() if s.kind == "expr" and s.role in roles
            and (not scalar or is_scalar(s.dtype)) and (pred is None or pred(s))]


def stmt_sites(ctx: MutationContext, pred: Callable[[Site], bool] | None = None) -> list[Site]:
    return [s for s in ctx.sites() if s.kind == "stmt" and (pred is None or pred(s))]


def choose(rng: random.Random, items: list, what: str = "site") -> Any:
    """A random element, or Decline when there is none."""
    if not items:
        raise Decline(f"no {what}")
    return rng.choice(items)


def one(ctx: MutationContext, site: Site, fn: Callable[[Any, Site], Any], detail: dict[str, Any],
        risks: list[str] | None = None, reduces_writes: bool = False) -> MutationOutcome:
    """The outcome of rewriting one site with fn.

    A changed index into a function-internal buffer (a store may leave elements unwritten, a load may
    read one not written yet), a changed condition, loop bound or store index inside a statement that
    writes one, or a statement whose writes may shrink (reduces_writes) writing one, can make the
    program read undefined memory: risk "uninit".
    """
    mod = rewrite(ctx.mod, {site.index: fn}, ctx._sites)  # the walk follows one path when the sites are known
    d = {"site": site.index, "node": type(site.node).__name__}
    d.update(detail)
    risks = list(risks or [])
    if site.kind == "expr" and ((site.control and site.scope.guards_internal)
                                or (site.role == "index" and is_internal(site.buffer, site.scope))):
        risks.append("uninit")
    if site.kind == "stmt" and reduces_writes and writes_internal(site.node, site.scope):
        risks.append("uninit")
    return MutationOutcome(detail=d, mod=mod, risks=sorted(set(risks)))


def is_internal(buf, scope) -> bool:
    """Whether a buffer is allocated inside the function (its elements start undefined)."""
    return buf is not None and any(buf.same_as(x) for x in scope.internal)


def written_buffers(stmt) -> list:
    """The buffers a statement stores to."""
    import tvm_ffi


    out: list = []

    def visit(s):
        out.append(s.buffer)

    tvm_ffi.structural_walk(stmt, (tvm_mod().tirx.BufferStore, visit))
    return out


def writes_internal(stmt, scope) -> bool:
    """Whether a statement writes a function-internal buffer allocated outside it (read after it, maybe)."""
    return any(is_internal(b, scope) for b in written_buffers(stmt))


def in_block_ir(site: Site) -> bool:
    return site.scope.block is not None


def is_root_block(site: Site) -> bool:
    """The function's root block (its realize): wrapping or moving it confuses the printer's root handling."""
    return site.kind == "stmt" and site.parent == "PrimFunc" and type(site.node).__name__ == "SBlockRealize"
