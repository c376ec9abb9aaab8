"""Native breakpoint coverage of libtvm_compiler.so: sites, planting in forked processes, crash safety.

Every planting happens in a forked child, so the pytest process itself is never planted. A cold site
discovery of scope `tvm` (both granularities) runs once if the cache is empty (~15-20 s on 2 cores).
"""

from __future__ import annotations

import mmap
import os
import pickle
import random
import signal
import traceback
from typing import Any, Callable

import numpy as np
import pytest

tvm = pytest.importorskip("tvm")
from tvm import te, topi  # noqa: E402

from tirfuzz.fuzzer.execution import coverage_sites as cs  # noqa: E402
from tirfuzz.fuzzer.execution.coverage import NativeCoverage, coverage_info_lines, find_sites  # noqa: E402

CHILD_TIMEOUT_S = 150


# ---------------------------------------------------------------- helpers


def fork_run(fn: Callable[[], Any], quiet: bool = False) -> Any:
    """Run fn in a forked child and return its (pickled) result; re-raise its exception here."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            signal.alarm(CHILD_TIMEOUT_S)
            if quiet:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, 2)
            try:
                payload = ("ok", fn())
            except BaseException:
                payload = ("err", traceback.format_exc())
            os.write(w, pickle.dumps(payload))
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1 << 20):
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if not data:
        raise AssertionError(f"child died without a result (wait status {status:#x})")
    kind, value = pickle.loads(data)
    if kind == "err":
        raise AssertionError(f"in child:\n{value}")
    return value


def run_child_case(fn: Callable[[], Any]) -> int:
    """Fork a grandchild running fn (stderr silenced), wait, return its wait status."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 2)
            fn()
            code = 0
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1]


def elementwise() -> tvm.IRModule:
    """The small elementwise case: B = A + 1 on 64 floats."""
    A = te.placeholder((64,), name="A")
    B = te.compute((64,), lambda i: A[i] + 1.0, name="B")
    return tvm.IRModule({"main": te.create_prim_func([A, B])})


def programs() -> dict[str, tuple[tvm.IRModule, list[tuple[tuple[int, ...], str]]]]:
    """A few seed-like te/topi programs: module plus (shape, dtype) of every argument."""
    out = {}
    A = te.placeholder((64,), name="A")
    out["add"] = ([A, te.compute((64,), lambda i: A[i] * 2.0 + 1.0, name="B")])
    X = te.placeholder((16, 24), name="X")
    Y = te.placeholder((24, 8), name="Y")
    k = te.reduce_axis((0, 24), name="k")
    out["matmul"] = [X, Y, te.compute((16, 8), lambda i, j: te.sum(X[i, k] * Y[k, j], axis=k), name="Z")]
    S = te.placeholder((4, 33), name="S")
    out["softmax"] = [S, topi.nn.softmax(S, axis=1)]
    D = te.placeholder((1, 3, 9, 9), name="D")
    W = te.placeholder((4, 3, 3, 3), name="W")
    out["conv2d"] = [D, W, topi.nn.conv2d_nchw(D, W, 1, 1, 1)]
    P = te.placeholder((50,), name="P", dtype="int32")
    Q = te.placeholder((50,), name="Q", dtype="int32")
    out["intops"] = [P, Q, te.compute((50,), lambda i: ((P[i] * 3 + Q[i]) >> 1) ^ P[i], name="R")]
    R = te.placeholder((7, 30), name="R")
    out["rowmax"] = [R, topi.max(R, axis=1)]
    return {name: (tvm.IRModule({"main": te.create_prim_func(args)}),
                   [(tuple(int(d) for d in t.shape), str(t.dtype)) for t in args]) for name, args in out.items()}


def compile_and_run(mod: tvm.IRModule, sig: list[tuple[tuple[int, ...], str]], target: str) -> list[bytes]:
    """Compile for target, run on seeded inputs, return the raw bytes of every argument afterwards."""
    rng = np.random.default_rng(7)
    arrays = [rng.integers(-100, 100, size=s).astype(d) if d.startswith("int") else
              rng.standard_normal(size=s).astype(d) for s, d in sig]
    tensors = [tvm.runtime.tensor(a) for a in arrays]
    tvm.compile(mod, target=target)(*tensors)
    return [t.numpy().tobytes() for t in tensors]


TARGETS = {"add": ("llvm", "c"), "matmul": ("llvm", "c"), "intops": ("llvm", "c"), "softmax": ("llvm",),
           "conv2d": ("llvm",), "rowmax": ("llvm",)}


def all_outputs() -> dict[tuple[str, str], list[bytes]]:
    """Outputs of every program on every target it runs on here."""
    progs = programs()
    return {(name, target): compile_and_run(*progs[name], target)
            for name, targets in TARGETS.items() for target in targets}


