"""report.md for one bug, in apache/tvm's bug template (.github/ISSUE_TEMPLATE/bug-report.md): a `[Bug]`
title, then Expected behavior, Actual behavior, Environment, Steps to reproduce (repro.py inline) and
Triage (labels), and last what tirfuzz knows that a maintainer may want (signature, minimized size, the
releases it reproduces on). `tirfuzz report OUT --issue SIGNATURE` prints it, ready to paste."""

from __future__ import annotations

import platform
import re

from tirfuzz.fuzzer.campaign.bugs import BugRecord
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.runtime import completion_passes, kind_of
from tirfuzz.fuzzer.core.targets import cuda_device_present
from tirfuzz.oracles.standard import LABEL, same_failure
from tirfuzz.reports.repro import is_harness

TITLE_MAX = 120
TEMPLATE_LABELS = ("needs-triage", "type: bug")   # what the template itself sets


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


def _first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def _message(rec: BugRecord) -> str:
    """The error's one line: the host compiler's own complaint for a C compile error."""
    gcc = re.search(r"error: ([^\n]*)", rec.message or "")
    if gcc and (rec.message or "").lstrip().startswith("Compilation error"):
        return "Compilation error: " + gcc.group(1).strip()
    line = _first_line(rec.message)
    return line.split(" # from tvm.script", 1)[0].rstrip(": ") if " # from tvm.script" in line else line  # a dumped program


def _short(name: str | None) -> str:
    """A pass's own name: `tirx.transform.StorageRewrite` -> StorageRewrite."""
    return (name or "").rsplit(".", 1)[-1]


def backtrace_excerpt(rec: BugRecord, lines: int = 25) -> str:
    """The error message and the last lines of the child's stderr that name TVM frames."""
    msg = (rec.message or "").strip()
    tail = [ln for ln in (rec.stderr_tail or "").splitlines() if ln.strip()]
    frames = [ln for ln in tail if "tvm::" in ln or "src/" in ln or "Fatal Python" in ln or "Signal" in ln]
    parts = [msg[-3000:]] if msg else []
    if frames:
        parts.append("\n".join(frames[:lines]))
    elif rec.frames:
        parts.append("\n".join(rec.frames[:lines]))
    return "\n\n".join(parts) or "(no message)"


def component(rec: BugRecord) -> str:
    """The apache/tvm label of the component a bug is in."""
    stage = rec.stage or ""
    where = " ".join([rec.frame or "", *(rec.frames or [])])
    target = kind_of(rec.oracle.get("target") or rec.target or "llvm")
    if rec.kind == "roundtrip":
        return "tvmscript"
    if re.search(r"src/(arith|sym)/|\b(arith|sym)::", where):
        return "tir:arith"
    if rec.kind == "miscompilation":
        culprit = str(rec.oracle.get("culprit") or "")
        return "tir:transform" if "transform." in culprit and "codegen" not in culprit else f"codegen:{target}"
    if stage.startswith("pass:"):
        return "tir:transform"
    return f"codegen:{target}"


def labels(rec: BugRecord) -> list[str]:
    """The template's labels, then the component's."""
    return [*TEMPLATE_LABELS, component(rec)]


def issue_title(rec: BugRecord) -> str:
    """`[Bug] [TIR] StorageRewrite: InternalError: Check failed ...`: the component, where, what."""
    stage, kind = rec.stage or "", rec.kind
    target = rec.oracle.get("target") or rec.target or "llvm"
    tag = {"tvmscript": "[TVMScript]", "tir:arith": "[Arith]", "tir:transform": "[TIR]"}.get(component(rec), "[CodeGen]")
    if kind == "miscompilation":
        culprit = str(rec.oracle.get("culprit") or "")
        what = (f"{_short(culprit)} changes a program's results" if "transform." in culprit
                else f"wrong results from the {kind_of(target)} build")
        text = f"{what} ({target})"
    elif kind == "roundtrip":
        text = "print then parse does not give the module back: " + (_first_line(rec.message) or stage)
    else:
        place = (_short(stage[len("pass:"):]) if stage.startswith("pass:") else
                 f"{kind_of(target)} codegen" if stage.startswith("build:") else
                 f"code built for {kind_of(target)}, when run," if stage.startswith("run:") else stage)
        how = (f"crashes ({rec.signal or 'killed'})" if kind == "crash" else
               "does not terminate" if kind == "hang" and rec.resource != "memory" else
               "runs out of memory" if kind == "hang" else
               ": ".join(p for p in (rec.exc_type, _message(rec)) if p) or "fails")
        text = f"{place}: {how}" if kind == "internal-error" else f"{place} {how}"
    title = " ".join(f"[Bug] {tag} {text}".split())
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…"


