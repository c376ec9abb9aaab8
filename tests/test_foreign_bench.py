"""The foreign-corpus bench: extraction from a test file, and the case-by-case runner (real TVM, real CLI)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

TEST_FILE = '''
import tvm
from tvm.script import tirx as T, ir as I, relax as R

@T.prim_func
def top(A: T.Buffer((4,), "float32")):
    for i in range(4):
        A[i] = A[i] + T.float32(1)

class TestPair:
    @T.prim_func
    def before(A: T.Buffer((8,), "int32")):
        for i in range(8):
            A[i] = i

    expected = before

@I.ir_module
class WithRelax:
    @R.function
    def main(x: R.Tensor((2,), "float32")) -> R.Tensor((2,), "float32"):
        return x

def test_nested():
    @T.prim_func
    def inner(B: T.Buffer((2, 2), "float16")):
        for i, j in T.grid(2, 2):
            B[i, j] = T.float16(0)

def test_needs_local():
    n = 3
    @T.prim_func
    def uses_local(B: T.Buffer((n,), "float32")):
        B[0] = T.float32(0)
'''


def load(name: str):
    """A bench script as a module (bench/ is not part of the package)."""
    spec = importlib.util.spec_from_file_location(f"foreign_{name}", ROOT / "bench" / "foreign" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_extract_finds_module_class_and_nested_programs_and_leaves_out_the_rest(tmp_path):
    extract = load("extract")
    src = tmp_path / "tests" / "python" / "x" / "test_sample.py"
    src.parent.mkdir(parents=True)
    src.write_text(TEST_FILE)
    out = tmp_path / "found.jsonl"
    saved = list(sys.path)
    try:
        extract.child(src, tmp_path, out)
    finally:
        sys.path[:] = saved
    found = [extract.Program(**json.loads(line)) for line in out.read_text().splitlines()]
    names = sorted((p.name, p.how) for p in found)
    # `expected` is the same object as `before` (kept once); the Relax module and the local-using one are out
    assert names == [("TestPair.before", "import"), ("test_nested.inner", "nested"), ("top", "import")]
    import tvm.script

    for p in found:
        assert isinstance(tvm.script.from_source(p.ir, check_well_formed=False), tvm.tirx.PrimFunc)


def test_pick_dedupes_by_hash_and_goes_round_robin_over_files():
    extract = load("extract")
    prog = lambda src, name, h: extract.Program(src, name, "import", "PrimFunc", h, "")  # noqa: E731
    per_file = {"a.py": [prog("a.py", "a1", "1"), prog("a.py", "a2", "2"), prog("a.py", "a3", "3")],
                "b.py": [prog("b.py", "b1", "1"), prog("b.py", "b2", "4")]}
    assert [p.name for p in extract.pick(per_file, 3)] == ["a1", "b2", "a2"]
    assert [p.name for p in extract.pick(per_file, 10)] == ["a1", "b2", "a2", "a3"]


def test_run_case_reads_the_cli_json_and_the_summary_keeps_hand_written_text(tmp_path):
    run = load("run")
    case = {"format": "tirfuzz-case/1", "passes": [], "pass_config": {}, "targets": ["llvm"], "input_seed": 0,
            "ir": ('@T.prim_func\ndef main(A: T.Buffer((4,), "float32"), n: T.int32):\n'
                   '    for i in range(4):\n        A[i] = A[i] * T.float32(2)\n'),
            "foreign": {"source": "tests/python/x/test_sample.py", "name": "main"}}
    (tmp_path / "c.json").write_text(json.dumps(case))
    row = run.run_case(tmp_path / "c.json", str(ROOT.parent), 30.0, sys.executable)
    assert (row["outcome"], row["verdict"], row["stage"], row["rc"]) == ("ok", "ok", "done", 0), row
    bad = dict(case, ir="def not_tvmscript(:\n")
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    row = run.run_case(tmp_path / "bad.json", str(ROOT.parent), 30.0, sys.executable)
    assert row["outcome"] == "no-result" and row["rc"] == 2 and "does not parse" in row["message"], row
    md = tmp_path / "r.md"
    md.write_text("# Title\n\nhand-written\n")
    run.write_summary(md, "first")
    run.write_summary(md, "second")
    text = md.read_text()
    assert text.startswith("# Title\n\nhand-written\n") and "second" in text and "first" not in text


@pytest.mark.parametrize("outcome,verdict", [("crash", "bug"), ("rejected", "filtered"), ("ok", "ok")])
def test_an_old_checkout_without_verdicts_gets_one_derived(outcome, verdict):
    assert load("run").derived_verdict(outcome) == verdict


def test_classify_needs_tvms_own_build_to_fail_before_calling_an_input_invalid():
    classify = load("classify").classify
    kernel = "for i in T.thread_binding(4, thread=\"threadIdx.x\"):"
    row = {"case": "k.json", "message": "not implemented", "standard": "error", "stage": "build:llvm"}
    assert classify(row, kernel)[:2] == ("invalid input", "gpu-kernel-on-cpu")
    assert classify(dict(row, standard="ok"), kernel)[:2] == ("tool defect", "completion-differs")
    assert classify(dict(row, standard="ok", stage="run:llvm"), kernel)[0] == "unclassified"
    assert classify({"case": "s.json", "message": "dtype is only available on a Var with BufferType"}, "")[0] == "tool defect"
