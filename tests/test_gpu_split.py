"""bench/gpu_check.py's split on this machine: build with TVM in one process, then load and run the exported
modules in another that has only numpy, tvm_ffi and TVM's runtime library (tvm is never imported there)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tirfuzz.fuzzer.core.targets import cuda_device_present, nvcc_present

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "gpu_check.py"
SEEDS = "abs_int32,maximum_f32"  # an integer op, and a float max (NaN among the boundary inputs of seed 2)
CUDA = nvcc_present()


def _env(with_tirfuzz: bool) -> dict:
    env = dict(os.environ)
    if not with_tirfuzz:  # the run half needs nothing of tirfuzz installed: it loads its files by path
        env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gpu") / "bundle"
    targets = "llvm,cuda -arch=sm_90" if CUDA else "llvm"
    cmd = [sys.executable, str(SCRIPT), "build", "--bundle", str(out), "--names", SEEDS, "--input-seeds", "1,2",
           "--mutants", "0", "--wheels", "none", "--targets", targets, "--summary", str(out.parent / "build.json")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(True))
    assert p.returncode == 0, p.stderr[-2000:]
    return out


def _run(bundle: Path, out: Path) -> dict:
    p = subprocess.run([sys.executable, str(SCRIPT), "run", "--bundle", str(bundle), "--out", str(out)],
                       capture_output=True, text=True, timeout=300, env=_env(False), cwd=out.parent)
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(out.read_text())


def test_the_bundle_holds_inputs_references_modules_and_runtime(bundle):
    summary = json.loads((bundle.parent / "build.json").read_text())
    assert summary["cases"] == 4 and summary["size_mib"] < summary["max_mib"]
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert (bundle / "lib" / "libtvm_runtime.so").exists()
    maxf = next(e for e in manifest["cases"] if e["id"] == "maximum_f32-i2")
    assert maxf["ops"] == ["max"] and (bundle / "cases" / maxf["id"] / "ref_fmax.npz").exists()
    inputs = np.load(bundle / "cases" / maxf["id"] / "inputs.npz")
    assert any(np.isnan(inputs[k]).any() for k in inputs.files)  # boundary inputs, as the campaign makes them


@pytest.mark.skipif(not CUDA, reason="nvcc is not on PATH: no CUDA build here")
def test_cuda_builds_are_exported_with_their_source_and_a_fatbin(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert {"libtvm_runtime_cuda.so"} <= set(manifest["libs"]) and len(manifest["libs"]) == 3  # + libcudart
    built = [e for e in manifest["cases"] if "cuda" in e["modules"]]
    assert built, [e["errors"] for e in manifest["cases"]]
    for e in built:
        key = e["kernels"]["cuda"]
        source = (bundle / "cuda" / f"{key}.cu").read_bytes()
        assert hashlib.sha256(source).hexdigest() == key
        # the module carries this very source; loading it asks tvm_callback_cuda_compile, which finds the fatbin
        assert source in (bundle / "cases" / e["id"] / "cuda.so").read_bytes()
        assert (bundle / "cuda" / f"{key}.fatbin").read_bytes()[:4] == bytes.fromhex("50ed55ba")  # fatbin magic


def test_the_run_half_loads_and_runs_without_tvm_and_agrees(bundle, tmp_path):
    rep = _run(bundle, tmp_path / "gpu.json")
    s = rep["summary"]
    assert s["tvm_imported"] is False  # neither the run process nor any per-case process imported tvm
    assert s.get("llvm:agree") == 4, s
    if CUDA and not cuda_device_present():
        assert s["cuda"] is False and s["cuda_reason"].startswith("no CUDA device"), s
        assert s.get("cuda:skipped") == 4, s
    if cuda_device_present():
        pytest.skip("a CUDA device is here: the cuda verdicts are checked on the device machine")


def test_a_wrong_output_is_reported_with_where_it_differs(bundle, tmp_path):
    """(abs_int32's boundary inputs overflow: its checked run, built with the bundle, hides any difference.)"""
    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    ref = copy / "cases" / "abs_int32-i1" / "ref.npz"
    arrays = dict(np.load(ref))
    out_key = sorted(arrays)[-1]  # the output buffer
    arrays[out_key] = arrays[out_key].copy()
    k = 5
    arrays[out_key].flat[k] += 1
    np.savez(ref, **arrays)
    rep = _run(copy, tmp_path / "gpu.json")
    bad = [r for r in rep["verdicts"] if r["case"] == "abs_int32-i1" and r["target"] == "llvm"]
    assert bad[0]["verdict"] == "differs" and bad[0]["diff"]["mismatches"] == 1, bad
    assert bad[0]["diff"]["index"] == [int(i) for i in np.unravel_index(k, arrays[out_key].shape)]
    manifest = json.loads((bundle / "manifest.json").read_text())
    absi = next(e for e in manifest["cases"] if e["id"] == "abs_int32-i2")
    assert absi["checked"]["filter"] == "ub:signed-overflow", absi["checked"]


def _load(name: str, path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_the_run_half_filters_nan_policy_for_cuda_by_the_carried_fmax_reference():
    """The run half's verdict with the files it loads by path: a cuda output that is numpy.fmax of the inputs
    where the CPU reference has NaN is `nan-policy`; on llvm, or with a wrong value besides, it differs."""
    gpu = _load("gpu_check_under_test", SCRIPT)
    rt = _load("tirfuzz_runtime_under_test", ROOT / "fuzzer" / "core" / "runtime.py")
    nanpolicy = _load("tirfuzz_nanpolicy_under_test", ROOT / "oracles" / "nanpolicy.py")
    a = np.array([1.0, np.nan, 3.0, -2.0], dtype="float32")
    b = np.array([np.nan, 2.0, 1.0, 5.0], dtype="float32")
    llvm_like = np.where(np.isnan(b), b, np.maximum(a, np.where(np.isnan(a), b, a)))  # NaN where b is NaN
    ref, fref = {"main": [a, b, llvm_like]}, {"main": [a, b, np.fmax(a, b)]}
    entry = {"family": "arith", "ops": ["max"], "checked": {"filter": None}, "profile": "signed"}  # no other filter applies
    cuda = gpu.judge(entry, "cuda", {"main": [a, b, np.fmax(a, b)]}, ref, fref, rt, nanpolicy)
    assert cuda["verdict"] == "filtered" and cuda["filtered"] == "nan-policy", cuda
    assert cuda["reason"].startswith("max: CUDA returns the non-NaN operand where LLVM propagates NaN")
    wrong = np.fmax(a, b)
    wrong[3] = -5.0
    assert gpu.judge(entry, "cuda", {"main": [a, b, wrong]}, ref, fref, rt, nanpolicy)["verdict"] == "differs"
    on_cpu = gpu.judge(entry, "llvm", {"main": [a, b, np.fmax(a, b)]}, ref, fref, rt, nanpolicy)
    assert on_cpu["verdict"] == "differs", on_cpu  # a CPU build is never judged by the GPU's NaN policy
