"""CPU vs GPU across two machines: build here with TVM, run where the GPU is with TVM's runtime only.

The machine with the GPU has no TVM and no package index (Python 3.12, one H200), and at most 64 MiB of
files travel to it. So the work is split:

  build  (here: TVM, nvcc, gcc) the built-in block seeds (each on input seeds 0 and 2: plain and boundary
         values, NaN included) and mutants from the executor's mutate job are built for cuda with thread
         binding, as the pipeline does, and for llvm; each build is exported with its host code
         (export_library), and the CUDA source it carries is compiled here with nvcc to a fatbin (SASS for
         --arch plus PTX). Beside them: the case's inputs (tirfuzz's own input making, the case's
         input_seed), the CPU reference outputs (TVM's default pipeline on llvm: the differential oracle's
         reference) and, for programs with float max/min, the reference rebuilt with fmax/fmin semantics
         (oracles/nanpolicy.py), TVM's runtime libraries, libcudart, and wheels of apache-tvm-ffi (same
         version as here), typing-extensions and numpy for the device's Python. One folder, size printed,
         refused over --max-mib.
  run    (there: no TVM, no tirfuzz install) installs tvm_ffi from the carried wheel into the bundle when it
         is missing, loads libtvm_runtime*.so with ctypes RTLD_GLOBAL (the CUDA device API registers) and a
         `tvm_callback_cuda_compile` that hands each module the fatbin built here, then, one process per
         case, loads each exported module, runs it on the carried inputs and compares with the carried
         reference by tirfuzz's comparison rules (fuzzer/core/runtime.py, loaded by path). Verdicts: agree,
         differs (a miscompilation candidate: its case is in the manifest to re-judge here), filtered (named:
         nan-policy, ub:<check> from the checked run built here, float-boundary-values), load-error, run-error, crash, skipped.
         Without a CUDA driver or device it says so, runs the llvm builds, and exits 0. Never imports tvm.

Here:
    python bench/gpu_check.py build [--seeds 20] [--mutants 30] [--bundle bench/gpu_bundle]
On the device machine (the bundle is ignored by git: carry it; the run tool's carry=["bench/gpu_bundle"]):
    python3 bench/gpu_check.py run --bundle bench/gpu_bundle --out $OUT/gpu.json
Both print one JSON object on their last line.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import importlib.util
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the repository (the tirfuzz package)
MANIFEST = "manifest.json"
FORMAT = "tirfuzz-gpu-bundle/1"
CUDA_KIND = 2  # DLPack kDLCUDA
DEVICE_PYTHON = "3.12"
DEVICE_PLATFORM = "manylinux_2_28_x86_64"


# ---- build half (here, with TVM) -----------------------------------------------------------------


def _arrays(outputs: dict[str, list]) -> dict[str, Any]:
    return {f"{name}:{k}": a for name, arrs in outputs.items() for k, a in enumerate(arrs)}


def build_case(case_dict: dict, cdir: str, targets: list[str], cuda_dir: str) -> dict:
    """Inputs, references and exported builds of one case into `cdir` (runs in a child process)."""
    from dataclasses import asdict

    import numpy as np
    import tvm
    import tvm.support.nvcc  # noqa: F401  (nvcc for the fatbins)

    from tirfuzz.fuzzer.core.case import PassSpec, TestCase
    from tirfuzz.fuzzer.core.passes import PassPool
    from tirfuzz.fuzzer.core.runtime import (PROFILES, compile_module, entry_functions, kind_of, load, make_args,
                                             make_target, parse, parse_target, run_functions)
    from tirfuzz.fuzzer.core.tvmapi import default_pipeline, precheck
    from tirfuzz.oracles.compare import op_family
    from tirfuzz.oracles.nanpolicy import float_minmax_ops, with_fmax_semantics
    from tirfuzz.oracles.ub import checked_run

    t0 = time.perf_counter()
    case = TestCase.from_dict(case_dict)
    mod = parse(case.ir)
    precheck(mod)
    funcs = entry_functions(mod)
    seed, names = case.input_seed, list(funcs)
    out: dict[str, Any] = {"funcs": {}, "ops": float_minmax_ops(mod), "family": op_family(case.ir, case.pass_config),
                           "profile": PROFILES[seed % len(PROFILES)],
                           "modules": {}, "errors": {}, "kernels": {}}
    inputs = {}
    for name, f in funcs.items():
        specs, values = make_args(f, seed, name)
        out["funcs"][name] = [asdict(s) for s in specs]
        inputs.update({f"{name}:{i}": v for i, v in enumerate(values)})
    np.savez(Path(cdir) / "inputs.npz", **inputs)
    ref_steps = [(s.name, s.args) for s in default_pipeline()]
    ref = run_functions(load(compile_module(mod, "llvm", ref_steps, {}), names), funcs, seed, tvm.cpu(0))
    np.savez(Path(cdir) / "ref.npz", **_arrays(ref))
    if out["ops"]:
        fmod = with_fmax_semantics(mod)
        fref = run_functions(load(compile_module(fmod, "llvm", ref_steps, {}), names), funcs, seed, tvm.cpu(0))
        np.savez(Path(cdir) / "ref_fmax.npz", **_arrays(fref))
    # the checked run on the same inputs (oracles/ub.py): a GPU difference is hidden only if a check trips
    cr = checked_run(mod, lambda f, n: make_args(f, seed, n), default_pipeline())
    out["checked"] = {"filter": cr.filter, "reason": cr.reason, "error": cr.error}
    out["timings_ms"] = {"references": round((time.perf_counter() - t0) * 1e3, 1)}
    pool = PassPool()

    def make_pass(name, args):
        return pool.instantiate(PassSpec(name, tuple(args)))

    for target in targets:
        t1 = time.perf_counter()
        kind = kind_of(target)
        try:
            with make_target(target):
                raw = compile_module(mod, target, [(s.name, s.args) for s in case.passes], case.pass_config,
                                     make_pass)
            raw.export_library(str(Path(cdir) / f"{kind}.so"))
            for m in raw.imports:
                if m.kind == "cuda":
                    out["kernels"][kind] = _cuda_binary(m.inspect_source(), target, Path(cuda_dir))
        except Exception as e:  # noqa: BLE001  (recorded per target: the bundle goes on without it)
            out["errors"][kind] = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e) else ''}"
            continue
        out["modules"][kind] = f"{kind}.so"
        out["timings_ms"][kind] = round((time.perf_counter() - t1) * 1e3, 1)
    out["arch"] = parse_target(next((t for t in targets if kind_of(t) == "cuda"), "cuda")).get("arch", "sm_80")
    return out


def _cuda_binary(source: str, target: str, cuda_dir: Path) -> str:
    """nvcc's fatbin for the source (SASS for the target's arch, plus its PTX), stored by the source's hash:
    the exported module carries the source, and on loading TVM asks `tvm_callback_cuda_compile` for it."""
    from tvm.support import nvcc

    from tirfuzz.fuzzer.core.runtime import make_target, parse_target

    key = hashlib.sha256(source.encode()).hexdigest()
    path = cuda_dir / f"{key}.fatbin"
    if not path.exists():
        (cuda_dir / f"{key}.cu").write_text(source)  # for reading, and for nvrtc where a fatbin would not load
        sm = (parse_target(target).get("arch") or "sm_80").removeprefix("sm_")
        arch = ["-gencode", f"arch=compute_{sm},code=sm_{sm}", "-gencode", f"arch=compute_{sm},code=compute_{sm}"]
        with make_target(target):
            path.write_bytes(bytes(nvcc.compile_cuda(source, target_format="fatbin", arch=arch, compiler="nvcc")))
    return key


def _child(q, fn, args) -> None:
    try:
        q.put({"ok": fn(*args)})
    except BaseException as e:  # noqa: BLE001  (reported to the parent, which records it)
        q.put({"error": f"{type(e).__name__}: {str(e).strip().splitlines()[0][:300] if str(e) else ''}"})


def in_child(fn, args: tuple, timeout_s: float) -> dict:
    """fn(*args) in a forked child: {"ok": result} or {"error": why} (a crash or a timeout included)."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q, fn, args))
    p.start()
    try:
        res = q.get(timeout=timeout_s)
    except queue.Empty:
        res = {"error": f"timeout after {timeout_s:.0f} s" if p.is_alive() else f"crash (exit {p.exitcode})"}
    if p.is_alive():
        p.kill()
    p.join()
    return res