@pytest.fixture(scope="module")
def tvm_sites() -> tuple[np.ndarray, Any]:
    """Scope `tvm` block sites (discovers them once if the cache is empty; also caches `function`)."""
    offsets, info = find_sites("tvm", "block", progress=False)
    return offsets, info


# ---------------------------------------------------------------- site discovery


def test_sites_are_cached_instruction_starts(tvm_sites):
    offsets, info = tvm_sites
    assert offsets.dtype == np.uint32 and len(offsets) == info.sites > 1_000_000
    assert np.all(np.diff(offsets.astype(np.int64)) > 0)
    again, info2 = find_sites("tvm", "block", progress=False)
    assert info2.cached and info2.load_s < 1.0 and np.array_equal(again, offsets)
    funcs, finfo = find_sites("tvm", "function", progress=False)
    assert finfo.cached and 50_000 < len(funcs) <= finfo.functions
    assert np.all(cs.sorted_contains(offsets, funcs))

    layout, starts, sizes = cs.read_layout(info.library)
    assert layout.build_id == info.build_id
    assert offsets[-1] < layout.llvm_lo and offsets[0] >= layout.text_lo
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    delta = layout.exec_offset - layout.exec_vaddr
    with open(info.library, "rb") as fh, mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ) as blob:
        assert not np.any(np.frombuffer(blob, np.uint8)[offsets.astype(np.int64) + delta] == 0xCC)
        rng = random.Random(3)
        for k in rng.sample(list(np.flatnonzero(starts < layout.llvm_lo)), 200):
            lo, hi = int(starts[k]), int(starts[k] + sizes[k])
            boundaries = {a for a, *_ in md.disasm_lite(blob[lo + delta: hi + delta], lo)}
            inside = offsets[(offsets >= lo) & (offsets < hi)].tolist()
            assert lo in inside and set(inside) <= boundaries


def test_llvm_boundary_matches_exported_symbols(tvm_sites):
    """Cross-check the symbol-free boundary against the few exported (dynsym) TVM functions."""
    from elftools.elf.elffile import ELFFile

    _, info = tvm_sites
    layout, _, _ = cs.read_layout(info.library)
    assert 60_000 < layout.tvm_functions < 90_000 and layout.llvm_functions > 80_000
    with open(info.library, "rb") as fh:
        syms = [(s.name, s["st_value"]) for s in ELFFile(fh).get_section_by_name(".dynsym").iter_symbols()
                if s["st_info"]["type"] == "STT_FUNC" and s["st_value"]]
    tvm_funcs = [a for n, a in syms if n.startswith("_ZN3tvm")]
    assert len(tvm_funcs) > 500 and max(tvm_funcs) < layout.llvm_lo


def test_info_lines(tvm_sites):
    text = "\n".join(coverage_info_lines())
    assert tvm_sites[1].build_id in text and "tvm block" in text and "cached load" in text


# ---------------------------------------------------------------- planting


def test_outputs_bit_identical_with_and_without_coverage(tvm_sites):
    def planted() -> tuple[dict, int, dict]:
        cov = NativeCoverage("tvm", progress=False)
        cov.plant()
        first = fork_run(all_outputs)  # every block traps once here
        hits = cov.total()
        second = fork_run(all_outputs)  # now the blocks are already uncovered
        return first, hits, second

    first, hits, second = fork_run(planted)
    plain = fork_run(all_outputs)
    assert hits > 20_000
    assert set(plain) == set(first) == set(second)
    for key in plain:
        assert first[key] == plain[key], key
        assert second[key] == plain[key], key


def _order_hits(order: str) -> set[int]:
    """Blocks hit while applying a pass order to one program, from a fresh planting."""
    def body() -> set[int]:
        cov = NativeCoverage("tvm", progress=False)
        cov.plant()
        A = te.placeholder((37,), name="A")
        B = te.compute((37,), lambda i: tvm.tirx.if_then_else(i < 5, A[i] * 2.0, A[i] + 1.0), name="B")
        mod = tvm.IRModule({"main": te.create_prim_func([A, B])})
        passes = {"S": tvm.tirx.transform.StmtSimplify(), "P": tvm.s_tir.transform.LoopPartition(),
                  "U": tvm.tirx.transform.UnrollLoop()}
        config = {"s_tir.LoopPartition": {"partition_const_loop": True}, "tirx.UnrollLoop": {"auto_max_step": 64}}
        m = cov.mark()
        with tvm.transform.PassContext(config=config):
            for p in order:
                mod = passes[p](mod)
        return set(cov.hits_since(m).tolist())

    return fork_run(body)


def test_pass_orders_give_different_blocks(tvm_sites):
    spu, spu_again, ups = _order_hits("SPU"), _order_hits("SPU"), _order_hits("UPS")
    noise = len(spu ^ spu_again)
    print(f"pass orders: SPU {len(spu):,} blocks, UPS {len(ups):,}, differ in {len(spu ^ ups):,} (noise {noise})")
    assert len(spu) > 1_000 and len(ups) > 1_000
    assert len(spu ^ ups) > 200 and len(spu ^ ups) > 10 * max(noise, 1)


