"""Targets a case may name, and how each becomes a tvm Target with its host."""

from __future__ import annotations

from typing import Any

TARGETS = ("llvm", "c", "cuda")


class TargetError(ValueError):
    """A target name tirfuzz does not know."""


def check_target(name: str) -> None:
    if name not in TARGETS:
        raise TargetError(f"unknown target {name!r} (known: {', '.join(TARGETS)})")


def make_target(name: str | dict[str, Any]):
    """A tvm Target with its host attached (MakePackedAPI only acts on functions whose target has one)."""
    from tvm.target import Target

    if isinstance(name, dict):
        return Target(name)
    check_target(name)
    if name == "cuda":
        return Target({"kind": "cuda", "arch": "sm_80"}, host="llvm")
    return Target(name, host=name)


def cuda_device_present() -> bool:
    """Whether a CUDA device can run kernels here."""
    try:
        import tvm

        return bool(tvm.cuda(0).exist)
    except Exception:
        return False
