"""The TVM adapter: parse, pre-check, the completion passes, TVM's default pipeline, build and run.

Public functions over TVM 0.27's Python API that every layer may call; tvm is imported inside each
function so that importing this module stays cheap in processes that never touch TVM (the campaign
driver). Parsing TVMScript evaluates Python: only executor children call `parse`. Parsing, the build and
running on the seed's inputs are fuzzer/core/runtime.py's (every repro.py embeds that file); this module
gives them PassSpecs.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any, Iterator

from tirfuzz.fuzzer.core.case import PassSpec
from tirfuzz.fuzzer.core.hostcc import PendingLoad
from tirfuzz.fuzzer.core.runtime import (COMPLETION_PASSES, GPU_BINDING_PASS, added_passes, codegen, entry_functions,
                                         make_target, parse_target, run_functions)
from tirfuzz.fuzzer.core import runtime

__all__ = ["COMPLETION", "DEVICE_MODULES", "GPU_BINDING", "blocks", "build", "cuda_to_ptx", "default_pipeline",
           "entry_functions", "gpu_binding", "has_blocks", "loaded", "parse", "precheck", "run_funcs"]

# Passes without which a module cannot be turned into runnable code, in default-pipeline order.
# The build adds each one the case's own sequence does not name (by name, arguments ignored).
COMPLETION: tuple[PassSpec, ...] = tuple(PassSpec(n) for n in COMPLETION_PASSES)


GPU_BINDING = PassSpec(GPU_BINDING_PASS)


class _NoCallerFrames:
    """`inspect` as TVM's decorator modules see it while a text is parsed, with an empty `stack()`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)

    @staticmethod
    def stack(context: int = 1) -> list:
        return []


@contextlib.contextmanager
def _no_caller_frames() -> Iterator[None]:
    """While text is parsed, TVM's `@T.prim_func(...)` and `@I.ir_module(...)` skip `inspect.stack()`.

    Called with arguments, as the printer writes `@T.prim_func(s_tir=True)`, the decorators capture every
    caller's frame with its source line (a third of a parse, more in a deep stack) for one use: resolving
    the closure variables of a decorated Python function. Parsing from text never decorates one.
    """
    import tvm.script.parser.ir.entry as ir_entry
    import tvm.tirx.script.parser.entry as tir_entry

    mods = [m for m in (tir_entry, ir_entry) if getattr(m, "inspect", None) is inspect]
    for m in mods:
        m.inspect = _NoCallerFrames()
    try:
        yield
    finally:
        for m in mods:
            m.inspect = inspect


def parse(text: str):
    """runtime.parse without the decorators' frame capture (the same module: tests/test_throughput_parts.py)."""
    with _no_caller_frames():
        return runtime.parse(text)


def gpu_binding(target: str, passes: list[PassSpec]) -> list[PassSpec]:
    """For a GPU target, the pass that gives every block thread bindings, run first, unless the case names it."""
    return [PassSpec(n) for n in added_passes(target, [s.name for s in passes])[0]]


def default_pipeline() -> list[PassSpec]:
    """TVM's default TIR pipeline (the s_tir one, default config) as a pass sequence."""
    s, t = "s_tir.transform.", "tirx.transform."
    names = [s + n for n in (
        "CanonicalizeLoop", "LowerCrossThreadReduction", "LowerInitBlock",
        "PlanAndUpdateBufferAllocationLocation", "ConvertBlocksToOpaque", "LiftThreadBinding",
        "ManifestSharedMemoryLocalStage", "CompactBufferAllocation", "LowerAutoCopy",
        "UnifyThreadBinding", "LowerMatchBuffer", "StmtSimplify", "InjectPermutedLayout",
        "AnnotateIrregularLoop", "InjectSoftwarePipeline", "TransformMmaBufferLayout", "LowerOpaqueBlock")]
    names += [t + "FlattenBuffer", t + "BF16ComputeLegalize"]
    seq = [PassSpec(n) for n in names] + [PassSpec(t + "NarrowDataType", (32,))]
    seq += [PassSpec(n) for n in (s + "LoopPartition", t + "VectorizeLoop", s + "InjectVirtualThread",
                                  s + "InjectDoubleBuffer", t + "StorageRewrite", s + "HoistIfThenElse",
                                  t + "UnrollLoop", s + "RenormalizeSplitPattern", t + "StmtSimplify",
                                  t + "RemoveNoOp", s + "RewriteUnsafeSelect", t + "CommonSubexprElim",
                                  t + "FP8ComputeLegalize", s + "VerifyVTCMLimit", s + "LowerVtcmAlloc",
                                  t + "VerifyMemory", t + "AnnotateEntryFunc")]
    seq += [PassSpec(s + "ThreadSync", (scope,)) for scope in ("shared", "shared.dyn", "warp")]
    seq += [PassSpec(n) for n in (s + "InferFragment", s + "LowerThreadAllreduce",
                                  s + "MergeSharedMemoryAllocations", t + "SplitHostDevice",
                                  t + "MakePackedAPI", t + "FP8StorageLegalize", t + "BF16StorageLegalize")]
    return seq


