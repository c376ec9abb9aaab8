"""Mutators: type-aware TIR mutation, schedule primitives, pass-sequence, config and target mutation.

Entry point: `mutate_case(case, rng_seed, pool, mutators=None, donor=None)`; registry: `all_mutators()`.
IR mutators parse the case's TVMScript (which evaluates Python): call them only where the case may run.
"""

from tirfuzz.mutators.base import Decline, MutationContext, MutationOutcome, Mutator
from tirfuzz.mutators.mutate import mutate_case, well_formed_reason
from tirfuzz.mutators.registry import all_mutators, by_name

__all__ = ["Decline", "MutationContext", "MutationOutcome", "Mutator", "mutate_case", "well_formed_reason",
           "all_mutators", "by_name"]
