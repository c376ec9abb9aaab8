"""Shared fixtures: one fork-server executor per test module, small real programs."""

from __future__ import annotations

import pytest

from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.fuzzer.tir.reduce import REDUCE_JOB
from tirfuzz.mutators.mutate import MUTATE_JOB


@pytest.fixture(scope="module")
def executor():
    with Executor(ExecutorConfig(timeout_s=5.0, memory_mb=4096, jobs=(MUTATE_JOB, REDUCE_JOB))) as ex:
        yield ex


@pytest.fixture(scope="session")
def block_ir() -> str:
    """A block-level (s_tir) module from topi: row sums of exp."""
    import tvm
    from tvm import te, topi

    a = te.placeholder((8, 16), "float32", name="A")
    return tvm.IRModule({"main": te.create_prim_func([a, topi.sum(topi.exp(a), axis=1)])}).script()


FLAT_IR = '''@T.prim_func
def main(A: T.Buffer((16,), "int32"), B: T.Buffer((16,), "int32")):
    for i in range(16):
        B[i] = A[i] * 3 + 1
'''