def runtime_libs(cuda: bool) -> list[Path]:
    """TVM's runtime library (and its CUDA part with libcudart when `cuda`), found in the tvm install."""
    import tvm

    lib = Path(tvm.__file__).parent / "lib"
    libs = [lib / "libtvm_runtime.so"]
    if cuda:
        libs.append(lib / "libtvm_runtime_cuda.so")
        out = subprocess.run(["readelf", "-d", str(libs[-1])], capture_output=True, text=True).stdout
        cudart = next((w.strip("[]") for w in out.split() if w.startswith("[libcudart")), "libcudart.so")
        from tvm.support.nvcc import find_cuda_path

        bases = [Path(find_cuda_path())] + [Path(os.environ[v]) for v in ("CUDA_HOME", "CUDA_PATH") if v in os.environ]
        bases += sorted(Path("/usr/local").glob("cuda*"), reverse=True)
        found = [p for b in bases for d in ("lib64", "lib", "targets/x86_64-linux/lib")
                 if (p := b / d / cudart).exists()]
        if not found:
            raise SystemExit(f"{cudart} (needed by libtvm_runtime_cuda.so) not found under {[str(b) for b in bases]}")
        libs.append(found[0])
    missing = [str(p) for p in libs if not p.exists()]
    if missing:
        raise SystemExit(f"runtime libraries not found: {missing}")
    return libs


