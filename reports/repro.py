"""Standalone reproducers: `repro.py` needs only tvm and numpy, and is verified in a fresh process.

The script embeds the minimized TVMScript, the pass list, the target and the input seed, rebuilds the
case the way tirfuzz's pipeline does, and prints REPRODUCED (exit 0) or NOT REPRODUCED (exit 1). A
crash reproduces by crashing; verification compares the signal.
"""

from __future__ import annotations

import json
import signal as _signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.tvmapi import COMPLETION, GPU_BINDING, default_pipeline
from tirfuzz.oracles.compare import TOLERANCES, op_family
import re
import time

TEMPLATE = r'''"""tirfuzz reproducer: {title}

Needs only tvm ({tvm_version} was used) and numpy:  python repro.py
Prints REPRODUCED and exits 0 when the symptom shows; a crash reproduces by crashing ({signal}).
"""
import sys
import zlib

import numpy as np
import tvm
import tvm.script

IR = {ir!r}
PASSES = {passes!r}          # (name, args), in order
PASS_CONFIG = {config!r}
TARGET = {target!r}
INPUT_SEED = {input_seed!r}
EXPECT = {expect!r}
COMPLETION = {completion!r}  # added after PASSES when not named there (what a build needs)
REFERENCE = {reference!r}    # TVM's default TIR pipeline: the expected results come from it
TOLERANCE = {tolerance!r}    # (rtol relative to the largest reference magnitude, ulps) for floats
PLUGINS = {plugins!r}        # source of out-of-tree passes named plugin:<stem>.<name>


def make_pass(name, args):
    if name.startswith("plugin:"):
        stem, attr = name[len("plugin:"):].split(".", 1)
        ns = {{}}
        exec(compile(PLUGINS[stem], stem + ".py", "exec"), ns)
        return ns[attr]
    obj = tvm
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj(*args)


def make_target(name):
    from tvm.target import Target
    kind = name.split()[0]
    if kind == "cuda":
        return Target({{"kind": "cuda", "arch": "sm_80"}}, host="llvm")
    return Target(name, host=name)


def build(mod, target, passes, config):
    from tvm.runtime import Executable
    from tvm.s_tir.pipeline import finalize_device_passes, finalize_host_passes
    from tvm.tirx.build import split_host_device_mods, tir_to_runtime
    named = {{n for n, _ in passes}}
    seq = list(passes)
    if target.split()[0] == "cuda" and "{gpu_binding}" not in named:
        seq = [("{gpu_binding}", [])] + seq
    seq += [(n, []) for n in COMPLETION if n not in named]
    with tvm.transform.PassContext(opt_level=3, config=config):
        tgt = make_target(target)
        m = tvm.tirx.transform.BindTarget(tgt)(mod)
        for n, a in seq:
            m = make_pass(n, a)(m)
        host, devices = split_host_device_mods(m)
        host = finalize_host_passes()(host)
        devices = {{t: finalize_device_passes()(d) for t, d in devices.items()}}
        return Executable(tir_to_runtime(host, devices, tgt.host or tgt)).jit()


def values(dtype, shape, seed, func, index):
    rng = np.random.default_rng(zlib.crc32(f"{{seed}}:{{func}}:{{index}}".encode()))
    profile = ("small", "signed", "boundary")[seed % 3]
    n = int(np.prod(shape)) if shape else 1
    dt = np.dtype(dtype)
    if dtype == "bool":
        v = rng.random(n) < 0.5
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        if profile == "small" or (dt.kind == "u" and profile == "signed"):
            v = rng.integers(0, 4, n)
        elif profile == "signed":
            v = rng.integers(max(info.min, -8), 9, n)
        else:
            sp = [x for x in (0, 1, -1, 2, info.min, info.max, info.min + 1, info.max - 1) if info.min <= x <= info.max]
            sp = np.array(sp, dtype=np.int64 if info.max < 2**63 else object)
            v = sp[rng.integers(0, len(sp), n)]
            v = np.where(rng.random(n) < 0.5, rng.integers(max(info.min, -100), min(info.max, 100) + 1, n), v)
        v = np.asarray(v).astype(dt)
    elif profile == "small":
        v = rng.uniform(-1.0, 1.0, n).astype(dt)
    elif profile == "signed":
        v = rng.normal(0.0, 8.0, n).astype(dt)
    else:
        fi = np.finfo(dt)
        sp = np.array([0.0, -0.0, 1.0, -1.0, float(fi.tiny), float(fi.max), -float(fi.max), np.inf, -np.inf,
                       np.nan, float(fi.eps)])
        v = np.where(rng.random(n) < 0.3, sp[rng.integers(0, len(sp), n)], rng.normal(0, 100, n)).astype(dt)
    return v.reshape(shape if shape else ())


def run(rt, mod, device):
    outs = {{}}
    for gv, f in mod.functions.items():
        name = str(f.attrs["global_symbol"]) if f.attrs is not None and "global_symbol" in f.attrs else None
        if name is None:
            continue
        ana, bound, args, bufs = tvm.sym.Analyzer(), set(), [], []
        for i, p in enumerate(f.params):
            if type(p.ty).__name__ == "BufferType":
                shape = []
                for d in p.shape:
                    for v in [x for x in [d] if isinstance(x, tvm.tirx.Var)]:
                        if v.name not in bound:
                            ana.bind(v, 7)
                            bound.add(v.name)
                    shape.append(int(ana.simplify(d).value) if not isinstance(d, int) else d)
                t = tvm.runtime.tensor(values(str(p.dtype), tuple(shape), INPUT_SEED, name, i), device)
                args.append(t)
                bufs.append(t)
            else:
                args.append(7 if p.name in bound else values(str(p.dtype), None, INPUT_SEED, name, i).item())
        rt[name](*args)
        outs[name] = [b.numpy() for b in bufs]
    return outs


def differs(ref, got):
    for name, arrs in ref.items():
        for k, (r, g) in enumerate(zip(arrs, got[name])):
            if r.dtype.kind != "f":
                if not np.array_equal(r, g):
                    return f"{{name}} buffer {{k}}: {{int(np.count_nonzero(r != g))}} elements differ"
                continue
            rtol, ulps = TOLERANCE
            rr, gg = r.astype(np.float64), g.astype(np.float64)
            fin = np.isfinite(rr) & np.isfinite(gg)
            scale = float(np.max(np.abs(rr[np.isfinite(rr)]), initial=0.0))
            ok = (rr == gg) | (np.isnan(rr) & np.isnan(gg)) | (fin & (np.abs(rr - gg) <= rtol * scale))
            if not ok.all():
                i = int(np.argmax(~ok.reshape(-1)))
                return f"{{name}} buffer {{k}} at flat index {{i}}: expected {{r.reshape(-1)[i]!r}}, got {{g.reshape(-1)[i]!r}}"
    return None


def roundtrip(mod):
    import tvm_ffi
    back = tvm.script.from_source(mod.script(), check_well_formed=False)
    if isinstance(back, tvm.tirx.PrimFunc):
        back = tvm.IRModule({{"main": back}})
    if tvm_ffi.structural_equal(mod, back, map_free_vars=True):
        return None
    return tvm_ffi.get_first_structural_mismatch(mod, back, map_free_vars=True)


def main():
    mod = tvm.script.from_source(IR, check_well_formed=False)
    if isinstance(mod, tvm.tirx.PrimFunc):
        mod = tvm.IRModule({{"main": mod}})
    if EXPECT["kind"] == "roundtrip":
        try:
            where = roundtrip(mod)
        except Exception as e:  # noqa: BLE001
            where = f"{{type(e).__name__}}: {{e}}"
        if where is not None:
            print("REPRODUCED: print then parse gives another module, first difference at", where)
            return 0
        print("NOT REPRODUCED: the module survives print and parse")
        return 1
    try:
        rt = build(mod, TARGET, PASSES, PASS_CONFIG)
        device = tvm.cuda(0) if TARGET.split()[0] == "cuda" else tvm.cpu(0)
        got = run(rt, mod, device) if EXPECT["kind"] in ("miscompilation", "hang", "crash") else None
    except Exception as e:  # noqa: BLE001
        text = f"{{type(e).__name__}}: {{e}}"
        if EXPECT["kind"] == "internal-error" and EXPECT["where"] in text:
            print("REPRODUCED:", text.strip().splitlines()[-1][:300])
            return 0
        print("NOT REPRODUCED: a different error:", text[:500])
        return 1
    if EXPECT["kind"] == "miscompilation":
        ref = run(build(mod, "llvm", REFERENCE, {{}}), mod, tvm.cpu(0))
        what = differs(ref, got)
        if what:
            print("REPRODUCED: miscompilation,", what)
            return 0
    print("NOT REPRODUCED: it built and ran" + (" and matched the reference" if EXPECT["kind"] == "miscompilation" else ""))
    return 1


if __name__ == "__main__":
    sys.exit(main())
'''


