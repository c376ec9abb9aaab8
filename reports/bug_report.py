"""report.md for one bug: ready to paste into an apache/tvm GitHub issue."""

from __future__ import annotations

import platform

from tirfuzz.fuzzer.campaign.bugs import BugRecord
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.targets import cuda_device_present
from tirfuzz.fuzzer.core.runtime import completion_passes
from tirfuzz.oracles.standard import LABEL, same_failure


def environment() -> dict[str, str]:
    """TVM, tvm-ffi, Python, OS, CPU and GPU of this machine."""
    import tvm
    import tvm_ffi

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    gpu = "none"
    if cuda_device_present():
        try:
            gpu = str(tvm.cuda(0).device_name)
        except Exception:  # noqa: BLE001
            gpu = "CUDA device"
    return {"TVM": tvm.__version__, "tvm-ffi": getattr(tvm_ffi, "__version__", "?"),
            "Python": platform.python_version(), "OS": f"{platform.system()} {platform.release()}", "CPU": cpu,
            "GPU": gpu}


def _fence(text: str, lang: str = "") -> str:
    return f"```{lang}\n{text.rstrip()}\n```"


def backtrace_excerpt(rec: BugRecord, lines: int = 25) -> str:
    """The error message and the last lines of the child's stderr that name TVM frames."""
    msg = (rec.message or "").strip()
    tail = [ln for ln in (rec.stderr_tail or "").splitlines() if ln.strip()]
    frames = [ln for ln in tail if "tvm::" in ln or "src/" in ln or "Fatal Python" in ln or "Signal" in ln]
    parts = [msg[-3000:]] if msg else []
    if frames:
        parts.append("\n".join(frames[:lines]))
    return "\n\n".join(parts) or "(no message)"


def write_bug_report(rec: BugRecord, case: TestCase, repro_text: str | None) -> str:
    """The Markdown report for a bug (case: the minimized case when there is one)."""
    kind = rec.kind
    env = environment()
    out = [f"# {rec.title}", ""]
    std = same_failure(rec.oracle)
    if std is not None:  # an unmodified program tvm.compile fails on the same way: said before anything else
        out += [f"> **{LABEL[0].upper() + LABEL[1:]}.** {std.get('how')}.", ""]
    out += ["## Environment", "", "| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in env.items()] + [""]
    m = rec.minimized if isinstance(rec.minimized, dict) else {}
    out += ["## Program", ""]
    if m:
        out.append(f"Minimized by tirfuzz from {m.get('nodes_before')} to {m.get('nodes_after')} IR nodes and "
                   f"{m.get('passes_before')} to {m.get('passes_after')} passes.")
        out.append("")
    out += [_fence(case.ir, "python"), ""]
    out += ["## Passes", "", "Applied in this order after `BindTarget(" + (rec.target or case.targets[0])
            + ")`, then the passes a build needs that the list does not name, then the build:", ""]
    out += [f"1. `{p.name}{tuple(p.args) if p.args else ''}`" for p in case.passes] or ["(none)"]

    added = completion_passes([p.name for p in case.passes])
    out += ["", "Then, as every build needs them: " + ", ".join(f"`{n.rsplit('.', 1)[1]}`" for n in added) + "."]
    if case.pass_config:
        out += ["", f"PassContext config: `{case.pass_config}`"]
    out += ["", "## Expected and actual", ""]
    if kind == "miscompilation":
        d = rec.oracle.get("diff") or {}
        o = rec.oracle
        out += [f"Expected: the `{o.get('target') or rec.target}` build computes what TVM's default "
                "pipeline (llvm) computes on the same inputs.",
                f"Actual: `{d.get('func')}` buffer {d.get('buffer')} at {d.get('index')}: expected "
                f"`{d.get('expected')}`, got `{d.get('actual')}` ({d.get('mismatches')} of {d.get('size')} elements "
                f"differ, dtype {d.get('dtype')}).", f"First pass after which the output differs: `{o.get('culprit')}`."]
    elif kind == "crash":
        out += [f"Expected: the stage `{rec.stage}` completes or raises a Python exception.",
                f"Actual: the process is killed by {rec.signal} (top frame `{rec.frame}`)."]
    elif kind == "hang":
        ref = rec.reference_try or {}
        out += [f"Expected: the stage `{rec.stage}` finishes"
                + (f", as TVM's default pipeline ({ref.get('target', 'llvm')}) builds and runs the same program on the same inputs in "
                   f"{ref['elapsed_ms'] / 1e3:.1f} s." if ref.get("outcome") == "finished" else "."),
                f"Actual: it exceeded tirfuzz's {rec.resource or 'time'} limit"
                + (f" of {ref['limit_s']:g} s." if ref.get("limit_s") else ".")]
    elif kind == "roundtrip":
        out += ["Expected: `tvm.script.from_source(mod.script())` is structurally equal to `mod`.",
                f"Actual: {rec.message}"]
    else:
        out += ["Expected: the IR passes TVM's well-formedness check, so the pass should accept it or report a "
                "user-level error.", f"Actual: `{rec.exc_type}` raised at `{rec.stage}`."]
    out += ["", "## Backtrace (excerpt)", "", _fence(backtrace_excerpt(rec))]
    if repro_text is not None:
        verified = rec.verified
        out += ["", "## Reproducer", "",
                "Standalone: needs only `tvm` and `numpy`. " + (
                    "Verified: it reproduced the bug when run alone in a fresh process." if verified else
                    "Not verified: run alone in a fresh process it did not show the same symptom."), "",
                _fence(repro_text, "python")]
    out += ["", f"Found by tirfuzz (signature `{rec.signature}`, seen {rec.count or 1} times)."]
    return "\n".join(out) + "\n"
