"""Row maximum of an int64 matrix, with int64 loop bounds."""
from tvm.script import tirx as T


@T.prim_func(s_tir=True)
def row_max(A: T.Buffer((T.int64(16), T.int64(40)), "int64"), M: T.Buffer((T.int64(16),), "int64")):
    for i, k in T.grid(T.int64(16), T.int64(40)):
        with T.sblock("max"):
            vi, vk = T.axis.remap("SR", [i, k])
            with T.init():
                M[vi] = T.min_value("int64")
            M[vi] = T.max(M[vi], A[vi, vk])
