"""Collatz steps per element: a while loop over a local counter."""
from tvm.script import tirx as T


@T.prim_func
def collatz(A: T.Buffer((32,), "int32"), Steps: T.Buffer((32,), "int32")):
    n = T.alloc_buffer((1,), "int32", scope="local")
    for i in range(32):
        n[0] = T.max(T.abs(A[i]) % 1000, 1)
        Steps[i] = 0
        while n[0] != 1 and Steps[i] < 500:
            if n[0] % 2 == 0:
                n[0] = n[0] // 2
            else:
                n[0] = 3 * n[0] + 1
            Steps[i] = Steps[i] + 1
