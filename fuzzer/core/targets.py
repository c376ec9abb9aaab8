"""Targets a case may name, and how each becomes a tvm Target with its host.

A target is a kind name ("llvm", "c", "cuda"), optionally followed by options in the old TVM command-line
style: "llvm -mcpu=skylake-avx512 -mattr=+avx2,-fma -opt-level=2". TVM 0.27 only takes the dict form, so
tirfuzz parses the string into {"kind": "llvm", "mcpu": "skylake-avx512", "mattr": ["+avx2", "-fma"],
"opt-level": 2}. `check_target` needs no TVM; `runnable_here` says whether this CPU can run the code.
"""

from __future__ import annotations

import functools
from typing import Any
import shutil

TARGETS = ("llvm", "c", "cuda")

# Options tirfuzz accepts per kind, with their types (a subset of TVM's TargetKind options).
_CPU_OPTIONS: dict[str, type] = {"mcpu": str, "mattr": list, "mtriple": str, "mabi": str, "mfloat-abi": str,
                                 "opt-level": int, "num-cores": int, "vector-width": int, "cl-opt": list,
                                 "fast-math": bool, "fast-math-nnan": bool, "fast-math-ninf": bool,
                                 "fast-math-nsz": bool, "fast-math-arcp": bool, "fast-math-contract": bool,
                                 "fast-math-reassoc": bool}
OPTIONS: dict[str, dict[str, type]] = {"llvm": _CPU_OPTIONS, "c": {"mcpu": str, "mattr": list},
                                       "cuda": {"arch": str}}


class TargetError(ValueError):
    """A target name tirfuzz does not know."""


def parse_target(name: str) -> dict[str, Any]:
    """The dict form of a target string; raises TargetError on an unknown kind, option or value."""
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


def check_target(name: str) -> None:
    """Raise TargetError unless `name` is a known kind with known options."""
    parse_target(name)


def target_kind(name: str) -> str:
    return parse_target(name)["kind"]


def make_target(name: str | dict[str, Any]):
    """A tvm Target with its host attached (MakePackedAPI only acts on functions whose target has one)."""
    from tvm.target import Target

    if isinstance(name, dict):
        return Target(name)
    spec = parse_target(name)
    if spec["kind"] == "cuda":
        return Target({"kind": "cuda", "arch": spec.get("arch", "sm_80")}, host="llvm")
    if len(spec) == 1:
        return Target(name, host=name)
    return Target(spec, host=spec)


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
    """Whether code built for this target runs on this machine's CPU (llvm and c; False for cuda without a GPU).

    An -mcpu or +feature this CPU lacks would make the generated code die with SIGILL, which is not a
    compiler bug. Needs TVM (LLVM's per-CPU feature tables).
    """
    spec = parse_target(name)
    if spec["kind"] == "cuda":
        return cuda_device_present()
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
