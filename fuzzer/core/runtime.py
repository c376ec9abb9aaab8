"""tirfuzz's runtime: target strings, the build, the round trip, seeded inputs and output comparison.

The fuzzer's pipeline imports it, and reports/repro.py pastes this file verbatim into every reproducer, so a
repro.py builds, fills and compares exactly as the campaign did. It therefore imports only the standard
library, numpy, tvm and tvm_ffi (tvm inside functions: importing this module stays cheap), and nothing of
tirfuzz.
"""

from __future__ import annotations

import ctypes

import os
import platform
import resource
import zlib
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

# ---- targets ------------------------------------------------------------------------------------

# GPU kinds: a build binds threads first (GPU_BINDING_PASS). Only cuda runs (on a CUDA device); TVM generates
# OpenCL, Metal and WebGPU source without their runtimes, so such targets are built and never run here.
GPU_KINDS = ("cuda", "opencl", "metal", "webgpu")
TARGETS = ("llvm", "c") + GPU_KINDS

# Options tirfuzz accepts per kind, with their types (a subset of TVM's TargetKind options).
CPU_OPTIONS: dict[str, type] = {"mcpu": str, "mattr": list, "mtriple": str, "mabi": str, "mfloat-abi": str,
                                "opt-level": int, "num-cores": int, "vector-width": int, "cl-opt": list,
                                "fast-math": bool, "fast-math-nnan": bool, "fast-math-ninf": bool,
                                "fast-math-nsz": bool, "fast-math-arcp": bool, "fast-math-contract": bool,
                                "fast-math-reassoc": bool}
OPTIONS: dict[str, dict[str, type]] = {"llvm": CPU_OPTIONS, "c": {"mcpu": str, "mattr": list},
                                       "cuda": {"arch": str}, "opencl": {}, "metal": {}, "webgpu": {}}


class TargetError(ValueError):
    """A target name tirfuzz does not know."""


def parse_target(name: str) -> dict[str, Any]:
    """The dict form of a target string ("llvm -mcpu=znver2 -mattr=+avx2"); raises TargetError on an
    unknown kind, option or value."""
    if not isinstance(name, str) or not name.strip():
        raise TargetError(f"a target must be a non-empty string, got {name!r}")
    kind, *opts = name.split()
    if kind not in TARGETS:
        raise TargetError(f"unknown target {name!r} (known kinds: {', '.join(TARGETS)})")
    out: dict[str, Any] = {"kind": kind}
    for opt in opts:
        key, sep, value = opt.lstrip("-").partition("=")
        if not opt.startswith("-") or key not in OPTIONS[kind]:
            raise TargetError(f"target {name!r}: unknown option {opt!r} for {kind} "
                              f"(known: {', '.join('-' + k for k in OPTIONS[kind])})")
        ty = OPTIONS[kind][key]
        if ty is bool:
            if value not in ("", "1", "0", "true", "false"):
                raise TargetError(f"target {name!r}: option -{key} takes true/false, got {value!r}")
            out[key] = value in ("", "1", "true")
        elif not sep or not value:
            raise TargetError(f"target {name!r}: option -{key} needs a value (-{key}=...)")
        elif ty is int:
            try:
                out[key] = int(value)
            except ValueError:
                raise TargetError(f"target {name!r}: option -{key} takes an integer, got {value!r}") from None
        elif ty is list:
            out[key] = [v for v in value.split(",") if v]
        else:
            out[key] = value
    return out


def make_target(name: str | dict[str, Any]):
    """A tvm Target with its host attached (MakePackedAPI only acts on functions whose target has one).

    TVM 0.27 refuses the string form with options, so the string is parsed into the dict form first.
    """
    from tvm.target import Target

    if isinstance(name, dict):
        return Target(name)
    spec = target_spec(name)
    return Target(spec, host="llvm" if spec["kind"] in GPU_KINDS else spec)


def target_spec(name: str) -> dict[str, Any]:
    """The dict form a tvm Target is made from: `parse_target`'s, with cuda's -arch defaulting to sm_80 (with
    no GPU here, TVM would ask the absent device). A GPU kind's host is llvm; a CPU target is its own host."""
    spec = parse_target(name)
    return {**spec, "arch": spec.get("arch", "sm_80")} if spec["kind"] == "cuda" else spec


def kind_of(name: str) -> str:
    """The kind of a target string ("llvm", "c", "cuda", ...), without checking its options."""
    return name.split()[0]


# LLVM's names for this machine's architecture, as the first part of a target triple.
_ARCH_NAMES = {"x86_64": ("x86_64", "amd64"), "aarch64": ("aarch64", "arm64")}


