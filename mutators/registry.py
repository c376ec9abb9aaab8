"""The registry of every mutator, with its name and weight."""

from __future__ import annotations

from tirfuzz.mutators.base import Mutator
from tirfuzz.mutators.buffers import buffer_mutators
from tirfuzz.mutators.expr import expr_mutators
from tirfuzz.mutators.loops import loop_mutators
from tirfuzz.mutators.passes import pass_mutators
from tirfuzz.mutators.primitives import schedule_mutators
from tirfuzz.mutators.stmt import stmt_mutators
from tirfuzz.mutators.targets import target_mutators
from tirfuzz.mutators.wrappers import wrapper_mutators


def all_mutators() -> list[Mutator]:
    """A fresh instance of every mutator, in a stable order."""
    return (expr_mutators() + stmt_mutators() + loop_mutators() + wrapper_mutators() + buffer_mutators()
            + schedule_mutators() + pass_mutators() + target_mutators())


def by_name(names: list[str] | None = None) -> list[Mutator]:
    """The mutators with these names (all when None); raises KeyError naming an unknown one."""
    muts = all_mutators()
    if names is None:
        return muts
    known = {m.name: m for m in muts}
    missing = [n for n in names if n not in known]
    if missing:
        raise KeyError(f"unknown mutators {missing} (known: {', '.join(known)})")
    return [known[n] for n in names]
