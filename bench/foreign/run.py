"""Run every case of a folder, one at a time, as `tirfuzz run CASE --json --timeout 30` does, and summarize.

Each case runs the CLI in its own subprocess with the given PYTHONPATH, so the same script measures
any checkout of tirfuzz, old or new (both print one JSON object with `run --json`; an old one has no
`verdict`, which is then derived from the outcome). One JSONL line per case; `--summary` rewrites the
generated part of a markdown file (between the run.py markers) and keeps the hand-written rest.
`--standard` also builds each bug case with TVM's own `tvm.compile(mod, target="llvm")` in a child
and records whether that fails too (evidence for "invalid input").

Rerun the foreign corpus against the current checkout (one command, ~30-60 min on 2 busy cores):

    python bench/foreign/run.py /work/runs/foreign/cases --pythonpath /work/wtpkg/foreign \
        --out /work/runs/foreign/now.jsonl --standard \
        --summary bench/results/foreign-corpus.md --compare /work/runs/foreign/before.jsonl

The "before" numbers came from the old checkout: `--pythonpath /work/oldpkg --out .../before.jsonl`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUG_OUTCOMES = ("crash", "hang", "internal-error", "miscompilation", "roundtrip")
BEGIN, END = "<!-- run.py:begin -->", "<!-- run.py:end -->"
STANDARD = r"""
import sys, json, tvm, tvm.script
text = json.load(open(sys.argv[1]))["ir"]
obj = tvm.script.from_source(text, check_well_formed=False)
mod = tvm.IRModule({"main": obj}) if isinstance(obj, tvm.tirx.PrimFunc) else obj
try:
    ex = tvm.compile(mod, target="llvm")
    ex.export_library(sys.argv[2])  # machine code is made lazily: exporting makes all of it
    print(json.dumps({"standard": "ok"}))
except Exception as e:
    print(json.dumps({"standard": "error", "standard_message": type(e).__name__ + ": " + (str(e).strip().splitlines() or [""])[0]}))
"""


def first_line(text: str | None) -> str:
    """The first non-empty line of a message, at most 200 characters."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


def derived_verdict(outcome: str) -> str:
    """The verdict an old checkout implied: its bug outcomes were bugs, a rejection a filter."""
    return "bug" if outcome in BUG_OUTCOMES else "filtered" if outcome == "rejected" else outcome


def run_case(path: Path, pythonpath: str, timeout: float, python: str) -> dict:
    """One case through `tirfuzz run --json` in a subprocess: the fields that decide its verdict."""
    env = {**os.environ, "PYTHONPATH": pythonpath}
    cmd = [python, "-m", "tirfuzz.cli", "run", str(path), "--json", "--timeout", str(timeout)]
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 4 + 120, env=env, cwd="/tmp")
        rc, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired as e:
        rc, out, err = None, e.stdout or "", f"run.py: the CLI ran past {timeout * 4 + 120:.0f}s"
        out, err = (out.decode() if isinstance(out, bytes) else out), err
    wall = round(time.monotonic() - t0, 2)
    res = None
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            try:
                res = json.loads(line)
                break
            except json.JSONDecodeError:
                continue
    row = {"case": path.name, "rc": rc, "wall_s": wall}
    if res is None:  # the CLI refused the case (parse failure, bad file) or died
        row.update(outcome="no-result", verdict="no-result", message=first_line(err.strip().splitlines()[-1]
                                                                                   if err.strip() else ""))
        return row
    row.update(outcome=res.get("outcome"), verdict=res.get("verdict") or derived_verdict(res.get("outcome", "")),
               verdict_given="verdict" in res, verdict_filter=res.get("verdict_filter"), stage=res.get("stage"),
               target=res.get("target"), filter=res.get("filter"), signal=res.get("signal"),
               resource=res.get("resource"), exc_type=res.get("exc_type"), frame=res.get("frame"),
               message=first_line(res.get("message")), oracle_filter=(res.get("oracle") or {}).get("filtered"))
    return row