def test_hits_survive_segfault_and_kill(tvm_sites):
    def narrow() -> None:
        A = te.placeholder((64,), name="A", dtype="int64")
        B = te.compute((64,), lambda i: A[i] + 1, name="B")
        tvm.tirx.transform.NarrowDataType(32)(tvm.IRModule({"main": te.create_prim_func([A, B])}))

    def compile_then_kill() -> None:
        f = tvm.compile(elementwise(), target="llvm")
        f(tvm.runtime.tensor(np.zeros(64, "float32")), tvm.runtime.tensor(np.zeros(64, "float32")))
        os.kill(os.getpid(), signal.SIGKILL)

    def body() -> dict:
        cov = NativeCoverage("tvm", progress=False)
        cov.plant()
        out = {}
        for name, fn in (("segv", narrow), ("segv_again", narrow), ("kill", compile_then_kill)):
            m = cov.mark()
            status = run_child_case(fn)
            out[name] = (os.WIFSIGNALED(status) and os.WTERMSIG(status), len(cov.hits_since(m)))
        out["total"] = cov.total()
        return out

    out = fork_run(body)
    assert out["segv"][0] == signal.SIGSEGV and out["segv"][1] > 1_000
    assert out["segv_again"][0] == signal.SIGSEGV and out["segv_again"][1] < 50
    assert out["kill"][0] == signal.SIGKILL and out["kill"][1] > 5_000
    assert out["total"] == out["segv"][1] + out["segv_again"][1] + out["kill"][1]


def _elementwise_blocks(scope: str) -> dict:
    """Blocks hit by compiling and running the elementwise case from a fresh planting."""
    def body() -> dict:
        cov = NativeCoverage(scope, progress=False)
        cov.plant()
        m = cov.mark()
        a = tvm.runtime.tensor(np.arange(64, dtype="float32"))
        b = tvm.runtime.tensor(np.zeros(64, dtype="float32"))
        tvm.compile(elementwise(), target="llvm")(a, b)
        assert np.array_equal(b.numpy(), np.arange(64, dtype="float32") + 1)
        hits = cov.hits_since(m)
        return {"hits": len(hits), "distinct": len(np.unique(hits)), "total": cov.total(),
                "armed": cov.armed(), "sites": cov.planted_sites}

    return fork_run(body)


def test_elementwise_hits_many_tvm_blocks(tvm_sites):
    r = _elementwise_blocks("tvm")
    print(f"scope tvm: elementwise llvm compile+run hit {r['hits']:,} blocks")
    assert r["hits"] >= 20_000 and r["distinct"] == r["hits"] == r["total"]
    assert r["armed"] == r["sites"] - r["hits"]


def test_elementwise_hits_many_blocks_scope_all():
    find_sites("all", "block", progress=False)  # cold discovery (~40 s on 2 cores) happens here, unplanted
    r = _elementwise_blocks("all")
    print(f"scope all: elementwise llvm compile+run hit {r['hits']:,} blocks")
    assert r["hits"] >= 100_000 and r["distinct"] == r["hits"]


def test_preload_resumes_without_recounting(tvm_sites):
    def run_case() -> None:
        a = tvm.runtime.tensor(np.zeros(64, "float32"))
        tvm.compile(elementwise(), target="llvm")(a, tvm.runtime.tensor(np.zeros(64, "float32")))

    def first_campaign() -> np.ndarray:
        cov = NativeCoverage("tvm", progress=False)
        cov.plant()
        run_child_case(run_case)
        return cov.covered()

    def resumed(saved: np.ndarray) -> tuple[int, int, int, int]:
        cov = NativeCoverage("tvm", progress=False)
        cov.plant()
        restored = cov.preload(saved)
        m = cov.mark()
        run_child_case(run_case)
        return restored, len(cov.hits_since(m)), cov.total(), len(cov.covered())

    saved = fork_run(first_campaign)
    restored, new, total, covered = fork_run(lambda: resumed(saved))
    assert len(saved) > 20_000 and restored == len(saved)
    assert new < 0.01 * len(saved)
    assert total == covered == restored + new


def test_foreign_sigtrap_goes_to_previous_handler(tvm_sites):
    def body() -> list[int]:
        seen: list[int] = []
        signal.signal(signal.SIGTRAP, lambda signum, frame: seen.append(signum))
        cov = NativeCoverage("tvm", progress=False)
        cov.plant()
        os.kill(os.getpid(), signal.SIGTRAP)
        return seen

    assert fork_run(body) == [signal.SIGTRAP]


def test_pytest_process_is_not_planted():
    from tirfuzz.fuzzer.execution import _covtrap

    assert _covtrap.state()["planted"] is False
