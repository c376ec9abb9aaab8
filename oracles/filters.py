"""Named filters: errors that are invalid input or known backend gaps, never reported as bugs."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class RejectFilter:
    """An exception at a stage that means `rejected`, with the reason a person can read."""

    name: str
    stage: str          # stage prefix it applies to: "pass:", "build:", "run:", "" for any
    pattern: str        # regex searched in "<ExceptionType>: <message>"
    reason: str
    target: str | None = None   # only for this target


# Documented preconditions of passes (TVM-NOTES, pass docs): an error from a pass given a module
# that does not meet them is invalid input. Checked on the module the pass was given.
PRECONDITIONS: dict[str, tuple[str, ...]] = {
    "FlattenBuffer": ("block-free",), "StorageRewrite": ("block-free",),
    "PointerValueTypeRewrite": ("block-free",), "MakePackedAPI": ("block-free",),
    "CommonSubexprElim": ("block-free",), "NarrowDataType": ("block-free",),
    "SplitHostDevice": ("block-free",), "VectorizeLoop": ("block-free",),
    "LowerOpaqueBlock": ("opaque-blocks",), "CompactBufferAllocation": ("opaque-blocks",),
    "ConvertBlocksToOpaque": ("no-block-init",),
    "BF16StorageLegalize": ("packed-api",), "FP8StorageLegalize": ("packed-api",),
    "LowerTVMBuiltin": ("packed-api",),
}

FILTERS: tuple[RejectFilter, ...] = (
    RejectFilter("needs-bound-target", "pass:", r"required the function to be annotated with .*target",
                 "the pass needs a target bound first (BindTarget)"),
    RejectFilter("needs-packed-api", "pass:", r"must be called after MakePackedAPI",
                 "the pass is documented to run after MakePackedAPI"),
    RejectFilter("needs-block-free-ir", "pass:",
                 r"does not support statement s_tir\.|SBlockRealize|should have been lowered|"
                 r"[Bb]lock.* (is|are) not supported|opaque block",
                 "the pass requires block-free (lowered) IR"),
    RejectFilter("needs-flat-buffers", "pass:", r"[Ff]latten.*(first|before)|multi-dimensional|"
                 r"expected (a )?flat|only 1-d|must be flattened",
                 "the pass requires flattened buffers"),
    RejectFilter("bad-pass-config", "", r"^AttributeError: .*(config|PassContext)|Invalid config option",
                 "the pass_config names a key or value PassContext refuses"),
    RejectFilter("c-backend-missing-intrinsic", "build:", r"Unresolved call|fabs|popcount|clz|__builtin",
                 "the C backend does not lower this intrinsic (known gap)", target="c"),
    RejectFilter("c-backend-unsupported-type", "build:", r"Cannot convert type .* to C type",
                 "the C backend has no C type for this dtype (known gap)", target="c"),
    RejectFilter("vectorize-unsupported-loop", "pass:",
                 r"Failed to vectorize loop with extent|while loop inside a vectorized loop not supported",
                 "VectorizeLoop documents these loops as unsupported (dynamic extent without VLA, while)"),
    RejectFilter("unsupported-input-dtype", "run:", r"^InputError: ",
                 "tirfuzz cannot generate inputs of this dtype (tirfuzz limitation)"),
    RejectFilter("c-backend-odd-vector-lanes", "build:", r"[Ll]anes",
                 "the C backend cannot emit this vector width (known gap)", target="c"),
    RejectFilter("c-backend-no-half-type", "build:", r"(?i)compilation error.*[‘'](b?float16|half)[’'] was not declared",
                 "the C backend emits float16/bfloat16 without a C type for them (known gap)", target="c"),
    RejectFilter("c-backend-no-vector-type", "build:",
                 r"(?i)compilation error.*[‘']((u?int\d+_t)|float|double|bool)\d+[’'] was not declared",
                 "the C backend names vector types (e.g. int32_t8) it never declares (known gap)", target="c"),
    RejectFilter("mutant-assertion-failed", "run:", r"tirfuzz assertion",
                 "an AssertStmt a mutator inserted failed at run time, as asserts may"),
    RejectFilter("runtime-argument-check", "run:", r"^(ValueError|TypeError): .*(Argument|argument|expected|Expected)",
                 "the compiled function's own argument checks refused the inputs"),
)


def _stage_ok(f: RejectFilter, stage: str) -> bool:
    return any(stage.startswith(s) for s in f.stage.split("|")) if f.stage else True


def classify_error(stage: str, target: str | None, exc_type: str, message: str) -> RejectFilter | None:
    """The first filter that explains this error as invalid input or a known gap, or None (a bug)."""
    text = f"{exc_type}: {message}"
    for f in FILTERS:
        if _stage_ok(f, stage) and (f.target is None or f.target == target) \
                and re.search(f.pattern, text, re.S):
            return f
    return None
