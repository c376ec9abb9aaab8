"""Standalone reproducers: `repro.py` needs only tvm (and numpy), and is verified in a fresh process.

Two forms. A crash, hang or internal error in a pass, in the build or in the run, and a round-trip failure,
get the short script of reports/repro_short.py: the IR, the passes up to the failing one, the failure
shown where it happens; TVM's own error ends the script (non-zero exit), as a maintainer expects.
A miscompilation (and a short script that does not verify) gets the full harness: the minimized
TVMScript, the pass list, the target and the input seed, and below them fuzzer/core/runtime.py verbatim,
the same code the pipeline builds, fills inputs and compares with, so the two cannot drift. It prints the
expected against the actual value of the elements that differ, then REPRODUCED (exit 0) or NOT REPRODUCED
(exit 1). A crash reproduces by crashing; verification compares the signal.
"""

from __future__ import annotations

import re
import resource
import signal as _signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tirfuzz.fuzzer.core import runtime
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.tvmapi import default_pipeline
from tirfuzz.oracles.compare import op_family
from tirfuzz.reports.repro_short import short_scripts

TEMPLATE = r'''"""tirfuzz reproducer: {title}

Needs only tvm ({tvm_version} was used) and numpy:  python repro.py
Prints REPRODUCED and exits 0 when the symptom shows; a crash reproduces by crashing ({signal}).
Below main() is tirfuzz's runtime (fuzzer/core/runtime.py, verbatim): target parsing, the build, the
seeded inputs and the output comparison, exactly as the fuzzer ran them.
"""
from __future__ import annotations

import sys

IR = {ir!r}
PASSES = {passes!r}          # (name, args), in order; the build adds COMPLETION_PASSES they do not name
PASS_CONFIG = {config!r}
TARGET = {target!r}
INPUT_SEED = {input_seed!r}
EXPECT = {expect!r}
REFERENCE = {reference!r}    # TVM's default TIR pipeline: the expected results come from it
FAMILY = {family!r}          # float tolerance family (TOLERANCES below)
PLUGINS = {plugins!r}        # source of out-of-tree passes named plugin:<stem>.<name>


def make_pass(name, args):
    """A plugin's pass (its source is in PLUGINS) or TVM's own."""
    if name.startswith("plugin:"):
        stem, attr = name[len("plugin:"):].split(".", 1)
        ns = {{}}
        exec(compile(PLUGINS[stem], stem + ".py", "exec"), ns)
        return ns[attr]
    return builtin_pass(name, args)


def main():
    mod = parse(IR)
    if EXPECT["kind"] == "roundtrip":
        try:
            where = check_roundtrip(mod)
        except Exception as e:  # noqa: BLE001
            where = f"{{type(e).__name__}}: {{e}}"
        if where is not None:
            print("REPRODUCED: print then parse gives another module:", where)
            return 0
        print("NOT REPRODUCED: the module survives print and parse")
        return 1
    funcs = entry_functions(mod)
    try:
        compiled = load(compile_module(mod, TARGET, PASSES, PASS_CONFIG, make_pass), list(funcs), TARGET)
        run = EXPECT["kind"] in ("miscompilation", "hang", "crash")
        got = run_functions(compiled, funcs, INPUT_SEED, device_for(TARGET)) if run else None
    except Exception as e:  # noqa: BLE001
        text = f"{{type(e).__name__}}: {{e}}"
        if EXPECT["kind"] == "internal-error" and EXPECT["where"] in text:
            print("REPRODUCED:", text.strip().splitlines()[-1][:300])
            return 0
        print("NOT REPRODUCED: a different error:", text[:500])
        return 1
    if EXPECT["kind"] == "miscompilation":
        reference = load(compile_module(mod, "llvm", REFERENCE, {{}}), list(funcs))
        expected = run_functions(reference, funcs, INPUT_SEED, device_for("llvm"))
        diff = compare_outputs(expected, got, FAMILY)
        if diff is not None:
            show_differences(expected, got)
            print("REPRODUCED: miscompilation,", diff)
            return 0
    print("NOT REPRODUCED: it built and ran" + (" and matched the reference" if EXPECT["kind"] == "miscompilation" else ""))
    return 1


def show_differences(expected, actual, limit=8):
    """Expected (TVM's default pipeline) against actual (the passes above) on the elements that differ."""
    for func, refs in expected.items():
        for k, (r, g) in enumerate(zip(refs, actual[func])):
            if r.shape != g.shape or r.dtype != g.dtype:
                print(f"{{func}} buffer {{k}}: expected {{r.dtype}}{{list(r.shape)}}, actual {{g.dtype}}{{list(g.shape)}}")
                continue
            where = np.argwhere(compare_buffer(r, g, FAMILY)[0])
            if len(where):
                print(f"{{func}} buffer {{k}}: {{len(where)}} of {{r.size}} elements differ (index: expected, actual)")
            for i in where[:limit]:
                print(f"  {{list(map(int, i))}}: {{r[tuple(i)]!s}}, {{g[tuple(i)]!s}}")
'''
RUNTIME_HEADER = "\n\n# ---- tirfuzz runtime: fuzzer/core/runtime.py, verbatim " + "-" * 40 + "\n"
FOOTER = '\n\nif __name__ == "__main__":\n    sys.exit(main())\n'
FUTURE = "from __future__ import annotations\n"


