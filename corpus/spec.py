"""Seed specifications: a named builder of te tensors, with the metadata written to its header."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

# A builder returns the function's parameters in order: inputs, then outputs (te tensors).
Builder = Callable[[], list[Any]]


@dataclass(frozen=True)
class SeedSpec:
    """How to build one block-level seed from te/topi."""

    name: str
    op: str
    dtype: str
    about: str
    build: Builder


@dataclass(frozen=True)
class FlatSpec:
    """A loop-level seed: a block seed lowered through FlattenBuffer."""

    name: str
    source: str  # name of the block seed it is lowered from


def registrar(table: list[SeedSpec]) -> Callable[[str, str, str, str], Callable[[Builder], Builder]]:
    """A decorator factory that appends SeedSpecs for decorated builders to `table`."""

    def seed(name: str, op: str, dtype: str, about: str) -> Callable[[Builder], Builder]:
        def register(build: Builder) -> Builder:
            table.append(SeedSpec(name, op, dtype, about, build))
            return build

        return register

    return seed


def ph(shape: tuple[Any, ...], dtype: str = "float32", name: str = "A") -> Any:
    """A named te input placeholder."""
    from tvm import te

    return te.placeholder(shape, dtype, name=name)