def fetch_wheels(dest: Path, cache: Path | None) -> list[Path]:
    """Wheels for the device's Python: apache-tvm-ffi (this machine's version), typing-extensions, numpy."""
    from importlib.metadata import version

    reqs = [f"apache-tvm-ffi=={version('apache-tvm-ffi')}", "typing-extensions", f"numpy=={version('numpy')}"]
    cache = cache or Path.home() / ".cache" / "tirfuzz" / f"wheels-cp{DEVICE_PYTHON.replace('.', '')}"
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps", "--python-version",
           DEVICE_PYTHON, "--platform", DEVICE_PLATFORM, "--platform", "manylinux2014_x86_64", "-d", str(cache)]
    got = []
    for req in reqs:
        name = req.split("=")[0].replace("-", "_")
        ver = req.partition("==")[2]
        have = sorted(cache.glob(f"{name}-{ver or ''}*.whl"))
        if not have:
            r = subprocess.run(cmd + [req], capture_output=True, text=True, timeout=300)
            have = sorted(cache.glob(f"{name}-{ver or ''}*.whl"))
            if r.returncode != 0 or not have:
                raise SystemExit(f"pip could not download {req} for Python {DEVICE_PYTHON} ({DEVICE_PLATFORM}): "
                                 f"{(r.stderr or r.stdout).strip().splitlines()[-1:]}. Put the wheel in {cache}, "
                                 "or pass --wheels none if the device has it installed.")
        shutil.copy2(have[-1], dest / have[-1].name)
        got.append(dest / have[-1].name)
    return got


