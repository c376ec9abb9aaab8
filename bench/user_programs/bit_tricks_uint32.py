"""Hash-like mixing with shifts, xor and multiplication on uint32."""
from tvm.script import tirx as T


@T.prim_func
def mix(A: T.Buffer((256,), "uint32"), B: T.Buffer((256,), "uint32")):
    for i in range(256):
        x = A[i] ^ (A[i] >> T.uint32(16))
        x = x * T.uint32(0x45D9F3B)
        B[i] = (x ^ (x >> T.uint32(16))) & T.uint32(0xFFFF)
