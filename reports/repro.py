"""Standalone reproducers: `repro.py` needs only tvm and numpy, and is verified in a fresh process.

The script embeds the minimized TVMScript, the pass list, the target and the input seed, and below them
fuzzer/core/runtime.py verbatim: the same code the pipeline builds, fills inputs and compares with, so the
two cannot drift. It prints REPRODUCED (exit 0) or NOT REPRODUCED (exit 1). A crash reproduces by
crashing; verification compares the signal.
"""

from __future__ import annotations

import json
import re
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
        compiled = load(compile_module(mod, TARGET, PASSES, PASS_CONFIG, make_pass), list(funcs))
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
        diff = compare_outputs(run_functions(reference, funcs, INPUT_SEED, device_for("llvm")), got, FAMILY)
        if diff is not None:
            print("REPRODUCED: miscompilation,", diff)
            return 0
    print("NOT REPRODUCED: it built and ran" + (" and matched the reference" if EXPECT["kind"] == "miscompilation" else ""))
    return 1
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


def write_repro(case: TestCase, info: dict[str, Any], path: Path, title: str, plugin_files: dict[str, str]) -> Path:
    """Write repro.py for a bug (info: the bug's info.json) and return its path."""
    import tvm

    kind = info.get("kind", "internal-error")
    target = info.get("target") or case.targets[0]
    family = "transcendental" if op_family(case.ir, case.pass_config) == "transcendental" else "arith"
    expect = {"kind": kind, "where": _where(info) if kind == "internal-error" else "", "signal": info.get("signal"),
              "stage": info.get("stage")}
    plugins = {}
    for p in case.passes:
        if p.name.startswith("plugin:"):
            stem = p.name[len("plugin:"):].split(".", 1)[0]
            if stem in plugin_files:
                plugins[stem] = Path(plugin_files[stem]).read_text()
    text = TEMPLATE.format(
        title=title.replace('"""', "'''"), tvm_version=tvm.__version__, signal=info.get("signal") or "none expected",
        ir=case.ir, passes=[(p.name, list(p.args)) for p in case.passes], config=case.pass_config, target=target,
        input_seed=case.input_seed, expect=expect, reference=[(p.name, list(p.args)) for p in default_pipeline()],
        family=family, plugins=plugins)
    path.write_text(text + RUNTIME_HEADER + runtime_source() + FOOTER)
    return path


BLOCK_TIRFUZZ = "import sys; sys.modules['tirfuzz'] = None; import runpy; runpy.run_path(sys.argv[1], run_name='__main__')"


def verify_repro(path: Path, info: dict[str, Any], timeout_s: float = 120.0) -> Verification:
    """Run repro.py in a fresh Python process where tirfuzz cannot be imported; compare the symptom."""
    t0 = time.monotonic()
    kind = info.get("kind")
    path = Path(path).resolve()  # it runs with its own folder as the working directory
    try:
        p = subprocess.run([sys.executable, "-c", BLOCK_TIRFUZZ, str(path)], capture_output=True, text=True,
                           timeout=timeout_s, cwd=path.parent)
    except subprocess.TimeoutExpired:
        ok = kind == "hang"
        return Verification(ok, f"no exit within {timeout_s:g} s", time.monotonic() - t0)
    out = (p.stdout + p.stderr).strip()
    if p.returncode < 0:
        got = _signal.Signals(-p.returncode).name
        ok = kind == "crash" and got == info.get("signal")
        return Verification(ok, f"killed by {got}", time.monotonic() - t0)
    last = out.splitlines()[-1] if out else ""
    if kind == "crash" and p.returncode != 0 and info.get("signal") in out:
        return Verification(True, last[:300], time.monotonic() - t0)
    return Verification(p.returncode == 0 and "REPRODUCED" in out and "NOT REPRODUCED" not in out, last[:300],
                        time.monotonic() - t0)