def make_cases(args) -> list[tuple[str, str, dict]]:
    """(id, origin, case dict): the block seeds on each input seed, then mutants that ran ok on llvm."""
    import random

    from tirfuzz.corpus import list_seeds
    from tirfuzz.corpus.cases import seed_case
    from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
    from tirfuzz.mutators.mutate import MUTATE_JOB

    seeds = [s for s in list_seeds() if s.kind == "block"]
    if args.names:
        seeds = [s for s in seeds if s.name in args.names.split(",")]
    seeds = seeds[:: max(1, len(seeds) // max(1, args.seeds))][: args.seeds]  # spread over the operators
    out = [(f"{s.name}-i{i}", "seed", seed_case(s, args.targets, input_seed=i).to_dict())
           for s in seeds for i in args.input_seeds]
    if args.mutants <= 0 or not seeds:
        return out
    rng, made, tries = random.Random(args.seed), 0, 0
    with Executor(ExecutorConfig(timeout_s=60, jobs=(MUTATE_JOB,))) as ex:
        while made < args.mutants and tries < args.mutants * 4:
            tries += 1
            s = rng.choice(seeds)
            spec = {"seed": rng.getrandbits(48), "kinds": ["ir", "pass", "config"], "donor": None}
            res = ex.run(seed_case(s, ["llvm"], input_seed=rng.choice(args.input_seeds)), want_outputs=False,
                         mutate=spec)
            if res.outcome != "ok" or res.case is None:
                continue  # declined, or not runnable on llvm: nothing to compare on the GPU
            case = dict(res.case, targets=list(args.targets))
            out.append((f"{s.name}-m{made}", "mutant", case))
            made += 1
    return out


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def build(args) -> int:
    """The build half: everything the run half needs, in one folder under --max-mib."""
    os.environ.setdefault("TVM_CUDA_COMPILE_MODE", "nvcc")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from machine import machine

    t0 = time.time()
    bundle = Path(args.bundle)
    if bundle.exists():
        shutil.rmtree(bundle)
    (bundle / "cases").mkdir(parents=True)
    (bundle / "cuda").mkdir()
    (bundle / "lib").mkdir()
    (bundle / "wheels").mkdir()
    cuda = any(t.split()[0] == "cuda" for t in args.targets)
    libs = [Path(shutil.copy2(p, bundle / "lib" / p.name)).name for p in runtime_libs(cuda)]
    wheels = [] if args.wheels == "none" else \
        [p.name for p in fetch_wheels(bundle / "wheels", None if args.wheels == "auto" else Path(args.wheels))]
    t_cases = time.time()
    cases = make_cases(args)
    t_mutants = time.time() - t_cases
    entries, counts = [], {"cases": 0, "built": {}, "build_errors": {}, "case_errors": 0}
    for cid, origin, case in cases:
        cdir = bundle / "cases" / cid
        cdir.mkdir()
        res = in_child(build_case, (case, str(cdir), list(args.targets), str(bundle / "cuda")), args.timeout)
        if "error" in res:
            counts["case_errors"] += 1
            shutil.rmtree(cdir)
            print(f"skipped {cid}: {res['error']}", file=sys.stderr)
            continue
        info = res["ok"]
        counts["cases"] += 1
        for kind in info["modules"]:
            counts["built"][kind] = counts["built"].get(kind, 0) + 1
        for kind, err in info["errors"].items():
            counts["build_errors"][kind] = counts["build_errors"].get(kind, 0) + 1
            print(f"{cid} {kind}: {err}", file=sys.stderr)
        entries.append({"id": cid, "origin": origin, "case": case, "input_seed": case.get("input_seed", 0), **info})
    from importlib.metadata import version

    manifest = {"format": FORMAT, "tvm": version("apache-tvm"), "tvm_ffi": version("apache-tvm-ffi"),
                "targets": list(args.targets), "libs": libs, "wheels": wheels, "cases": entries}
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=1))
    size = dir_size(bundle)
    summary = {"bundle": str(bundle), "size_mib": round(size / 2**20, 2), "max_mib": args.max_mib, **counts,
               "fatbins": len(list((bundle / "cuda").glob("*.fatbin"))), "libs": libs, "wheels": wheels,
               "wall_s": round(time.time() - t0, 1), "mutants_s": round(t_mutants, 1),
               "build_s": round(time.time() - t_cases - t_mutants, 1), "machine": machine()}
    Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
    Path(args.summary).write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "machine"}))
    if size > args.max_mib * 2**20:
        print(f"bundle {bundle} is {size / 2**20:.1f} MiB, over the limit of {args.max_mib} MiB: use fewer "
              "--seeds/--mutants", file=sys.stderr)
        return 2
    return 0


