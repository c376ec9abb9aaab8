"""Layer normalization over the last axis, mean and variance as block reductions."""
from tvm.script import tirx as T

ROWS, COLS = 4, 32


@T.prim_func(s_tir=True)
def layernorm(X: T.Buffer((ROWS, COLS), "float32"), gamma: T.Buffer((COLS,), "float32"),
              Y: T.Buffer((ROWS, COLS), "float32")):
    s = T.sblock_alloc_buffer((ROWS,), "float32")
    sq = T.sblock_alloc_buffer((ROWS,), "float32")
    for i, k in T.grid(ROWS, COLS):
        with T.sblock("moments"):
            vi, vk = T.axis.remap("SR", [i, k])
            with T.init():
                s[vi] = T.float32(0)
                sq[vi] = T.float32(0)
            s[vi] = s[vi] + X[vi, vk]
            sq[vi] = sq[vi] + X[vi, vk] * X[vi, vk]
    for i, j in T.grid(ROWS, COLS):
        with T.sblock("normalize"):
            vi, vj = T.axis.remap("SS", [i, j])
            Y[vi, vj] = (X[vi, vj] - s[vi] / T.float32(COLS)) * T.rsqrt(
                sq[vi] / T.float32(COLS) - s[vi] * s[vi] / T.float32(COLS * COLS) + T.float32(1e-5)) * gamma[vj]
