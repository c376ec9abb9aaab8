"""How one result is shown on a terminal (`tirfuzz run`)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.oracles.verdict import REASONS, Verdict


def print_result(console: Console, res: ExecResult, verdict: Verdict) -> None:
    """The outcome, stage, verdict, oracle, message, timings and output shapes of one run, as a table."""
    colour = {"ok": "green", "filtered": "yellow", "tool-error": "magenta"}.get(verdict.kind, "red")
    t = Table(show_header=False, box=None)
    t.add_row("outcome", f"[bold {colour}]{res.outcome}[/]")
    t.add_row("stage", res.stage + (f" (target {res.target})" if res.target else ""))
    checked = res.oracle.get("checked") or {}
    if verdict.kind == "filtered" and res.outcome != "rejected":
        why = verdict.reason or REASONS.get(verdict.filter or "", "")
        t.add_row("verdict", escape(f"not a bug: filter {verdict.filter}" + (f" ({why})" if why else "")))
    elif verdict.is_bug and verdict.reason:
        t.add_row("verdict", escape(f"bug: {verdict.reason}"))
    elif verdict.is_bug and res.outcome in ("crash", "hang") and checked:
        t.add_row("verdict", "bug: the checked run of the same inputs trips no check" if not checked.get("error")
                  else f"bug (the checked run could not judge it: {checked['error'][:200]})")
    if res.reference_try is not None:
        r = res.reference_try
        t.add_row("reference", f"TVM's default pipeline ({r.target}) on the same program: {r.outcome}"
                  + (f" in {r.elapsed_ms / 1e3:.1f} s" if r.outcome == "finished" else
                     f" (not within {r.waited_s or r.limit_s:g} s)" if r.outcome == "hang" else f" at {r.stage}: {r.message}"))
    if res.dropped:
        t.add_row("dropped", ", ".join(f"{tg} (known gap: {gap})" for tg, gap in res.dropped.items()))
    for key in ("filter", "signal", "resource", "exc_type", "frame"):
        if getattr(res, key):
            t.add_row(key, str(getattr(res, key)))
    if res.oracle.get("compared") is not None:
        o = res.oracle
        t.add_row("oracle", f"compared {', '.join(o.get('compared') or []) or 'nothing'} with the reference "
                  f"({o.get('family')})" + (f"; difference hidden by filter {o['filtered']}: {o['reason']}"
                                           if o.get("filtered") else ""))
    std = res.oracle.get("standard_build")
    if isinstance(std, dict):
        t.add_row("tvm.compile", ("[yellow]fails the same way[/]: " if std.get("fails") else "does not fail the same "
                                  "way: ") + str(std.get("how", "")))
    if res.message:
        t.add_row("message", escape(res.message if len(res.message) < 600 else res.message[:600] + " ..."))
    t.add_row("timings", ", ".join(f"{k} {v:.0f} ms" for k, v in res.timings_ms.items() if v >= 0.5))
    for target, funcs in res.outputs.items():
        for fname, arrays in funcs.items():
            t.add_row(f"outputs {target}", f"{fname}: " + ", ".join(f"{a.dtype}{list(a.shape)}" for a in arrays))
    console.print(t)


def print_seed_list(console: Console, seeds: list) -> None:
    t = Table("name", "kind", "dtype", "op")
    for s in seeds:
        t.add_row(s.name, s.kind, s.dtype, s.op)
    console.print(t)
    console.print(f"{len(seeds)} seeds in {seeds[0].path.parent if seeds else '?'}")


def print_seed_check(console: Console, rows: list[dict], targets: list[str]) -> None:
    t = Table("name", "kind", "dtype", *[f"{tg} compile ms" for tg in targets], "status")
    for r in rows:
        status = "[green]ok[/]" if r["status"] == "ok" else f"[red]{r['status']}[/] {r['stage']}: {r['message']}"
        t.add_row(r["name"], r["kind"], r["dtype"], *[f"{r[f'compile_ms_{tg}']:.0f}" for tg in targets], status)
    console.print(t)
    ok = sum(r["status"] == "ok" for r in rows)
    console.print(f"{ok}/{len(rows)} seeds parse and build for {', '.join(targets)}")


def print_coverage(console: Console, rows: list[dict], total: int, scope: str, granularity: str) -> None:
    t = Table("input", "outcome", "blocks", "new", "ms")
    for r in rows:
        t.add_row(r["input"], r["outcome"], f"{r['blocks']:,}", f"{r['new']:,}", f"{r['ms']:.0f}")
    console.print(t)
    console.print(f"{total:,} distinct {granularity}s ({scope} scope) over {len(rows)} inputs")


def print_mapping(console: Console, info: dict) -> None:
    """Key-value lines (`tirfuzz version`)."""
    t = Table(show_header=False, box=None)
    for k, v in info.items():
        t.add_row(k, ", ".join(f"{a}={b}" for a, b in v.items()) if isinstance(v, dict) else str(v))
    console.print(t)