# ---- run half (there: numpy, tvm_ffi and TVM's runtime libraries; never tvm) -----------------------


def site_dir(bundle: Path) -> Path:
    """Where the carried wheels are unpacked for this Python: a temporary folder named by the wheels (never
    inside the bundle, which must stay small enough to travel)."""
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    names = ",".join(sorted(w.name for w in (bundle / "wheels").glob("*.whl")))
    return Path(tempfile.gettempdir()) / f"tirfuzz-gpu-site-{tag}-{hashlib.sha1(names.encode()).hexdigest()[:10]}"


def _install_wheel(bundle: Path, prefix: str) -> bool:
    """Unpack the carried wheel `prefix`-*.whl for this Python into `site_dir` (put on sys.path)."""
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    wheels = [w for w in sorted((bundle / "wheels").glob(f"{prefix}-*.whl"))
              if f"-{tag}-" in w.name or "-py3-none-any" in w.name]
    if not wheels:
        return False
    site = site_dir(bundle)
    zipfile.ZipFile(wheels[-1]).extractall(site)
    if str(site) not in sys.path:
        sys.path.insert(0, str(site))
    return True


def ensure_python_deps(bundle: Path, want_ffi: str) -> dict[str, str]:
    """numpy and tvm_ffi `want_ffi` importable: the installed ones, else the carried wheels."""
    from importlib.metadata import PackageNotFoundError, version

    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    site = site_dir(bundle)
    if site.exists():
        sys.path.insert(0, str(site))
    how = {}
    for dist, mod, prefix, want in (("typing-extensions", "typing_extensions", "typing_extensions", None),
                                    ("numpy", "numpy", "numpy", None),
                                    ("apache-tvm-ffi", "tvm_ffi", "apache_tvm_ffi", want_ffi)):
        try:
            have = version(dist)
        except PackageNotFoundError:
            have = None
        if have is not None and (want is None or have == want):
            how[mod] = f"{have} (installed)"
            continue
        if not _install_wheel(bundle, prefix):
            raise SystemExit(f"{dist}{'==' + want if want else ''} is not installed here (found {have}) and the "
                             f"bundle carries no wheel of it for {tag}")
        how[mod] = f"{version(dist)} (carried wheel)"
    return how


