"""Deliberately broken: the loop writes to a buffer that was never declared."""
from tvm.script import tirx as T


@T.prim_func
def broken(A: T.Buffer((16,), "float32"), B: T.Buffer((16,), "float32")):
    for i in range(16):
        B[i] = A[i] + Bias[i]
