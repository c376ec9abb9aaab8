"""Target mutation: llvm with varied -mcpu / -mattr / -opt-level (only what this CPU can run), and c; and
targets built but not run here (CUDA without a GPU, LLVM cross-compiling for other architectures)."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass, replace

from tirfuzz.fuzzer.core.runtime import GPU_KINDS, kind_of
from tirfuzz.fuzzer.core.targets import parse_target, runnable_here
from tirfuzz.mutators.base import Decline, MutationContext, MutationOutcome, Mutator
from tirfuzz.mutators.passes import short, with_gpu_schedule

MCPUS = ("x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4", "core2", "nehalem", "sandybridge", "haswell", "skylake",
         "skylake-avx512", "icelake-server", "znver1", "znver2", "znver3", "znver4", "btver2", "generic")
MATTRS = ("-avx2", "-fma", "-avx", "-sse4.2", "-bmi2", "+popcnt", "+avx2", "+fma", "-avx512f", "+sse4.1")
MAX_TARGETS = 3
# Targets a case may add that this machine builds but (usually) does not run: their lowering and code
# generation are TVM code no CPU target reaches (thread binding and the GPU passes, CUDA, OpenCL, Metal and
# WebGPU source, the
# AArch64/SVE, RISC-V vector, Arm, 32-bit x86, WebAssembly and POWER code of TVM's LLVM backend). A build
# failure there is judged like any (crash, internal error); the run is skipped (ExecResult.skipped_runs).
BUILD_ONLY = ("cuda", "cuda -arch=sm_75", "cuda -arch=sm_90", "opencl", "metal", "webgpu",
              "llvm -mtriple=aarch64-linux-gnu", "llvm -mtriple=aarch64-linux-gnu -mattr=+sve",
              "llvm -mtriple=riscv64-unknown-linux-gnu -mattr=+m,+f,+d,+v", "llvm -mtriple=armv7a-linux-gnueabihf -mattr=+neon",
              "llvm -mtriple=i686-linux-gnu", "llvm -mtriple=wasm32-unknown-unknown -vector-width=128",
              "llvm -mtriple=powerpc64le-linux-gnu -vector-width=128")


@functools.lru_cache(maxsize=1)
def runnable_mcpus() -> tuple[str, ...]:
    """The -mcpu values whose code this machine can run."""
    return tuple(m for m in MCPUS if runnable_here(f"llvm -mcpu={m}"))


def random_target(rng: random.Random) -> str:
    """A target string this machine can build and run: plain llvm or c, or llvm with options."""
    r = rng.random()
    if r < 0.15:
        return "c"
    if r < 0.25:
        return "llvm"
    parts = ["llvm"]
    cpus = runnable_mcpus()
    if cpus and rng.random() < 0.8:
        parts.append(f"-mcpu={rng.choice(cpus)}")
    if rng.random() < 0.4:
        attrs = rng.sample(MATTRS, rng.choice([1, 1, 2]))
        parts.append("-mattr=" + ",".join(attrs))
    if rng.random() < 0.4:
        parts.append(f"-opt-level={rng.choice([0, 1, 2, 3])}")
    if rng.random() < 0.1:
        parts.append(f"-vector-width={rng.choice([128, 256])}")
    name = " ".join(parts)
    return name if runnable_here(name) else "llvm"


@dataclass
class TargetMutate(Mutator):
    """Replace, add or drop a target (llvm with varied -mcpu/-mattr/-opt-level, or c)."""

    name: str = "target"
    weight: float = 1.0
    kind: str = "target"

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        targets = list(ctx.case.targets)
        r = rng.random()
        new = random_target(rng)
        # a target may go while another that runs here stays (BUILD_ONLY ones are never the last)
        droppable = [i for i in range(len(targets))
                     if any(t not in BUILD_ONLY for j, t in enumerate(targets) if j != i)]
        if r < 0.2 and droppable:
            gone = targets.pop(rng.choice(droppable))
            detail = {"drop": gone}
        elif r < 0.45 and len(targets) < MAX_TARGETS and new not in targets:
            targets.append(new)
            detail = {"add": new}
        else:
            at = rng.randrange(len(targets))
            if new in targets:  # the same target twice would be built twice and judged against itself
                raise Decline("target already in the case")
            detail = {"from": targets[at], "to": new}
            targets[at] = new
        for t in targets:
            parse_target(t)
        return MutationOutcome(detail=detail, case=replace(ctx.case, targets=targets))


@dataclass
class BuildTargetMutate(Mutator):
    """Add a target built but not run here (BUILD_ONLY), or swap the case's one for another; the case keeps
    every target it runs, so its outputs are still compared."""

    name: str = "build-target"
    weight: float = 1.0
    kind: str = "target"

    def apply(self, ctx: MutationContext, rng: random.Random) -> MutationOutcome | None:
        targets = list(ctx.case.targets)
        new = rng.choice(BUILD_ONLY)
        if new in targets:
            raise Decline("target already in the case")
        built_only = [i for i, t in enumerate(targets) if t in BUILD_ONLY]
        if built_only:
            at = rng.choice(built_only)
            detail = {"from": targets[at], "to": new}
            targets[at] = new
        elif len(targets) < MAX_TARGETS:
            targets.append(new)
            detail = {"add": new}
        else:
            raise Decline("the case has as many targets as it may")
        passes = ctx.case.passes
        if kind_of(new) in GPU_KINDS:
            passes = with_gpu_schedule(passes, ctx.case.ir, rng)
            if passes is not ctx.case.passes:
                detail["schedule"] = short(passes[0].name)
        return MutationOutcome(detail=detail, case=replace(ctx.case, targets=targets, passes=passes))


def target_mutators() -> list[Mutator]:
    return [TargetMutate(), BuildTargetMutate()]