def native_code(name: str) -> bool:
    """Whether a build for `name` is machine code for this process to load: False for an llvm target whose
    -mtriple names another architecture (aarch64 on x86-64: cross-compiled, its assembly made, never run)."""
    triple = parse_target(name).get("mtriple") if kind_of(name) == "llvm" else None
    if not triple:
        return True
    here = platform.machine().lower()
    return triple.split("-")[0].lower() in _ARCH_NAMES.get(here, (here,))


def device_for(target: str):
    """The device a build for `target` runs on."""
    import tvm

    return tvm.cuda(0) if kind_of(target) == "cuda" else tvm.cpu(0)


# ---- build --------------------------------------------------------------------------------------

# Passes without which a module cannot be turned into runnable code as TVM's default pipeline
# (tvm.compile) turns it, in that pipeline's order. A build adds each one the case's own sequence does
# not name (by name, arguments ignored). Besides lowering blocks and buffers, three stages decide what
# a program means: CanonicalizeLoop (loops with a non-unit step start at 0 with step 1; a step not
# proven positive is refused, as tvm.compile refuses it), CompactBufferAllocation (an intermediate
# buffer is allocated for the region used, not its declared shape) and AnnotateIrregularLoop (a loop
# holding a break/continue is marked, so LowerOpaqueBlock keeps even a one-iteration such loop).
# Left out: optimizations (NarrowDataType, LoopPartition, UnrollLoop, StorageRewrite, ...) and the
# GPU-only stages (thread binding, shared memory, tensor cores, ThreadSync) no CPU build needs.
COMPLETION_PASSES: tuple[str, ...] = (
    "s_tir.transform.CanonicalizeLoop", "s_tir.transform.LowerCrossThreadReduction",
    "s_tir.transform.LowerInitBlock", "s_tir.transform.PlanAndUpdateBufferAllocationLocation",
    "s_tir.transform.ConvertBlocksToOpaque", "s_tir.transform.CompactBufferAllocation",
    "s_tir.transform.LowerMatchBuffer", "s_tir.transform.AnnotateIrregularLoop",
    "s_tir.transform.LowerOpaqueBlock", "tirx.transform.FlattenBuffer",
    "tirx.transform.BF16ComputeLegalize", "tirx.transform.VectorizeLoop", "tirx.transform.FP8ComputeLegalize",
    "s_tir.transform.LowerThreadAllreduce", "tirx.transform.SplitHostDevice", "tirx.transform.MakePackedAPI",
    "tirx.transform.FP8StorageLegalize", "tirx.transform.BF16StorageLegalize",
)
GPU_BINDING_PASS = "s_tir.transform.DefaultGPUSchedule"  # gives every block thread bindings (GPU targets)
# dlight's schedule rules as one module pass: the first rule that takes a function schedules it for the GPU
# (shared-memory tiling for a matmul, cross-thread reductions, ...) and marks it scheduled; these rules
# (GPUScheduleRule) stand aside on CPU targets. A sequence naming it (or DefaultGPUSchedule) gets no
# GPU_BINDING_PASS added. Its arguments are rule names under tvm.s_tir.dlight ("gpu.Matmul"); none: every
# rule of DLIGHT_RULES. Left out: gpu.RMSNorm, which checks no target (it scheduled llvm builds of a campaign
# and then stopped at a root block not named "root").
DLIGHT_PASS = "s_tir.dlight.ApplyDefaultSchedule"
DLIGHT_RULES = ("gpu.Matmul", "gpu.GEMV", "gpu.LowBatchGEMV", "gpu.Reduction", "gpu.GeneralReduction",
                "gpu.Transpose", "gpu.Fallback")
GPU_SCHEDULES = (GPU_BINDING_PASS, DLIGHT_PASS)

Steps = Sequence[tuple[str, Sequence[Any]]]  # passes as (dotted name, arguments)


def builtin_pass(name: str, args: Sequence[Any] = ()):
    """The Pass for a dotted name under tvm ("tirx.transform.UnrollLoop"); a BindTarget target given as
    a string or dict becomes a tvm Target."""
    import tvm
    import tvm.s_tir  # noqa: F401  (registers s_tir.transform)

    ctor: Any = tvm
    for part in name.split("."):
        ctor = getattr(ctor, part)
    args = list(args)
    if name.rpartition(".")[2] == "BindTarget" and args and isinstance(args[0], (str, dict)):
        args[0] = make_target(args[0])
    if name == DLIGHT_PASS:
        args = [dlight_rule(r) for r in (args or DLIGHT_RULES)]
    return ctor(*args)


def dlight_rule(name: Any):
    """A dlight schedule rule from its name under tvm.s_tir.dlight ("gpu.Matmul"), made with no arguments."""
    import tvm.s_tir.dlight as dl

    if not isinstance(name, str) or name not in DLIGHT_RULES:
        raise ValueError(f"unknown dlight rule {name!r} (known: {', '.join(DLIGHT_RULES)})")
    group, rule = name.split(".")
    return getattr(getattr(dl, group), rule)()


