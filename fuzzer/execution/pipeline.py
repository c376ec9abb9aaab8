"""Run one case in the current process: parse, pre-check, passes, build and run for each target.

This is what an executor child does; `bench/executor.py` also calls it directly to measure the
executor's own cost. Parsing TVMScript evaluates Python, so only isolated processes call this.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any, Callable

from tirfuzz.oracles.filters import FILTERS, PRECONDITIONS, classify_error
from tirfuzz.fuzzer.core.case import PassSpec, TestCase
from tirfuzz.fuzzer.core.crashinfo import frames_from_exception, top_frame
from tirfuzz.fuzzer.core.inputs import make_args
from tirfuzz.fuzzer.core.passes import PassError, PassPool
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.fuzzer.core.targets import TargetError, check_target, make_target, nvcc_present, runnable_here

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


class StageFailure(Exception):
    """An exception raised while a stage ran, with the stage and target it belongs to."""

    def __init__(self, stage: str, target: str | None, exc: BaseException):
        super().__init__(str(exc))
        self.stage, self.target, self.exc = stage, target, exc
        self.unmet: list[str] = []  # documented preconditions the module did not meet


def _unmet_preconditions(spec: PassSpec, mod, packed: bool) -> list[str]:
    """Which of the pass's documented preconditions the module it was given does not meet."""
    needs = PRECONDITIONS.get(spec.name.rpartition(".")[2], ())
    unmet = []
    if "block-free" in needs and _has_blocks(mod):
        unmet.append("block-free")
    if "packed-api" in needs and not packed:
        unmet.append("packed-api")
    if "opaque-blocks" in needs and any(len(b.iter_values) for b in _blocks(mod)):
        unmet.append("opaque-blocks")
    if "no-block-init" in needs and any(b.block.init is not None for b in _blocks(mod)):
        unmet.append("no-block-init")
    return unmet


class _Stages:
    """Tracks the current stage, reports it, and times it."""

    def __init__(self, on_stage: Callable[[str, str | None], None] | None, result: ExecResult):
        self.on_stage, self.result = on_stage, result

    def run(self, stage: str, target: str | None, fn: Callable[[], Any], timing_key: str | None = None) -> Any:
        self.result.stage, self.result.target = stage, target
        if self.on_stage is not None:
            self.on_stage(stage, target)
        t0 = time.perf_counter()
        try:
            return fn()
        except Exception as e:
            raise StageFailure(stage, target, e) from e
        finally:
            key = timing_key or (f"{stage.split(':')[0]}@{target}" if target else stage)
            self.result.timings_ms[key] = self.result.timings_ms.get(key, 0.0) + (time.perf_counter() - t0) * 1e3


def _blocks(mod) -> list:
    import tvm_ffi
    from tvm.s_tir import SBlockRealize

    found: list = []
    tvm_ffi.structural_walk(mod, (SBlockRealize, found.append))
    return found


def _has_blocks(mod) -> bool:
    return bool(_blocks(mod))


