"""Seeds as test cases: a seed's TVMScript under TVM's default pipeline."""

from __future__ import annotations

from tirfuzz.corpus import seed_text
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.tvmapi import default_pipeline


def seed_case(seed, targets: list[str] | tuple[str, ...] = ("llvm", "c"), input_seed: int = 0) -> TestCase:
    """The case that runs a seed (a corpus.Seed) through the default pipeline for each target."""
    return TestCase(ir=seed_text(seed), passes=default_pipeline(), targets=list(targets),
                    input_seed=input_seed, extra={"seed": seed.name})