# Completion passes whose stage is over once the sequence names the given pass: they are not added then.
# CompactBufferAllocation works on IR before the packed API (TVM's pipeline runs it on block IR); after
# MakePackedAPI it raises TypeError ("Cannot treat type `ir.Call` as type `ir.Expr`") on every seed.
COMPLETION_UNTIL: dict[str, str] = {"s_tir.transform.CompactBufferAllocation": "tirx.transform.MakePackedAPI"}


def completion_passes(named: Sequence[str]) -> list[str]:
    """The completion passes a sequence naming `named` still needs, in order."""
    names = set(named)
    return [n for n in COMPLETION_PASSES if n not in names and COMPLETION_UNTIL.get(n) not in names]


def added_passes(target: str, named: Sequence[str]) -> tuple[list[str], list[str]]:
    """What a build adds around the given passes: (run before them, run after them)."""
    scheduled = any(n in named for n in GPU_SCHEDULES)
    before = [GPU_BINDING_PASS] if kind_of(target) in GPU_KINDS and not scheduled else []
    return before, completion_passes(named)


PACKED_API = "tirx.transform.MakePackedAPI"


def lowering_sequence(target: str, passes: Steps) -> list[tuple[str, tuple, bool]]:
    """Every pass a build runs after BindTarget, as (name, args, added by the build) in order.

    For a GPU kind whose sequence names MakePackedAPI, the completion passes TVM's pipeline runs before it
    (block lowering, FlattenBuffer, LowerThreadAllreduce, SplitHostDevice, ...) run right before it, not
    after the sequence: kernels must be split from the host function before the packed API is made, or
    the host's LLVM code generation meets thread indices ("not implemented"), which no pipeline of TVM's
    would give it. CPU builds keep the completion after the sequence."""
    names = [n for n, _ in passes]
    before, after = added_passes(target, names)
    body = [(n, tuple(a), False) for n, a in passes]
    if kind_of(target) in GPU_KINDS and PACKED_API in names:
        ahead = set(COMPLETION_PASSES[:COMPLETION_PASSES.index(PACKED_API)])
        early = [n for n in after if n in ahead]
        at = names.index(PACKED_API)
        body = body[:at] + [(n, (), True) for n in early] + body[at:]
        after = [n for n in after if n not in ahead]
    return [(n, (), True) for n in before] + body + [(n, (), True) for n in after]


def bind_target(mod, target: str):
    """(the module with the target bound, the tvm Target)."""
    import tvm

    tgt = make_target(target)
    return tvm.tirx.transform.BindTarget(tgt)(mod), tgt


def lower(mod, target: str, passes: Steps, make_pass: Callable[[str, Sequence[Any]], Any] = builtin_pass):
    """BindTarget, then `lowering_sequence`; returns (the lowered module, the tvm Target)."""
    m, tgt = bind_target(mod, target)
    for name, args, _ in lowering_sequence(target, passes):
        m = make_pass(name, args)(m)
    return m, tgt


def codegen(mod, tgt):
    """Host/device split, finalize passes and code generation: a runtime module (not yet loaded)."""
    from tvm.s_tir.pipeline import finalize_device_passes, finalize_host_passes
    from tvm.tirx.build import split_host_device_mods, tir_to_runtime

    host, devices = split_host_device_mods(mod)
    host = finalize_host_passes()(host)
    devices = {t: finalize_device_passes()(d) for t, d in devices.items()}
    return tir_to_runtime(host, devices, tgt.host or tgt)


def load(raw, names: Sequence[str], target: str | None = None) -> dict[str, Any]:
    """Runnable functions by name: the host compiler (c) and machine code (llvm) happen here. For a
    `target` whose code is not this machine's (`native_code`), LLVM's backend makes its assembly instead
    (as a cross-compilation would) and there is nothing to run: {}."""
    from tvm.runtime import Executable

    if target is not None and not native_code(target):
        raw.inspect_source("asm")
        return {}

    rt = Executable(raw).jit()
    return {name: rt.get_function(name, query_imports=True) for name in names}


def compile_module(mod, target: str, passes: Steps, config: dict[str, Any] | None = None,
                   make_pass: Callable[[str, Sequence[Any]], Any] = builtin_pass):
    """The whole build under a PassContext (opt_level 3, `config`): a runtime module for `load`."""
    import tvm

    with tvm.transform.PassContext(opt_level=3, config=config or {}):
        m, tgt = lower(mod, target, passes, make_pass)
        return codegen(m, tgt)


