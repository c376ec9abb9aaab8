"""`fuzz --ray` on a real Ray cluster started on loopback: workers as actors, one killed mid-campaign."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_ci import PICKY

ray = pytest.importorskip("ray", reason="Ray is the optional extra tirfuzz[ray] (part of the test extra)")

RAY = str(Path(sys.executable).with_name("ray"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Ray (2.59+) authenticates with a token; the cluster and its clients must agree on it. A token of the
# test's own, in the environment of every Ray process it starts, whatever ~/.ray holds.
RAY_ENV = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


@pytest.fixture(scope="module")
def cluster():
    """A one-node Ray cluster on 127.0.0.1 with 2 CPUs, started by `ray start` as a user would."""
    port = _free_port()
    start = [RAY, "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
             "--include-dashboard=false", "--disable-usage-stats", "--object-store-memory=100000000"]
    p = subprocess.run(start, capture_output=True, text=True, timeout=180, env=RAY_ENV)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120, env=RAY_ENV)


def _fuzz(out: Path, plugin: Path, address: str, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "tirfuzz.cli", "fuzz", "--json", "--out", str(out), "--seeds", "relu_f32,add_int32,flat_argmax_axis1",
           "--targets", "llvm", "--pass-plugin", str(plugin), "--ray", address, "--jobs", "2", *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=RAY_ENV)


def _read(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def test_killing_a_ray_worker_loses_nothing(cluster, tmp_path):
    """Kill one actor's process mid-campaign: the campaign replaces it and goes on; every corpus entry
    and bug found before the kill is still there, and both bugs of the plugin are found once each."""
    plugin = tmp_path / "picky.py"
    plugin.write_text(PICKY)
    out = tmp_path / "r"
    proc = _fuzz(out, plugin, cluster, "--time", "45s")  # the first state.json (10 s in) comes ~30 s after the start
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline and proc.poll() is None:
        state, workers = _read(out / "state.json"), _read(out / "workers.json")
        if workers and len(workers) == 2 and state and state["execs"] >= 8:
            break
        time.sleep(0.5)
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    before_corpus = {p.name for p in (out / "corpus").glob("*.json")}
    before_bugs = {p.name for p in (out / "bugs").iterdir()} if (out / "bugs").exists() else set()
    execs_at_kill = _read(out / "state.json")["execs"]
    os.kill(workers[0]["pid"], signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=600)
    assert proc.returncode == 0, stderr[-3000:]
    stats = json.loads(stdout.strip().splitlines()[-1])
    after = _read(out / "workers.json")
    assert len(after) == 3 and after[0].get("lost") and not after[2].get("lost"), after
    assert after[2]["pid"] != after[0]["pid"]
    assert "ray worker 0 lost" in stderr and "ray worker 2 replaces it" in stderr
    assert stats["lost_runs"] == 1, stats
    assert stats["execs"] >= execs_at_kill + 10, (execs_at_kill, stats)  # it went on, on both workers
    assert before_corpus <= {p.name for p in (out / "corpus").glob("*.json")}
    bugs = {p.name: _read(p / "info.json") for p in (out / "bugs").iterdir()}
    assert before_bugs <= set(bugs)
    assert len(bugs) == sum(stats["bugs"].values())  # one folder per bug, nothing counted twice
    assert len([b for b in bugs.values() if "plugin:" in str(b.get("stage"))]) == 2  # the plugin's two, once each
    assert len(list((out / "corpus").glob("*.json"))) == stats["corpus_size"]


def test_bad_ray_address_is_one_line_and_exit_2(tmp_path):
    p = subprocess.run([sys.executable, "-m", "tirfuzz.cli", "fuzz", "--out", str(tmp_path / "x"), "--execs", "1",
                        "--ray", f"127.0.0.1:{_free_port()}"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, p.stderr[-2000:]
    assert len(p.stderr.strip().splitlines()) == 1 and "--ray" in p.stderr
    assert not (tmp_path / "x").exists()  # refused before the campaign directory was made