def _expected_actual(rec: BugRecord, target: str) -> tuple[str, str]:
    stage, kind, o = rec.stage or "", rec.kind, rec.oracle
    where = f"`{stage[len('pass:'):]}`" if stage.startswith("pass:") else f"The `{stage}` stage"
    if kind == "miscompilation":
        d = o.get("diff") or {}
        return (f"The `{o.get('target') or target}` build computes what TVM's default pipeline (llvm) computes on "
                "the same inputs.",
                f"`{d.get('func')}` buffer {d.get('buffer')} differs: at {d.get('index')} expected `{d.get('expected')}`, "
                f"got `{d.get('actual')}` ({d.get('mismatches')} of {d.get('size')} elements differ, dtype "
                f"{d.get('dtype')}). First pass after which the output differs: `{o.get('culprit')}`. The reproducer "
                "prints expected against actual on the differing elements.")
    if kind == "roundtrip":
        return ("`tvm.script.from_source(mod.script())` is structurally equal to `mod`.", f"{rec.message}")
    if kind == "crash":
        return (f"{where} returns, or raises a Python exception.",
                f"The process is killed by {rec.signal}" + (f" (top frame `{rec.frame}`)." if rec.frame else "."))
    if kind == "hang":
        ref = rec.reference_try or {}
        done = (f", as TVM's default pipeline ({ref.get('target', 'llvm')}) builds and runs the same program in "
                f"{ref['elapsed_ms'] / 1e3:.1f} s") if ref.get("outcome") == "finished" else ""
        limit = f" of {ref['limit_s']:g} s" if ref.get("limit_s") else ""
        return (f"{where} finishes{done}.", f"It exceeded tirfuzz's {rec.resource or 'time'} limit{limit}.")
    if stage.startswith("pass:"):
        expected = (f"{where} accepts this module, which passes TVM's well-formedness check "
                    "(`verify_well_formed`), or reports a user-level error.")
    else:
        expected = f"The module, which passes TVM's well-formedness check, builds and runs for `{target}`."
    return expected, f"{where} raises `{rec.exc_type}`:"


def _form(rec: BugRecord, repro_text: str | None) -> str:
    """Which reproducer repro.py is (recorded by triage, else read from the text)."""
    if rec.repro_form:
        return rec.repro_form
    return "harness" if repro_text is not None and is_harness(repro_text) else "short"


def _steps(rec: BugRecord, form: str, repro_text: str) -> str:
    """What running repro.py shows."""
    shows = {"crash": f"the process is killed by {rec.signal}", "hang": "it does not return",
             "internal-error": f"it raises `{rec.exc_type}`", "roundtrip": "it raises at the failing step",
             "miscompilation": "it prints the elements that differ, then REPRODUCED"}.get(rec.kind, "it fails")
    needs = "`tvm` and `numpy`" if "import numpy" in repro_text or form == "harness" else "`tvm`"
    return f"Run `python repro.py` (needs only {needs}): {shows}."


def write_bug_report(rec: BugRecord, case: TestCase, repro_text: str | None) -> str:
    """The Markdown report for a bug (case: the minimized case when there is one)."""
    env = environment()
    target = rec.target or case.targets[0]
    out = [f"# {issue_title(rec)}", ""]
    k = rec.known_upstream
    if k:  # already filed: said first, so nobody files it twice
        out += [f"> **Known upstream: [apache/tvm#{k.get('issue')}]({k.get('url')})** ({k.get('state')}): "
                f"{k.get('title')}. {k.get('why', '')} Check there before filing.", ""]
    std = same_failure(rec.oracle)
    if std is not None:  # an unmodified program tvm.compile fails on the same way: said before anything else
        out += [f"> **{LABEL[0].upper() + LABEL[1:]}.** {std.get('how')}.", ""]
    expected, actual = _expected_actual(rec, target)
    out += ["### Expected behavior", "", expected, "", "### Actual behavior", "", actual, "",
            _fence(backtrace_excerpt(rec)), ""]
    out += ["### Environment", "",
            f"- TVM {env['TVM']} (`pip install apache-tvm=={env['TVM']}`), tvm-ffi {env['tvm-ffi']}",
            f"- Target: `{target}`", f"- OS: {env['OS']}; Python {env['Python']}",
            f"- CPU: {env['CPU']}; GPU: {env['GPU']}"]
    if rec.release_range:
        out.append(f"- Releases: {rec.release_range}" + (f" (regression since {rec.regression_since})"
                                                         if rec.regression_since else ""))
    out += ["", "### Steps to reproduce", ""]
    if repro_text is not None:
        out += [_steps(rec, _form(rec, repro_text), repro_text), "", _fence(repro_text, "python")]
    else:
        out += ["The program:", "", _fence(case.ir, "python"), "",
                "Passes, after `BindTarget`: " + ", ".join(f"`{p.name}`" for p in case.passes) + "; then "
                + ", ".join(f"`{_short(n)}`" for n in completion_passes([p.name for p in case.passes])) + "."]
    out += ["", "### Triage", ""] + [f"* {label}" for label in labels(rec)]
    out += ["", "### Found by tirfuzz", ""] + _tirfuzz_lines(rec, _form(rec, repro_text))
    return "\n".join(out) + "\n"


def _tirfuzz_lines(rec: BugRecord, form: str) -> list[str]:
    m = rec.minimized if isinstance(rec.minimized, dict) else {}
    seen = "once" if (rec.count or 1) == 1 else f"{rec.count} times"
    lines = [f"- Signature `{rec.signature}`, seen {seen}; stage `{rec.stage}`."]
    if m:
        lines.append(f"- Minimized from {m.get('nodes_before')} to {m.get('nodes_after')} IR nodes and "
                     f"{m.get('passes_before')} to {m.get('passes_after')} passes.")
    if rec.verified is not None:
        what = "the full harness" if form == "harness" else f"a short script ({form})"
        lines.append(f"- Reproducer: {what}; " + ("verified: it showed the bug alone in a fresh process." if rec.verified
                                                   else "not verified: alone in a fresh process it did not show the "
                                                        f"same symptom ({rec.verify})."))
    if rec.release_range:
        lines.append(f"- Releases: {rec.release_range}.")
        for version, r in (rec.releases or {}).items():
            if r.get("outcome") == "cannot run":
                lines.append(f"  - {version}: cannot run: {r.get('detail')}")
    return lines