@dataclass
class Verification:
    """Did repro.py, run alone in a fresh process, show the bug?"""

    reproduced: bool
    how: str
    seconds: float


def _where(info: dict[str, Any]) -> str:
    """What an internal error's text must contain to be the same bug: the start of its message's first
    line (before any number or address), else its exception type."""
    gcc = re.search(r"error: ([^\n]*)", info.get("message") or "")
    if gcc and (info.get("message") or "").lstrip().startswith("Compilation error"):
        return gcc.group(1).strip()[:80]  # the host compiler's own complaint, e.g. 'inff' was not declared
    lines = [ln.strip() for ln in (info.get("message") or "").splitlines() if ln.strip()]
    if lines:
        head = re.split(r"0x[0-9a-fA-F]+|\d", lines[0], maxsplit=1)[0]
        if len(head.strip()) >= 8:
            return head.strip()[:80]
    return info.get("exc_type") or ""


def write_repro(case: TestCase, info: dict[str, Any], path: Path, title: str, plugin_files: dict[str, str]) -> Path:
    """Write repro.py for a bug (info: the bug's info.json) and return its path."""
    import tvm

    kind = info.get("kind", "internal-error")
    target = info.get("target") or case.targets[0]
    fam = op_family(case.ir, case.pass_config)
    tol = TOLERANCES.get(("transcendental" if fam == "transcendental" else "arith", 32))
    expect = {"kind": kind, "where": _where(info) if kind == "internal-error" else "", "signal": info.get("signal"),
              "stage": info.get("stage")}
    plugins = {}
    for p in case.passes:
        if p.name.startswith("plugin:"):
            stem = p.name[len("plugin:"):].split(".", 1)[0]
            if stem in plugin_files:
                plugins[stem] = Path(plugin_files[stem]).read_text()
    text = TEMPLATE.format(
        title=title.replace('"""', "'''"), tvm_version=tvm.__version__, signal=info.get("signal") or "none expected",
        ir=case.ir, passes=[(p.name, list(p.args)) for p in case.passes], config=case.pass_config, target=target,
        input_seed=case.input_seed, expect=expect, completion=[c.name for c in COMPLETION],
        reference=[(p.name, list(p.args)) for p in default_pipeline()], tolerance=(tol.rtol, tol.ulps) if tol else (1e-4, 16),
        plugins=plugins, gpu_binding=GPU_BINDING.name)
    path.write_text(text)
    return path