def parse(text: str):
    """An IRModule from TVMScript (a lone PrimFunc becomes `main`); not checked for well-formedness."""
    import tvm
    import tvm.script

    obj = tvm.script.from_source(text, check_well_formed=False)
    if isinstance(obj, tvm.tirx.PrimFunc):
        obj = tvm.IRModule({"main": obj})
    if not isinstance(obj, tvm.IRModule):
        raise TypeError(f"the IR is a {type(obj).__name__}, not an IRModule or PrimFunc")
    return obj


def entry_functions(mod) -> dict[str, Any]:
    """The externally visible PrimFuncs of a module, by global symbol."""
    import tvm

    out = {}
    for _, f in mod.functions.items():
        if isinstance(f, tvm.tirx.PrimFunc):
            sym = f.attrs.get("global_symbol") if f.attrs is not None else None
            if sym is not None:
                out[str(sym)] = f
    return dict(sorted(out.items()))


# ---- round trip ---------------------------------------------------------------------------------

NORMALIZED = (".reads[", ".writes[", ".extent")  # parts the parser recomputes and simplifies


def check_roundtrip(mod, source: str | None = None) -> str | None:
    """None when `parse(script(mod))` is structurally equal to mod; otherwise what went wrong, one line.
    `source`: the text mod was parsed from. When the printer gives that very text back, parsing it again
    would give mod again (it is what mod was parsed from), so the second parse is skipped."""
    import tvm_ffi

    try:
        text = mod.script()
    except Exception as e:  # noqa: BLE001
        return f"printer: {type(e).__name__}: {_first_line(e)}"
    if source is not None and text == source:
        return None
    try:
        back = parse(text)
    except Exception as e:  # noqa: BLE001
        return f"parser: {type(e).__name__}: {_first_line(e)}"
    if tvm_ffi.structural_equal(mod, back, map_free_vars=True):
        return None
    mismatch = tvm_ffi.get_first_structural_mismatch(mod, back, map_free_vars=True)
    where = str(mismatch[0]) if mismatch else "?"
    if any(k in where for k in NORMALIZED) and _settles(mod, back):
        # Loop ranges and block regions print as start:stop (range(start, stop)) and parse back as
        # simplify(stop - start): `v * 9 % 4` may come back as `v % 4`, a + b as b + a (and back again on
        # the next round). The same value, normalized: not reported as a printer/parser bug.
        return None
    construct = mismatch_construct(mod, mismatch[0]) if mismatch else ""
    if construct:
        back_end = mismatch_construct(back, mismatch[1]).rsplit(" ", 1)[-1].rsplit(":", 1)[-1]
        construct += f" (parsed back: {back_end or '?'})"
    return f"structural mismatch after print and parse at {where[:300]}" + (f"; construct {construct}" if construct else "")


def path_nodes(root, path) -> list[tuple[str, Any]]:
    """(field, node) for each step of a structural-mismatch path from `root` ('' for array and map items),
    as far as it can be followed; a step missing on this side ends it with ('missing:KEY', None)."""
    out: list[tuple[str, Any]] = []
    node = root
    try:
        for step in path.to_steps():
            kind, key = int(step.kind), step.key
            if kind == 0 and key == "__dict__":  # a DictAttrs' own items: the map steps follow
                continue
            if kind == 0:
                node = getattr(node, key)
                out.append((str(key), node))
            elif kind in (1, 2):
                node = node[key]
                out.append(("", node))
            else:  # missing on this side: the other side has more
                out.append((f"missing:{key}", None))
                break
    except Exception:  # noqa: BLE001  (a description only; the mismatch itself stands)
        pass
    return out


def node_name(node) -> str:
    """A node's type name, with an AttrStmt's key or a For's kind."""
    import tvm

    extra = f"[{node.attr_key}]" if isinstance(node, tvm.tirx.AttrStmt) else \
        f"[{str(node.kind).rsplit('.', 1)[-1]}]" if isinstance(node, tvm.tirx.For) else ""
    return type(node).__name__ + extra


def mismatch_construct(root, path) -> str:
    """What does not survive, without where it sits: the innermost statement on the mismatch path (an
    AttrStmt with its key, a For with its kind) and each node below it as field:type, e.g.
    `AttrStmt[pragma_unroll_explicit] .value:IntImm .value:int`. '' when the path cannot be followed."""
    import tvm

    last_stmt, below = "", []
    for name, node in path_nodes(root, path):
        if isinstance(node, tvm.tirx.Stmt):
            last_stmt, below = node_name(node), []
        elif name.startswith("missing:"):
            below.append(name)
        elif name:
            below.append(f".{name}:{type(node).__name__}")
    return " ".join([last_stmt, *below]).strip()