def _load(name: str, path: Path):
    """A module from a file, by path (tirfuzz is not installed on the device machine)."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def load_runtime(bundle: Path, manifest: dict) -> dict[str, Any]:
    """TVM's runtime libraries loaded (RTLD_GLOBAL) and CUDA probed: what is available, in words."""
    import tvm_ffi

    state: dict[str, Any] = {"cuda": False}
    ctypes.CDLL(str(bundle / "lib" / "libtvm_runtime.so"), ctypes.RTLD_GLOBAL)
    if "libtvm_runtime_cuda.so" not in manifest["libs"]:
        state["cuda_reason"] = "the bundle has no CUDA runtime (built without a cuda target)"
        return state
    try:
        driver = ctypes.CDLL("libcuda.so.1", ctypes.RTLD_GLOBAL)
    except OSError as e:
        state["cuda_reason"] = f"no CUDA device: the CUDA driver (libcuda.so.1) is not here ({e})"
        return state
    ver = ctypes.c_int(0)
    driver.cuDriverGetVersion(ctypes.byref(ver))
    state["cuda_driver"] = f"{ver.value // 1000}.{ver.value % 1000 // 10}"
    for lib in sorted(manifest["libs"], key=lambda n: not n.startswith("libcudart")):  # cudart before its user
        if lib != "libtvm_runtime.so":
            ctypes.CDLL(str(bundle / "lib" / lib), ctypes.RTLD_GLOBAL)
    fatbins = bundle / "cuda"

    def compile_from_bundle(source: str) -> bytes:  # TVM asks for the binary of the source it carries
        path = fatbins / f"{hashlib.sha256(source.encode()).hexdigest()}.fatbin"
        if not path.exists():
            raise RuntimeError(f"no fatbin in the bundle for this CUDA source ({path.name})")
        return path.read_bytes()

    tvm_ffi.register_global_func("tvm_callback_cuda_compile", compile_from_bundle, override=True)
    try:
        exist = tvm_ffi.get_global_func("runtime.GetDeviceAttr")(CUDA_KIND, 0, 0)
    except Exception as e:  # noqa: BLE001  (a driver too old for this libcudart, for instance)
        state["cuda_reason"] = f"no CUDA device: {type(e).__name__}: {str(e).strip()[:300]}"
        return state
    if not exist:
        cudart = next((n for n in manifest["libs"] if n.startswith("libcudart")), "libcudart")
        state["cuda_reason"] = (f"no CUDA device visible through {cudart} (driver API {state['cuda_driver']}: "
                                "a runtime newer than the driver sees none)")
        return state
    state["cuda"] = True
    attr = tvm_ffi.get_global_func("runtime.GetDeviceAttr")
    state["cuda_device"] = f"{attr(CUDA_KIND, 0, 5)} (compute {attr(CUDA_KIND, 0, 4)})"  # name, version
    return state


def run_function(fn, specs: list[dict], values: list, dev) -> list:
    """Call fn on device tensors made from the values; every buffer after the call, as numpy arrays."""
    import numpy as np
    import tvm_ffi

    alloc = tvm_ffi.get_global_func("runtime.TVMTensorAllocWithScope")
    copy_in = tvm_ffi.get_global_func("runtime.TVMTensorCopyFromBytes")
    copy_out = tvm_ffi.get_global_func("runtime.TVMTensorCopyToBytes")
    args, buffers = [], []
    for s, v in zip(specs, values):
        if s["shape"] is None and s["dtype"] != "handle":
            args.append(v.item())
            continue
        shape, dtype = (v.shape, "uint8") if s["dtype"] == "handle" else (s["shape"], s["dtype"])
        a = np.ascontiguousarray(v)
        t = alloc(tvm_ffi.Shape([int(d) for d in shape]), tvm_ffi.dtype(dtype), dev, None)
        copy_in(t, ctypes.c_void_p(a.ctypes.data), a.nbytes)
        args.append(t)
        if s["dtype"] != "handle":
            buffers.append((t, a))
    fn(*args)
    outs = []
    for t, a in buffers:
        o = np.empty_like(a)
        copy_out(t, ctypes.c_void_p(o.ctypes.data), o.nbytes)
        outs.append(o)
    return outs


def judge(entry: dict, kind: str, got: dict, ref: dict, fref: dict | None, rt, nanpolicy) -> dict:
    """The verdict on one build's outputs against the carried reference, with the oracle's named filters."""
    diff = rt.compare_outputs(ref, got, entry["family"])
    if diff is None:
        return {"verdict": "agree"}
    out: dict[str, Any] = {"verdict": "differs", "diff": diff.as_dict()}
    if fref is not None and nanpolicy.is_gpu_target(kind):
        reason = nanpolicy.nan_policy_reason(entry["ops"], diff, rt.compare_outputs(fref, got, entry["family"]),
                                             kind)
        if reason:
            return {**out, "verdict": "filtered", "filtered": nanpolicy.NAME, "reason": reason}
    checked = entry.get("checked") or {}
    if checked.get("filter"):  # the checked run, built and run here on these inputs, tripped a check
        return {**out, "verdict": "filtered", "filtered": checked["filter"], "reason": checked["reason"]}
    if diff.non_finite and entry["profile"] == "boundary":
        return {**out, "verdict": "filtered", "filtered": "float-boundary-values",
                "reason": "NaN/Inf on one side only, on boundary inputs"}
    return out