BLOCK_TIRFUZZ = "import sys; sys.modules['tirfuzz'] = None; import runpy; runpy.run_path(sys.argv[1], run_name='__main__')"


def verify_repro(path: Path, info: dict[str, Any], timeout_s: float = 120.0) -> Verification:
    """Run repro.py in a fresh Python process where tirfuzz cannot be imported; compare the symptom."""
    t0 = time.monotonic()
    kind = info.get("kind")
    try:
        p = subprocess.run([sys.executable, "-c", BLOCK_TIRFUZZ, str(path)], capture_output=True, text=True,
                           timeout=timeout_s, cwd=path.parent)
    except subprocess.TimeoutExpired:
        ok = kind == "hang"
        return Verification(ok, f"no exit within {timeout_s:g} s", time.monotonic() - t0)
    out = (p.stdout + p.stderr).strip()
    if p.returncode < 0:
        got = _signal.Signals(-p.returncode).name
        ok = kind == "crash" and got == info.get("signal")
        return Verification(ok, f"killed by {got}", time.monotonic() - t0)
    last = out.splitlines()[-1] if out else ""
    if kind == "crash" and p.returncode != 0 and info.get("signal") in out:
        return Verification(True, last[:300], time.monotonic() - t0)
    return Verification(p.returncode == 0 and "REPRODUCED" in out and "NOT REPRODUCED" not in out, last[:300],
                        time.monotonic() - t0)


def dump_info(path: Path, info: dict[str, Any]) -> None:
    path.write_text(json.dumps(info, indent=1, default=str))
