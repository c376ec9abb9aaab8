"""Depthwise 3x3 convolution written as plain loops (no blocks), valid padding."""
from tvm.script import tirx as T


@T.prim_func
def depthwise(X: T.Buffer((4, 10, 10), "float32"), W: T.Buffer((4, 3, 3), "float32"),
              Y: T.Buffer((4, 8, 8), "float32")):
    for c, i, j in T.grid(4, 8, 8):
        Y[c, i, j] = T.float32(0)
        for di, dj in T.grid(3, 3):
            Y[c, i, j] = Y[c, i, j] + X[c, i + di, j + dj] * W[c, di, dj]
