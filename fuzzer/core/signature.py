"""Bug signatures: the same bug gives the same signature, different bugs different ones."""

from __future__ import annotations

import hashlib
import re

from tirfuzz.fuzzer.core.crashinfo import frame_name, is_machinery
from tirfuzz.fuzzer.core.result import ExecResult

_MASKS = [(re.compile(r"0x[0-9a-fA-F]+"), "0x?"), (re.compile(r"\b\d+\b"), "N"),
          # numbered names (b19, v_ax0_1): the same bug names other variables; dtypes (float16) are kept
          (re.compile(r"\b(?!(?:u?int|float|bfloat)\d+\b)([A-Za-z_][A-Za-z0-9_]*?)_?\d+\b"), r"\1N"),
          (re.compile(r"'[^']*'|\"[^\"]*\""), "'?'"), (re.compile(r"\s+"), " ")]


def mask(message: str) -> str:
    """The first line of a message (for a host compiler's error, its first `error:` line without gcc's
    "did you mean" hint) with numbers, addresses and quoted names masked."""
    gcc = re.search(r"error: ([^\n]*)", message) if message.lstrip().startswith("Compilation error") else None
    line = gcc.group(1) if gcc else (message.strip().splitlines()[0] if message.strip() else "")
    if gcc:  # gcc's hints depend on the names around the error, not on the error
        line = re.sub(r";\s*did you mean\b.*$", "", line)
    for pat, rep in _MASKS:
        line = pat.sub(rep, line)
    return line[:200]


# Generic visitor dispatch: on every path through a pass, so it tells crashes apart poorly.
_DISPATCH = ("ObjectMutator::", "ObjectVisitor::", "DispatchNode", "::VisitStmt", "::VisitExpr", "Functor",
             "::Mutate(", "::Visit(", "::operator()")


def key_frames(frames: list[str], n: int = 3) -> list[str]:
    """The innermost n frame names of a crash that are neither machinery nor visitor dispatch."""
    out = []
    for f in frames:
        name = frame_name(f.partition(" in ")[2])
        if is_machinery(name) or any(d in name + "(" for d in _DISPATCH):
            continue
        if name not in out:
            out.append(name)
        if len(out) == n:
            break
    return out


def mismatch_shape(message: str) -> str:
    """What a round trip's mismatch is keyed on: the construct that does not survive (the innermost
    statement on the mismatch path and the field:type steps below it) when the message names it; else the
    path reduced to the fields below its innermost block (indices dropped). Either way the same
    printer/parser bug keeps its signature wherever in the tree it sits."""
    if message.startswith("parser: "):
        # The printer wrote text its own parser rejects. The parser's words depend on the context the bad
        # text lands in (the same bare buffer name fails as an operand of *, of min, of a cast), so one
        # signature per exception type: a few printer bugs may share it, none is reported eight times.
        return "parse-failure:" + message.split(":")[1].strip()
    if "; construct " in message:  # the construct that does not survive, wherever it sits
        return "construct:" + mask(message.split("; construct ", 1)[1])
    m = re.search(r" at (\S+)", message)
    if not m:
        return mask(message)
    steps = re.sub(r"\[[^\]]*\]", "", m.group(1)).split(".")
    inner = len(steps) - 1 - steps[::-1].index("block") if "block" in steps else max(len(steps) - 4, 0)
    return ".".join(steps[inner:][-5:])


def _pass_change(res: ExecResult) -> bool:
    """Whether a miscompilation names one culprit pass and what that pass changed."""
    o = res.oracle or {}
    return bool(o.get("culprit") and not o["culprit"].startswith("(") and o.get("transformation")
                and o["transformation"] != "no change to the module")


def signature(res: ExecResult) -> str:
    """`<kind>-<12 hex>` from what characterises the failure (never from the case's content)."""
    if res.outcome == "crash":
        # The signal and the innermost frame only: a crash handler that dies part-way through its dump
        # (the crash corrupted memory) prints fewer frames, and the same case must keep its signature.
        parts = [res.signal or "exit", res.stage, *(key_frames(res.frames, 1) or [res.frame or ""])]
    elif res.outcome == "hang":
        parts = [res.resource or "time", res.stage]
    elif res.outcome == "miscompilation" and _pass_change(res):
        # A culprit pass and what it changed: the same wrong rewrite is one bug on every target and op
        # family that shows it; two wrong rewrites of one pass stay two.
        parts = [res.oracle["culprit"], res.oracle["transformation"]]
    elif res.outcome == "miscompilation":  # culprit pass, the pair of builds compared, op family
        o = res.oracle or {}
        parts = [o.get("culprit") or "", f"reference-llvm/{(res.target or '').split()[0]}", o.get("family", "")]
        if not o.get("culprit") or o["culprit"].startswith("("):
            # Codegen, or not isolated: no pass tells these bugs apart (llvm's ordered NaN compare and C's
            # integer promotion of uint16 once shared one signature), so what the wrong values are does:
            # the differing buffer's dtype, and whether one side is NaN/Inf.
            d = o.get("diff") or {}
            parts += [d.get("dtype", ""), "non-finite" if d.get("non_finite") else "finite"]
    elif res.outcome == "roundtrip":  # the stage and where below its innermost block the trees differ
        parts = [res.stage, mismatch_shape(res.message)]
    else:
        parts = [res.exc_type or "", res.stage, res.frame or "", mask(res.message)]
    digest = hashlib.sha1("|".join([res.outcome, *parts]).encode()).hexdigest()[:12]
    return f"{res.outcome}-{digest}"


def basis(res: ExecResult) -> str:
    """In words, what a result's signature is made of (why triage merged two bugs into one)."""
    o = res.oracle or {}
    if res.outcome == "miscompilation" and _pass_change(res):
        return f"the same culprit pass {o['culprit']} making the same change {o['transformation']} (any target, op family)"
    if res.outcome == "miscompilation":
        return f"the same culprit {o.get('culprit') or '?'} on {res.target}, op family {o.get('family', '?')}"
    if res.outcome == "roundtrip":
        return f"the same round-trip failure: {mismatch_shape(res.message or '')}"
    if res.outcome == "crash":
        return f"the same {res.signal or 'exit'} in {res.stage} at {(key_frames(res.frames, 1) or [res.frame or '?'])[0]}"
    if res.outcome == "hang":
        return f"the same {res.resource or 'time'} limit in {res.stage}"
    return f"the same error in {res.stage}: {mask(res.message or '')}"