def runtime_source() -> str:
    """runtime.py's text as a reproducer embeds it (its __future__ import is the reproducer's first)."""
    return Path(runtime.__file__).read_text().replace(FUTURE, "", 1)


@dataclass
class Verification:
    """Did repro.py, run alone in a fresh process, show the bug?"""

    reproduced: bool
    how: str
    seconds: float


def _where(info: dict[str, Any]) -> str:
    """What an internal error's text must contain to be the same bug: the start of its message's first
    line (before any number or address), else its exception type."""
    gcc = re.search(r"error: ([^\n]*)", info.get("message") or "")
    if gcc and (info.get("message") or "").lstrip().startswith("Compilation error"):
        return gcc.group(1).strip()[:80]  # the host compiler's own complaint, e.g. 'inff' was not declared
    lines = [ln.strip() for ln in (info.get("message") or "").splitlines() if ln.strip()]
    if lines:
        head = re.split(r"0x[0-9a-fA-F]+|\d", lines[0], maxsplit=1)[0]
        if len(head.strip()) >= 8:
            return head.strip()[:80]
    return info.get("exc_type") or ""


def harness_text(case: TestCase, info: dict[str, Any], title: str, plugin_files: dict[str, str]) -> str:
    """The full harness for a bug (info: the bug's info.json)."""
    import tvm

    kind = info.get("kind", "internal-error")
    target = info.get("target") or case.targets[0]
    family = "transcendental" if op_family(case.ir, case.pass_config) == "transcendental" else "arith"
    expect = {"kind": kind, "where": _where(info) if kind == "internal-error" else "", "signal": info.get("signal"),
              "stage": info.get("stage")}
    plugins = _plugin_sources(case, plugin_files)
    text = TEMPLATE.format(
        title=title.replace('"""', "'''"), tvm_version=tvm.__version__, signal=info.get("signal") or "none expected",
        ir=case.ir, passes=[(p.name, list(p.args)) for p in case.passes], config=case.pass_config, target=target,
        input_seed=case.input_seed, expect=expect, reference=[(p.name, list(p.args)) for p in default_pipeline()],
        family=family, plugins=plugins)
    return text + RUNTIME_HEADER + runtime_source() + FOOTER


def _plugin_sources(case: TestCase, plugin_files: dict[str, str]) -> dict[str, str]:
    out = {}
    for p in case.passes:
        if p.name.startswith("plugin:"):
            stem = p.name[len("plugin:"):].split(".", 1)[0]
            if stem in plugin_files:
                out[stem] = Path(plugin_files[stem]).read_text()
    return out


def write_repro(case: TestCase, info: dict[str, Any], path: Path, title: str, plugin_files: dict[str, str],
                form: str = "auto") -> Path:
    """Write repro.py for a bug (info: the bug's info.json) and return its path. `form`: "auto" (the best
    short script when the bug has one, else the harness), "harness", or a form of reports/repro_short.py."""
    found = candidates(case, info, title, plugin_files)
    path.write_text(found[0][1] if form == "auto" else dict(found)[form])
    return path


def candidates(case: TestCase, info: dict[str, Any], title: str, plugin_files: dict[str, str]
               ) -> list[tuple[str, str]]:
    """(form, text) of every reproducer a bug may have, best first; the harness always last."""
    import tvm

    short = short_scripts(case, info, title, tvm.__version__, _plugin_sources(case, plugin_files))
    return [*short, ("harness", harness_text(case, info, title, plugin_files))]


def is_harness(text: str) -> bool:
    """Whether a reproducer is the full harness (it prints REPRODUCED) rather than a short script."""
    return "\nEXPECT = " in text and "\ndef main():" in text


def make_repro(case: TestCase, info: dict[str, Any], path: Path, title: str, plugin_files: dict[str, str],
               timeout_s: float = 120.0) -> tuple[str, Verification]:
    """Write and verify the reproducer: the first candidate that shows the bug alone in a fresh process
    (the shortest first, the full harness last). (its form, its verification); when none verifies, the
    harness stays, unverified."""
    v = Verification(False, "no reproducer", 0.0)
    for form, text in candidates(case, info, title, plugin_files):
        path.write_text(text)
        v = verify_repro(path, info, timeout_s)
        if v.reproduced:
            return form, v
    return "harness", v


BLOCK_TIRFUZZ = "import sys; sys.modules['tirfuzz'] = None; import runpy; runpy.run_path(sys.argv[1], run_name='__main__')"
MEMORY_LIMIT = 8 << 30   # address space of a reproducer's process: a runaway one fails instead of swapping
                         # (not for CUDA: a CUDA context maps far more address space than it uses)


