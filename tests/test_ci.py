"""`tirfuzz ci` end to end: baselines, exit codes, JUnit XML, the step summary, the replay of known bugs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
import xml.etree.ElementTree as ET

PICKY = '''
import tvm


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def picky(func, mod, ctx):
    """A user's pass with two bugs: it refuses float32 and int32 buffers, with different errors."""
    dtypes = {str(p.dtype) for p in func.params if type(p.ty).__name__ == "BufferType"}
    if "float32" in dtypes:
        raise ValueError("picky cannot handle float32 buffers")
    if "int32" in dtypes:
        raise RuntimeError("picky cannot handle int32 buffers")
    return func
'''


def ci(tmp_path, name: str, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    plugin = tmp_path / "picky.py"
    plugin.write_text(PICKY)
    # --fresh 0: every case holds a float32 or int32 buffer, so the bugs are the plugin's two (a generated
    # program with other dtypes passes it and may find TVM's own, a different count every night)
    cmd = [sys.executable, "-m", "tirfuzz.cli", "ci", "--time", "15s", "--out", str(tmp_path / name),
           "--seeds", "relu_f32,add_int32", "--targets", "llvm", "--pass-plugin", str(plugin), "--fresh", "0", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})


def _check_junit(path) -> ET.Element:
    """The attributes the Jenkins JUnit schema (xunit-plugin junit-10.xsd) requires, and its structure."""
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    for attr in ("name", "tests", "failures", "errors"):
        assert attr in suite.attrib
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases)
    assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
    for c in cases:
        assert c.get("name") and set(ch.tag for ch in c) <= {"failure", "system-out", "skipped", "error", "system-err"}
    return suite


def test_ci_known_bugs_exit_codes_junit_and_summary(tmp_path):
    """--known-bugs/--update-known-bugs here; the later nights use the old names, --baseline, kept as aliases."""
    base = tmp_path / "known.json"
    first = ci(tmp_path, "n1", "--known-bugs", str(base), "--update-known-bugs", "--junit", str(tmp_path / "1.xml"))
    assert first.returncode == 1, first.stderr  # no known bugs yet: everything is new
    verdict = json.loads(first.stdout.strip().splitlines()[-1])
    assert len(verdict["new"]) == 2, verdict
    doc = json.loads(base.read_text())
    assert doc["format"] == "tirfuzz-baseline/1" and set(doc["bugs"]) == set(verdict["new"])
    suite = _check_junit(tmp_path / "1.xml")
    assert suite.get("failures") == "2"

    kept, dropped = sorted(verdict["new"])
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"format": doc["format"], "bugs": {kept: doc["bugs"][kept]}}))
    summary = tmp_path / "step.md"
    with ThreadPoolExecutor(2) as pool:  # two independent nights at once (two cores)
        night2 = pool.submit(ci, tmp_path, "n2", "--baseline", str(base), "--junit", str(tmp_path / "2.xml"))
        night3 = pool.submit(ci, tmp_path, "n3", "--baseline", str(partial), env={"GITHUB_STEP_SUMMARY": str(summary)})
        full, one = night2.result(), night3.result()
    assert full.returncode == 0, full.stdout + full.stderr
    v2 = json.loads(full.stdout.strip().splitlines()[-1])
    assert v2["new"] == [] and set(v2["known"]) == set(verdict["new"]) and v2["fixed"] == []
    assert _check_junit(tmp_path / "2.xml").get("failures") == "0"

    assert one.returncode == 1
    v3 = json.loads(one.stdout.strip().splitlines()[-1])
    assert v3["new"] == [dropped]
    assert dropped in summary.read_text() and kept not in summary.read_text().split("| new bug")[-1]


def test_ci_bad_baseline_is_a_usage_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    p = ci(tmp_path, "x", "--baseline", str(bad))
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1 and "bad.json" in p.stderr


def test_two_jobs_share_one_corpus_and_one_bug_set(tmp_path):
    """--jobs 2: one folder per bug (counts add up), every kept entry on disk."""
    plugin = tmp_path / "picky.py"
    plugin.write_text(PICKY)
    out = tmp_path / "j"
    p = subprocess.run([sys.executable, "-m", "tirfuzz.cli", "fuzz", "--json", "--out", str(out), "--execs", "40",
                        "--seeds", "relu_f32,add_int32,flat_argmax_axis1", "--targets", "llvm", "--jobs", "2",
                        "--pass-plugin", str(plugin)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    stats = json.loads(p.stdout.strip().splitlines()[-1])
    assert stats["execs"] >= 40
    bugs = [json.loads((d / "info.json").read_text()) for d in (out / "bugs").iterdir()]
    assert len({b["signature"] for b in bugs}) == len(bugs) == sum(stats["bugs"].values())
    assert len([b for b in bugs if "plugin:" in str(b.get("stage"))]) == 2  # the plugin's two, once each
    assert len(list((out / "corpus").glob("*.json"))) == stats["corpus_size"]
