"""Triage with real TVM: signatures, the minimizer, verified reproducers, `tirfuzz triage` and `replay`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_executor import FP16_ERF_IR
from test_oracles import FLOAT_SUB, SWAP_PLUGIN

from tirfuzz.corpus import load_seed
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.core.case import PassSpec, TestCase, save_case
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.fuzzer.tir.reduce import REDUCE_JOB
from tirfuzz.reports.minimize import Minimizer, signature_of
from tirfuzz.reports.repro import verify_repro, write_repro

# FLOAT_SUB with more to cut: an unrelated loop and passes that do not matter.
BIG_SUB = FLOAT_SUB.replace("        C[i] = A[i] * T.float32(2) - B[i]\n",
                            "        C[i] = A[i] * T.float32(2) - B[i]\n"
                            "    for j in range(16):\n        A[j] = A[j] * B[j] + T.float32(3)\n")
PASSES = [PassSpec("tirx.transform.StmtSimplify"), PassSpec("plugin:userpasses.swap_sub"),
          PassSpec("tirx.transform.RemoveNoOp"), PassSpec("tirx.transform.UnrollLoop")]


@pytest.fixture(scope="module")
def plugin(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("plugin") / "userpasses.py"
    path.write_text(SWAP_PLUGIN)
    return path


@pytest.fixture(scope="module")
def swap(plugin):
    with Executor(ExecutorConfig(timeout_s=60, plugins=(str(plugin),), jobs=(REDUCE_JOB,))) as ex:
        yield ex


def test_same_bug_same_signature_different_bugs_differ(executor, block_ir):
    narrow = [PassSpec("tirx.transform.NarrowDataType", (32,))]
    a = signature_of(executor.run(TestCase(block_ir, narrow)))
    other_block = seed_case(load_seed("relu_f32"), ["llvm"]).ir
    b = signature_of(executor.run(TestCase(other_block, narrow)))
    c = signature_of(executor.run(TestCase(FP16_ERF_IR)))
    d = signature_of(executor.run(TestCase(FP16_ERF_IR.replace("(16,)", "(32,)").replace("16)", "32)"))))
    assert a.startswith("crash-") and a == b
    assert c.startswith("internal-error-") and c == d
    assert a != c


def test_minimizer_shrinks_passes_and_ir_and_the_reproducer_verifies(swap, plugin, tmp_path):
    case = TestCase(BIG_SUB, passes=PASSES, targets=["llvm"])  # llvm alone: no host compiler per attempt
    m = Minimizer(swap, budget_s=120).minimize(case)
    assert m.reproduced and m.signature.startswith("miscompilation-")
    assert [p.name for p in m.case.passes] == ["plugin:userpasses.swap_sub"]
    assert 0 < m.nodes_after <= 0.5 * m.nodes_before and m.seconds < 110, m.record()  # it finished, under budget
    assert signature_of(swap.run(m.case, oracle=True)) == m.signature
    info = {"kind": "miscompilation", "target": "llvm", "signature": m.signature}
    repro = write_repro(m.case, info, tmp_path / "repro.py", "swap", {"userpasses": str(plugin)})
    text = repro.read_text()
    assert "import tirfuzz" not in text and "from tirfuzz" not in text
    v = verify_repro(repro, info)
    assert v.reproduced, v.how
    fixed = write_repro(TestCase(FLOAT_SUB, passes=[PassSpec("tirx.transform.StmtSimplify")]), info,
                        tmp_path / "fixed.py", "no bug", {})
    assert not verify_repro(fixed, info).reproduced  # a reproducer can fail


def test_internal_error_reproducer_verifies(executor, tmp_path):
    res = executor.run(TestCase(FP16_ERF_IR))
    info = {"kind": res.outcome, "message": res.message, "frame": res.frame, "target": "llvm",
            "exc_type": res.exc_type, "stage": res.stage}
    v = verify_repro(write_repro(TestCase(FP16_ERF_IR), info, tmp_path / "repro.py", "erf", {}), info)
    assert v.reproduced, v.how


def test_triage_and_replay_cli(plugin, tmp_path):
    out = tmp_path / "camp"
    (out / "bugs" / "miscompilation-000000000000").mkdir(parents=True)  # an old signature: triage renames it
    (out / "campaign.json").write_text(json.dumps({"config": {"plugins": [str(plugin)], "timeout_s": 20},
                                                   "versions": {}, "started": "2026-11-27T00:00:00Z"}))
    (out / "stats.jsonl").write_text(json.dumps({"elapsed_s": 10, "execs": 5, "cov_blocks": 100}) + "\n")
    bug = out / "bugs" / "miscompilation-000000000000"
    save_case(TestCase(BIG_SUB, passes=PASSES, targets=["llvm", "c"]), bug / "case.json")
    (bug / "info.json").write_text(json.dumps({"signature": bug.name, "kind": "miscompilation", "count": 2,
                                               "target": "c", "stage": "oracle:c", "message": ""}))
    erf = out / "bugs" / "internal-error-000000000000"  # a second bug: --jobs 2 works on both at once
    erf.mkdir()
    save_case(TestCase(FP16_ERF_IR), erf / "case.json")
    (erf / "info.json").write_text(json.dumps({"signature": erf.name, "kind": "internal-error", "count": 1,
                                               "target": "llvm", "stage": "", "message": ""}))
    cli = [sys.executable, "-m", "tirfuzz.cli"]
    p = subprocess.run(cli + ["triage", str(out), "--budget", "60", "--jobs", "2"], capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout.strip().splitlines()[-1])
    assert summary["bugs_after"] == 2 and summary["verified"] == 2, summary
    (new,) = [d for d in (out / "bugs").iterdir() if d.name.startswith("miscompilation-")]
    assert json.loads((out / "bugs" / [d.name for d in (out / "bugs").iterdir() if d.name.startswith("internal")][0]
                       / "info.json").read_text())["verified"]
    assert new.name.startswith("miscompilation-") and new.name != bug.name
    info = json.loads((new / "info.json").read_text())
    assert info["verified"] and info["minimized"]["passes_after"] == 1
    report = (new / "report.md").read_text()
    assert "### Steps to reproduce" in report and "swap_sub" in report and "verified" in report
    assert report.startswith("# [Bug] ") and "REPRODUCED" in (new / "repro.py").read_text()  # the harness
    assert (out / "reports" / "index.html").exists() and (out / "reports" / "summary.json").exists()
    ok = subprocess.run(cli + ["replay", str(new), "--pass-plugin", str(plugin)], capture_output=True, text=True,
                        timeout=300)
    assert ok.returncode == 0 and "REPRODUCES" in ok.stdout, ok.stdout + ok.stderr
    fixed = tmp_path / "fixed.json"
    save_case(TestCase(FLOAT_SUB), fixed)
    gone = subprocess.run(cli + ["replay", str(fixed)], capture_output=True, text=True, timeout=300)
    assert gone.returncode == 1 and "GONE" in gone.stdout


def test_roundtrip_signature_ignores_the_loops_around_the_block():
    """Removing loops above the mismatching block keeps a round-trip bug's signature; another place differs."""
    from tirfuzz.fuzzer.core.result import ExecResult
    from tirfuzz.fuzzer.core.signature import signature

    def rt(path: str) -> str:
        return signature(ExecResult(outcome="roundtrip", stage="roundtrip:parsed",
                                    message=f"structural mismatch after print and parse at {path}"))

    deep = rt('<root>.functions[I.GlobalVar("main")].body.block.body.body.body.block.body.body')
    shallow = rt('<root>.functions[I.GlobalVar("main")].body.block.body.block.body.body')
    other = rt('<root>.functions[I.GlobalVar("main")].body.block.body.block.reads[0].region[1]')
    assert deep == shallow != other
    fails = [signature(ExecResult(outcome="roundtrip", stage="roundtrip:parsed", message=f"parser: DiagnosticError: {m}"))
             for m in ("error: unsupported operand type(s) for *: 'Var' and 'Var'",
                       "error: Mismatched type on argument #0 when calling: `script.ir_builder.tirx.max`")]
    assert fails[0] == fails[1] != deep


