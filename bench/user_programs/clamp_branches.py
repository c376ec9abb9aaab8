"""Piecewise function with if / elif / else on int32 data."""
from tvm.script import tirx as T


@T.prim_func
def piecewise(A: T.Buffer((128,), "int32"), B: T.Buffer((128,), "int32")):
    for i in range(128):
        if A[i] < -10:
            B[i] = -10
        elif A[i] > 10:
            B[i] = 10 + (A[i] - 10) // 4
        else:
            B[i] = A[i] * 2
