"""Deterministic inputs from a case's `input_seed`: every buffer, outputs included, is filled."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

SYMBOLIC_DIM = 7  # value given to every symbolic shape variable

# Profiles, chosen by input_seed % 3: seed 0 gives the values a program's author expects
# (small non-negative integers, floats in [-1, 1]); the others reach signs and boundaries.
PROFILES = ("small", "signed", "boundary")


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
        special = np.array([v for v in special if info.min <= v <= info.max], dtype=np.int64 if info.max < 2**63 else object)
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


def make_value(dtype: str, shape: tuple[int, ...] | None, seed: int, func: str, index: int) -> np.ndarray:
    """A deterministic array (or 0-d array for a scalar) of the given dtype."""
    rng = _rng(seed, func, index)
    profile = PROFILES[seed % len(PROFILES)]
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
    """Concrete shapes for a PrimFunc's parameters; every symbolic variable gets `sym_value`."""
    import tvm
    import tvm_ffi

    ana = tvm.sym.Analyzer()
    bound: set[str] = set()

    def concrete(dim) -> int:
        free: list = []
        tvm_ffi.structural_walk(dim, (tvm.tirx.Var, free.append))
        for v in free:
            if v.name not in bound:
                ana.bind(v, sym_value)
                bound.add(v.name)
        val = ana.simplify(dim)
        if not isinstance(val, tvm.tirx.IntImm):
            raise InputError(f"cannot choose a value for shape expression {dim}")
        return int(val.value)

    is_buffer = [type(p.ty).__name__ == "BufferType" for p in func.params]
    shapes = {i: tuple(concrete(d) for d in p.shape) for i, p in enumerate(func.params) if is_buffer[i]}
    return [ArgSpec(p.name, str(p.dtype), shapes[i]) if is_buffer[i]
            else ArgSpec(p.name, str(p.dtype), None, sym_value if p.name in bound else None)
            for i, p in enumerate(func.params)]


def make_args(func, seed: int, func_name: str) -> tuple[list[ArgSpec], list[np.ndarray]]:
    """Specs and filled numpy values for every parameter of func."""
    specs = arg_specs(func)
    values = [np.array(s.fixed, dtype=s.dtype) if s.fixed is not None
              else make_value(s.dtype, s.shape, seed, func_name, i) for i, s in enumerate(specs)]
    return specs, values
