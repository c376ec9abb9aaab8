"""IR reductions for the minimizer: the k-th smaller variant of a module, made in an executor child.

Candidates, biggest first: delete a statement from a sequence or a block's init (declarations last); replace a loop, branch
or attribute by its body; inline a block (its body with the iterators replaced by their bindings);
shrink a loop to one iteration; replace a value expression by a constant or by one of its operands (or a call's arguments), an
index or a block binding by 0 or by one of its operands; drop a buffer parameter the body never uses.
A candidate may be invalid IR: the interestingness test (same signature) rejects it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.tvmapi import parse
from tirfuzz.fuzzer.tir.safety import find_unsafe
from tirfuzz.fuzzer.tir.tree import Site, collect, deleted_stmt, dtype_of, rewrite, substitute, tvm_mod, with_fields

DECLARATIONS = ("Bind", "AllocBuffer", "DeclBuffer")


@dataclass
class Reduction:
    """One way to make the module smaller: which site, what it becomes, in words."""

    site: int
    what: str
    fn: Callable[[Any, Site], Any]


def size(mod) -> int:
    """The module's size in IR nodes (statements and expressions)."""
    return len(collect(mod))


def _const(dt: str, v: int):
    tx = tvm_mod().tirx
    if dt == "bool":
        return tx.IntImm("bool", v)
    if dt.startswith("float") or dt.startswith("bfloat"):
        return tx.FloatImm(dt, float(v))
    return tx.IntImm(dt, v)


def _unwrap(node, site: Site):
    tx = tvm_mod().tirx
    if isinstance(node, tx.For):
        return substitute(node.body, [(node.loop_var, node.min)])
    if isinstance(node, tx.IfThenElse):
        return node.then_case
    return node.body


def _one_iteration(node, site: Site):
    tx = tvm_mod().tirx
    return with_fields(node, extent=tx.IntImm(dtype_of(node.extent) or "int32", 1))


def _inline_block(node, site: Site):
    """An SBlockRealize replaced by its block's body, each iterator replaced by its binding."""
    tx = tvm_mod().tirx
    blk = node.block
    body = substitute(blk.body, [(iv.var, v) for iv, v in zip(blk.iter_vars, node.iter_values)])
    pred = node.predicate
    if isinstance(pred, tx.IntImm) and int(pred.value) == 1:
        return body
    return tx.IfThenElse(substitute(pred, [(iv.var, v) for iv, v in zip(blk.iter_vars, node.iter_values)]), body)


def _inlinable(node) -> bool:
    blk = node.block
    return blk.init is None and not blk.alloc_buffers and not blk.match_buffers and bool(blk.iter_vars)


def _unused_params(mod) -> list[tuple[str, str]]:
    """(function, parameter) for each parameter the function body never names."""
    import tvm_ffi

    tvm = tvm_mod()
    out = []
    for gv, f in mod.functions.items():
        if not isinstance(f, tvm.tirx.PrimFunc):
            continue
        used: list = []
        tvm_ffi.structural_walk(f.body, (tvm.ir.Var, used.append))
        for p in f.params:
            if not any(p.same_as(u) for u in used):
                out.append((str(gv.name_hint), str(p.name)))
    return out


def _drop_param(mod, func: str, param: str):
    tvm = tvm_mod()
    gv = mod.get_global_var(func)
    f = mod[gv]
    nf = tvm.tirx.PrimFunc([p for p in f.params if str(p.name) != param], f.body, f.ret_type, f.attrs)
    return tvm.IRModule({g: (nf if g.same_as(gv) else fn) for g, fn in mod.functions.items()}, attrs=mod.attrs)


def ub_risks(mod) -> list[str]:
    """What the safety prover cannot rule out in the module ("oob", "div"); empty when it proves it safe."""
    bad, _ = find_unsafe(mod)
    return [r for r, hit in (("oob", any(not a.divisor for a in bad)), ("div", any(a.divisor for a in bad))) if hit]


