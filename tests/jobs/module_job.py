"""An executor job for tests/test_throughput_parts.py: a "mutant" whose module is not what its text says.

The module is a program on which TVM 0.27's NarrowDataType fails its check (a float Ramp: found by a
campaign); the text is the seed the job was given. A run without oracles runs the module, finds the
internal error, and the executor must take the verdict from the text instead.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tirfuzz.fuzzer.core.tvmapi import parse

FAILING_IR = """# from tvm.script import ir as I
# from tvm.script import tirx as T
# from tvm.tirx.layout import Axis

@I.ir_module
class Module:
    @T.prim_func(s_tir=True)
    def main(A: T.Buffer((1, 4, 10, 10), "float32"), W: T.Buffer((8, 4, 3, 3), "float32"), conv2d_nchw: T.Buffer((1, 8, 10, 10), "float32")):
        T.func_attr({"tirx.noalias": True})
        # with T.sblock("root"):
        pad_temp = T.sblock_alloc_buffer((1, 4, 12, 12))
        for i0, i1, i2, i3 in T.grid(1, 4, 12, 12):
            with T.sblock("pad_temp"):
                v_i0, v_i1, v_i2, v_i3 = T.axis.remap("SSSS", [i0, i1, i2, i3])
                T.reads(A[v_i0, v_i1, v_i2 - 1, v_i3 - 1])
                T.writes(pad_temp[v_i0, v_i1, v_i2, v_i3])
                pad_temp[v_i0, v_i1, v_i2, v_i3] = T.Shuffle([T.Ramp(T.if_then_else(1 <= v_i2 and v_i2 < 11 and 1 <= v_i3 and v_i3 < 11, A[v_i0, v_i1, v_i2 - 1, v_i3 - 1], T.float32(0.0)), T.float32(0.0), 2)], [0])
        for nn, ff, yy, xx, rc in T.grid(1, 8, 10, 10, 4):
            for ry in range(0, 3, 3):
                for rx in range(3):
                    with T.sblock("conv2d_nchw"):
                        v_nn, v_ff, v_yy, v_xx, v_rc, v_ry, v_rx = T.axis.remap("SSSSRRR", [nn, ff, yy, xx, rc, ry, rx])
                        T.reads(pad_temp[v_nn, v_rc, v_yy + v_ry, v_xx + v_rx], W[v_ff, v_rc, v_ry, v_rx])
                        T.writes(conv2d_nchw[v_nn, v_ff, v_yy, v_xx])
                        with T.init():
                            conv2d_nchw[v_nn, v_ff, v_yy, v_xx] = T.float32(0.0)
                        conv2d_nchw[v_nn, v_ff, v_yy, v_xx] = T.max(conv2d_nchw[v_nn, v_ff, v_yy, v_xx], pad_temp[v_nn, v_rc, v_yy + v_ry, v_xx + v_rx] * W[v_ff, v_rc, v_ry, v_rx])
"""


def module_job(case, spec: dict[str, Any], pool: Any):
    """(the case unchanged, info, the failing module)."""
    return replace(case, extra=dict(case.extra, history=[{"mutator": "module-job"}])), {"kind": "ir"}, parse(FAILING_IR)
