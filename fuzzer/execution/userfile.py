"""A user's TVMScript file as seed programs: run it in an executor child, print what it defines.

A TVMScript file as people write it is Python: import lines, `@I.ir_module` classes and module-level
`@T.prim_func` functions, maybe constants and helpers. Running it runs the user's code, so only an
executor child does (`load_user_job`, registered as `LOAD_JOB`): it imports the file as a module
(with `I` and `T` already defined, so printed TVMScript without import lines runs too), takes every
IRModule and PrimFunc it defines (a PrimFunc becomes a one-function module whose function is `main`),
prints each (`mod.script()`), parses the printed text again as the campaign will, and builds it with
TVM's default pipeline for each of the campaign's targets. Each program comes back with its name and
text, or a one-line reason it cannot be used; a file that cannot be run, a reason for the file.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.tvmapi import default_pipeline, entry_functions, parse, precheck, target_needs, unmet_needs
from tirfuzz.fuzzer.execution.pipeline import StageFailure, backend_gap, compiler

LOAD_JOB = ("load-user-file", "tirfuzz.fuzzer.execution.userfile:load_user_job")  # for ExecutorConfig.jobs
REASON_CHARS = 240


@dataclass
class Program:
    """One program a user file defines: its name (`<file stem>.<Python name>`), printed text, and either
    the targets it dropped out of (a known backend gap) or why it cannot be used."""

    name: str
    ir: str = ""
    dropped: dict[str, str] = field(default_factory=dict)
    reason: str | None = None


def one_line(e: BaseException, prefix: str = "") -> str:
    """An exception as one short line: its type and first line, plus where TVM's parser pointed."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    text = f"{type(e).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    if type(e).__name__ == "DiagnosticError":  # the parser's own words: "error: Undefined variable: x"
        text = (lines[0] if lines else "DiagnosticError").removeprefix("error: ")
        cause = next((ln.removeprefix("Traceback:").strip() for ln in lines if ln.startswith("Traceback:")), None)
        if cause and "not well-formed" in text:  # the verifier's finding, not the generic advice around it
            text = f"not well formed: {cause}"
    if isinstance(e, SyntaxError) and e.lineno:
        text = f"SyntaxError: {e.msg} (line {e.lineno})"
    where = next((ln[3:].strip() for ln in lines[1:6] if ln.startswith("-->")), None)
    at = f" (at {Path(where).name})" if where else ""  # the parser's "--> /path/file.py:6:9"
    text = prefix + text
    return (text if len(text) + len(at) <= REASON_CHARS else text[:REASON_CHARS - len(at) - 3] + "...") + at


def _run_file(path: Path, preset: dict[str, Any]) -> dict[str, Any]:
    """Import the file as a fresh module (in this child), `preset` defined first; its namespace."""
    name = "tirfuzz_user_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path.name} as a Python module")
    module = importlib.util.module_from_spec(spec)
    vars(module).update(preset)
    sys.modules[name] = module  # TVM's parser reads a class's source through its module
    sys.path.insert(0, str(path.parent))  # the file may import its neighbours
    spec.loader.exec_module(module)
    return dict(vars(module))


def programs_of(namespace: dict[str, Any], stem: str) -> list[tuple[str, Any]]:
    """(name, IRModule) for every IRModule and PrimFunc the namespace defines, in definition order; an
    IRModule keeps its PrimFuncs only, a PrimFunc becomes the module {"main": it}; duplicates once."""
    import tvm
    import tvm_ffi

    out, seen = [], []
    for var, obj in namespace.items():
        if var.startswith("__") or not isinstance(obj, (tvm.IRModule, tvm.tirx.PrimFunc)):
            continue
        if isinstance(obj, tvm.tirx.PrimFunc):
            mod = tvm.IRModule({"main": obj.with_attr("global_symbol", "main")})
        else:
            mod = tvm.IRModule({gv: f for gv, f in obj.functions.items() if isinstance(f, tvm.tirx.PrimFunc)})
        if any(mod.same_as(m) or tvm_ffi.structural_equal(mod, m) for m in seen):
            continue
        seen.append(mod)
        out.append((f"{stem}.{var}", mod))
    return out


def check_program(name: str, mod, targets: list[str], pool: Any) -> Program:
    """Print the module, parse the text again and build it for every target with TVM's default pipeline."""
    prog = Program(name)
    if not len(mod.functions):
        prog.reason = "an IRModule with no PrimFunc (only TIR functions are fuzzed)"
        return prog
    try:
        prog.ir = mod.script()
    except Exception as e:  # noqa: BLE001  (the printer refused it)
        prog.reason = one_line(e, "TVM cannot print it: ")
        return prog
    try:
        parsed = parse(prog.ir)
        precheck(parsed)
    except Exception as e:  # noqa: BLE001
        prog.reason = one_line(e, "its printed TVMScript does not parse again or is not well formed: ")
        return prog
    if not entry_functions(parsed):
        prog.reason = "every PrimFunc is private (no global_symbol): nothing to call"
        return prog
    case, needs, failed = TestCase(prog.ir, targets=list(targets)), target_needs(parsed), {}
    for target in targets:
        unmet = unmet_needs(needs, target)
        if unmet is not None:
            prog.dropped[target] = unmet[0]
            continue
        try:
            compiler(parsed, case, pool)(target, default_pipeline(), {})
        except Exception as e:  # noqa: BLE001  (TVM refused to build it)
            gap = backend_gap(StageFailure(f"build:{target}", target, e))
            if gap is not None:
                prog.dropped[target] = gap
            else:
                failed[target] = e
    if failed:
        target, e = next(iter(failed.items()))
        prog.reason = one_line(e, f"does not build for {target}: ")
    elif len(prog.dropped) == len(targets):
        prog.reason = "no target can build it (" + ", ".join(f"{t}: {g}" for t, g in prog.dropped.items()) + ")"
    return prog


def load_user_job(case: TestCase, spec: dict[str, Any], pool: Any) -> tuple[None, dict[str, Any]]:
    """The executor child's job: run the file spec["path"], check each program for spec["targets"].

    Returns no case (nothing runs after it); the info holds "programs" (Program records) or, when the
    file itself cannot be used, "error" (one line). The executor's result is "declined" with this info in
    `result.mutation`; a file whose code kills or stalls the child comes back as that crash or hang."""
    path = Path(str(spec["path"]))
    targets = [str(t) for t in spec.get("targets") or case.targets]
    from tvm.script import ir as I, tirx as T  # printed TVMScript has its imports commented out

    try:
        namespace = _run_file(path, {"I": I, "T": T})
    except SyntaxError as e:
        return None, {"reason": "error", "error": one_line(e, "not Python: ")}
    except BaseException as e:  # noqa: BLE001  (the user's code: anything, SystemExit included)
        kind = "TVMScript does not parse: " if type(e).__name__ == "DiagnosticError" else "running it raised "
        return None, {"reason": "error", "error": one_line(e, kind)}
    found = programs_of(namespace, path.stem)
    if not found:
        return None, {"reason": "error", "error": "defines no @T.prim_func or @I.ir_module (not TVMScript?)"}
    progs = [check_program(name, mod, targets, pool) for name, mod in found]
    return None, {"reason": "loaded", "programs": [asdict(p) for p in progs]}
