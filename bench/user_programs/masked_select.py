"""Select between two inputs by a bool mask, and count the true entries of each row."""
from tvm.script import tirx as T


@T.prim_func
def masked(mask: T.Buffer((4, 16), "bool"), A: T.Buffer((4, 16), "float32"), B: T.Buffer((4, 16), "float32"),
           C: T.Buffer((4, 16), "float32"), count: T.Buffer((4,), "int32")):
    for r in range(4):
        count[r] = 0
        for i in range(16):
            C[r, i] = T.Select(mask[r, i], A[r, i], B[r, i])
            if mask[r, i]:
                count[r] = count[r] + 1