def run_case(args) -> int:
    """One case on every target the bundle built it for (a child of `run`): one JSON line on stdout."""
    bundle = Path(args.bundle)
    manifest = json.loads((bundle / MANIFEST).read_text())
    ensure_python_deps(bundle, manifest["tvm_ffi"])
    import numpy as np
    import tvm_ffi

    rt = _load("tirfuzz_runtime", ROOT / "fuzzer" / "core" / "runtime.py")
    nanpolicy = _load("tirfuzz_nanpolicy", ROOT / "oracles" / "nanpolicy.py")
    state = load_runtime(bundle, manifest)
    entry = next(e for e in manifest["cases"] if e["id"] == args.case)
    cdir = bundle / "cases" / entry["id"]
    inputs = np.load(cdir / "inputs.npz")
    ref_npz = np.load(cdir / "ref.npz")
    fref_npz = np.load(cdir / "ref_fmax.npz") if (cdir / "ref_fmax.npz").exists() else None

    def by_func(npz) -> dict[str, list]:
        return {name: [npz[f"{name}:{k}"] for k in range(sum(s["shape"] is not None and s["dtype"] != "handle"
                                                             for s in specs))]
                for name, specs in entry["funcs"].items()}

    ref, fref = by_func(ref_npz), (by_func(fref_npz) if fref_npz is not None else None)
    results = []
    for kind in args.kinds.split(","):
        res: dict[str, Any] = {"case": entry["id"], "target": kind}
        if kind not in entry["modules"]:
            res.update(verdict="skipped", reason=f"not built: {entry['errors'].get(kind, 'not a target')}")
        elif kind == "cuda" and not state["cuda"]:
            res.update(verdict="skipped", reason=state["cuda_reason"])
        else:
            dev = tvm_ffi.device("cuda" if kind == "cuda" else "cpu", 0)
            t0 = time.perf_counter()
            try:
                mod = tvm_ffi.load_module(str(cdir / entry["modules"][kind]))
                fns = {name: mod.get_function(name, query_imports=True) for name in entry["funcs"]}
            except Exception as e:  # noqa: BLE001
                res.update(verdict="load-error", reason=f"{type(e).__name__}: {str(e).strip()[:300]}")
                results.append(res)
                continue
            try:
                got = {name: run_function(fns[name], specs, [inputs[f"{name}:{i}"] for i in range(len(specs))], dev)
                       for name, specs in entry["funcs"].items()}
            except Exception as e:  # noqa: BLE001
                res.update(verdict="run-error", reason=f"{type(e).__name__}: {str(e).strip()[:300]}")
                results.append(res)
                continue
            res["ms"] = round((time.perf_counter() - t0) * 1e3, 2)
            res.update(judge(entry, kind, got, ref, fref, rt, nanpolicy))
        results.append(res)
    print(json.dumps({"results": results, "tvm_imported": "tvm" in sys.modules, "cuda": state["cuda"],
                      "cuda_reason": state.get("cuda_reason")}))
    return 0


