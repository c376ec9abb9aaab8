"""Rebuild the seed files from TVM's operator library (te/topi) and the default lowering passes."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from tirfuzz.corpus import GENERATED_LINE, Seed, seed_dir
from tirfuzz.corpus.spec import FlatSpec, SeedSpec

# Block seeds lowered to loop level, as `flat_<name>`.
FLAT_SOURCES = (
    "conv2d_nchw",
    "depthwise_conv2d_nhwc",
    "dense_bias",
    "matmul_int8",
    "batch_matmul_nt",
    "softmax_lastaxis",
    "pool2d_max",
    "layer_norm_lastaxis",
    "sum_axis1",
    "argmax_axis1",
    "cumsum_axis1",
    "take_clip_axis0",
    "resize2d_linear",
    "concatenate_axis1",
    "pad_constant",
    "floor_divide_int32",
    "exp_add_symbolic",
    "cast_int32_to_int8",
)

# The prefix of the default s_tir pipeline (tvm/s_tir/pipeline.py) up to and including FlattenBuffer.
FLATTEN_PASSES = (
    "s_tir.CanonicalizeLoop",
    "s_tir.LowerCrossThreadReduction",
    "s_tir.LowerInitBlock",
    "s_tir.PlanAndUpdateBufferAllocationLocation",
    "s_tir.ConvertBlocksToOpaque",
    "s_tir.LiftThreadBinding",
    "s_tir.ManifestSharedMemoryLocalStage",
    "s_tir.CompactBufferAllocation",
    "s_tir.LowerAutoCopy",
    "s_tir.UnifyThreadBinding",
    "s_tir.LowerMatchBuffer",
    "s_tir.StmtSimplify",
    "s_tir.InjectPermutedLayout",
    "s_tir.AnnotateIrregularLoop",
    "s_tir.InjectSoftwarePipeline",
    "s_tir.TransformMmaBufferLayout",
    "s_tir.LowerOpaqueBlock",
    "tirx.FlattenBuffer",
)


def block_specs() -> list[SeedSpec]:
    """Every block-level seed spec (imports TVM)."""
    from tirfuzz.corpus import ops_elemwise, ops_nn, ops_tensor  # lazy: they import tvm, te and topi

    return [*ops_nn.SEEDS, *ops_tensor.SEEDS, *ops_elemwise.SEEDS]


def flat_specs() -> list[FlatSpec]:
    """Every loop-level seed spec."""
    return [FlatSpec(f"flat_{src}", src) for src in FLAT_SOURCES]


def seed_names() -> list[str]:
    """The names of every seed `regenerate` writes, sorted."""
    return sorted([s.name for s in block_specs()] + [f.name for f in flat_specs()])


def build_block(spec: SeedSpec) -> Any:
    """The IRModule {"main": PrimFunc} of a block seed."""
    import tvm
    from tvm import te

    func = te.create_prim_func(spec.build()).with_attr("global_symbol", "main")
    return tvm.IRModule({"main": func})


def flatten(mod: Any) -> Any:
    """Lower a block-level module through FlattenBuffer, without binding a target."""
    import tvm
    from tvm import s_tir, tirx

    passes = []
    for qualified in FLATTEN_PASSES:
        namespace, name = qualified.split(".")
        passes.append(getattr((s_tir if namespace == "s_tir" else tirx).transform, name)())
    with tvm.transform.PassContext(opt_level=3):
        return tvm.transform.Sequential(passes)(mod)


def render(name: str, op: str, dtype: str, kind: str, about: str, mod: Any, source: str | None = None) -> str:
    """The text of a seed file: header comment block, then the printed module."""
    lines = [f"# name: {name}", f"# op: {op}", f"# dtype: {dtype}", f"# kind: {kind}", f"# about: {about}"]
    if source is not None:
        lines.append(f"# source: {source} (lowered through {FLATTEN_PASSES[-1]}, no target bound)")
    lines.append(GENERATED_LINE)
    script = mod.script()
    text = "\n".join(lines) + "\n\n" + script.rstrip("\n") + "\n"
    if any(line.lstrip().startswith(("import ", "from ")) for line in text.splitlines()):
        raise ValueError(f"seed {name}: printed script has an import line")
    return text


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def seed_texts(names: list[str] | None = None,
               progress: Callable[[str], None] | None = None) -> dict[str, tuple[Seed, str]]:
    """Build seeds (all, or those in `names`) in memory: name -> (Seed with a relative path, file text)."""
    blocks = {s.name: s for s in block_specs()}
    flats = {f.name: f for f in flat_specs()}
    wanted = sorted(blocks.keys() | flats.keys()) if names is None else sorted(set(names))
    unknown = [n for n in wanted if n not in blocks and n not in flats]
    if unknown:
        raise KeyError(f"unknown seed names: {', '.join(unknown)}")
    built: dict[str, Any] = {}

    def module(block_name: str) -> Any:
        if block_name not in built:
            built[block_name] = build_block(blocks[block_name])
        return built[block_name]

    out: dict[str, tuple[Seed, str]] = {}
    for name in wanted:
        if progress is not None:
            progress(name)
        if name in blocks:
            spec = blocks[name]
            mod = module(name)
            text = render(name, spec.op, spec.dtype, "block", spec.about, mod)
            kind = "block"
        else:
            flat = flats[name]
            spec = blocks[flat.source]
            mod = flatten(module(flat.source))
            text = render(name, spec.op, spec.dtype, "flat", spec.about, mod, source=flat.source)
            kind = "flat"
        out[name] = (Seed(name, Path(f"{name}.py"), spec.dtype, kind, spec.op), text)
    return out


def regenerate(out_dir: Path | None = None, progress: Callable[[str], None] | None = None,
               names: list[str] | None = None) -> list[Seed]:
    """Rewrite seed files in `out_dir` (default: the package's seeds/); with no `names`, drop stale ones."""
    root = Path(out_dir) if out_dir is not None else seed_dir()
    root.mkdir(parents=True, exist_ok=True)
    texts = seed_texts(names, progress)
    seeds = []
    for name, (seed, text) in texts.items():
        path = root / seed.path
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_atomic(path, text)
        seeds.append(Seed(seed.name, path, seed.dtype, seed.kind, seed.op))
    if names is None:
        for stale in root.glob("*.py"):
            if stale.stem not in texts and not stale.name.startswith("_"):
                stale.unlink()
    return sorted(seeds, key=lambda s: s.name)
