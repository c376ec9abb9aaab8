"""The same crashing case gives the same crash text and signature every time (real TVM, real children):
a wild write that faults is a SIGSEGV; one that instead corrupts the dynamic loader's data dies later in
ld.so (an assertion in `_dl_find_dso_for_object`, exit 127, no signal) and is classified as that SIGSEGV."""

from __future__ import annotations

import os
import subprocess
import sys

from tirfuzz.fuzzer.core.case import PassSpec, TestCase
from tirfuzz.fuzzer.core.signature import signature
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.fuzzer.execution.forkserver import failure

# Stores 400 MB apart: the second lands far outside every mapping.
FAR_WRITE = '''@T.prim_func
def main(A: T.Buffer((16,), "float32"), B: T.Buffer((16,), "float32")):
    for i in range(16):
        B[i * 100000000] = A[i]
'''

COPY = '''@T.prim_func
def main(A: T.Buffer((16,), "float32"), B: T.Buffer((16,), "float32")):
    for i in range(16):
        B[i] = A[i]
'''

# What a wild write into the heap does to the loader: every loaded library's link map gets a wrong
# namespace (l_ns, the 7th word of glibc's struct link_map). The function itself is left unchanged.
CORRUPT_LOADER = '''
import ctypes
import os

LIBS = []


def _corrupt():
    maps = open("/proc/self/maps").read().split()
    for lib in sorted({p for p in maps if p.startswith("/") and ".so" in p}):
        if any(k in lib for k in ("_ctypes", "libc.so", "ld-linux", "libffi")):
            continue
        try:
            LIBS.append(ctypes.CDLL(lib, mode=os.RTLD_NOLOAD)._handle)
        except OSError:
            pass
    for handle in LIBS:
        ctypes.cast(handle, ctypes.POINTER(ctypes.c_long))[6] = 7


import tvm


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def corrupt_loader(func, mod, ctx):
    _corrupt()
    return func
'''

# A child that corrupts the loader's data (every link map, the caller's included) and then loads a library.
LDSO_CHILD = '''
import ctypes, os
maps = open("/proc/self/maps").read().split()
handles = [ctypes.CDLL(p, mode=os.RTLD_NOLOAD)._handle for p in sorted({p for p in maps if p.startswith("/")
           and ".so" in p and "libc.so" not in p and "ld-linux" not in p})]
for h in handles:
    ctypes.cast(h, ctypes.POINTER(ctypes.c_long))[6] = 7
ctypes.CDLL("libm.so.6")
'''


def test_same_out_of_bounds_case_gives_one_signature_over_runs():
    with Executor(ExecutorConfig(timeout_s=30)) as ex:
        results = [ex.run(TestCase(FAR_WRITE), want_outputs=False, oracle=True) for _ in range(5)]
    assert {(r.outcome, r.signal, r.stage) for r in results} == {("crash", "SIGSEGV", "run:llvm")}
    assert len({signature(r) for r in results}) == 1 and len({r.message for r in results}) == 1, \
        [r.message for r in results]


def test_child_that_dies_in_the_dynamic_loader_is_classified_as_sigsegv(tmp_path):
    plugin = tmp_path / "loader.py"
    plugin.write_text(CORRUPT_LOADER)
    case = TestCase(COPY, passes=[PassSpec("plugin:loader.corrupt_loader")], targets=["c"])
    with Executor(ExecutorConfig(timeout_s=60, plugins=(str(plugin),))) as ex:
        results = [ex.run(case, want_outputs=False) for _ in range(3)]
    for r in results:
        assert "Inconsistency detected by ld.so" in r.stderr_tail, r.stderr_tail[-500:]
        assert (r.outcome, r.signal) == ("crash", "SIGSEGV"), (r.outcome, r.signal, r.message)
        assert "died in the dynamic loader (ld.so assertion, exit 127)" in r.message
    assert len({signature(r) for r in results}) == 1


def test_loader_death_after_compiled_code_ran_is_that_runs_sigsegv():
    """The loader's death comes at a later dlopen (here a C build's), but the wild write came from the
    compiled code that ran first: the crash is attributed to that run stage, as a fault there would be."""
    died = subprocess.run([sys.executable, "-c", LDSO_CHILD], capture_output=True, text=True, timeout=60)
    assert died.returncode == 127 and "_dl_find_dso_for_object" in died.stderr, (died.returncode, died.stderr)
    began = [("setup", None), ("run:llvm", "llvm"), ("pass:tirx.transform.FlattenBuffer", "c"), ("build:c", "c")]
    late = failure(127 << 8, died.stderr, began[-1], False, 30.0, began)
    fault = subprocess.run([sys.executable, "-c", "import ctypes; ctypes.string_at(0)"], capture_output=True)
    assert fault.returncode == -11
    plain = failure(11, fault.stderr.decode(), ("run:llvm", "llvm"), False, 30.0, began[:2])
    assert (late.signal, late.stage, late.target) == ("SIGSEGV", "run:llvm", "llvm")
    assert signature(late) == signature(plain)
