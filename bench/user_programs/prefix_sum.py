"""Inclusive prefix sum along each row (a loop-carried dependency)."""
from tvm.script import tirx as T


@T.prim_func
def cumsum(A: T.Buffer((4, 100), "float32"), B: T.Buffer((4, 100), "float32")):
    for r in range(4):
        B[r, 0] = A[r, 0]
        for i in range(1, 100):
            B[r, i] = B[r, i - 1] + A[r, i]