def _settles(mod, back) -> bool:
    """Whether one more print and parse of `back` gives `back` again or the original `mod`."""
    import tvm_ffi

    again = parse(back.script())
    return bool(tvm_ffi.structural_equal(back, again, map_free_vars=True)
                or tvm_ffi.structural_equal(mod, again, map_free_vars=True))


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:300] if text else ""


# ---- inputs -------------------------------------------------------------------------------------

SYMBOLIC_DIM = 7  # value given to every symbolic shape variable

# Profiles, chosen by input_seed % 3: seed 0 gives the values a program's author expects
# (small non-negative integers, floats in [-1, 1]); the others reach signs and boundaries.
PROFILES = ("small", "signed", "boundary")


class ToolError(Exception):
    """A failure in tirfuzz's own code while it made inputs or read results: never a TVM bug."""


class InputError(ValueError):
    """A parameter tirfuzz cannot make values for (a dtype numpy lacks, a shape it cannot size)."""


@dataclass
class ArgSpec:
    """One parameter of a PrimFunc: a buffer (shape, dtype) or a scalar (dtype)."""

    name: str
    dtype: str
    shape: tuple[int, ...] | None  # None for a scalar
    fixed: int | None = None        # a scalar that also sizes a buffer takes the shape's value


def _rng(seed: int, func: str, index: int) -> np.random.Generator:
    key = zlib.crc32(f"{seed}:{func}:{index}".encode())
    return np.random.default_rng(key)


def _int_values(rng: np.random.Generator, dtype: np.dtype, n: int, profile: str) -> np.ndarray:
    info = np.iinfo(dtype)
    if profile == "small":
        vals = rng.integers(0, 4, n)
    elif profile == "signed":
        lo = max(info.min, -8)
        vals = rng.integers(lo, 9, n)
    else:
        special = np.array([0, 1, -1, 2, info.min, info.max, info.min + 1, info.max - 1], dtype=object)
        special = np.array([v for v in special if info.min <= v <= info.max],
                           dtype=np.int64 if info.max < 2**63 else object)
        pick = rng.integers(0, len(special), n)
        vals = special[pick]
        mix = rng.random(n) < 0.5
        small = rng.integers(max(info.min, -100), min(info.max, 100) + 1, n)
        vals = np.where(mix, small, vals)
    return np.asarray(vals).astype(dtype)


def _float_values(rng: np.random.Generator, dtype: np.dtype, n: int, profile: str) -> np.ndarray:
    if profile == "small":
        vals = rng.uniform(-1.0, 1.0, n)
    elif profile == "signed":
        vals = rng.normal(0.0, 8.0, n)
    else:
        fi = np.finfo(dtype)
        special = np.array([0.0, -0.0, 1.0, -1.0, float(fi.tiny), float(fi.max), -float(fi.max),
                            np.inf, -np.inf, np.nan, float(fi.eps)])
        vals = np.where(rng.random(n) < 0.3, special[rng.integers(0, len(special), n)], rng.normal(0, 100, n))
    return vals.astype(dtype)


def lanes(dtype: str) -> tuple[str, int]:
    """A vector dtype's element dtype and lane count ("float32x4" -> ("float32", 4)); (dtype, 1) otherwise."""
    base, sep, count = dtype.rpartition("x")
    return (base, int(count)) if sep and base and count.isdigit() else (dtype, 1)


def make_value(dtype: str, shape: tuple[int, ...] | None, seed: int, func: str, index: int) -> np.ndarray:
    """A deterministic array (or 0-d array for a scalar) of the given dtype; a vector dtype's buffer has its
    lanes as a last axis (a float32x2 buffer of shape (4,) is a float32 array of shape (4, 2))."""
    rng = _rng(seed, func, index)
    profile = PROFILES[seed % len(PROFILES)]
    dtype, count = lanes(dtype)
    if count > 1:
        shape = tuple(shape or ()) + (count,)
    n = int(np.prod(shape)) if shape else 1
    if dtype == "bool":
        vals = rng.random(n) < 0.5
    elif dtype == "bfloat16":
        raise InputError("bfloat16 buffers cannot be filled from numpy")
    else:
        try:
            np_dtype = np.dtype(dtype)
        except TypeError:
            raise InputError(f"cannot make inputs of dtype {dtype}") from None
        if np.issubdtype(np_dtype, np.integer):
            vals = _int_values(rng, np_dtype, n, "small" if np_dtype.kind == "u" and profile == "signed" else profile)
        elif np.issubdtype(np_dtype, np.floating):
            vals = _float_values(rng, np_dtype, n, profile)
        else:
            raise InputError(f"cannot make inputs of dtype {dtype}")
    return vals.reshape(shape if shape else ())


