"""float16 inputs, float32 accumulation, a float16 result written by a second block."""
from tvm.script import tirx as T


@T.prim_func(s_tir=True)
def matmul_fp16(A: T.Buffer((32, 32), "float16"), B: T.Buffer((32, 32), "float16"),
                C: T.Buffer((32, 32), "float16")):
    acc = T.sblock_alloc_buffer((32, 32), "float32")
    for i, j, k in T.grid(32, 32, 32):
        with T.sblock("acc"):
            vi, vj, vk = T.axis.remap("SSR", [i, j, k])
            with T.init():
                acc[vi, vj] = T.float32(0)
            acc[vi, vj] = acc[vi, vj] + T.Cast("float32", A[vi, vk]) * T.Cast("float32", B[vk, vj])
    for i, j in T.grid(32, 32):
        with T.sblock("store"):
            vi, vj = T.axis.remap("SS", [i, j])
            C[vi, vj] = T.Cast("float16", acc[vi, vj])
