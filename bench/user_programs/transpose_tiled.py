"""A tiled transpose: 8x8 tiles, loops split by hand."""
from tvm.script import tirx as T


@T.prim_func
def transpose(A: T.Buffer((64, 48), "float32"), B: T.Buffer((48, 64), "float32")):
    for io, jo in T.grid(8, 6):
        for ii, ji in T.grid(8, 8):
            B[jo * 8 + ji, io * 8 + ii] = A[io * 8 + ii, jo * 8 + ji]
