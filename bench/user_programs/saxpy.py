"""y = a * x + y with a scalar parameter."""
from tvm.script import tirx as T

N = 256


@T.prim_func
def saxpy(a: T.float32, X: T.Buffer((N,), "float32"), Y: T.Buffer((N,), "float32")):
    for i in range(N):
        Y[i] = a * X[i] + Y[i]
