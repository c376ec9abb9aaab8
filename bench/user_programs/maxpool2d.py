"""2x2 max pooling with stride 2, as a block reduction."""
from tvm.script import tirx as T


@T.prim_func(s_tir=True)
def maxpool(X: T.Buffer((1, 8, 16, 16), "float32"), Y: T.Buffer((1, 8, 8, 8), "float32")):
    for n, c, h, w, rh, rw in T.grid(1, 8, 8, 8, 2, 2):
        with T.sblock("pool"):
            vn, vc, vh, vw, vrh, vrw = T.axis.remap("SSSSRR", [n, c, h, w, rh, rw])
            T.reads(X[vn, vc, vh * 2 + vrh, vw * 2 + vrw])
            T.writes(Y[vn, vc, vh, vw])
            with T.init():
                Y[vn, vc, vh, vw] = T.min_value("float32")
            Y[vn, vc, vh, vw] = T.max(Y[vn, vc, vh, vw], X[vn, vc, vh * 2 + vrh, vw * 2 + vrw])