def arg_specs(func, sym_value: int = SYMBOLIC_DIM) -> list[ArgSpec]:
    """Concrete shapes for a PrimFunc's parameters. Every free variable of a shape, bare (`n`) or inside an
    expression (`n * 2`, `n + 1`), is `sym_value`, and a scalar parameter that is such a variable gets it."""
    import tvm
    import tvm_ffi

    ana = tvm.sym.Analyzer()
    bound: list = []  # the Vars given sym_value

    def concrete(dim) -> int:
        free: list = []
        tvm_ffi.structural_walk(dim, (tvm.tirx.Var, free.append))
        for v in free:
            if not any(v.same_as(b) for b in bound):
                ana.bind(v, sym_value)
                bound.append(v)
        val = ana.simplify(dim)
        if not isinstance(val, tvm.tirx.IntImm):
            raise InputError(f"cannot choose a value for shape expression {dim}")
        if val.value < 0:
            raise InputError(f"shape expression {dim} is {val.value} when its variables are {sym_value}")
        return int(val.value)

    is_buffer = [type(p.ty).__name__ == "BufferType" for p in func.params]
    shapes = {i: tuple(concrete(d) for d in p.shape) for i, p in enumerate(func.params) if is_buffer[i]}
    sized = {v.name for v in bound}
    return [ArgSpec(p.name, str(p.dtype), shapes[i]) if is_buffer[i]
            else ArgSpec(p.name, "handle", None) if type(p.ty).__name__ == "PointerType"
            else ArgSpec(p.name, str(p.ty.dtype), None, sym_value if p.name in sized else None)
            for i, p in enumerate(func.params)]


HANDLE_BYTES = 4096  # a bare handle parameter is passed a zeroed buffer of this size
INPUT_COPIES = 4   # a run holds its inputs about this many times (numpy values, tensors, outputs, a second run)


def memory_room() -> int | None:
    """Bytes this process may still map under its address-space limit (None: no limit)."""
    limit = resource.getrlimit(resource.RLIMIT_AS)[0]
    if limit == resource.RLIM_INFINITY:
        return None
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    return max(0, limit - used)


def check_input_size(specs: list[ArgSpec]) -> None:
    """InputError naming the sizes when the inputs would not fit under the memory limit (checked before
    any array is made: tirfuzz's own arrays running out of memory are neither a hang nor a TVM bug)."""
    need = buffer_bytes(specs)
    room = memory_room()
    if room is not None and need * INPUT_COPIES > room:
        raise InputError(f"inputs need {need * INPUT_COPIES / 2**30:.1f} GiB, limit {room / 2**30:.1f} GiB")


def buffer_bytes(specs: list[ArgSpec]) -> int:
    """Bytes of all buffer parameters among specs."""
    return sum(int(np.prod(s.shape)) * _itemsize(s.dtype) for s in specs if s.shape is not None)


def _itemsize(dtype: str) -> int:
    base, count = lanes(dtype)
    try:
        return np.dtype(base).itemsize * count
    except TypeError:  # a dtype numpy lacks: make_value refuses it by name
        return 2 if dtype == "bfloat16" else 0


def make_args(func, seed: int, func_name: str) -> tuple[list[ArgSpec], list[np.ndarray]]:
    """Specs and filled numpy values for every parameter of func."""
    specs = arg_specs(func)
    check_input_size(specs)
    values = [np.array(s.fixed, dtype=s.dtype) if s.fixed is not None
              else np.zeros(HANDLE_BYTES, dtype="uint8") if s.dtype == "handle"
              else make_value(s.dtype, s.shape, seed, func_name, i) for i, s in enumerate(specs)]
    return specs, values


def call(compiled, specs: list[ArgSpec], values: list[np.ndarray], device, keep: list | None = None) -> list[np.ndarray]:
    """Run one compiled function on the values; every buffer after the run. The arguments are also
    appended to `keep` before the call, so a caller can read them after the function raised."""
    import tvm

    held: list = []  # the memory behind bare handles, alive for the call

    def arg(s: ArgSpec, v: np.ndarray):
        if s.dtype == "handle":  # a bare pointer (not a buffer of the function's, not among its outputs):
            held.append(tvm.runtime.tensor(v, device))  # pass the data's address, not the tensor object
            return ctypes.c_void_p(held[-1].data_ptr())
        if s.shape is None:
            return v.item()
        if lanes(s.dtype)[1] > 1:  # numpy has no vector dtypes: the lanes are the array's last axis
            t = tvm.runtime.empty(s.shape, s.dtype, device)
            t.copyfrom(v)
            return t
        return tvm.runtime.tensor(v, device)

    args = [arg(s, v) for s, v in zip(specs, values)]
    if keep is not None:
        keep.extend(args)
    compiled(*args)
    return [a.numpy() for a, s in zip(args, specs) if s.shape is not None]


