"""Short reproducers: the few lines an upstream maintainer runs, for bugs that need no comparison.

A failure in a pass (crash, hang, internal error at a `pass:` stage) becomes: the minimized IR as TVMScript
parsed with `tvm.script.from_source`, the target bound, and the case's passes applied up to and including
the one that fails (the passes a build adds before it included, in the order the pipeline ran them), under
the case's PassContext config; the failing line says what happens there. A failure while building
(`build:` stage) applies the whole sequence through `tvm.compile` with a TIR pipeline of exactly those
passes; one while running (`run:` stage) then calls the entry function on zero-filled buffers. A round-trip
failure prints the module, parses it back and asserts structural equality.

Nothing here parses the IR (parsing evaluates Python: only isolated processes do it). Triage verifies the
script in a fresh process (reports/repro.py); a short script that does not verify is replaced by the full
harness, which makes the inputs and builds exactly as the campaign did.
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.runtime import (DLIGHT_PASS, DLIGHT_RULES, GPU_KINDS, TargetError, kind_of, lowering_sequence,
                                         native_code, parse_target, target_spec)

WIDTH = 110        # longest line the script writes, where it can choose
SHOWN = 100        # characters of the failure's message on the failing line
FORMS = ("compile", "pass", "build", "run", "roundtrip")


def short_form(info: dict[str, Any]) -> str | None:
    """Which short script fits a bug (its info.json), or None when it needs the full harness."""
    kind, stage = info.get("kind"), info.get("stage") or ""
    if kind == "roundtrip" and stage.startswith("roundtrip"):
        return "roundtrip"
    if kind in ("crash", "hang", "internal-error"):
        for form in ("pass", "build", "run"):
            if stage.startswith(form + ":"):
                return form
    return None


def _ir_literal(ir: str) -> str:
    """The TVMScript as a string literal, without the printer's commented import lines."""
    lines = ir.strip("\n").splitlines()
    while lines and (lines[0].startswith("# from ") or not lines[0].strip()):
        lines.pop(0)
    return _literal("\n".join(lines))


def _parse_line(ir: str, options: str = "") -> str:
    """`mod = ...` parsing IR; a lone PrimFunc becomes the module's `main`, as tirfuzz runs it."""
    parse = f"tvm.script.from_source(IR{options})"
    return f"mod = {parse}" if "@I.ir_module" in ir else f'mod = tvm.IRModule({{"main": {parse}}})'


def _literal(text: str) -> str:
    """Multi-line text as a readable string literal (triple-quoted where it can be)."""
    text = text.strip("\n")
    for quote in ('"""', "'''"):
        if quote not in text and "\\" not in text:
            return f"{quote}\n{text}\n{quote}"
    return repr(text + "\n")


def _value(v: Any) -> str:
    """A pass argument as Python source (frozen tuples back to lists, as the case file has them)."""
    if isinstance(v, str) and v.isprintable() and '"' not in v and "\\" not in v:
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_value(k)}: {_value(x)}" for k, x in v.items()) + "}"
    return repr(v)


def _call(name: str, args: Sequence[Any], plugins: dict[str, str]) -> str:
    """The expression making a pass: `tvm.tirx.transform.X(args)`, or a plugin's pass from its namespace."""
    if name.startswith("plugin:"):
        stem, attr = name[len("plugin:"):].split(".", 1)
        return f"{_plugin_var(stem)}[{_value(attr)}]"
    if name.rpartition(".")[2] == "BindTarget" and args and isinstance(args[0], (str, dict)):
        spec = args[0] if isinstance(args[0], dict) else parse_target(args[0])
        args = [f"tvm.target.Target({_value(spec)})", *map(_value, args[1:])]
        return f"tvm.{name}({', '.join(args)})"
    if name == DLIGHT_PASS:  # rule names -> the rules (runtime.builtin_pass)
        return f"tvm.{name}({', '.join(f'tvm.s_tir.dlight.{r}()' for r in (args or DLIGHT_RULES))})"
    return f"tvm.{name}({', '.join(_value(a) for a in args)})"


def _plugin_var(stem: str) -> str:
    return "plugin_" + "".join(c if c.isalnum() else "_" for c in stem)


def _wrap(items: list[str], open_: str, close: str, indent: str) -> list[str]:
    """`open_ a, b, c close` over as many lines as WIDTH needs."""
    one = f"{indent}{open_}{', '.join(items)}{close}"
    if len(one) <= WIDTH:
        return [one]
    out, line = [f"{indent}{open_}"], indent + "    "
    for it in items:
        if len(line) + len(it) + 2 > WIDTH and line.strip():
            out.append(line.rstrip())
            line = indent + "    "
        line += it + ", "
    out.append(line.rstrip().rstrip(","))
    out.append(indent + close.strip())
    return out


