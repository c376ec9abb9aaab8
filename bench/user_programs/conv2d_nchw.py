"""conv2d (NCHW, 3x3, stride 1) with an explicit padding stage."""
from tvm.script import tirx as T


@T.prim_func(s_tir=True)
def conv2d(data: T.Buffer((1, 3, 16, 16), "float32"), K: T.Buffer((8, 3, 3, 3), "float32"),
           O: T.Buffer((1, 8, 16, 16), "float32")):
    pad = T.sblock_alloc_buffer((1, 3, 18, 18), "float32")
    for n, c, h, w in T.grid(1, 3, 18, 18):
        with T.sblock("pad"):
            vn, vc, vh, vw = T.axis.remap("SSSS", [n, c, h, w])
            pad[vn, vc, vh, vw] = T.if_then_else(1 <= vh and vh < 17 and 1 <= vw and vw < 17,
                                                 data[vn, vc, vh - 1, vw - 1], T.float32(0))
    for n, f, y, x, c, ry, rx in T.grid(1, 8, 16, 16, 3, 3, 3):
        with T.sblock("conv"):
            vn, vf, vy, vx, vc, vry, vrx = T.axis.remap("SSSSRRR", [n, f, y, x, c, ry, rx])
            with T.init():
                O[vn, vf, vy, vx] = T.float32(0)
            O[vn, vf, vy, vx] = O[vn, vf, vy, vx] + pad[vn, vc, vy + vry, vx + vrx] * K[vf, vc, vry, vrx]
