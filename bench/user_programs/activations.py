"""An IRModule with two activation kernels: GELU (tanh form) and SiLU."""
from tvm.script import ir as I
from tvm.script import tirx as T


@I.ir_module
class Activations:
    @T.prim_func
    def gelu(X: T.Buffer((512,), "float32"), Y: T.Buffer((512,), "float32")):
        for i in range(512):
            x = X[i]
            Y[i] = T.float32(0.5) * x * (T.float32(1) + T.tanh(
                T.float32(0.7978845608) * (x + T.float32(0.044715) * x * x * x)))

    @T.prim_func
    def silu(X: T.Buffer((512,), "float32"), Y: T.Buffer((512,), "float32")):
        for i in range(512):
            Y[i] = X[i] / (T.float32(1) + T.exp(T.float32(0) - X[i]))