def _precheck(mod) -> None:
    """Raise ValueError when the module is not well formed."""
    import tvm
    import tvm.s_tir

    verify = tvm.s_tir.analysis.verify_well_formed if _has_blocks(mod) else tvm.tirx.analysis.verify_well_formed
    try:
        verify(mod, assert_mode=True)
    except Exception as e:
        raise ValueError(f"ill-formed module: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None


def _parse(text: str):
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


def _build(mod, tgt, names: list[str]) -> dict[str, Any]:
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


DEVICE_MODULES = "__device_modules__"  # key of the built device modules in _build's result


def cuda_to_ptx(device_modules: list, target: str) -> int:
    """Compile each generated CUDA module to PTX with nvcc (no GPU needed): nvcc rejecting what TVM
    emitted is a codegen bug. Returns the PTX bytes made."""
    from tvm.support import nvcc

    from tirfuzz.fuzzer.core.targets import parse_target

    sm = (parse_target(target).get("arch") or "sm_80").removeprefix("sm_")
    arch = ["-gencode", f"arch=compute_{sm},code=sm_{sm}"]  # explicit: nvcc would ask the (absent) GPU
    with make_target(target):  # nvcc.py reads the compute version from the current target
        return sum(len(nvcc.compile_cuda(m.inspect_source(), target_format="ptx", arch=arch, compiler="nvcc"))
                   for m in device_modules)


def _run(compiled: dict[str, Any], funcs: dict[str, Any], seed: int, device) -> dict[str, list]:
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


def run_case(case: TestCase, pool: PassPool, on_stage: Callable[[str, str | None], None] | None = None,
             want_outputs: bool = True, oracle: bool = False, filters: tuple = FILTERS,
             want_json: bool = False) -> ExecResult:
    """Execute every stage of the case and return what happened; never raises for TVM's errors.

    With `oracle`, the TVMScript round trip is checked and every build that ran is compared with TVM's
    default pipeline for llvm (oracles/differential.py): outcomes `roundtrip` and `miscompilation`.
    With `want_json`, `result.ir_json` is the parsed module in TVM's JSON (loading it is ten times
    cheaper than parsing the TVMScript again when the case is mutated next).
    """
    result = ExecResult(outcome="ok")
    stages = _Stages(on_stage, result)
    try:
        _run_stages(case, pool, stages, result, want_outputs, oracle, want_json)
        if result.outcome == "ok":
            result.stage, result.target = "done", None
    except StageFailure as f:
        _record_failure(result, f, filters)
    return result


def compiler(mod, case: TestCase, pool: PassPool) -> Callable[..., Any]:
    """A function (target, pass specs) -> runnable functions: the specs, then the completion passes they
    do not name, then the build; under the case's pass config, or `config` (the reference passes {})."""
    import tvm

    funcs = list(entry_functions(mod))

    def compile_with(target: str, specs: list, config: dict | None = None) -> dict[str, Any]:
        named = {s.name for s in specs}
        with tvm.transform.PassContext(opt_level=3, config=case.pass_config if config is None else config):
            tgt = make_target(target)
            m = tvm.tirx.transform.BindTarget(tgt)(mod)
            for spec in gpu_binding(target, specs) + list(specs) + [c for c in COMPLETION if c.name not in named]:
                m = pool.instantiate(spec)(m)
            return _build(m, tgt, funcs)
    return compile_with


def _run_stages(case: TestCase, pool: PassPool, stages: _Stages, result: ExecResult, want_outputs: bool,
                oracle: bool = False, want_json: bool = False) -> None:
    import tvm
    import tvm_ffi

    def check_inputs():
        for t in case.targets:
            check_target(t)
        return [pool.instantiate(s) for s in case.passes]

    passes = stages.run("setup", None, check_inputs)
    mod = stages.run("parse", None, lambda: _parse(case.ir))
    stages.run("precheck", None, lambda: _precheck(mod))
    if want_json:
        result.ir_json = tvm.ir.save_json(mod)
    funcs = entry_functions(mod)
    if oracle:
        from tirfuzz.oracles.roundtrip import check_roundtrip

        problem = stages.run("roundtrip:parsed", None, lambda: check_roundtrip(mod))
        if problem:
            result.outcome, result.message, result.stage = "roundtrip", problem, "roundtrip:parsed"
            return
    builds: dict[str, tuple[Any, Any, dict]] = {}
    named = {s.name for s in case.passes}
    completion = [s for s in COMPLETION if s.name not in named]
    result.completion = [s.name for s in completion]
    for target in case.targets:
        ctx = stages.run("config", None, lambda: tvm.transform.PassContext(opt_level=3, config=case.pass_config))
        with ctx:
            tgt = make_target(target)
            m = tvm.tirx.transform.BindTarget(tgt)(mod)
            changed, packed = [], False
            steps = [(s, None, "completion") for s in gpu_binding(target, case.passes)]
            result.completion += [s.name for s, _, _ in steps if s.name not in result.completion]
            steps += [(s, p, "passes") for s, p in zip(case.passes, passes)]
            steps += [(s, None, "completion") for s in completion]
            for spec, p, kind in steps:
                p = p if p is not None else pool.instantiate(spec)
                before = tvm_ffi.structural_hash(m)
                try:
                    m_next = stages.run(f"pass:{spec.name}", target, lambda p=p, m=m: p(m), f"{kind}@{target}")
                except StageFailure as f:
                    f.unmet = _unmet_preconditions(spec, m, packed)
                    raise
                if kind == "passes":
                    changed.append(tvm_ffi.structural_hash(m_next) != before)
                packed = packed or spec.name.endswith(".MakePackedAPI")
                m = m_next
                result.pass_changed[target] = changed
            rt = stages.run(f"build:{target}", target, lambda m=m: _build(m, tgt, list(funcs)))
        if not runnable_here(target):  # no GPU, or an -mcpu/+feature this CPU lacks: built, not run
            result.skipped_runs.append(target)
            if rt.get(DEVICE_MODULES) and nvcc_present():
                stages.run(f"ptx:{target}", target, lambda rt=rt: cuda_to_ptx(rt[DEVICE_MODULES], target))
            continue
        device = tvm.cuda(0) if target.split()[0] == "cuda" else tvm.cpu(0)
        outs = stages.run(f"run:{target}", target, lambda rt=rt: _run(rt, funcs, case.input_seed, device))
        builds[target] = (rt, device, outs)
        if want_outputs:
            result.outputs[target] = outs
    if oracle:
        from tirfuzz.oracles.differential import check

        verdict = check(case, mod, funcs, builds, compiler(mod, case, pool), default_pipeline(), stages.run)
        result.oracle = asdict(verdict)
        if verdict.outcome == "miscompilation":
            d = verdict.diff or {}
            result.outcome, result.stage, result.target = "miscompilation", f"oracle:{verdict.target}", verdict.target
            result.frame = verdict.culprit
            result.message = (f"{verdict.target} differs from the reference (default pipeline, llvm) in "
                              f"{d.get('func')} buffer {d.get('buffer')} at {d.get('index')}: expected "
                              f"{d.get('expected')}, got {d.get('actual')} ({d.get('mismatches')} of "
                              f"{d.get('size')} elements); culprit: {verdict.culprit}")


def _record_failure(result: ExecResult, f: StageFailure, filters: tuple = FILTERS) -> None:
    exc = f.exc
    result.stage, result.target = f.stage, f.target
    result.exc_type = type(exc).__name__
    message = str(exc).strip()
    result.message = message[:4000]
    result.frames = frames_from_exception(exc)[:20]
    result.frame = top_frame(result.frames)
    if isinstance(exc, MemoryError) or "std::bad_alloc" in message:
        result.outcome, result.resource = "hang", "memory"
        result.message = f"memory limit exceeded: {message[:500]}"
        return
    if f.stage == "setup":
        result.outcome = "rejected"
        result.filter = "unknown-target" if isinstance(exc, TargetError) else \
            "unknown-pass" if isinstance(exc, PassError) else "bad-pass-arguments"
        return
    if f.stage == "parse":
        result.outcome, result.filter = "rejected", "unparseable-tvmscript"
        return
    if f.stage == "precheck":
        result.outcome, result.filter = "rejected", "ill-formed"
        return
    if f.stage == "config":
        result.outcome, result.filter = "rejected", "bad-pass-config"
        return
    if f.unmet:
        result.outcome, result.filter = "rejected", "precondition:" + ",".join(f.unmet)
        return
    flt = classify_error(f.stage, f.target, result.exc_type, message, filters)
    if flt is not None:
        result.outcome, result.filter = "rejected", flt.name
    else:
        result.outcome = "internal-error"