def run(args) -> int:
    """The run half: every case of the bundle in its own process; verdicts to --out."""
    t0 = time.time()
    bundle = Path(args.bundle)
    manifest = json.loads((bundle / MANIFEST).read_text())
    if manifest.get("format") != FORMAT:
        raise SystemExit(f"{bundle / MANIFEST}: not a {FORMAT} bundle")
    deps = ensure_python_deps(bundle, manifest["tvm_ffi"])
    state = load_runtime(bundle, manifest)  # probed once here for the summary; each case loads its own
    if not state["cuda"]:
        print(state["cuda_reason"])
    kinds = sorted({t.split()[0] for t in manifest["targets"]})
    verdicts, counts, tvm_seen = [], {}, "tvm" in sys.modules

    def one(entry: dict) -> dict:
        cmd = [sys.executable, str(Path(__file__).resolve()), "run-case", "--bundle", str(bundle), "--case",
               entry["id"], "--kinds", ",".join(kinds)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            line = (p.stdout.strip().splitlines() or [""])[-1]
            rep = json.loads(line) if p.returncode == 0 and line.startswith("{") else None
        except subprocess.TimeoutExpired:
            p, rep = None, None
        if rep is None:
            why = f"timeout after {args.timeout} s" if p is None else \
                f"exit {p.returncode}: {(p.stderr.strip().splitlines() or [''])[-1][:300]}"
            rep = {"results": [{"case": entry["id"], "target": k, "verdict": "crash", "reason": why}
                               for k in kinds], "tvm_imported": False}
        return rep

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        reports = list(pool.map(one, manifest["cases"]))
    for entry, rep in zip(manifest["cases"], reports):
        tvm_seen = tvm_seen or rep["tvm_imported"]
        for r in rep["results"]:
            r["origin"] = entry["origin"]
            key = f"{r['target']}:{r['verdict']}" + (f":{r['filtered']}" if r.get("filtered") else "")
            counts[key] = counts.get(key, 0) + 1
            verdicts.append(r)
    summary = {"cases": len(manifest["cases"]), "cuda": state["cuda"], "cuda_reason": state.get("cuda_reason"),
               "cuda_device": state.get("cuda_device"), "cuda_driver": state.get("cuda_driver"),
               "python": sys.version.split()[0], "deps": deps,
               "tvm_imported": tvm_seen, **dict(sorted(counts.items())), "wall_s": round(time.time() - t0, 1)}
    out = Path(args.out or (Path(os.environ["OUT"]) / "gpu.json" if os.environ.get("OUT") else
                            ROOT / "bench" / "results" / "gpu-run.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "verdicts": verdicts}, indent=1))
    for r in verdicts:
        if r["verdict"] not in ("agree", "skipped"):
            print(f"{r['verdict']:12} {r['target']:5} {r['case']}: {r.get('reason') or r.get('diff')}"[:240])
    print(json.dumps(summary))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="here, with TVM: build, export and pack the bundle")
    b.add_argument("--bundle", default=str(ROOT / "bench" / "gpu_bundle"))
    b.add_argument("--seeds", type=int, default=20, help="how many built-in block seeds")
    b.add_argument("--names", default="", help="only these seeds (comma-separated names)")
    b.add_argument("--input-seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 2])
    b.add_argument("--mutants", type=int, default=30)
    b.add_argument("--seed", type=int, default=0, help="random seed of the mutations")
    b.add_argument("--targets", type=lambda s: s.split(","), default=["llvm", "cuda -arch=sm_90"],
                   help="comma-separated; cuda's -arch is the GPU's (H200: sm_90)")
    b.add_argument("--wheels", default="auto", help="auto (pip download, cached), none, or a folder of wheels")
    b.add_argument("--timeout", type=float, default=120.0, help="seconds per case build")
    b.add_argument("--max-mib", type=float, default=60.0, help="bundle size limit (64 MiB travel, with the repo)")
    b.add_argument("--summary", default=str(ROOT / "bench" / "results" / "gpu-build.json"))
    r = sub.add_parser("run", help="where the GPU is, without TVM: run the bundle, write verdicts")
    r.add_argument("--bundle", default=str(ROOT / "bench" / "gpu_bundle"))
    r.add_argument("--out", default=None, help="default $OUT/gpu.json, else bench/results/gpu-run.json")
    r.add_argument("--timeout", type=float, default=120.0, help="seconds per case")
    r.add_argument("--jobs", type=int, default=min(8, os.cpu_count() or 1), help="cases run at once")
    c = sub.add_parser("run-case", help="(internal) one case of `run`, in its own process")
    c.add_argument("--bundle", required=True)
    c.add_argument("--case", required=True)
    c.add_argument("--kinds", default="llvm,cuda")
    args = ap.parse_args()
    return {"build": build, "run": run, "run-case": run_case}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