def _limit_memory() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_script(python: str, path: Path, timeout_s: float, env: dict[str, str] | None = None
               ) -> tuple[int | None, str]:
    """(exit code, or -signal; None on timeout) and the output of a script run alone in a fresh process
    where tirfuzz cannot be imported, in its own folder."""
    limit = None if "cuda" in path.read_text() else _limit_memory
    try:
        p = subprocess.run([python, "-c", BLOCK_TIRFUZZ, str(path)], capture_output=True, text=True,
                           timeout=timeout_s, cwd=path.parent, env=env, preexec_fn=limit)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return None, out
    return p.returncode, (p.stdout + p.stderr).strip()


def judge_run(script: str, info: dict[str, Any], code: int | None, out: str, timeout_s: float) -> tuple[bool, str]:
    """Did a reproducer's run show the bug? (reproduced, how). `script`: its text; `code`, `out`: what
    run_script gave."""
    kind = info.get("kind")
    if code is None:
        return kind == "hang", f"no exit within {timeout_s:g} s"
    if code < 0:
        got = _signal.Signals(-code).name
        return kind == "crash" and got == info.get("signal"), f"killed by {got}"
    last = last_error(out)
    if is_harness(script):
        if kind == "crash" and code != 0 and (info.get("signal") or "?") in out:
            return True, last[:300]
        return code == 0 and "REPRODUCED" in out and "NOT REPRODUCED" not in out, last[:300]
    out = _shown(script, out)  # a traceback echoes the failing line, whose comment names the symptom
    if kind == "crash" and code != 0 and (info.get("signal") or "?") in out:
        return True, last[:300]
    if code == 0:
        return False, "ran to the end without an error"
    if kind == "internal-error":
        same_type = not info.get("exc_type") or info["exc_type"] in out
        return same_type and any(_norm(key) in _norm(out) for key in message_keys(info)), last[:300]
    if kind == "roundtrip":
        return _roundtrip_shown(info, out), last[:300]
    if kind == "hang" and info.get("resource") == "memory":
        return "bad_alloc" in out or "MemoryError" in out, last[:300]
    return False, last[:300]


def _shown(script: str, out: str) -> str:
    """A short script's output without the lines of the script itself."""
    source = {ln.strip() for ln in script.splitlines() if ln.strip()}
    return "\n".join(ln for ln in out.splitlines() if ln.strip() not in source)


def _norm(text: str) -> str:
    """Text with IR type keys unqualified: releases name a node `tirx.Max` or `prim.Max`."""
    return re.sub(r"\b(?:prim|tirx|tir|ir|s_tir)\.(?=[A-Z])", "", text)


def message_keys(info: dict[str, Any]) -> list[str]:
    """Texts any of which, in a run's output, shows an internal error is the same: `_where`; the last part
    of the message's first line ("Check failed: (x >= 0) is false: cannot make uint from negative value
    -1" -> "cannot make uint from negative value "), its part before a repr, and a failed check's own
    condition ("Check failed: (it != info_map_.end()) is false"), which other releases keep when they
    word the message differently."""
    keys = [_where(info)]
    first = next((ln.strip() for ln in (info.get("message") or "").splitlines() if ln.strip()), "")
    if first.count(": ") >= 1 and not first.startswith("Compilation error"):
        tail = re.split(r"0x[0-9a-fA-F]+|\d", first.rsplit(": ", 1)[1], maxsplit=1)[0].strip()
        if len(tail) >= 12:
            keys.append(tail)
    head = re.split(r"[(\d]", first, maxsplit=1)[0].strip()   # "unknown intrinsic ir.Op(...)": before the repr
    if len(head) >= 16 and not head.startswith(("Check failed", "Compilation error")):
        keys.append(head)
    check = re.match(r"Check failed: (\(.*?\) is false|.+?(?= \(-?\d| :))", first)  # the check's own condition
    if check and len(check.group(1)) >= 12:
        keys.append("Check failed: " + check.group(1))
    return [k for k in keys if k]


def last_error(out: str) -> str:
    """The last line of a run's output that starts with an exception's name (else its last line)."""
    lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception|REPRODUCED|NOT REPRODUCED)\b", ln)]
    return (errors or lines or [""])[-1]


def _roundtrip_shown(info: dict[str, Any], out: str) -> bool:
    """A round-trip failure shows as the same kind of failure: a structural mismatch, or the parser's or
    printer's exception type."""
    message = info.get("message") or ""
    if message.startswith(("parser:", "printer:")):
        exc = message.split(":", 2)[1].strip()
        return bool(exc) and exc in out
    return "StructuralEqual check failed" in out


def verify_repro(path: Path, info: dict[str, Any], timeout_s: float = 120.0) -> Verification:
    """Run repro.py in a fresh Python process where tirfuzz cannot be imported; compare the symptom."""
    t0 = time.monotonic()
    path = Path(path).resolve()  # it runs with its own folder as the working directory
    code, out = run_script(sys.executable, path, timeout_s)
    ok, how = judge_run(path.read_text(), info, code, out, timeout_s)
    return Verification(ok, how, time.monotonic() - t0)
