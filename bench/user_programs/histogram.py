"""A histogram: data-dependent writes into 16 bins, with a bounds check."""
from tvm.script import tirx as T


@T.prim_func
def histogram(A: T.Buffer((200,), "int32"), H: T.Buffer((16,), "int32")):
    for b in range(16):
        H[b] = 0
    for i in range(200):
        bin = T.truncmod(A[i], 16)
        if bin >= 0:
            H[bin] = H[bin] + 1
