"""Extract a foreign corpus: TVMScript programs from apache/tvm's own unit tests, saved as tirfuzz cases.

Each test file is imported in a child process (with a timeout) and every module-level and class-level
`tvm.tirx.PrimFunc` / `tvm.IRModule` it defines is collected; decorated definitions nested in test
functions (`@T.prim_func`, `@I.ir_module`) are parsed alone from the file's source with the module's
globals. A program is kept when all its functions are PrimFuncs and its printed text parses back; the
corpus is deduplicated by structural hash and picked round-robin over the test files, so no single
file dominates. Each kept program becomes a `tirfuzz-case/1` file (no passes, targets llvm and c,
input seed 0, its origin under "foreign"). Needs no tirfuzz import: the case format is written here.

    git --git-dir=$(fetch github:apache/tvm) archive HEAD tests/python | tar -x -C /tmp/tvm_src
    python bench/foreign/extract.py --tvm-src /tmp/tvm_src --tvm-commit <sha> \
        --out /work/runs/foreign/cases --manifest bench/foreign/manifest.jsonl
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DIRS = ("codegen", "tirx-analysis", "s_tir/analysis", "s_tir/meta_schedule", "tirx-transform", "s_tir/schedule")
DECORATORS = re.compile(r"(prim_func|ir_module)")


@dataclass
class Program:
    """One program a test file defines: where it came from, how it was found, its text and hash."""

    source: str      # test file, relative to the checkout
    name: str        # Class.attr, attr, or test_fn.inner for nested definitions
    how: str         # "import" (module or class attribute) or "nested" (parsed alone from the source)
    kind: str        # "PrimFunc" or "IRModule"
    shash: str       # structural hash of the parsed-back program, hex
    ir: str          # the printed TVMScript


def _all_primfuncs(obj) -> bool:
    """A PrimFunc, or an IRModule whose every function is a PrimFunc."""
    import tvm

    if isinstance(obj, tvm.tirx.PrimFunc):
        return True
    return isinstance(obj, tvm.IRModule) and len(obj.functions) > 0 and all(
        isinstance(f, tvm.tirx.PrimFunc) for f in obj.functions.values())


def _program(obj, rel: str, name: str, how: str) -> Program | None:
    """The program's text if it prints and parses back, else None."""
    import tvm
    import tvm.script
    import tvm_ffi

    if not _all_primfuncs(obj):
        return None
    try:
        text = obj.script()
        back = tvm.script.from_source(text, check_well_formed=False)
        if type(back) is not type(obj):
            return None
        shash = tvm_ffi.structural_hash(back, map_free_vars=True)
    except Exception:  # noqa: BLE001 - a program that does not print or parse back is left out
        return None
    return Program(rel, name, how, type(obj).__name__, f"{shash & (2**64 - 1):016x}", text)


def _nested_defs(tree: ast.Module):
    """(qualified name, node) of each decorated prim_func/ir_module definition not at module/class level."""
    out = []

    def visit(node, path, depth):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                decorated = any(DECORATORS.search(ast.unparse(d)) for d in child.decorator_list)
                if decorated and depth >= 1 and not (depth == 1 and isinstance(node, ast.ClassDef)):
                    out.append((".".join(path + [child.name]), child))
                elif not decorated:
                    visit(child, path + [child.name], depth + 1)
            else:
                visit(child, path, depth)

    visit(tree, [], 0)
    return out