def _target_line(target: str) -> str:
    """`target = tvm.target.Target(...)` as tirfuzz makes it (runtime.make_target): the host attached."""
    spec = target_spec(target)
    host = '"llvm"' if spec["kind"] in GPU_KINDS else _value(spec)
    return f"target = tvm.target.Target({_value(spec)}, host={host})"


def _jit(target: str) -> str:
    """`.jit()` where this kind of machine loads the build; "" for source-only GPU kinds and cross-compiled
    LLVM, whose failures show in tvm.compile already."""
    return ".jit()" if kind_of(target) in ("llvm", "c", "cuda") and native_code(target) else ""


def _symptom(info: dict[str, Any]) -> str:
    """What the failing line does, for its comment."""
    kind = info.get("kind")
    if kind == "crash":
        return f"crashes the process ({info.get('signal') or 'killed'})"
    if kind == "hang":
        return "does not return" if info.get("resource") != "memory" else "runs out of memory"
    message = " ".join((info.get("message") or "").split())
    gcc = re.search(r"error: ([^\n]*)", info.get("message") or "")
    if gcc and message.startswith("Compilation error"):  # the host compiler's complaint, not its temp paths
        message = "Compilation error: " + gcc.group(1).strip()
    head = f"{info.get('exc_type')}: " if info.get("exc_type") else ""
    text = head + message
    return "raises " + (text if len(text) <= SHOWN else text[: SHOWN - 1] + "…")


def _header(title: str, tvm_version: str, uses: list[str]) -> list[str]:
    return ['"""' + title.replace('"""', "'''").replace("\\", "/"), "",
            f"apache-tvm {tvm_version}; run: python repro.py", '"""', *uses, ""]


def _plugin_lines(steps: Sequence[tuple[str, Sequence[Any]]], plugins: dict[str, str]) -> list[str]:
    """Each plugin's source, embedded and run into its own namespace."""
    out = []
    for stem in dict.fromkeys(n[len("plugin:"):].split(".", 1)[0] for n, _ in steps if n.startswith("plugin:")):
        if stem not in plugins:
            raise KeyError(f"the source of plugin {stem!r} is not known")
        var = _plugin_var(stem)
        out += [f"{var} = {{}}  # the out-of-tree passes of {stem}.py",
                f"exec({_literal(plugins[stem])}, {var})", ""]
    return out


def _imports(steps: Sequence[tuple[str, Sequence[Any]]], extra: Sequence[str] = ()) -> list[str]:
    lines = ["import tvm"]
    if any(n.startswith("s_tir.") for n, _ in steps) or "s_tir" in extra:
        lines.append("import tvm.s_tir  # registers tvm.s_tir.transform")
    if any(n == DLIGHT_PASS for n, _ in steps):
        lines.append("import tvm.s_tir.dlight")
    return lines + [x for x in extra if x != "s_tir"]


def pass_script(case: TestCase, info: dict[str, Any], title: str, tvm_version: str,
                plugins: dict[str, str]) -> str:
    """The script for a failure in a pass: the passes up to the failing one, the failing line last."""
    target = info.get("target") or case.targets[0]
    failing = (info.get("stage") or "")[len("pass:"):]
    seq = [(n, list(a)) for n, a, _ in lowering_sequence(target, [(p.name, p.args) for p in case.passes])]
    seq = [("tirx.transform.BindTarget", ["__target__"])] + seq
    at = max((i for i, (n, _) in enumerate(seq) if n == failing), default=None)
    if at is None:
        raise ValueError(f"the failing pass {failing} is not in the sequence the case runs")
    steps = seq[: at + 1]
    before = [("target" if a == ["__target__"] else _call(n, a, plugins)) for n, a in steps[:-1]]
    before = [f"tvm.tirx.transform.BindTarget({b})" if b == "target" else b for b in before]
    config = f", config={_value(case.pass_config)}" if case.pass_config else ""
    lines = _header(title, tvm_version, _imports(steps)) + _plugin_lines(steps, plugins)
    lines += [f"IR = {_ir_literal(case.ir)}", "", _parse_line(case.ir), _target_line(target),
              f"with tvm.transform.PassContext(opt_level=3{config}):"]
    if len(before) <= 3:
        lines += [f"    mod = {b}(mod)" for b in before]
    else:
        lines += _wrap(before, "for p in [", "]:", "    ") + ["        mod = p(mod)"]
    last = steps[-1]
    call = "tvm.tirx.transform.BindTarget(target)" if last[1] == ["__target__"] else _call(*last, plugins)
    lines.append(f"    mod = {call}(mod)  # {_symptom(info)}")
    return "\n".join(lines) + "\n"


