"""Reproducers embed fuzzer/core/runtime.py and verify alone (real TVM): targets with options, composite
symbolic shapes; the runtime imports nothing of tirfuzz."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from test_oracles import FLOAT_SUB, SWAP_PLUGIN

from tirfuzz.fuzzer.core import runtime
from tirfuzz.fuzzer.core.case import PassSpec, TestCase
from tirfuzz.fuzzer.core.targets import runnable_here
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.reports.repro import runtime_source, verify_repro, write_repro

ZNVER2 = "llvm -mcpu=znver2 -mattr=+avx2"

# A user's pass that fails on every module: a build-only symptom (the code never has to run).
BOOM_PLUGIN = '''
import tvm


@tvm.tirx.transform.prim_func_pass(opt_level=0)
def boom(func, mod, ctx):
    """A user's pass with a loud bug."""
    raise RuntimeError("boom pass cannot lower this function")
'''

# Buffers sized by composite expressions of one variable, which a scalar parameter also carries.
SYMBOLIC_SUB = '''@T.prim_func
def main(n: T.int32, A: T.Buffer((n * 2,), "float32"), B: T.Buffer((n * 2,), "float32"),
         C: T.Buffer((n * 2,), "float32"), D: T.Buffer((n + 1,), "float32"), E: T.Buffer((n + 1,), "float32")):
    for i in range(n * 2):
        C[i] = A[i] * T.float32(2) - B[i]
    for i in range(n + 1):
        E[i] = T.float32(1) - D[i]
'''
# The variable comes first in a composite shape, the scalar last: nothing binds it before it is needed.
SYMBOLIC_FIRST = '''@T.prim_func
def main(A: T.Buffer(("n * 2",), "float32"), B: T.Buffer((n * 2,), "float32"), C: T.Buffer((n * 2,), "float32"),
         n: T.int32):
    for i in range(n * 2):
        C[i] = A[i] * T.float32(2) - B[i]
