"""ReLU and a saturating add on int8 tensors."""
from tvm.script import tirx as T


@T.prim_func
def relu_int8(A: T.Buffer((16, 16), "int8"), B: T.Buffer((16, 16), "int8")):
    for i, j in T.grid(16, 16):
        B[i, j] = T.max(A[i, j], T.int8(0))


@T.prim_func
def saturating_add(A: T.Buffer((64,), "int8"), B: T.Buffer((64,), "int8"), C: T.Buffer((64,), "int8")):
    for i in range(64):
        s = T.Cast("int16", A[i]) + T.Cast("int16", B[i])
        C[i] = T.Cast("int8", T.min(T.max(s, T.int16(-128)), T.int16(127)))
