"""Deterministic inputs from a case's `input_seed`: every buffer, outputs included, is filled.

The implementation lives in fuzzer/core/runtime.py, which every repro.py embeds: a reproducer fills its
buffers with exactly the values the campaign used.
"""

from __future__ import annotations

from tirfuzz.fuzzer.core.runtime import PROFILES, SYMBOLIC_DIM, ArgSpec, InputError, arg_specs, make_args, make_value

__all__ = ["PROFILES", "SYMBOLIC_DIM", "ArgSpec", "InputError", "arg_specs", "make_args", "make_value"]
