"""Two element-wise blocks through an intermediate buffer (a candidate for compute_inline)."""
from tvm.script import tirx as T


@T.prim_func(s_tir=True)
def chain(A: T.Buffer((32, 32), "float32"), C: T.Buffer((32, 32), "float32")):
    B = T.sblock_alloc_buffer((32, 32), "float32")
    for i, j in T.grid(32, 32):
        with T.sblock("B"):
            vi, vj = T.axis.remap("SS", [i, j])
            B[vi, vj] = A[vi, vj] * T.float32(2)
    for i, j in T.grid(32, 32):
        with T.sblock("C"):
            vi, vj = T.axis.remap("SS", [i, j])
            C[vi, vj] = T.sqrt(T.fabs(B[vi, vj]) + T.float32(1))
