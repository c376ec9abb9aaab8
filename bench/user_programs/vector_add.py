"""Element-wise addition of two float32 vectors."""
from tvm.script import tirx as T


@T.prim_func
def vector_add(A: T.Buffer((1024,), "float32"), B: T.Buffer((1024,), "float32"),
               C: T.Buffer((1024,), "float32")):
    for i in range(1024):
        C[i] = A[i] + B[i]
