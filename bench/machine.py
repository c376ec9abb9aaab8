"""What a benchmark ran on: cores, CPU model, versions (shared by every bench script)."""

from __future__ import annotations

import json
import os
import platform
import statistics
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import tvm
    import tvm_ffi

    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "tvm": tvm.__version__, "tvm_ffi": tvm_ffi.__version__,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def env_with_package(pkg: str | None) -> dict[str, str]:
    """This process's environment with `pkg` (a folder holding a `tirfuzz` package) first on PYTHONPATH."""
    env = dict(os.environ)
    if pkg:
        env["PYTHONPATH"] = pkg + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def alternating(rounds: int) -> list[tuple[str, str]]:
    """Old, new; new, old; ...: the order of side-by-side runs, so drift in the machine falls on both."""
    return [("old", "new") if r % 2 == 0 else ("new", "old") for r in range(rounds)]


def write_result(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=1) + "\n")
    return path


def run_forked(child) -> tuple[bytes, int, "os.struct_rusage"]:
    """Run child() in a forked process; (the bytes it returned, its wait status, its resource usage).

    A child that dies returns b"" (the status says how)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.write(w, child())
        finally:
            os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    _, status, usage = os.wait4(pid, 0)
    return data, status, usage