def build_script(case: TestCase, info: dict[str, Any], title: str, tvm_version: str,
                 plugins: dict[str, str], run: bool = False) -> str:
    """The script for a failure while building (or, with `run`, while running) the lowered module."""
    target = info.get("target") or case.targets[0]
    steps = [(n, list(a)) for n, a, _ in lowering_sequence(target, [(p.name, p.args) for p in case.passes])]
    calls = [_call(n, a, plugins) for n, a in steps]
    config = f", config={_value(case.pass_config)}" if case.pass_config else ""
    uses = ["from tvm.s_tir.pipeline import finalize_device_passes, finalize_host_passes"]
    if run:
        uses = ["import numpy as np", *uses]
    lines = _header(title, tvm_version, _imports(steps, ["s_tir", *uses])) + _plugin_lines(steps, plugins)
    lines += [f"IR = {_ir_literal(case.ir)}", "", "",
              "def lower(mod):  # the case's passes, then those every build needs, in tirfuzz's order"]
    lines += _wrap(calls, "for p in [", "]:", "    ") + ["        mod = p(mod)", "    return mod", "", ""]
    lines += ['tvm.tirx.register_tir_pipeline("repro", lambda: (lower, finalize_host_passes, finalize_device_passes))',
              _parse_line(case.ir), _target_line(target),
              f"with tvm.transform.PassContext(opt_level=3{config}):"]
    if not run:
        lines.append(f'    tvm.compile(mod, target=target, tir_pipeline="repro"){_jit(target)}  # {_symptom(info)}')
        return "\n".join(lines) + "\n"
    lines += ['    lib = tvm.compile(mod, target=target, tir_pipeline="repro")'] + _run_lines(target, info)
    return "\n".join(lines) + "\n"


def roundtrip_script(case: TestCase, info: dict[str, Any], title: str, tvm_version: str) -> str:
    """Print, parse back, compare: the failing step is the parse or the structural comparison."""
    message = " ".join((info.get("message") or "").split())
    lines = _header(title, tvm_version, ["import tvm"])
    lines += [f"IR = {_ir_literal(case.ir)}", "", _parse_line(case.ir, ", check_well_formed=False"),
              "text = mod.script()",
              "back = tvm.script.from_source(text, check_well_formed=False)"
              + ("  # " + message[:SHOWN] if message.startswith("parser:") else ""),
              "tvm.ir.assert_structural_equal(mod, back, map_free_vars=True)  # "
              + (message[:SHOWN] if not message.startswith("parser:") else "")]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def compile_script(case: TestCase, info: dict[str, Any], title: str, tvm_version: str) -> str:
    """Plain `tvm.compile` (TVM's default pipeline) of the IR, and a run for a `run:` failure: the script a
    maintainer likes best, tried first for a case with no passes of its own."""
    target = info.get("target") or case.targets[0]
    run = short_form(info) == "run"
    lines = _header(title, tvm_version, ["import numpy as np", "import tvm"] if run else ["import tvm"])
    lines += [f"IR = {_ir_literal(case.ir)}", "", _parse_line(case.ir), _target_line(target)]
    indent = ""
    if case.pass_config:
        lines.append(f"with tvm.transform.PassContext(opt_level=3, config={_value(case.pass_config)}):")
        indent = "    "
    if not run:
        lines.append(f"{indent}tvm.compile(mod, target=target){_jit(target)}  # {_symptom(info)}")
        return "\n".join(lines) + "\n"
    lines += [f"{indent}lib = tvm.compile(mod, target=target)"] + _run_lines(target, info)
    return "\n".join(lines) + "\n"


def _run_lines(target: str, info: dict[str, Any]) -> list[str]:
    device = "tvm.cuda(0)" if kind_of(target) == "cuda" else "tvm.cpu(0)"
    return ['args = [tvm.runtime.tensor(np.zeros([int(d) for d in p.shape], p.dtype), '
            f'{device}) for p in mod["main"].params]',
            f'lib["main"](*args)  # {_symptom(info)}']


def short_scripts(case: TestCase, info: dict[str, Any], title: str, tvm_version: str,
                  plugins: dict[str, str]) -> list[tuple[str, str]]:
    """(form, text) of each short script for a bug, best first; none when it needs the full harness (a
    comparison, a failure before or outside the passes and the build, a target tirfuzz does not know, a
    plugin whose source is missing). Plain `tvm.compile` comes first when the case has no passes of its
    own and the failure is in a pass the build adds, in the build or in the run (not for a hang: a
    candidate that does not hang costs a whole timeout to rule out)."""
    form = short_form(info)
    out: list[tuple[str, str]] = []
    try:
        if form in ("pass", "build", "run") and not case.passes and info.get("kind") != "hang":
            out.append(("compile", compile_script(case, info, title, tvm_version)))
        if form == "pass":
            out.append((form, pass_script(case, info, title, tvm_version, plugins)))
        elif form in ("build", "run"):
            out.append((form, build_script(case, info, title, tvm_version, plugins, run=form == "run")))
        elif form == "roundtrip":
            out.append((form, roundtrip_script(case, info, title, tvm_version)))
    except (ValueError, KeyError, TargetError):
        return out
    return out
