"""A 1-D convolution with zero padding done inline with if_then_else."""
from tvm.script import tirx as T


@T.prim_func(s_tir=True)
def conv1d(X: T.Buffer((2, 4, 32), "float32"), W: T.Buffer((8, 4, 3), "float32"),
           Y: T.Buffer((2, 8, 32), "float32")):
    for n, co, x, ci, r in T.grid(2, 8, 32, 4, 3):
        with T.sblock("conv"):
            vn, vco, vx, vci, vr = T.axis.remap("SSSRR", [n, co, x, ci, r])
            T.reads(X[vn, vci, vx + vr - 1], W[vco, vci, vr])
            T.writes(Y[vn, vco, vx])
            with T.init():
                Y[vn, vco, vx] = T.float32(0)
            Y[vn, vco, vx] = Y[vn, vco, vx] + T.if_then_else(
                1 <= vx + vr and vx + vr < 33, X[vn, vci, vx + vr - 1], T.float32(0)) * W[vco, vci, vr]
