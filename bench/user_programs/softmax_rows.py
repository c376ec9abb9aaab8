"""Row-wise softmax in four blocks: max, exp, sum, normalize."""
from tvm.script import tirx as T


@T.prim_func(s_tir=True)
def softmax(A: T.Buffer((8, 64), "float32"), B: T.Buffer((8, 64), "float32")):
    row_max = T.sblock_alloc_buffer((8,), "float32")
    e = T.sblock_alloc_buffer((8, 64), "float32")
    row_sum = T.sblock_alloc_buffer((8,), "float32")
    for i, k in T.grid(8, 64):
        with T.sblock("max"):
            vi, vk = T.axis.remap("SR", [i, k])
            with T.init():
                row_max[vi] = T.min_value("float32")
            row_max[vi] = T.max(row_max[vi], A[vi, vk])
    for i, j in T.grid(8, 64):
        with T.sblock("exp"):
            vi, vj = T.axis.remap("SS", [i, j])
            e[vi, vj] = T.exp(A[vi, vj] - row_max[vi])
    for i, k in T.grid(8, 64):
        with T.sblock("sum"):
            vi, vk = T.axis.remap("SR", [i, k])
            with T.init():
                row_sum[vi] = T.float32(0)
            row_sum[vi] = row_sum[vi] + e[vi, vk]
    for i, j in T.grid(8, 64):
        with T.sblock("norm"):
            vi, vj = T.axis.remap("SS", [i, j])
            B[vi, vj] = e[vi, vj] / row_sum[vi]
