"""Two planted defects that need two IR features no built-in seed has together (issue 20's bench).

Each pass raises when its pair of features appears in one function, and otherwise returns the function
unchanged. `bench/two_features.py` fuzzes with this file as a --pass-plugin and times how long each
campaign takes to reach each defect.

    vec_in_if         a vectorized loop inside a branch of an if (then or else, at any depth)
    select_in_while   a Select expression inside a while loop (its condition or body)
"""

import tvm
import tvm_ffi


def _contains(root, node_type, test=lambda node: True) -> bool:
    """Whether `root` holds a node of `node_type` passing `test`."""
    found = []

    def visit(node):
        if test(node):
            found.append(node)

    tvm_ffi.structural_walk(root, (node_type, visit))
    return bool(found)


def _vectorized(loop) -> bool:
    return int(loop.kind) == int(tvm.tirx.ForKind.VECTORIZED)


def vec_in_if_found(body) -> bool:
    """A vectorized For under the then or else branch of an IfThenElse."""
    branches = []
    tvm_ffi.structural_walk(body, (tvm.tirx.IfThenElse, lambda s: branches.extend(
        b for b in (s.then_case, s.else_case) if b is not None)))
    return any(_contains(b, tvm.tirx.For, _vectorized) for b in branches)


def select_in_while_found(body) -> bool:
    """A Select in the condition or body of a While."""
    loops = []
    tvm_ffi.structural_walk(body, (tvm.tirx.While, loops.append))
    return any(_contains(w.condition, tvm.tirx.Select) or _contains(w.body, tvm.tirx.Select) for w in loops)


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def vec_in_if(func, mod, ctx):
    """Planted defect: refuses a vectorized loop inside an if-branch."""
    if vec_in_if_found(func.body):
        raise RuntimeError("planted defect vec_in_if: a vectorized loop inside an if-branch")
    return func


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def select_in_while(func, mod, ctx):
    """Planted defect: refuses a Select inside a while loop."""
    if select_in_while_found(func.body):
        raise RuntimeError("planted defect select_in_while: a Select inside a while loop")
    return func