def test_masks_numbered_names_but_keeps_dtypes():
    from tirfuzz.fuzzer.core.signature import mask

    msg = "In PrimFunc main variables ({},) are used, but are not passed in as API arguments"
    assert mask(msg.format("b19")) == mask(msg.format("b30")) != mask(msg.format("n"))
    assert mask("exceeds minimum of float16") != mask("exceeds minimum of float32")
    # the C backend's `inff`: gcc's hint depends on the names around it (seen as two signatures)
    gcc = "Compilation error:\n/tmp/x.c:12:5: error: 'inff' undeclared (first use in this function){}\n"
    assert mask(gcc.format("; did you mean 'ff'?")) == mask(gcc.format("")) == mask(gcc.format("; did you mean 'f1'?"))
    assert mask(gcc.format("")) != mask(gcc.replace("undeclared", "redeclared").format(""))


def test_codegen_miscompilations_are_told_apart_by_the_wrong_values():
    """No pass names a codegen bug, so the dtype of the differing buffer (and NaN/Inf on one side) does."""
    from tirfuzz.fuzzer.core.result import ExecResult
    from tirfuzz.fuzzer.core.signature import signature

    def misc(culprit: str, dtype: str, non_finite: bool = False) -> str:
        return signature(ExecResult(outcome="miscompilation", target="c", oracle={
            "culprit": culprit, "family": "arith", "diff": {"dtype": dtype, "non_finite": non_finite}}))

    codegen = "(build for c: completion passes and codegen)"
    assert misc(codegen, "uint16") == misc(codegen, "uint16")
    assert len({misc(codegen, "uint16"), misc(codegen, "int32"), misc(codegen, "float32"),
                misc(codegen, "float32", True)}) == 4
    # a culprit pass names the bug: the values it breaks do not split it
    assert misc("tirx.transform.VectorizeLoop", "int32") == misc("tirx.transform.VectorizeLoop", "float32")