def candidates(mod) -> list[Reduction]:
    """Every reduction of the module, in the order the minimizer tries them."""
    tx = tvm_mod().tirx
    sites = collect(mod)
    sx = tvm_mod().s_tir
    dels, unwraps, loops, exprs, decls = [], [], [], [], []
    for s in sites:
        name = type(s.node).__name__
        if s.kind == "stmt":
            if s.in_seq and name not in DECLARATIONS:
                dels.append(Reduction(s.index, f"delete {name}", lambda n, st: deleted_stmt()))
            elif s.in_seq:  # a declaration: only a later user could make it needed (tried last)
                decls.append(Reduction(s.index, f"delete {name}", lambda n, st: deleted_stmt()))
            if isinstance(s.node, sx.SBlock) and s.node.init is not None:
                dels.append(Reduction(s.index, "delete the block's init", lambda n, st: with_fields(n, init=None)))
            if isinstance(s.node, (tx.For, tx.IfThenElse, tx.AttrStmt)) and not s.scope.in_blocks:
                unwraps.append(Reduction(s.index, f"unwrap {name}", _unwrap))
            if isinstance(s.node, sx.SBlockRealize) and _inlinable(s.node):
                unwraps.append(Reduction(s.index, f"inline block {s.node.block.name_hint}", _inline_block))
            if isinstance(s.node, tx.For) and isinstance(s.node.extent, tx.IntImm) and int(s.node.extent.value) > 1:
                loops.append(Reduction(s.index, "loop to one iteration", _one_iteration))
        elif s.dtype and "x" not in s.dtype and (s.role in ("index", "iter-value")
                                                   or (s.role in ("value", "operand") and not s.control)):
            dt = s.dtype
            if isinstance(s.node, (tx.IntImm, tx.FloatImm)):
                continue
            for v in ((0,) if s.role in ("index", "iter-value") else (0, 1)):  # index 0 is always in bounds
                exprs.append(Reduction(s.index, f"{name} -> {v}", lambda n, st, v=v, dt=dt: _const(dt, v)))
            for field in ("a", "b", "true_value", "false_value"):
                sub = getattr(s.node, field, None)
                if sub is not None and dtype_of(sub) == dt:
                    exprs.append(Reduction(s.index, f"{name} -> its {field}", lambda n, st, f=field: getattr(n, f)))
            if isinstance(s.node, tvm_mod().ir.Call):  # if_then_else, min/max intrinsics, math calls: keep one argument
                for i, arg in enumerate(s.node.args):
                    if dtype_of(arg) == dt:
                        exprs.append(Reduction(s.index, f"{name} -> its argument {i}", lambda n, st, i=i: n.args[i]))
    return dels + unwraps + loops + exprs + decls


def reduce_text(ir: str, k: int) -> tuple[str | None, dict[str, Any]]:
    """The module of `ir` with its k-th reduction applied, as TVMScript; None when k is past the last."""
    mod = parse(ir)
    cands = candidates(mod)
    params = _unused_params(mod)
    info: dict[str, Any] = {"candidates": len(cands) + len(params), "nodes": size(mod)}
    if k >= len(cands) + len(params):
        return None, info
    try:
        if k < len(cands):
            r = cands[k]
            info["what"] = r.what
            new = rewrite(mod, {r.site: r.fn})
        else:
            func, param = params[k - len(cands)]
            info["what"] = f"drop unused parameter {param} of {func}"
            new = _drop_param(mod, func, param)
        text = new.script()
    except Exception as e:  # noqa: BLE001  (a reduction TVM refuses to construct or print)
        info["error"] = f"{type(e).__name__}: {str(e)[:200]}"
        return "", info
    info["nodes_after"] = size(new)
    info["ub_before"], info["ub_after"] = ub_risks(mod), ub_risks(new)  # a reduction must not add UB
    return text, info


REDUCE_JOB = ("reduce", "tirfuzz.fuzzer.tir.reduce:reduce_job")  # (job name, function) for ExecutorConfig.jobs


def reduce_job(case: TestCase, spec: dict[str, Any], pool: Any) -> tuple[TestCase | None, dict[str, Any]]:
    """The executor child's `reduce` job: the case with the k-th smaller variant of its IR (spec["k"]).

    The safety record is the reduced program's own, never inherited from the original (bounds and
    divisors proven again; risks only the mutators can know are kept).
    """
    text, info = reduce_text(case.ir, int(spec["k"]))
    if not text:
        info["reason"] = "no more reductions" if text is None else info.get("error", "reduction failed")
        return None, info
    risks = sorted(set(info["ub_after"]) | (set(case.extra.get("ub_risks") or []) - {"oob", "div"}))
    return replace(case, ir=text, extra={**case.extra, "safe": not risks, "ub_risks": risks}), info