def run_functions(compiled: dict[str, Any], funcs: dict[str, Any], seed: int, device) -> dict[str, list]:
    """Run every function on `make_args`' values for `seed`; the buffers after the run, by function."""
    outputs = {}
    for name, func in funcs.items():
        try:
            specs, values = make_args(func, seed, name)
        except (InputError, MemoryError):
            raise
        except Exception as e:  # noqa: BLE001  (our own defect, e.g. a parameter kind not foreseen)
            raise ToolError(f"making inputs for {name}: {type(e).__name__}: {e}") from e
        outputs[name] = call(compiled[name], specs, values, device)
    return outputs


# ---- comparison ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    """How far two float results may be apart: |a - b| <= rtol * scale, or within `ulps` units."""

    family: str
    rtol: float
    ulps: int


# Measured (bench/results/oracle-tolerance.json, llvm vs c vs reference over the seeds): plain
# arithmetic differs by FMA contraction (~1 ulp per fused operation, accumulated over reductions),
# transcendental calls by libm vs LLVM's lowering (~1e-5 relative on tanh/erf/winograd in float32).
# `scale` is the largest magnitude in the reference buffer, so cancellation in long sums is covered.
TOLERANCES = {
    ("arith", 16): Tolerance("arith", 2e-2, 8), ("arith", 32): Tolerance("arith", 1e-4, 16),
    ("arith", 64): Tolerance("arith", 1e-10, 16),
    ("transcendental", 16): Tolerance("transcendental", 5e-2, 16),
    ("transcendental", 32): Tolerance("transcendental", 1e-3, 64),
    ("transcendental", 64): Tolerance("transcendental", 1e-8, 64),
}


@dataclass
class Difference:
    """The largest disagreement between a build's output and the reference."""

    func: str
    buffer: int            # index among the function's buffer parameters
    index: list[int]       # where (first element with the largest difference)
    expected: str
    actual: str
    abs_diff: float
    mismatches: int        # elements out of tolerance in that buffer
    size: int
    dtype: str
    non_finite: bool = False   # a NaN/Inf on one side only

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return (f"{self.func} buffer {self.buffer} at {self.index}: expected {self.expected}, got {self.actual} "
                f"({self.mismatches} of {self.size} elements)")


COMPARE_CHUNK = 1 << 16  # elements compared at a time: the comparison's temporaries stay a few MiB
COMPARE_COPIES = 6       # full-size arrays the differential oracle adds while comparing: two reference runs,
                         # two fills, a second run of the build, that run's tensors
CHUNK_BYTES = COMPARE_CHUNK * 64  # the per-chunk temporaries (float64 copies, ulp distances, masks)


def check_comparison_size(buffer_bytes: int) -> None:
    """InputError naming the sizes when comparing buffers of `buffer_bytes` in all would not fit under the
    memory limit (checked before the reference build: tirfuzz's own arrays are neither a hang nor a TVM bug)."""
    need = buffer_bytes * COMPARE_COPIES + CHUNK_BYTES
    room = memory_room()
    if room is not None and need > room:
        raise InputError(f"comparison needs {need / 2**30:.1f} GiB, limit {room / 2**30:.1f} GiB")