def blocks(mod) -> list:
    import tvm_ffi
    from tvm.s_tir import SBlockRealize

    found: list = []
    tvm_ffi.structural_walk(mod, (SBlockRealize, found.append))
    return found


def has_blocks(mod) -> bool:
    return bool(blocks(mod))


def precheck(mod) -> None:
    """Raise ValueError when the module is not well formed."""
    import tvm
    import tvm.s_tir

    verify = tvm.s_tir.analysis.verify_well_formed if has_blocks(mod) else tvm.tirx.analysis.verify_well_formed
    try:
        verify(mod, assert_mode=True)
    except Exception as e:
        raise ValueError(f"ill-formed module: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


DEVICE_MODULES = "__device_modules__"  # key of the built device modules in build's result


def build(mod, tgt, names: list[str], host_cc: Any = None, target: str | None = None) -> dict[str, Any]:
    """Runnable functions by name: codegen, the host compiler (c) and machine code (llvm) all happen here."""
    return loaded(codegen(mod, tgt), names, host_cc, target)


def loaded(raw, names: list[str], host_cc: Any = None, target: str | None = None) -> dict[str, Any]:
    """`load`'s functions by name, and the generated device modules under DEVICE_MODULES. With `host_cc`
    (a fuzzer.core.hostcc.HostCompiler), C source compiles with its precompiled prelude."""
    return with_device_modules(raw, PendingLoad(raw, names, host_cc, target).finish())


def with_device_modules(raw, funcs: dict[str, Any]) -> dict[str, Any]:
    """A build's runnable functions with its generated device modules (under DEVICE_MODULES)."""
    funcs[DEVICE_MODULES] = [m for m in raw.imports if m.kind == "cuda"]
    return funcs


def cuda_to_ptx(device_modules: list, target: str) -> int:
    """Compile each generated CUDA module to PTX with nvcc (no GPU needed): nvcc rejecting what TVM
    emitted is a codegen bug. Returns the PTX bytes made."""
    from tvm.support import nvcc

    sm = (parse_target(target).get("arch") or "sm_80").removeprefix("sm_")
    arch = ["-gencode", f"arch=compute_{sm},code=sm_{sm}"]  # explicit: nvcc would ask the (absent) GPU
    with make_target(target):  # nvcc.py reads the compute version from the current target
        return sum(len(nvcc.compile_cuda(m.inspect_source(), target_format="ptx", arch=arch, compiler="nvcc"))
                   for m in device_modules)


def run_funcs(compiled: dict[str, Any], funcs: dict[str, Any], seed: int, device) -> dict[str, list]:
    """Run every function on the seed's inputs; the buffers after the run, by function."""
    return run_functions(compiled, {n: f for n, f in funcs.items() if n != DEVICE_MODULES}, seed, device)


GPU_THREAD_TAGS = ("threadIdx.", "blockIdx.", "warp")  # bindings only a GPU target can build
CPU_KINDS = ("llvm", "c")


def target_needs(mod) -> dict[str, str]:
    """What the program needs of its target, by gap name, with where it says so: `needs-gpu-target` (GPU
    thread bindings, a device-kernel calling convention, or a GPU target attached to a function),
    `needs-scalable-vectors` (`T.vscale()`: AArch64 SVE). An x86 CPU build of such a program fails in
    TVM's own build too, so the target drops out of the case (or the case is rejected)."""
    import tvm
    import tvm_ffi

    needs: dict[str, str] = {}

    def on_attr(a):
        tag = str(getattr(a.node, "thread_tag", "") or "")
        if a.attr_key == "thread_extent" and tag.startswith(GPU_THREAD_TAGS):
            needs.setdefault("needs-gpu-target", f"binds {tag}")

    def on_for(f):
        tag = str(getattr(f.thread_binding, "thread_tag", "") or "") if f.thread_binding is not None else ""
        if tag.startswith(GPU_THREAD_TAGS):
            needs.setdefault("needs-gpu-target", f"binds {tag}")

    def on_call(c):
        if str(getattr(getattr(c, "op", None), "name", "")).endswith(".vscale"):
            needs.setdefault("needs-scalable-vectors", "uses T.vscale()")

    for gv, func in mod.functions.items():
        attrs = func.attrs or {}
        if "calling_conv" in attrs and int(attrs["calling_conv"]) == 2:
            needs.setdefault("needs-gpu-target", f"{gv.name_hint} is a device kernel (calling_conv 2)")
        if "target" in attrs and str(attrs["target"].kind.name) not in CPU_KINDS:
            needs.setdefault("needs-gpu-target", f"{gv.name_hint} is for target {attrs['target'].kind.name}")
    tvm_ffi.structural_walk(mod, [(tvm.tirx.AttrStmt, on_attr), (tvm.tirx.For, on_for), (tvm.ir.Call, on_call)])
    return needs


def unmet_needs(needs: dict[str, str], target: str) -> tuple[str, str] | None:
    """The first of `needs` a target cannot meet, as (gap name, where), or None."""
    kind = target.split()[0]
    for gap, where in needs.items():
        if gap == "needs-gpu-target" and kind in CPU_KINDS:
            return gap, where
        if gap == "needs-scalable-vectors" and not ("aarch64" in target and "+sve" in target):
            return gap, where
    return None
