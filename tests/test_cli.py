"""The command line: exit codes, one-line errors, JSON output (real TVM, real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import FLAT_IR

from tirfuzz.fuzzer.core.case import PassSpec, TestCase, save_case


def tirfuzz(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tirfuzz.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def _write(tmp_path, case: TestCase, name: str = "case.json"):
    path = tmp_path / name
    save_case(case, path)
    return str(path)


def test_run_ok_case_as_json(tmp_path):
    p = tirfuzz("run", _write(tmp_path, TestCase(FLAT_IR, targets=["llvm", "c"])), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["outcome"] == "ok" and out["stage"] == "done" and out["message"] == ""
    assert out["outputs"]["c"]["main"] == ["int32[16]", "int32[16]"]


def test_run_crash_exits_1_with_signal(tmp_path, block_ir):
    case = TestCase(block_ir, [PassSpec("tirx.transform.NarrowDataType", (32,))])
    p = tirfuzz("run", _write(tmp_path, case), "--json")
    assert p.returncode == 1
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["outcome"] == "crash" and out["signal"] == "SIGSEGV"


@pytest.mark.parametrize("content, words", [
    ('{"format": "tirfuzz-case/1", "ir": ', "malformed JSON"),
    ('{"format": "nope", "ir": "x"}', "unsupported format"),
    (json.dumps({"format": "tirfuzz-case/1", "ir": FLAT_IR, "passes": ["tirx.transform.Bogus"]}), "unknown pass"),
    (json.dumps({"format": "tirfuzz-case/1", "ir": FLAT_IR, "targets": ["tpu"]}), "unknown target"),
    (json.dumps({"format": "tirfuzz-case/1", "ir": "def main(:"}), "does not parse"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_text(content)
    p = tirfuzz("run", str(path))
    assert p.returncode == 2
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and words in lines[0], p.stderr


def test_missing_case_file_and_bad_plugin_exit_2(tmp_path):
    p = tirfuzz("run", str(tmp_path / "nowhere.json"))
    assert p.returncode == 2 and "no such file" in p.stderr
    plugin = tmp_path / "broken_plugin.py"
    plugin.write_text("raise ImportError('boom')\n")
    p = tirfuzz("run", _write(tmp_path, TestCase(FLAT_IR)), "--pass-plugin", str(plugin))
    assert p.returncode == 2 and "import failed" in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_plugin_pass_runs_by_name(tmp_path):
    plugin = tmp_path / "mypasses.py"
    plugin.write_text("import tvm\nsimplify_twice = tvm.ir.transform.Sequential("
                      "[tvm.tirx.transform.StmtSimplify(), tvm.tirx.transform.StmtSimplify()])\n")
    case = TestCase(FLAT_IR, [PassSpec("plugin:mypasses.simplify_twice")])
    p = tirfuzz("run", _write(tmp_path, case), "--pass-plugin", str(plugin), "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout.strip().splitlines()[-1])["outcome"] == "ok"


def test_version_reports_tvm_and_cuda():
    p = tirfuzz("version", "--json")
    assert p.returncode == 0
    out = json.loads(p.stdout)
    assert out["tvm"] == "0.27.0.post1" and out["tvm_ffi"] == "0.1.14.post1"
    assert out["build_flags"]["USE_LLVM"] == "ON" and isinstance(out["cuda_device"], bool)


def test_fuzz_bad_options_exit_2(tmp_path):
    runs = [(['--out', str(tmp_path / 'x0'), '--time', 'soon'], '--time'),
            (['--out', str(tmp_path / 'x1'), '--targets', 'tpu'], 'unknown target'),
            (['--out', str(tmp_path / 'x2'), '--seeds', 'nope'], 'no built-in seed'), (['--resume'], '--out'),
            (['--out', str(tmp_path / 'x3'), '--focus', 'NoSuchPass'], 'no such pass'),
            (['--out', str(tmp_path / 'x4'), '--focus', 'ConvertSSA'], 'ambiguous'),
            (['--out', '/proc/forbidden/out', '--execs', '1'], 'cannot write')]
    with ThreadPoolExecutor(2) as pool:  # each a process of its own: two at once
        done = list(pool.map(lambda run: tirfuzz('fuzz', *run[0]), runs))
    for (args, words), p in zip(runs, done):
        assert p.returncode == 2 and words in p.stderr, (args, p.stderr)
        if 'cannot write' not in words:
            assert len(p.stderr.strip().splitlines()) == 1, p.stderr


HANDLE = '''@T.prim_func
def main(a: T.handle, B: T.Buffer((4,), "int32")):
    for i in range(4):
        B[i] = 1
'''


def test_a_bare_handle_parameter_gets_a_buffer(tmp_path):
    """A bare T.handle parameter is passed a zeroed buffer and the case runs (before: making its input
    raised in tirfuzz's code and came out as a TVM `internal-error` at run:llvm, exit 1). A failure in
    tirfuzz's own code is `tool-error` (tests/test_oracles.py, tests/test_campaign_parts.py)."""
    case = tmp_path / "handle.json"
    save_case(TestCase(HANDLE, targets=["llvm"]), case)
    p = subprocess.run([sys.executable, "-m", "tirfuzz.cli", "run", str(case), "--json"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert (out["outcome"], out["verdict"], out["oracle"]["compared"]) == ("ok", "ok", ["llvm"])
    assert out["outputs"]["llvm"]["main"] == ["int32[4]"]