def ulp_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many representable floats lie between a and b, elementwise."""
    bits = a.dtype.itemsize * 8
    it = {16: np.int16, 32: np.int32, 64: np.int64}[bits]
    ia, ib = a.view(it).astype(np.int64), b.view(it).astype(np.int64)
    lo = np.int64(np.iinfo(it).min)
    ia = np.where(ia < 0, lo - ia, ia)  # map sign-magnitude to a monotonic integer line
    ib = np.where(ib < 0, lo - ib, ib)
    return np.abs(ia - ib)


def _chunks(n: int):
    """(start, stop) of each chunk of n flat elements."""
    return ((s, min(s + COMPARE_CHUNK, n)) for s in range(0, n, COMPARE_CHUNK))


def _scale(ref: np.ndarray) -> float:
    """The largest finite magnitude in a float buffer (0 when none), chunk by chunk."""
    flat, best = ref.reshape(-1), 0.0
    for s, e in _chunks(flat.size):
        r = flat[s:e].astype(np.float64)
        best = max(best, float(np.max(np.abs(r[np.isfinite(r)]), initial=0.0)))
    return best


def _bad_chunk(ref: np.ndarray, got: np.ndarray, tol: Tolerance | None, scale: float) -> tuple[np.ndarray, bool]:
    """Mask of flat elements out of tolerance (tol None: bit-exact) and whether a NaN/Inf on one side only
    is among them."""
    if tol is None:
        return ref != got, False
    r, g = ref.astype(np.float64), got.astype(np.float64)
    same = (r == g) | (np.isnan(r) & np.isnan(g))
    finite = np.isfinite(r) & np.isfinite(g)
    with np.errstate(invalid="ignore", over="ignore"):  # Inf - Inf is NaN: such elements are not `finite`
        close = finite & ((np.abs(r - g) <= tol.rtol * max(scale, np.finfo(ref.dtype).tiny))
                          | (ulp_distance(ref, got) <= tol.ulps))
    bad = ~(same | close)
    return bad, bool(np.any(bad & ~finite))


def _tolerance(ref: np.ndarray, family: str) -> Tolerance | None:
    return TOLERANCES[(family, ref.dtype.itemsize * 8)] if ref.dtype.kind == "f" else None


def compare_buffer(ref: np.ndarray, got: np.ndarray, family: str) -> tuple[np.ndarray, bool]:
    """Boolean mask of elements out of tolerance, and whether a NaN/Inf on one side only is among them."""
    if ref.shape != got.shape or ref.dtype != got.dtype:
        return np.ones(ref.shape or (1,), dtype=bool), False
    tol = _tolerance(ref, family)
    scale = _scale(ref) if tol is not None else 0.0
    r, g = ref.reshape(-1), got.reshape(-1)
    bad, non_finite = np.zeros(r.size, dtype=bool), False
    for s, e in _chunks(r.size):
        bad[s:e], nf = _bad_chunk(r[s:e], g[s:e], tol, scale)
        non_finite |= nf
    return bad.reshape(ref.shape), non_finite


def _worst(r: np.ndarray, g: np.ndarray, bad: np.ndarray) -> tuple[float, int]:
    """The largest |r - g| among the bad elements of a float chunk (NaN/Inf as infinity), and its first index."""
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.where(bad, np.nan_to_num(np.abs(r.astype(np.float64) - g.astype(np.float64)),
                                          nan=np.inf, posinf=np.inf), -1.0)
    at = int(np.argmax(err))
    return float(err[at]), at


def first_difference(ref: np.ndarray, got: np.ndarray, family: str, ignore: np.ndarray | None = None
                     ) -> tuple[int, int, bool] | None:
    """(flat index of the worst difference (floats) or the first (others), elements out of tolerance,
    NaN/Inf on one side only among them) for two buffers of one shape and dtype, chunk by chunk; None when
    they agree. `ignore` masks elements."""
    tol = _tolerance(ref, family)
    scale = _scale(ref) if tol is not None else 0.0
    r, g = ref.reshape(-1), got.reshape(-1)
    m = ignore.reshape(-1) if ignore is not None else None
    count, non_finite, where, worst = 0, False, -1, -2.0
    for s, e in _chunks(r.size):
        bad, nf = _bad_chunk(r[s:e], g[s:e], tol, scale)
        non_finite |= nf
        if m is not None:
            bad &= ~m[s:e]
        n = int(np.count_nonzero(bad))
        if not n:
            continue
        count += n
        if tol is not None:
            err, at = _worst(r[s:e], g[s:e], bad)
            if err > worst:
                worst, where = err, s + at
        elif where < 0:
            where = s + int(np.argmax(bad))
    return (where, count, non_finite) if count else None


def compare_outputs(ref: dict[str, list[np.ndarray]], got: dict[str, list[np.ndarray]], family: str,
                    ignore: dict[str, list[np.ndarray]] | None = None) -> Difference | None:
    """The first buffer (by function, then parameter) whose elements disagree; `ignore` masks elements.
    Compared in chunks of COMPARE_CHUNK elements, so big buffers need no full-size temporaries."""
    for func, ref_arrs in ref.items():
        for k, (r, g) in enumerate(zip(ref_arrs, got.get(func, []))):
            mask = ignore[func][k] if ignore is not None else None
            if r.shape != g.shape or r.dtype != g.dtype:  # every element differs
                bad = np.ones(r.shape or (1,), dtype=bool)
                if mask is not None:
                    bad &= ~mask
                if not np.any(bad):
                    continue
                found = (int(np.argmax(bad.reshape(-1))), int(np.count_nonzero(bad)), False)
                if r.dtype.kind == "f" and r.shape == g.shape:
                    found = (_worst(r.reshape(-1), g.reshape(-1), bad.reshape(-1))[1], *found[1:])
            else:
                found = first_difference(r, g, family, mask)
                if found is None:
                    continue
            flat, mismatches, non_finite = found
            idx = [int(i) for i in np.unravel_index(flat, r.shape)] if r.shape else []
            rv, gv = r.reshape(-1)[flat] if r.size else None, g.reshape(-1)[flat] if g.size else None
            diff = float(abs(float(rv) - float(gv))) if rv is not None and gv is not None and r.dtype.kind in "fiub" \
                else float("nan")
            return Difference(func, k, idx, repr(rv), repr(gv), diff, mismatches, int(r.size), str(r.dtype),
                              non_finite)
    return None
