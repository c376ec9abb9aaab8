"""Batched dot products in float64."""
from tvm.script import tirx as T


@T.prim_func(s_tir=True)
def dot(A: T.Buffer((8, 128), "float64"), B: T.Buffer((8, 128), "float64"), C: T.Buffer((8,), "float64")):
    for b, k in T.grid(8, 128):
        with T.sblock("dot"):
            vb, vk = T.axis.remap("SR", [b, k])
            with T.init():
                C[vb] = T.float64(0)
            C[vb] = C[vb] + A[vb, vk] * B[vb, vk]
