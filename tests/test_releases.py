"""Release range (reports/releases.py, reports/compat.py) without installing a release: the rewriting of a
reproducer for an older release, the range summary, the cached-environment lookup, the CLI's errors, and
one end-to-end replay on the installed release (the running interpreter; real TVM)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tirfuzz.fuzzer.core.case import PassSpec, TestCase, save_case
from tirfuzz.reports import compat
from tirfuzz.reports.compat import PARSED_MARK, adapt, explain_cannot, version_key
from tirfuzz.reports.releases import (CANNOT, DIFFERENT, NOT_REPRODUCED, RELEASES, REPRODUCES, ReleaseError,
                                      cache_root, check_versions, find_env, installed_version, replay_releases,
                                      summarise)
from tirfuzz.reports.repro import harness_text, judge_run, runtime_source, verify_repro, write_repro

# StmtSimplify folds a negative constant into a uint8 (a real bug of 0.25.0 to 0.27.0.post1).
UINT_CAST = '''# from tvm.script import ir as I
# from tvm.script import tirx as T

@I.ir_module
class Module:
    @T.prim_func(s_tir=True)
    def main():
        T.func_attr({"tirx.noalias": True})
        A = T.alloc_buffer((8,), "uint8")
        A[0] = T.Cast("uint8", T.BitwiseOr(-1, 0))
'''
UINT_CASE = TestCase(UINT_CAST.replace("T.BitwiseOr(-1, 0)", "-1"), passes=[PassSpec("s_tir.transform.StmtSimplify")])
UINT_INFO = {"signature": "internal-error-0123456789ab", "kind": "internal-error", "count": 1,
             "stage": "pass:s_tir.transform.StmtSimplify", "target": "llvm", "exc_type": "InternalError",
             "message": "Check failed: (value >= 0) is false: cannot make uint from negative value -1"}


def test_versions_order_and_unknown_ones():
    assert sorted(["0.27.0.post1", "0.25.0.post1", "0.26.0", "0.25.0", "0.27.0"], key=version_key) == list(RELEASES)
    assert check_versions(["0.27.0", "0.25.0", "0.27.0"]) == ["0.25.0", "0.27.0"]
    with pytest.raises(ReleaseError, match="unknown apache-tvm release '0.24.0'"):
        check_versions(["0.24.0"])


def test_a_short_script_is_rewritten_for_older_releases(tmp_path):
    text = write_repro(UINT_CASE, UINT_INFO, tmp_path / "repro.py", "[Bug] uint", {}).read_text()
    assert "tvm.s_tir.transform.StmtSimplify()(mod)" in text and "EXPECT" not in text  # the short form
    old = adapt(text, "0.26.0")
    assert "tvm.tirx.transform.StmtSimplify()(mod)" in old.text and not old.cannot
    assert old.changes == ["s_tir.transform.StmtSimplify/ConvertSSA -> tirx.transform (one pass for both IR forms)"]
    lines = old.text.splitlines()
    parsed = lines.index(f'print("{PARSED_MARK}", flush=True)')
    assert lines[parsed - 1] == "mod = tvm.script.from_source(IR)"
    same = adapt(text, "0.27.0")
    assert same.changes == [] and same.text.replace(f'print("{PARSED_MARK}", flush=True)\n', "") == text


def test_the_harness_is_rewritten_for_0_25_and_every_rewrite_still_applies():
    """The rewrites of the harness's runtime are exact snippets of fuzzer/core/runtime.py: a change there
    must show here, not as a silent no-op on an old release."""
    for snippet in (compat.SPECS_NOW, compat.WALK_NOW, "tvm.sym.Analyzer()"):
        assert snippet in runtime_source()
    case = TestCase(UINT_CAST, passes=[PassSpec("tirx.transform.StmtSimplify")], pass_config={"tirx.s_tir.ldg32": True})
    text = harness_text(case, {"kind": "miscompilation", "target": "llvm"}, "t", {})
    a = adapt(text, "0.25.0")
    assert compat.SPECS_0_25 in a.text and compat.WALK_0_25 in a.text and "tvm.arith.Analyzer()" in a.text
    assert "tvm.sym." not in a.text and "tirx.ptx.ldg32" in a.text and "T.bitwise_or(" in a.text
    assert "'tirx.transform.StmtSimplify'" in a.text and "'s_tir.transform.StmtSimplify'" not in a.text
    assert a.other_ir == ["T.BitwiseOr -> T.bitwise_or"] and "which 0.25.0 lacks" in a.unsure()
    assert f'    mod = parse(IR)\n    print("{PARSED_MARK}", flush=True)' in a.text
    assert adapt(text, "0.27.0").changes == []


def test_what_no_rewrite_helps_is_said():
    symbolic = 'IR = """\n    def main(A: T.Buffer(("n", 8), "int32")):\n"""\nmod = tvm.script.from_source(IR)\n'
    assert "which the parser of 0.25.0 refuses" in adapt(symbolic, "0.25.0").cannot
    assert adapt(symbolic, "0.26.0").cannot is None
    assert "cannot find where" in adapt("import tvm\n", "0.27.0").cannot


@pytest.mark.parametrize("out, why", [
    ("error: module 'tvm.tirx.script.parser' has no attribute 'sblock'\nDiagnosticError", "the TVMScript uses T.sblock, which 0.25.0 lacks"),
    ("OSError: libtvm_runtime.so: undefined symbol", "it stops before its IR parsed: OSError: libtvm_runtime.so: undefined symbol"),
    (f"{PARSED_MARK}\nAttributeError: module 'tvm.s_tir.transform' has no attribute 'StmtSimplify'",
     "0.25.0 has no tvm.s_tir.transform.StmtSimplify"),
    (f"{PARSED_MARK}\nNOT REPRODUCED: a different error: AttributeError: 'Var' object has no attribute 'ty'",
     "an API 0.25.0 lacks: AttributeError: 'Var' object has no attribute 'ty'"),
    (f"{PARSED_MARK}\ntvm.error.InternalError: Check failed: x", None),
])
def test_cannot_run_is_told_from_does_not_reproduce(out, why):
    assert explain_cannot(out, "0.25.0") == why


@pytest.mark.parametrize("outcomes, text, since", [
    ({"0.25.0": NOT_REPRODUCED, "0.25.0.post1": NOT_REPRODUCED, "0.26.0": REPRODUCES, "0.27.0": REPRODUCES,
      "0.27.0.post1": REPRODUCES}, "reproduces on 0.26.0 to 0.27.0.post1, not on 0.25.0 and 0.25.0.post1", "0.26.0"),
    ({"0.25.0": CANNOT, "0.25.0.post1": NOT_REPRODUCED, "0.26.0": REPRODUCES, "0.27.0.post1": REPRODUCES},
     "reproduces on 0.26.0 and 0.27.0.post1, not on 0.25.0.post1, cannot run on 0.25.0", "0.26.0"),
    ({"0.25.0": DIFFERENT, "0.26.0": REPRODUCES, "0.27.0": REPRODUCES},  # failing another way is no regression
     "reproduces on 0.26.0 and 0.27.0, fails differently on 0.25.0", None),
    ({"0.25.0": REPRODUCES, "0.26.0": NOT_REPRODUCED, "0.27.0": REPRODUCES, "0.27.0.post1": REPRODUCES},
     "reproduces on 0.25.0, 0.27.0 and 0.27.0.post1, not on 0.26.0", "0.27.0"),
    ({"0.25.0": REPRODUCES, "0.26.0": REPRODUCES}, "reproduces on 0.25.0 and 0.26.0", None),
    ({"0.26.0": NOT_REPRODUCED, "0.27.0": CANNOT}, "reproduces on none; not on 0.26.0, cannot run on 0.27.0", None),
])
def test_range_summary(outcomes, text, since):
    s = summarise(outcomes)
    assert (s.text, s.regression_since) == (text, since)


def test_cached_environments_are_found_only_when_ready(tmp_path, monkeypatch):
    monkeypatch.setenv("TIRFUZZ_RELEASES", str(tmp_path))
    assert cache_root() == tmp_path
    env = tmp_path / "0.26.0"
    (env / "venv" / "bin").mkdir(parents=True)
    assert find_env("0.26.0") is None                          # half made: no ready.json
    (env / "venv" / "bin" / "python").symlink_to(sys.executable)
    (env / "ready.json").write_text(json.dumps({"version": "0.26.0", "seconds": 31.5}))
    found = find_env("0.26.0")
    assert found.python == str(env / "venv" / "bin" / "python") and found.made_s == 31.5 and found.cached
    (env / "ready.json").write_text("{")                       # damaged: made again, not trusted
    assert find_env("0.26.0") is None
    mine = find_env(installed_version())                       # the installed release: this interpreter
    assert mine.installed and mine.python == sys.executable


def test_the_installed_release_replays_end_to_end(tmp_path):
    """A campaign with one verified short reproducer, replayed on the running interpreter's release: the
    outcome lands in info.json, report.md and summary.md; `tirfuzz report --issue` prints the report."""
    out = tmp_path / "camp"
    bug = out / "bugs" / UINT_INFO["signature"]
    bug.mkdir(parents=True)
    (out / "campaign.json").write_text(json.dumps({"config": {}, "versions": {}}))
    save_case(UINT_CASE, bug / "case.json")
    write_repro(UINT_CASE, UINT_INFO, bug / "repro.py", "[Bug] uint", {})
    assert verify_repro(bug / "repro.py", UINT_INFO).reproduced
    (bug / "info.json").write_text(json.dumps({**UINT_INFO, "verified": True, "repro_form": "pass"}))
    mine = installed_version()
    rep = replay_releases(out, [mine], root=tmp_path / "envs")
    assert rep.bugs == {bug.name: {mine: REPRODUCES}} and rep.envs[mine]["installed"] and not (tmp_path / "envs").exists()
    info = json.loads((bug / "info.json").read_text())
    assert info["release_range"] == f"reproduces on {mine}" and info["releases"][mine]["outcome"] == REPRODUCES
    report = (bug / "report.md").read_text()
    assert report.startswith("# [Bug] [TIR] StmtSimplify: InternalError: Check failed") and f"- Releases: reproduces on {mine}" in report
    for section in ("### Expected behavior", "### Actual behavior", "### Environment", "### Steps to reproduce",
                    "### Triage", "* type: bug", "* tir:transform"):
        assert section in report
    assert f"reproduces on {mine}" in (out / "reports" / "summary.md").read_text()
    cli = [sys.executable, "-m", "tirfuzz.cli"]
    p = subprocess.run(cli + ["report", str(out), "--issue", "internal-error-0123"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout == report
    for args, words in ((["report", str(out), "--issue", "crash-"], "no bug 'crash-'"),
                        (["report", str(tmp_path / "nowhere"), "--issue", "x"], "not a campaign directory"),
                        (["releases", str(out), "--versions", "0.1.0"], "unknown apache-tvm release")):
        p = subprocess.run(cli + args, capture_output=True, text=True)
        assert p.returncode == 2 and words in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr


def test_a_short_script_is_judged_by_its_error_not_by_its_own_lines():
    """A traceback echoes the failing line, whose comment names the symptom: that must not count. Other
    releases word the same failure a little differently (node type keys, the check's message)."""
    line = "    mod = tvm.s_tir.transform.StmtSimplify()(mod)  # raises InternalError: Check failed: (value >= 0) is false"
    script = f"import tvm\n{line}\n"
    echoed = f'Traceback (most recent call last):\n  File "repro.py", line 2\n{line}\ntvm.error.InternalError: other\n'
    assert judge_run(script, UINT_INFO, 1, echoed, 60) == (False, "tvm.error.InternalError: other")
    older = "tvm.error.InternalError: cannot make uint from negative value -1"   # 0.25's wording
    assert judge_run(script, UINT_INFO, 1, older, 60)[0]
    assert not judge_run(script, {**UINT_INFO, "exc_type": "TypeError"}, 1, older, 60)[0]  # another type
    renamed = {"kind": "internal-error", "exc_type": "TypeError", "message": "Cannot treat type `prim.Max` as type `ir.IntImm`"}
    assert judge_run(script, renamed, 1, "TypeError: Cannot treat type `tirx.Max` as type `ir.IntImm`", 60)[0]
    assert judge_run(script, {"kind": "crash", "signal": "SIGSEGV"}, -11, "", 60) == (True, "killed by SIGSEGV")
    assert judge_run(script, {"kind": "hang"}, None, "", 60) == (True, "no exit within 60 s")
    assert judge_run(script, UINT_INFO, 0, "", 60) == (False, "ran to the end without an error")