'''


@pytest.fixture(scope="module")
def plugins(tmp_path_factory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("plugins")
    (d / "userpasses.py").write_text(SWAP_PLUGIN)
    (d / "boompass.py").write_text(BOOM_PLUGIN)
    return {"userpasses": str(d / "userpasses.py"), "boompass": str(d / "boompass.py")}


@pytest.fixture(scope="module")
def executor(plugins):
    with Executor(ExecutorConfig(timeout_s=60, plugins=tuple(plugins.values()))) as ex:
        yield ex


def info_of(res, target: str) -> dict:
    """What triage writes to info.json for a result."""
    return {"kind": res.outcome, "target": target, "message": res.message, "exc_type": res.exc_type,
            "stage": res.stage, "signal": res.signal}


def reproduce(executor, case: TestCase, kind: str, plugins: dict[str, str], path: Path) -> str:
    """Find the bug with the pipeline, write its repro.py, verify it alone; the generated text."""
    res = executor.run(case, oracle=True)
    assert res.outcome == kind, (res.outcome, res.stage, res.message)
    info = info_of(res, case.targets[0])
    repro = write_repro(case, info, path, kind, plugins)
    v = verify_repro(repro, info)
    assert v.reproduced, v.how
    return repro.read_text()


def test_internal_error_on_a_target_with_options_reproduces(executor, plugins, tmp_path):
    """TVM 0.27 refuses Target("llvm -mcpu=..."): the reproducer must build from the dict form."""
    case = TestCase(FLOAT_SUB, passes=[PassSpec("plugin:boompass.boom")], targets=[ZNVER2])
    text = reproduce(executor, case, "internal-error", plugins, tmp_path / "repro.py")
    # the short script: the plugin's source embedded, the target in its dict form, the failing pass last
    assert '{"kind": "llvm", "mcpu": "znver2", "mattr": ["+avx2"]}' in text and "EXPECT" not in text
    assert "boom pass cannot lower" in text and text.rstrip().splitlines()[-1].startswith(
        '    mod = plugin_boompass["boom"](mod)  # raises RuntimeError')
    assert len(text.splitlines()) < 40


def test_a_reproducer_given_by_a_relative_path_verifies(executor, plugins, tmp_path, monkeypatch):
    """`tirfuzz triage OUT` with a relative OUT: the script runs in its own folder, found all the same."""
    case = TestCase(FLOAT_SUB, passes=[PassSpec("plugin:boompass.boom")], targets=["llvm"])
    res = executor.run(case, oracle=True)
    info = info_of(res, "llvm")
    (tmp_path / "out" / "bugs").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    repro = write_repro(case, info, Path("out/bugs/repro.py"), "relative", plugins)
    assert verify_repro(repro, info).reproduced


def test_miscompilation_on_a_target_with_options_reproduces(executor, plugins, tmp_path):
    if not runnable_here(ZNVER2):
        pytest.skip(f"this CPU cannot run code built for {ZNVER2}")
    case = TestCase(FLOAT_SUB, passes=[PassSpec("plugin:userpasses.swap_sub")], targets=[ZNVER2])
    reproduce(executor, case, "miscompilation", plugins, tmp_path / "repro.py")


@pytest.mark.parametrize("ir", [SYMBOLIC_SUB, SYMBOLIC_FIRST], ids=["scalar-first", "scalar-last"])
def test_miscompilation_with_composite_symbolic_shapes_reproduces(executor, plugins, tmp_path, ir):
    case = TestCase(ir, passes=[PassSpec("plugin:userpasses.swap_sub")], targets=["llvm"])
    reproduce(executor, case, "miscompilation", plugins, tmp_path / "repro.py")
    fixed = TestCase(ir, passes=[PassSpec("tirx.transform.StmtSimplify")], targets=["llvm"])
    info = {"kind": "miscompilation", "target": "llvm"}
    assert not verify_repro(write_repro(fixed, info, tmp_path / "fixed.py", "no bug", {}), info).reproduced


def test_composite_shapes_get_one_value_per_variable():
    """n is SYMBOLIC_DIM everywhere: in n * 2, in n + 1, and as the scalar argument."""
    specs = runtime.arg_specs(runtime.parse(SYMBOLIC_SUB)["main"])
    n = runtime.SYMBOLIC_DIM
    assert [(s.name, s.dtype, s.shape, s.fixed) for s in specs] == [
        ("n", "int32", None, n), ("A", "float32", (2 * n,), None), ("B", "float32", (2 * n,), None),
        ("C", "float32", (2 * n,), None), ("D", "float32", (n + 1,), None), ("E", "float32", (n + 1,), None)]
    specs, values = runtime.make_args(runtime.parse(SYMBOLIC_FIRST)["main"], 3, "main")
    assert specs[-1].fixed == n and values[-1].item() == n and [v.shape for v in values[:3]] == [(2 * n,)] * 3


def test_a_target_string_with_options_becomes_a_target_with_its_host():
    t = runtime.make_target(ZNVER2)
    assert str(t.kind.name) == "llvm" and str(t.attrs["mcpu"]) == "znver2" and t.host is not None
    assert list(t.attrs["mattr"]) == ["+avx2"]


def test_the_reproducer_embeds_the_runtime_verbatim(plugins, tmp_path):
    case = TestCase(FLOAT_SUB, passes=[PassSpec("plugin:userpasses.swap_sub")])
    text = write_repro(case, {"kind": "miscompilation", "target": "llvm"}, tmp_path / "r.py", "t", plugins).read_text()
    future = "from __future__ import annotations\n"
    assert Path(runtime.__file__).read_text().replace(future, "") in text and text.count(future) == 1
    assert "import tirfuzz" not in text and "from tirfuzz" not in text
    ast.parse(text)
    # the reproducer's own names must not shadow the runtime's
    mine, theirs = top_level_names(text[:text.index(runtime_source())]), top_level_names(runtime_source())
    assert mine & theirs == set() and {"main", "make_pass", "IR", "PASSES", "TARGET"} <= mine


def top_level_names(source: str) -> set[str]:
    """Names a module's top level defines (assignments, functions, classes)."""
    names = set()
    for n in ast.parse(source).body:
        if isinstance(n, (ast.FunctionDef, ast.ClassDef)):
            names.add(n.name)
        for t in n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AnnAssign) else []:
            if isinstance(t, ast.Name):
                names.add(t.id)
    return names


def test_runtime_imports_only_the_standard_library_numpy_and_tvm():
    allowed = set(sys.stdlib_module_names) | {"numpy", "tvm", "tvm_ffi"}
    tree = ast.parse(Path(runtime.__file__).read_text())
    found = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    found |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert found and found <= allowed, found - allowed
    assert all(n.level == 0 for n in ast.walk(tree) if isinstance(n, ast.ImportFrom))
