"""The TVM adapter: parse, pre-check, the completion passes, TVM's default pipeline, build and run.

Public functions over TVM 0.27's Python API that every layer may call; tvm is imported inside each
function so that importing this module stays cheap in processes that never touch TVM (the campaign
driver). Parsing TVMScript evaluates Python: only executor children call `parse`.
"""

from __future__ import annotations

from typing import Any

from tirfuzz.fuzzer.core.case import PassSpec
from tirfuzz.fuzzer.core.inputs import make_args
from tirfuzz.fuzzer.core.targets import make_target, parse_target

# Passes without which a module cannot be turned into runnable code, in default-pipeline order.
# The build adds each one the case's own sequence does not name (by name, arguments ignored).
COMPLETION: tuple[PassSpec, ...] = (
    PassSpec("s_tir.transform.LowerCrossThreadReduction"),
    PassSpec("s_tir.transform.LowerInitBlock"),
    PassSpec("s_tir.transform.PlanAndUpdateBufferAllocationLocation"),
    PassSpec("s_tir.transform.ConvertBlocksToOpaque"),
    PassSpec("s_tir.transform.LowerMatchBuffer"),
    PassSpec("s_tir.transform.LowerOpaqueBlock"),
    PassSpec("tirx.transform.FlattenBuffer"),
    PassSpec("tirx.transform.BF16ComputeLegalize"),
    PassSpec("tirx.transform.VectorizeLoop"),
    PassSpec("tirx.transform.FP8ComputeLegalize"),
    PassSpec("s_tir.transform.LowerThreadAllreduce"),
    PassSpec("tirx.transform.SplitHostDevice"),
    PassSpec("tirx.transform.MakePackedAPI"),
    PassSpec("tirx.transform.FP8StorageLegalize"),
    PassSpec("tirx.transform.BF16StorageLegalize"),
)


GPU_BINDING = PassSpec("s_tir.transform.DefaultGPUSchedule")


def gpu_binding(target: str, passes: list[PassSpec]) -> list[PassSpec]:
    """For a GPU target, the pass that gives every block thread bindings, run first, unless the case names it."""
    if target.split()[0] != "cuda" or any(s.name == GPU_BINDING.name for s in passes):
        return []
    return [GPU_BINDING]


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


def parse(text: str):
    import tvm
    import tvm.script

    obj = tvm.script.from_source(text, check_well_formed=False)  # the precheck stage verifies
    if isinstance(obj, tvm.tirx.PrimFunc):
        obj = tvm.IRModule({"main": obj})
    if not isinstance(obj, tvm.IRModule):
        raise TypeError(f"the IR is a {type(obj).__name__}, not an IRModule or PrimFunc")
    return obj


def entry_functions(mod) -> dict[str, Any]:
    """The externally visible PrimFuncs of a module, by global symbol."""
    import tvm

    out = {}
    for gv, f in mod.functions.items():
        if isinstance(f, tvm.tirx.PrimFunc):
            sym = f.attrs.get("global_symbol") if f.attrs is not None else None
            if sym is not None:
                out[str(sym)] = f
    return dict(sorted(out.items()))


def build(mod, tgt, names: list[str]) -> dict[str, Any]:
    """Runnable functions by name: codegen, the host compiler (c) and machine code (llvm) all happen here."""
    from tvm.runtime import Executable
    from tvm.s_tir.pipeline import finalize_device_passes, finalize_host_passes
    from tvm.tirx.build import split_host_device_mods, tir_to_runtime

    host, devices = split_host_device_mods(mod)
    host = finalize_host_passes()(host)
    devices = {t: finalize_device_passes()(d) for t, d in devices.items()}
    raw = tir_to_runtime(host, devices, tgt.host or tgt)
    rt = Executable(raw).jit()
    funcs = {name: rt.get_function(name, query_imports=True) for name in names}
    funcs[DEVICE_MODULES] = [m for m in raw.imports if m.kind == "cuda"]
    return funcs


DEVICE_MODULES = "__device_modules__"  # key of the built device modules in build's result


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
    import tvm

    outputs = {}
    for name, func in funcs.items():
        if name == DEVICE_MODULES:
            continue
        specs, values = make_args(func, seed, name)
        args = [tvm.runtime.tensor(v, device) if s.shape is not None else v.item() for s, v in zip(specs, values)]
        compiled[name](*args)
        outputs[name] = [a.numpy() for a, s in zip(args, specs) if s.shape is not None]
    return outputs