def child(path: Path, root: Path, out_file: Path) -> None:
    """Import one test file, collect its programs, write them as JSON lines to out_file."""
    import tvm
    from tvm.script.parser.core.entry import _default_globals

    rel = str(path.relative_to(root))
    sys.path[:0] = [str(path.parent), str(root / "tests" / "python")]
    found: list[Program] = []
    spec = importlib.util.spec_from_file_location(f"foreign_{abs(hash(rel))}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException as e:  # noqa: BLE001 - an unimportable test file still has nested programs
        print(f"{rel}: import failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
    seen_ids = set()
    for attr, value in sorted(vars(module).items()):
        items = [(attr, value)]
        if isinstance(value, type) and value.__module__ == module.__name__:
            items = [(f"{attr}.{a}", v) for a, v in sorted(vars(value).items())]
        for name, obj in items:
            if isinstance(obj, (tvm.tirx.PrimFunc, tvm.IRModule)) and id(obj) not in seen_ids:
                seen_ids.add(id(obj))
                p = _program(obj, rel, name, "import")
                if p:
                    found.append(p)
    text = path.read_text()
    env = {**_default_globals(), **vars(module)}
    for name, node in _nested_defs(ast.parse(text)):
        # the segment starts at `def`/`class`: put the decorators back in front of it
        deco = "".join(f"@{ast.unparse(d)}\n" for d in node.decorator_list)
        src = deco + textwrap.dedent(ast.get_source_segment(text, node, padded=True) or "")
        try:
            obj = tvm.script.from_source(src, extra_vars=dict(env), check_well_formed=False)
        except BaseException as e:  # noqa: BLE001 - needs the test function's locals: not reachable alone
            print(f"{rel}: {name}: {type(e).__name__}: {(str(e).splitlines() or [''])[0][:100]}", file=sys.stderr)
            continue
        if isinstance(obj, (tvm.tirx.PrimFunc, tvm.IRModule)):
            p = _program(obj, rel, name, "nested")
            if p:
                found.append(p)
    with open(out_file, "w") as f:
        for p in found:
            f.write(json.dumps(asdict(p)) + "\n")


def collect(root: Path, files: list[Path], timeout: float) -> dict[str, list[Program]]:
    """Programs of each test file, each file in its own child process."""
    out: dict[str, list[Program]] = {}
    for i, path in enumerate(files):
        t0 = time.monotonic()
        with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as tmp:
            res_path = Path(tmp.name)
        try:
            r = subprocess.run([sys.executable, __file__, "--child", str(path), "--tvm-src", str(root),
                                "--child-out", str(res_path)], capture_output=True, text=True, timeout=timeout)
            note = (r.stderr.strip().splitlines() or [""])[-1][:120] if r.returncode else ""
        except subprocess.TimeoutExpired:
            note = "timeout"
        progs = [Program(**json.loads(line)) for line in res_path.read_text().splitlines() if line.strip()]
        res_path.unlink(missing_ok=True)
        rel = str(path.relative_to(root))
        out[rel] = progs
        print(f"[{i + 1}/{len(files)}] {rel}: {len(progs)} programs ({time.monotonic() - t0:.1f}s) {note}",
              file=sys.stderr, flush=True)
    return out


def pick(per_file: dict[str, list[Program]], limit: int) -> list[Program]:
    """Deduplicate by structural hash, then take programs round-robin over the files up to limit."""
    seen: set[str] = set()
    queues = []
    for rel in sorted(per_file):
        q = []
        for p in per_file[rel]:
            if p.shash not in seen:
                seen.add(p.shash)
                q.append(p)
        queues.append(q)
    chosen: list[Program] = []
    rank = 0
    while len(chosen) < limit and any(rank < len(q) for q in queues):
        for q in queues:
            if rank < len(q) and len(chosen) < limit:
                chosen.append(q[rank])
        rank += 1
    return chosen


def case_name(p: Program) -> str:
    """A file name for the case: test file stem, program name, short hash."""
    stem = re.sub(r"[^A-Za-z0-9]+", "_", Path(p.source).stem.removeprefix("test_"))
    name = re.sub(r"[^A-Za-z0-9]+", "_", p.name)
    return f"{stem}__{name}__{p.shash[:8]}.json"


def write(chosen: list[Program], out: Path, manifest: Path, commit: str) -> None:
    """One tirfuzz-case/1 file per program and a manifest line each (no program text)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    lines = []
    for p in chosen:
        name = case_name(p)
        case = {"format": "tirfuzz-case/1", "ir": p.ir, "passes": [], "pass_config": {}, "targets": ["llvm", "c"],
                "input_seed": 0, "foreign": {"tvm_commit": commit, "source": p.source, "name": p.name,
                                              "how": p.how, "kind": p.kind, "structural_hash": p.shash}}
        (out / name).write_text(json.dumps(case, indent=1) + "\n")
        lines.append(json.dumps({"case": name, "source": p.source, "name": p.name, "how": p.how, "kind": p.kind,
                                 "structural_hash": p.shash}))
    manifest.parent.mkdir(parents=True, exist_ok=True)
    header = json.dumps({"tvm_commit": commit, "dirs": list(DIRS), "cases": len(chosen)})
    manifest.write_text(header + "\n" + "\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tvm-src", type=Path, required=True, help="apache/tvm checkout (needs tests/python)")
    ap.add_argument("--tvm-commit", default="unknown", help="the checkout's commit, recorded in each case")
    ap.add_argument("--out", type=Path, default=Path("/work/runs/foreign/cases"))
    ap.add_argument("--manifest", type=Path, default=Path(__file__).resolve().parent / "manifest.jsonl")
    ap.add_argument("--dirs", nargs="*", default=list(DIRS), help="folders under tests/python")
    ap.add_argument("--limit", type=int, default=205, help="programs to keep")
    ap.add_argument("--timeout", type=float, default=120.0, help="per test file, seconds")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.tvm_src, a.child_out)
        return
    files = [f for d in a.dirs for f in sorted((a.tvm_src / "tests" / "python" / d).glob("test_*.py"))
             if DECORATORS.search(f.read_text())]
    per_file = collect(a.tvm_src, files, a.timeout)
    chosen = pick(per_file, a.limit)
    write(chosen, a.out, a.manifest, a.tvm_commit)
    total = sum(len(v) for v in per_file.values())
    print(json.dumps({"files": len(files), "programs": total, "unique": len({p.shash for v in per_file.values()
                                                                               for p in v}),
                      "kept": len(chosen), "out": str(a.out)}))


if __name__ == "__main__":
    main()
