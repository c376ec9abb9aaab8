"""Targets a case may name, and how each becomes a tvm Target with its host.

A target is a kind name ("llvm", "c", "cuda", "opencl", "metal", "webgpu"), optionally followed by options in the old TVM command-line
style: "llvm -mcpu=skylake-avx512 -mattr=+avx2,-fma -opt-level=2". TVM 0.27 only takes the dict form, so
tirfuzz parses the string into {"kind": "llvm", "mcpu": "skylake-avx512", "mattr": ["+avx2", "-fma"],
"opt-level": 2}. Parsing and making the Target live in fuzzer/core/runtime.py (repro.py embeds it);
`check_target` needs no TVM; `runnable_here` says whether this CPU can run the code.
"""

from __future__ import annotations

import functools
import shutil

from tirfuzz.fuzzer.core.runtime import OPTIONS, TARGETS, TargetError, make_target, native_code, parse_target

__all__ = ["OPTIONS", "TARGETS", "TargetError", "check_target", "cuda_device_present", "make_target",
           "native_code", "nvcc_present", "parse_target", "runnable_here", "target_kind"]


def check_target(name: str) -> None:
    """Raise TargetError unless `name` is a known kind with known options."""
    parse_target(name)


def target_kind(name: str) -> str:
    """The kind of a checked target string."""
    return parse_target(name)["kind"]


def nvcc_present() -> bool:
    """Whether CUDA's compiler is on PATH (CUDA source can then be checked down to PTX without a GPU)."""
    return shutil.which("nvcc") is not None


def cuda_device_present() -> bool:
    """Whether a CUDA device can run kernels here."""
    try:
        import tvm

        return bool(tvm.cuda(0).exist)
    except Exception:
        return False


# /proc/cpuinfo flag for LLVM features whose absence would make generated code trap with SIGILL.
_CPUINFO_FLAG = {"avx": "avx", "avx2": "avx2", "fma": "fma", "bmi": "bmi1", "bmi2": "bmi2", "sse4.1": "sse4_1",
                 "sse4.2": "sse4_2", "ssse3": "ssse3", "popcnt": "popcnt", "avx512f": "avx512f",
                 "avx512bw": "avx512bw", "avx512dq": "avx512dq", "avx512vl": "avx512vl", "avx512cd": "avx512cd",
                 "avx512vnni": "avx512_vnni", "f16c": "f16c", "movbe": "movbe", "lzcnt": "abm", "adx": "adx",
                 "avxvnni": "avx_vnni", "avx512bf16": "avx512_bf16", "avx512fp16": "avx512_fp16"}


@functools.lru_cache(maxsize=1)
def _cpuinfo_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@functools.lru_cache(maxsize=256)
def runnable_here(name: str) -> bool:
    """Whether code built for this target runs on this machine's CPU (llvm and c; False for cuda without a GPU,
    and for an llvm -mtriple of another architecture).

    An -mcpu or +feature this CPU lacks would make the generated code die with SIGILL, which is not a
    compiler bug. Needs TVM (LLVM's per-CPU feature tables).
    """
    spec = parse_target(name)
    if spec["kind"] == "cuda":
        return cuda_device_present()
    if spec["kind"] not in ("llvm", "c") or not native_code(name):
        return False
    if spec["kind"] == "c" or ("mcpu" not in spec and not any(a.startswith("+") for a in spec.get("mattr", []))):
        return True
    from tvm.target import Target
    from tvm.target.codegen import llvm_get_cpu_features

    flags = _cpuinfo_flags()
    try:
        wanted = set(llvm_get_cpu_features(Target({"kind": "llvm", **{k: v for k, v in spec.items()
                                                                      if k in ("mcpu", "mattr")}})))
    except Exception:  # noqa: BLE001  (an mcpu LLVM does not know)
        return False
    wanted |= {a[1:] for a in spec.get("mattr", []) if a.startswith("+")}
    wanted -= {a[1:] for a in spec.get("mattr", []) if a.startswith("-")}
    return all(_CPUINFO_FLAG[f] in flags for f in wanted if f in _CPUINFO_FLAG)