WRONG_PASSES = SWAP_PLUGIN + '''

@tvm.tirx.transform.prim_func_pass(opt_level=0)
def swap_div(func, mod, ctx):
    """A second wrong pass: float a / b becomes b / a."""
    def cb(value, m):
        value = m.default_mutate(value)
        if isinstance(value, tvm.tirx.Div) and "float" in str(value.ty):
            return tvm.tirx.Div(value.b, value.a)
        return value
    return func.with_body(tvm_ffi.structural_mutate(func.body, [(tvm.tirx.Div, cb)]))


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def two_bugs(func, mod, ctx):
    """One pass, two wrong rewrites: float a - b becomes b - a, and a * b becomes a + b."""
    def sub(value, m):
        value = m.default_mutate(value)
        return tvm.tirx.Sub(value.b, value.a) if "float" in str(value.ty) else value
    def mul(value, m):
        value = m.default_mutate(value)
        return tvm.tirx.Add(value.a, value.b) if "float" in str(value.ty) else value
    return func.with_body(tvm_ffi.structural_mutate(func.body, [(tvm.tirx.Sub, sub), (tvm.tirx.Mul, mul)]))
'''

EXP_SUB = '''@T.prim_func
def main(A: T.Buffer((4, 8), "float32"), B: T.Buffer((4,), "float32")):
    for i in range(4):
        B[i] = T.float32(0)
        for k in range(8):
            B[i] = B[i] + (T.exp(A[i, k]) - A[i, 0] * T.float32(3))
'''

DIV = '''@T.prim_func
def main(A: T.Buffer((16,), "float32"), B: T.Buffer((16,), "float32"), C: T.Buffer((16,), "float32")):
    for i in range(16):
        C[i] = A[i] / (B[i] * B[i] + T.float32(2))
'''

MUL_ONLY = '''@T.prim_func
def main(A: T.Buffer((16,), "float32"), B: T.Buffer((16,), "float32")):
    for i in range(16):
        B[i] = A[i] * T.float32(3)
'''


def test_one_wrong_pass_is_one_bug_on_every_target_and_op_family(tmp_path):
    """A wrong-result pass seen on llvm and on c, and on two op families (arith, transcendental), has one
    signature; two different wrong passes have two, and so do two different wrong rewrites of one pass."""
    path = tmp_path / "wrongpasses.py"
    path.write_text(WRONG_PASSES)

    def sig(ir: str, name: str, target: str) -> tuple[str, str]:
        res = ex.run(TestCase(ir, passes=[PassSpec(f"plugin:wrongpasses.{name}")], targets=[target]), oracle=True)
        assert res.outcome == "miscompilation", (res.outcome, res.message)
        assert res.oracle["culprit"] == f"plugin:wrongpasses.{name}"
        return signature_of(res), res.oracle["transformation"]

    with Executor(ExecutorConfig(timeout_s=60, plugins=(str(path),))) as ex:
        llvm, how = sig(FLOAT_SUB, "swap_sub", "llvm")
        c, _ = sig(FLOAT_SUB, "swap_sub", "c")
        transcendental, _ = sig(EXP_SUB, "swap_sub", "llvm")
        div, _ = sig(DIV, "swap_div", "llvm")
        sub_of_two, _ = sig(FLOAT_SUB, "two_bugs", "llvm")
        mul_of_two, replaced = sig(MUL_ONLY, "two_bugs", "llvm")
    assert how == "Sub{a,b}" and replaced == "Mul->Add"  # the operands swapped; one operator made another
    assert llvm == c == transcendental
    assert len({llvm, div, sub_of_two, mul_of_two}) == 4


NESTED_ATTR = """# from tvm.script import tirx as T
@T.prim_func
def main(A: T.Buffer((8,), "float32"), B: T.Buffer((8,), "float32")):
    B[0] = T.float32(0)
{body}"""
ATTRS = """for i in range(8):
    with T.attr(0, "{key}", 4):
        with T.attr(0, "{key}", 1):
            A[i] = T.float32(1)
"""


def test_roundtrip_signature_is_the_construct_that_does_not_survive():
    """The printer merges two nested attributes with one key into one dict: one signature wherever the
    attributes sit (the mismatch paths differ), another for another key."""
    import textwrap

    from tirfuzz.fuzzer.core.result import ExecResult
    from tirfuzz.fuzzer.core.runtime import check_roundtrip, parse
    from tirfuzz.fuzzer.core.signature import signature

    def sig(outer_loop: bool, key: str = "pragma_unroll_explicit") -> tuple[str, str]:
        body = ATTRS.format(key=key)
        body = "for j in range(2):\n" + textwrap.indent(body, "    ") if outer_loop else body
        text = NESTED_ATTR.format(body=textwrap.indent(body, "    "))
        message = check_roundtrip(parse(text), text)
        assert message and "; construct AttrStmt[" in message, message
        return signature(ExecResult(outcome="roundtrip", stage="roundtrip:parsed", message=message)), message

    (flat, at_flat), (nested, at_nested) = sig(False), sig(True)
    assert at_flat.split(";")[0] != at_nested.split(";")[0]  # the mismatch sits at two places
    assert flat == nested != sig(False, "pragma_auto_unroll_max_step")[0]