def standard_build(path: Path, python: str) -> dict:
    """TVM's own `tvm.compile(mod, target="llvm")` of the case's program, in a child."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            r = subprocess.run([python, "-c", STANDARD, str(path), f"{tmp}/lib.so"], capture_output=True, text=True,
                               timeout=120, cwd=tmp)
        except subprocess.TimeoutExpired:
            return {"standard": "timeout"}
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = [line for line in r.stderr.splitlines() if line.strip() and "Segfault" not in line]
    return {"standard": f"died (rc {r.returncode})", "standard_message": first_line(tail[-1] if tail else "")}


def origins(folder: Path) -> dict[str, dict]:
    """Each case's `foreign` record (test file and program name), by case file name."""
    out = {}
    for p in folder.glob("*.json"):
        try:
            out[p.name] = json.loads(p.read_text()).get("foreign", {})
        except (OSError, json.JSONDecodeError):
            out[p.name] = {}
    return out


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def table(rows: list[list], head: list[str]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def summary(runs: dict[str, list[dict]]) -> str:
    """Markdown: outcome and verdict counts per run side by side, top messages per bug outcome of the last."""
    labels = list(runs)
    out = []
    for key in ("outcome", "verdict"):
        counts = {lab: collections.Counter(r.get(key) for r in rows) for lab, rows in runs.items()}
        keys = sorted({k for c in counts.values() for k in c}, key=str)
        rows = [[k] + [counts[lab].get(k, 0) for lab in labels] for k in keys]
        rows.append(["**total**"] + [sum(counts[lab].values()) for lab in labels])
        out.append(f"### {key.capitalize()}s\n\n" + table(rows, [key] + labels))
    last = runs[labels[-1]]
    filt = collections.Counter(r.get("verdict_filter") or r.get("filter") for r in last
                               if r.get("verdict") == "filtered")
    if filt:
        out.append(f"### Filters ({labels[-1]})\n\n" + table(sorted(filt.items(), key=lambda kv: -kv[1]),
                                                             ["filter", "cases"]))
    for lab in labels:
        by = collections.defaultdict(collections.Counter)
        for r in runs[lab]:
            if r.get("verdict") in ("bug", "tool-error", "no-result"):
                by[r["outcome"]][f"{r.get('stage') or ''} {r.get('signal') or ''} {r.get('message') or ''}"[:150]] += 1
        rows = [[o, n, m.strip()] for o in sorted(by) for m, n in by[o].most_common(6)]
        if rows:
            out.append(f"### Top messages of bug, tool-error and no-result verdicts ({lab})\n\n"
                       + table(rows, ["outcome", "cases", "stage signal message"]))
    return "\n\n".join(out)


def bug_rows(rows: list[dict], origin: dict[str, dict]) -> str:
    """Every bug verdict of a run, with its origin and TVM's own build of the same program."""
    lines = []
    for r in rows:
        if r.get("verdict") == "bug":
            o = origin.get(r["case"], {})
            std = r.get("standard", "")
            std += f": {r['standard_message'][:90]}" if r.get("standard_message") else ""
            lines.append([r["case"], f"{o.get('source', '?').removeprefix('tests/python/')} {o.get('name', '')}",
                          r["outcome"], f"{r.get('stage')} {r.get('signal') or ''}".strip(),
                          (r.get("message") or "")[:100], std])
    return table(lines, ["case", "test file, program", "outcome", "stage", "message", "tvm.compile llvm"])


def write_summary(md: Path, text: str) -> None:
    """Replace the generated part of md (between the markers), keeping the rest; create it if absent."""
    block = f"{BEGIN}\n{text}\n{END}"
    old = md.read_text() if md.exists() else ""
    if BEGIN in old and END in old:
        new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
    else:
        new = (old + "\n\n" if old else "") + block + "\n"
    md.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cases", type=Path, help="folder of tirfuzz-case/1 files")
    ap.add_argument("--out", type=Path, required=True, help="JSONL, one line per case")
    ap.add_argument("--pythonpath", default="", help="PYTHONPATH for the CLI: a folder holding `tirfuzz`")
    ap.add_argument("--python", default=sys.executable, help="interpreter with TVM")
    ap.add_argument("--timeout", type=float, default=30.0, help="`tirfuzz run --timeout`, seconds")
    ap.add_argument("--resume", action="store_true", help="keep the cases already in --out, run the rest")
    ap.add_argument("--standard", action="store_true", help="also tvm.compile each bug case for llvm")
    ap.add_argument("--summary", type=Path, help="markdown file whose generated part to (re)write")
    ap.add_argument("--compare", type=Path, nargs="*", default=[], help="earlier JSONL runs to show beside")
    ap.add_argument("--summary-only", action="store_true", help="run nothing; summarize --out (and --compare)")
    ap.add_argument("--restandard", action="store_true", help="run nothing but redo --standard on --out's bugs")
    a = ap.parse_args()
    cases = sorted(a.cases.glob("*.json"))
    if a.restandard:
        rows = load(a.out)
        for r in rows:
            if r["verdict"] in ("bug", "no-result", "tool-error"):
                r.pop("standard_message", None)
                r.update(standard_build(a.cases / r["case"], a.python))
        a.out.write_text("".join(json.dumps(r) + "\n" for r in rows))
        a.summary_only = True
    if not a.summary_only:
        done = {r["case"]: r for r in load(a.out)} if a.resume else {}
        a.out.parent.mkdir(parents=True, exist_ok=True)
        with open(a.out, "a" if a.resume else "w") as f:
            for i, path in enumerate(cases):
                if path.name in done:
                    continue
                row = run_case(path, a.pythonpath, a.timeout, a.python)
                if a.standard and row["verdict"] in ("bug", "no-result", "tool-error"):
                    row.update(standard_build(path, a.python))
                f.write(json.dumps(row) + "\n")
                f.flush()
                print(f"[{i + 1}/{len(cases)}] {path.name}: {row['outcome']} {row.get('stage') or ''} "
                      f"{row['wall_s']}s", file=sys.stderr, flush=True)
    if a.summary:
        runs = {p.stem: load(p) for p in a.compare}
        runs[a.out.stem] = load(a.out)
        text = (f"Cases: {len(cases)} in {a.cases}; generated by bench/foreign/run.py on "
                f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n" + summary(runs)
                + f"\n\n### Every bug verdict ({a.out.stem})\n\n" + bug_rows(runs[a.out.stem], origins(a.cases)))
        write_summary(a.summary, text)


if __name__ == "__main__":
    main()
