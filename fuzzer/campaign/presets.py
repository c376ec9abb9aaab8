"""Modes as presets, in one place: what `--mode` changes (targets, oracles, schedule, mutators, engine)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """A named set of campaign choices; explicit options (e.g. --targets) override its defaults."""

    name: str
    summary: str
    targets: tuple[str, ...] = ("llvm", "c")
    oracle: bool = True                     # differential and round-trip oracles on every case
    schedule: str = "power"                 # "power" (AFLFast-style energy) or "uniform"
    mutators: tuple[str, ...] | None = None  # mutator names, None for all
    engine: str = "mutate"                  # "mutate" (corpus + mutation), "generate", "libfuzzer"
    stack: int = 4                          # most mutations stacked in one exec (1: one per exec)
    learn: bool = True                      # mutator weights follow their yields (campaign/yields.py)
    structure: bool = True                  # keep mutants with IR-structure features never seen (tir/features.py)
    # with it, (pass, feature) pairs too: off, as 10-minute runs found no more blocks with them (README)
    pass_structure: bool = False
    fresh: float = 0.1                      # share of execs that run a fresh program (campaign/fresh.py; adapts)
    build_targets: bool = True              # the build-target mutator: CUDA, cross-compiled LLVM (mutators/targets.py)


# `--mode tzer`: the mutators standing in for Tzer's defaults (OOPSLA'22; its JointSeedPool). Its IR
# mutation is general-purpose and recursive: insert a generated node (expr-insert, splice), delete one
# (stmt-delete, expr-child) and flip one (op-flip, constant); its domain-specific mutator sits behind an
# environment switch there, so it is left out here. Its pass mutation is single-point and sub-sequence
# edits plus crossover with another seed's sequence (pass-replace, pass-insert, pass-delete, pass-swap,
# pass-splice). Tzer never mutated PassContext options or targets, and had no schedule primitives.
TZER_MUTATORS = ("expr-insert", "splice", "stmt-delete", "expr-child", "op-flip", "constant",
                 "pass-replace", "pass-insert", "pass-delete", "pass-swap", "pass-splice")

PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("tirfuzz", "tirfuzz's own choices: power schedule, every mutator, llvm and c, oracles on"),
    Preset("tzer", "Tzer's own choices: uniform seed choice, its mutator set, llvm only, no oracles "
                   "(crashes and internal errors only: its result comparison was off)",
           targets=("llvm",), oracle=False, schedule="uniform", mutators=TZER_MUTATORS, stack=1, learn=False,
           structure=False, fresh=0.0, build_targets=False),
    Preset("generate", "after the seeds, a fresh random program every exec, no feedback (TVMFuzz-like baseline)",
           engine="generate", fresh=0.0, build_targets=False),
    Preset("libfuzzer", "libFuzzer (atheris) mutates the seeds' TVMScript bytes, fed TVM's block coverage "
                        "(Tzer's LibFuzzer baseline)", engine="libfuzzer"),
)}


def preset(name: str) -> Preset:
    """The preset of a mode; ValueError naming the known ones otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown mode {name!r} (known: {', '.join(PRESETS)})") from None
