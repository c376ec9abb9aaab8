"""The package's layers: each module imports only from its own layer or below (read with ast, no TVM)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Lowest first. A module belongs to the longest prefix that matches its dotted path under tirfuzz.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("core", ("fuzzer.core", "fuzzer", "")),              # records, targets, passes, inputs, TVM adapter
    ("tir", ("fuzzer.tir", "corpus")),                    # TIR analysis and generation; the seed corpus
    ("mutators-oracles", ("mutators", "oracles")),
    ("execution", ("fuzzer.execution",)),
    ("campaign", ("fuzzer.campaign", "fuzzer.baselines")),
    ("reports", ("reports",)),
    ("cli", ("cli",)),
]
PACKAGES = ("fuzzer", "mutators", "oracles", "corpus", "reports")

# Third-party modules a function may import lazily: heavy, optional, or loaded only in some processes
# (tvm is imported in executor children and some commands, never in the campaign driver).
LAZY_OK = ("tvm", "tvm_ffi", "ray", "atheris", "capstone", "elftools")


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] not in PACKAGES + ("cli.py", "__init__.py"):
            continue
        name = ".".join(rel.with_suffix("").parts)
        out[name.removesuffix(".__init__").removesuffix("__init__")] = path
    return out


def layer_of(name: str) -> int:
    """The layer of the longest prefix that matches the module's dotted name."""
    found = [(len(p), i) for i, (_, prefixes) in enumerate(LAYERS) for p in prefixes
             if name == p or (p and name.startswith(p + "."))]
    assert found, f"module {name!r} is in no layer: add it to LAYERS"
    return max(found)[1]


def imports(name: str, path: Path) -> list[tuple[str, list[str], int, bool]]:
    """(module imported, names, line, inside a function) for every tirfuzz import of a module."""
    tree = ast.parse(path.read_text())
    inner = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
             for n in ast.walk(f)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{name}:{node.lineno}: relative import (write tirfuzz.x.y)"
            if (node.module or "").split(".")[0] == "tirfuzz":
                mod = node.module.removeprefix("tirfuzz").lstrip(".")
                full = [f"{mod}.{a.name}" if f"{mod}.{a.name}".replace(".", "/") in SUBMODULES else mod
                        for a in node.names]
                for m, a in zip(full, node.names):
                    out.append((m, [a.name], node.lineno, id(node) in inner))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "tirfuzz":
                    out.append((a.name.removeprefix("tirfuzz").lstrip("."), [], node.lineno, id(node) in inner))
    return out


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


MODULES = modules()
SUBMODULES = {n.replace(".", "/") for n in MODULES}


def test_every_module_has_a_layer():
    for name in MODULES:
        layer_of(name)


def upward_imports() -> list[str]:
    bad = []
    for name, path in MODULES.items():
        mine = layer_of(name)
        for mod, _, line, _ in imports(name, path):
            if layer_of(mod) > mine:
                bad.append(f"{_rel(path)}:{line}: {name} ({LAYERS[mine][0]}) imports {mod} "
                           f"({LAYERS[layer_of(mod)][0]})")
    return bad


def test_imports_point_down_the_layers():
    assert upward_imports() == []


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The layering check fails on an upward import (a core module importing the campaign)."""
    victim = tmp_path / "targets.py"
    victim.write_text(MODULES["fuzzer.core.targets"].read_text()
                      + "\nfrom tirfuzz.fuzzer.campaign.campaign import Campaign\n")
    monkeypatch.setitem(MODULES, "fuzzer.core.targets", victim)
    bad = upward_imports()
    assert len(bad) == 1 and "fuzzer.core.targets (core) imports fuzzer.campaign.campaign (campaign)" in bad[0]


def test_no_private_names_across_packages():
    bad = []
    for name, path in MODULES.items():
        pkg = name.rpartition(".")[0]
        for mod, names, line, _ in imports(name, path):
            owner = mod if mod.replace(".", "/") in SUBMODULES and any(n.startswith("_") for n in names) else mod
            for n in names:
                if n.startswith("_") and not n.startswith("__") and owner.rpartition(".")[0] != pkg and owner != pkg:
                    bad.append(f"{_rel(path)}:{line}: {name} imports {mod}.{n}")
    assert bad == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_function_level_imports_have_a_reason(name):
    """Imports inside functions: heavy optional modules only, or a `# lazy:` comment saying why."""
    path = MODULES[name]
    text = path.read_text()
    lines = text.splitlines()
    tree = ast.parse(text)
    bad = []
    for f in ast.walk(tree):
        if not isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(f):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if all(m.split(".")[0] in LAZY_OK for m in mods):
                continue
            if "# lazy:" in lines[node.lineno - 1] or "# lazy:" in lines[node.end_lineno - 1]:
                continue
            bad.append(f"{_rel(path)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    assert bad == []
