"""Campaign reports: summary.json, summary.md and a self-contained index.html from a campaign directory.

Usage: `write_reports(Path("runs/c10"))`, or `python -m tirfuzz.reports.summary runs/c10`. The input
directory is only read; everything goes to `<campaign>/reports/`. Links in all three files are relative
to that folder (`../bugs/<signature>/report.md`), so the reports open from disk with no server.
"""

from __future__ import annotations

import html
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tirfuzz.fuzzer.campaign.bugs import BugRecord
from tirfuzz.fuzzer.campaign.stats import StatsRow, read_stats
from tirfuzz.fuzzer.campaign.yields import Yields
from tirfuzz.fuzzer.core.case import atomic_write
from tirfuzz.reports.upstream import KnownIssue, load_known, match

FORMATS = ("html", "md", "json")
KIND_ORDER = ("crash", "hang", "internal-error", "miscompilation", "roundtrip")
KIND_COLORS = {"crash": "#c0392b", "hang": "#8e44ad", "internal-error": "#d35400",
               "miscompilation": "#1e8449", "roundtrip": "#2471a3"}
BUG_FILES = ("report.md", "case.json", "repro.py", "minimized.json", "info.json")


@dataclass
class CampaignReport:
    """Everything a report needs, read from one campaign directory."""

    path: Path
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    started: str | None = None
    stats: list[StatsRow] = field(default_factory=list)
    bugs: list[BugRecord] = field(default_factory=list)
    links: dict[str, dict[str, str]] = field(default_factory=dict)   # signature -> file name -> href
    mutators: list[dict[str, Any]] = field(default_factory=list)     # Yields.table(): what each mutator yielded

    @property
    def last(self) -> StatsRow:
        """The latest stats row (an all-zero row when there is none)."""
        return self.stats[-1] if self.stats else StatsRow()


# loading ---------------------------------------------------------------------------------------------

def bug_title(info: dict[str, Any]) -> str:
    """A one-line title for a bug from its info.json (BugRecord.title)."""
    return BugRecord.from_dict({"signature": "", "kind": info.get("kind") or "bug", **{k: v for k, v in info.items()
                                                                                    if k not in ("signature", "kind")}}).title


def _read_json(path: Path) -> Any:
    """Parsed JSON of a file, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _kind_key(kind: str) -> tuple[int, str]:
    """Sort key putting the known kinds first, in KIND_ORDER."""
    return (KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER), kind)


def read_bugs(bugs_dir: Path, known: list[KnownIssue] | None = None) -> tuple[list[BugRecord], dict[str, dict[str, str]]]:
    """One record per bug folder, sorted by kind then first execution, bugs known upstream last (matched
    against `known` when triage has not), and each one's files as links."""
    out: list[BugRecord] = []
    links: dict[str, dict[str, str]] = {}
    if not bugs_dir.is_dir():
        return out, links
    for d in sorted(p for p in bugs_dir.iterdir() if p.is_dir()):
        rec = BugRecord.load(d)
        if rec.known_upstream is None and known:
            hit = match(known, rec.kind, rec.stage, rec.message)
            rec.known_upstream = hit.record() if hit is not None else None
        out.append(rec)
        links[rec.signature] = {f: f"../bugs/{quote(d.name)}/{f}" for f in BUG_FILES if (d / f).is_file()}
    out.sort(key=lambda b: (b.known_upstream is not None, b.regression_since is None, _kind_key(b.kind),  # regressions first, known ones last
                            b.first_exec if b.first_exec is not None else math.inf, b.signature))
    return out, links


def upstream_label(b: BugRecord) -> str:
    """'known upstream: apache/tvm#N (open)' or ''."""
    k = b.known_upstream
    return f"known upstream: apache/tvm#{k.get('issue')} ({k.get('state')})" if k else ""


def load_campaign(campaign_dir: Path) -> CampaignReport:
    """Read campaign.json, stats.jsonl and bugs/ of a campaign directory (all optional)."""
    campaign_dir = Path(campaign_dir)
    meta = _read_json(campaign_dir / "campaign.json")
    meta = meta if isinstance(meta, dict) else {}
    bugs, links = read_bugs(campaign_dir / "bugs", load_known())
    yields = _read_json(campaign_dir / "mutators.json")
    return CampaignReport(path=campaign_dir, config=meta.get("config") or {}, versions=meta.get("versions") or {},
                          started=meta.get("started"), stats=read_stats(campaign_dir / "stats.jsonl"),
                          bugs=bugs, links=links,
                          mutators=Yields.from_dict(yields).table() if isinstance(yields, dict) else [])


def bug_view(b: BugRecord, links: dict[str, str]) -> dict[str, Any]:
    """What summary.json says of a bug."""
    return {"signature": b.signature, "kind": b.kind, "title": b.title, "count": b.count,
            "first_exec": b.first_exec, "last_exec": b.last_exec, "stage": b.stage, "target": b.target,
            "verified": b.verified, "minimized": b.minimized if isinstance(b.minimized, dict) else None,
            "known_upstream": b.known_upstream, "repro_form": b.repro_form, "release_range": b.release_range,
            "regression_since": b.regression_since, "links": links}


# summary ---------------------------------------------------------------------------------------------

def bugs_by_kind(bugs: list[BugRecord]) -> dict[str, dict[str, int]]:
    """Per kind, the number of distinct bugs and of hits (executions that reproduced one)."""
    out: dict[str, dict[str, int]] = {}
    for b in bugs:
        k = out.setdefault(b.kind, {"bugs": 0, "hits": 0})
        k["bugs"] += 1
        k["hits"] += b.count
    return {k: out[k] for k in sorted(out, key=_kind_key)}


def summary_dict(c: CampaignReport) -> dict[str, Any]:
    """The content of summary.json."""
    last = c.last
    totals = last.to_dict()
    totals.pop("bugs")
    totals["stats_rows"] = len(c.stats)
    return {"format": "tirfuzz-report/1", "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "campaign": {"name": c.path.resolve().name, "config": c.config, "versions": c.versions,
                         "started": c.started},
            "totals": totals, "bugs_by_kind": bugs_by_kind(c.bugs), "bugs": [bug_view(b, c.links.get(b.signature, {})) for b in c.bugs],
            "mutators": [{k: v for k, v in row.items() if k != "weight"} for row in c.mutators],
            "focus": focus_rows(c)}


def _dur(seconds: float) -> str:
    """Seconds as h:mm:ss."""
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def focus_rows(c: CampaignReport) -> list[dict[str, Any]]:
    """--focus: per focused pass, the execs it ran in and changed the module in, and the bugs in it (raised
    in it, or the culprit of a wrong result)."""
    execs = c.last.execs or 0
    out = []
    for name, n in (c.last.focus or {}).items():
        ran, changed = int(n.get("ran", 0)), int(n.get("changed", 0))
        bugs = [b.signature for b in c.bugs if b.stage == f"pass:{name}" or (b.oracle or {}).get("culprit") == name]
        out.append({"pass": name, "ran": ran, "changed": changed, "bugs": bugs,
                    "ran_pct": round(100 * ran / execs, 1) if execs else 0.0,
                    "changed_pct": round(100 * changed / execs, 1) if execs else 0.0})
    return out


def _headline(c: CampaignReport) -> list[tuple[str, str]]:
    """(label, value) pairs for the totals shown at the top of the md and html reports."""
    t = c.last
    return [("elapsed", _dur(t.elapsed_s)), ("executions", f"{t.execs:,}"), ("execs/s", f"{t.execs_per_s:.2f}"),
            ("coverage (blocks)", f"{t.cov_blocks:,}"), ("corpus", f"{t.corpus_size:,}"),
            ("valid ratio", f"{t.valid_ratio:.1%}"), ("distinct bugs", str(len(c.bugs))),
            ("last find", _dur(t.last_find_s))] + ([("tirfuzz errors", f"{t.tool_errors:,}")] if t.tool_errors else [])


def _status(b: BugRecord) -> str:
    """'regression since 0.26.0', 'verified', 'minimized 120→14 nodes', 'known upstream: apache/tvm#N (open)', ... or ''."""
    parts = [f"regression since {b.regression_since}"] if b.regression_since else []
    parts += [upstream_label(b)] if b.known_upstream else []
    if b.verified is not None:
        parts.append("verified" if b.verified else "not reproduced")
    if isinstance(b.minimized, dict):
        nb, na = b.minimized.get("nodes_before"), b.minimized.get("nodes_after")
        parts.append(f"minimized {nb}→{na} nodes" if nb is not None and na is not None else "minimized")
    return ", ".join(parts)


def untriaged(c: CampaignReport) -> bool:
    """Bugs that triage has not replayed yet (the report written at a campaign's end)."""
    return any(b.reproduces is None for b in c.bugs)


def _untriaged_html(c: CampaignReport) -> str:
    if not untriaged(c):
        return ""
    return (f"<p class=muted>Before triage: these are the campaign's first sightings. <code>tirfuzz triage "
            f"{html.escape(str(c.path))}</code> replays each, merges duplicates, minimizes, and writes a verified "
            f"repro.py and report.md per bug.</p>")


def _status_html(b: BugRecord) -> str:
    """_status with the upstream issue linked."""
    text = html.escape(_status(b))
    k = b.known_upstream
    if k and k.get("url"):
        label = html.escape(upstream_label(b))
        text = text.replace(label, f'<a class=known href="{html.escape(str(k["url"]))}">{label}</a>')
    return text


def _md_cell(value: Any) -> str:
    """A value made safe for a Markdown table cell."""
    return str("" if value is None else value).replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


# Each output difference and each crash once compiled code ran, by verdict: reported, the check of the
# checked run that hid it (ub:<check>), another named filter, or unexplained (the checked run failed).
DIFFERENCES_TITLE = "Differences and run-time crashes by verdict"


def render_markdown(c: CampaignReport) -> str:
    """The content of summary.md."""
    t = c.last
    name = c.path.resolve().name
    lines = [f"# tirfuzz campaign `{name}`", ""]
    if c.started:
        lines.append(f"Started {c.started}.  ")
    if c.versions:
        lines.append("Versions: " + ", ".join(f"{k} {v}" for k, v in c.versions.items()) + ".")
    lines += ["", "## Totals", "", "| | |", "| --- | ---: |"]
    lines += [f"| {k} | {v} |" for k, v in _headline(c)]
    for title, counts in (("Outcomes", t.outcomes), ("Filtered", t.filtered),
                          (DIFFERENCES_TITLE, t.differences), ("Targets dropped by a backend gap", t.dropped)):
        if counts:
            lines += ["", f"## {title}", "", "| | count |", "| --- | ---: |"]
            lines += [f"| {_md_cell(k)} | {v:,} |" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])]
    lines += ["", "## Bugs by kind", ""]
    if untriaged(c):
        lines += [f"Before triage: `tirfuzz triage {c.path}` replays each bug, merges duplicates, minimizes, "
                  "and writes a verified repro.py and report.md per bug.", ""]
    by_kind = bugs_by_kind(c.bugs)
    if by_kind:
        lines += ["| kind | distinct bugs | hits |", "| --- | ---: | ---: |"]
        lines += [f"| {k} | {v['bugs']} | {v['hits']} |" for k, v in by_kind.items()]
        lines += ["", "## Bugs", "", "Regressions (a release reproduces it and an earlier one ran it and did not) first.", "",
                  "| kind | signature | title | hits | first exec | status | releases | files |",
                  "| --- | --- | --- | ---: | ---: | --- | --- | --- |"]
        for b in c.bugs:
            files = " ".join(f"[{f}]({href})" for f, href in c.links.get(b.signature, {}).items())
            lines.append(f"| {b.kind} | `{b.signature}` | {_md_cell(b.title)} | {b.count} | "
                         f"{_md_cell(b.first_exec)} | {_status(b)} | {_md_cell(b.release_range)} | {files} |")
    else:
        lines.append("No bugs found.")
    for row in focus_rows(c):
        lines += ["", f"## Focus: `{row['pass']}`", "",
                  f"Ran in {row['ran']:,} of {t.execs:,} execs ({row['ran_pct']}%) and changed the module in "
                  f"{row['changed']:,} ({row['changed_pct']}%). Bugs in it: {len(row['bugs'])}"
                  + (" (" + ", ".join(f"`{b}`" for b in row["bugs"]) + ")" if row["bugs"] else "") + "."]
    if c.mutators:
        lines += ["", "## Mutators", "", "What each mutator's applications came to (a stack credits each of its mutators).", "",
                  "| mutator | applied | valid % | finds | bugs |", "| --- | ---: | ---: | ---: | ---: |"]
        lines += [f"| {m['mutator']} | {m['applied']:,} | {m['valid_pct']} | {m['finds']} | {m['bugs']} |" for m in c.mutators]
    if c.config:
        lines += ["", "## Configuration", "", "```json", json.dumps(c.config, indent=1, default=str), "```"]
    return "\n".join(lines) + "\n"


# html ------------------------------------------------------------------------------------------------

def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] with about n intervals."""
    if hi <= lo:
        pad = max(1.0, abs(lo) * 0.05)
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start, end = math.floor(lo / step) * step, math.ceil(hi / step) * step
    return [start + i * step for i in range(int(round((end - start) / step)) + 1)]


def _tick_label(v: float) -> str:
    """A tick value as short text: 97,500 / 2.5 / 1.2M."""
    if abs(v) >= 1e6:
        return f"{v / 1e6:.3g}M"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.3g}"


def coverage_svg(rows: list[StatsRow], width: int = 1000, height: int = 340) -> str:
    """Inline SVG: covered blocks (left axis) and corpus size (right axis) against elapsed minutes."""
    e = html.escape
    ml, mr, mt, mb = 78, 64, 40, 50
    pw, ph = width - ml - mr, height - mt - mb
    parts = [f'<svg class="plot" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="coverage over time">',
             f'<text x="{width / 2}" y="22" class="ptitle" text-anchor="middle">Coverage over time</text>']
    if not rows:
        parts += [f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" class="frame"/>',
                  f'<text x="{ml + pw / 2}" y="{mt + ph / 2}" text-anchor="middle" class="muted">'
                  'no statistics recorded yet</text></svg>']
        return "\n".join(parts)
    xs = [r.elapsed_s / 60 for r in rows]
    cov, corp = [r.cov_blocks for r in rows], [r.corpus_size for r in rows]
    xt = _nice_ticks(0, max(max(xs), 1e-9))
    yt = _nice_ticks(min(cov), max(cov))
    ct = _nice_ticks(0, max(max(corp), 1))

    def sx(x: float) -> float:
        return ml + (x - xt[0]) / (xt[-1] - xt[0]) * pw

    def sy(y: float, ticks: list[float]) -> float:
        return mt + ph - (y - ticks[0]) / (ticks[-1] - ticks[0]) * ph

    for v in yt:
        y = sy(v, yt)
        parts.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{ml - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{e(_tick_label(v))}</text>')
    for v in ct:
        y = mt + ph - (v - ct[0]) / (ct[-1] - ct[0]) * ph
        parts.append(f'<text x="{ml + pw + 6}" y="{y + 4:.1f}" class="tick corpus-t">{e(_tick_label(v))}</text>')
    for v in xt:
        x = sx(v)
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{mt + ph}" y2="{mt + ph + 5}" class="axis"/>'
                     f'<text x="{x:.1f}" y="{mt + ph + 18}" text-anchor="middle" class="tick">{e(_tick_label(v))}</text>')
    parts.append(f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" class="frame"/>')
    for cls, ys, ticks in (("corpus", corp, ct), ("cov", cov, yt)):
        pts = " ".join(f"{sx(x):.1f},{sy(y, ticks):.1f}" for x, y in zip(xs, ys))
        parts.append(f'<polyline class="{cls}" points="{pts}"/>')
        if len(rows) == 1:
            parts.append(f'<circle class="{cls}-dot" cx="{sx(xs[0]):.1f}" cy="{sy(ys[0], ticks):.1f}" r="3"/>')
    parts += [f'<text x="{ml + pw / 2}" y="{height - 10}" text-anchor="middle" class="label">elapsed (minutes)</text>',
              f'<text transform="translate(16 {mt + ph / 2}) rotate(-90)" text-anchor="middle" class="label">'
              'basic blocks covered</text>',
              f'<text transform="translate({width - 12} {mt + ph / 2}) rotate(90)" text-anchor="middle" '
              'class="label corpus-t">corpus size</text>',
              f'<line x1="{ml + 10}" x2="{ml + 30}" y1="{mt + 14}" y2="{mt + 14}" class="cov"/>'
              f'<text x="{ml + 36}" y="{mt + 18}" class="tick">blocks</text>'
              f'<line x1="{ml + 90}" x2="{ml + 110}" y1="{mt + 14}" y2="{mt + 14}" class="corpus"/>'
              f'<text x="{ml + 116}" y="{mt + 18}" class="tick">corpus</text>', "</svg>"]
    return "\n".join(parts)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;margin:0;background:#f4f5f7}
main{max-width:1100px;margin:0 auto;padding:20px 28px 40px;background:#fff;min-height:100vh}
h1{font-size:22px;margin:4px 0 2px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #e3e5e8;padding-bottom:4px}
.muted{color:#777;fill:#888}.meta{color:#555;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{background:#f7f8fa;border:1px solid #e3e5e8;border-radius:6px;padding:8px 14px;min-width:110px}
.card .v{font-size:19px;font-weight:600}.card .k{font-size:12px;color:#666}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid #eceef1;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f7f8fa;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
table.small{width:auto;min-width:280px}
tr.group td{background:#fbfbfc;font-weight:600;padding-top:10px}
.kind{display:inline-block;color:#fff;border-radius:3px;padding:0 6px;font-size:12px}
td code{white-space:nowrap}code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
a{color:#1f5fa8;text-decoration:none}a:hover{text-decoration:underline}
.files a{margin-right:8px;display:inline-block}td.files{min-width:120px}.row{display:flex;gap:28px;flex-wrap:wrap}
td{overflow-wrap:anywhere}
svg.plot{max-width:100%;height:auto;background:#fff}
svg .frame{fill:none;stroke:#999}svg .grid{stroke:#eee}svg .axis{stroke:#999}
svg .tick{font-size:11px;fill:#555}svg .label{font-size:12px;fill:#333}svg .ptitle{font-size:15px;font-weight:600;fill:#222}
svg .cov{fill:none;stroke:#1f77b4;stroke-width:2}svg .corpus{fill:none;stroke:#ff7f0e;stroke-width:1.5;stroke-dasharray:5 3}
svg .cov-dot{fill:#1f77b4}svg .corpus-dot{fill:#ff7f0e}svg .corpus-t{fill:#c0660b}
details{margin-top:8px}pre{background:#f7f8fa;padding:8px;overflow:auto;font-size:12px}
"""


def _counts_table(title: str, counts: dict[str, int]) -> str:
    """A small two-column HTML table of counts, largest first ('' when empty)."""
    if not counts:
        return ""
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td class=n>{v:,}</td></tr>"
                   for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"<div><h2>{html.escape(title)}</h2><table class=small><tr><th>{html.escape(title.split()[0].lower())}" \
           f"</th><th class=n>count</th></tr>{rows}</table></div>"


def _badge(kind: str) -> str:
    """A coloured label for a bug kind."""
    return f'<span class=kind style="background:{KIND_COLORS.get(kind, "#555")}">{html.escape(kind)}</span>'


def render_html(c: CampaignReport) -> str:
    """The content of index.html: one static page with inline CSS and SVG, no external resources."""
    e = html.escape
    name = c.path.resolve().name
    meta = []
    if c.started:
        meta.append(f"started {e(str(c.started))}")
    if c.versions:
        meta.append(" · ".join(f"{e(str(k))} {e(str(v))}" for k, v in c.versions.items()))
    cfg = c.config
    brief = [f"{k}: {cfg[k] if not isinstance(cfg[k], list) else ', '.join(map(str, cfg[k]))}"
             for k in ("mode", "targets", "seed", "time_s", "execs", "coverage") if cfg.get(k) is not None]
    cards = "".join(f'<div class=card><div class=v>{e(v)}</div><div class=k>{e(k)}</div></div>'
                    for k, v in _headline(c))
    by_kind = bugs_by_kind(c.bugs)
    kind_rows = "".join(f"<tr><td>{_badge(k)}</td><td class=n>{v['bugs']}</td><td class=n>{v['hits']:,}</td></tr>"
                        for k, v in by_kind.items())
    kind_table = (f"<div><h2>Bugs by kind</h2><table class=small><tr><th>kind</th><th class=n>distinct</th>"
                  f"<th class=n>hits</th></tr>{kind_rows}</table></div>") if by_kind else ""
    if c.bugs:
        body, current = [], None
        regressions = sum(1 for b in c.bugs if b.regression_since)
        for b in c.bugs:
            group = "regression" if b.regression_since else b.kind
            if group != current:
                current = group
                label = (f"<b>regressions</b> {regressions}" if group == "regression" else
                         f"{_badge(b.kind)} {by_kind[b.kind]['bugs']} distinct")
                body.append(f"<tr class=group><td colspan=8>{label}</td></tr>")
            files = "".join(f'<a href="{e(href)}">{e(f)}</a>' for f, href in c.links.get(b.signature, {}).items())
            body.append(f"<tr><td><code>{e(b.signature)}</code></td><td>{e(b.title)}</td>"
                        f"<td class=n>{b.count:,}</td><td class=n>{e(str(b.first_exec))}</td>"
                        f"<td>{e(str(b.target or ''))}</td><td>{_status_html(b)}</td>"
                        f"<td>{e(b.release_range or '')}</td><td class=files>{files}</td></tr>")
        bugs_html = ("<table><tr><th>signature</th><th>title</th><th class=n>hits</th><th class=n>first exec</th>"
                     "<th>target</th><th>status</th><th>releases</th><th>files</th></tr>" + "".join(body) + "</table>")
    else:
        bugs_html = "<p class=muted>No bugs found.</p>"
    focus_html = "".join(
        f"<h2>Focus: <code>{e(r['pass'])}</code></h2><div class=meta>ran in {r['ran']:,} of {c.last.execs:,} execs "
        f"({r['ran_pct']}%), changed the module in {r['changed']:,} ({r['changed_pct']}%); bugs in it: "
        f"{len(r['bugs'])}{' (' + ', '.join(e(b) for b in r['bugs']) + ')' if r['bugs'] else ''}</div>"
        for r in focus_rows(c))
    mut_rows = "".join(f"<tr><td>{e(m['mutator'])}</td><td class=n>{m['applied']:,}</td><td class=n>{m['valid_pct']}</td>"
                       f"<td class=n>{m['finds']}</td><td class=n>{m['bugs']}</td></tr>" for m in c.mutators)
    mutators_html = ("<h2>Mutators</h2><table class=small><tr><th>mutator</th><th class=n>applied</th><th class=n>valid %</th>"
                     f"<th class=n>finds</th><th class=n>bugs</th></tr>{mut_rows}</table>") if c.mutators else ""
    config_html = (f"<details><summary>full configuration</summary><pre>{e(json.dumps(cfg, indent=1, default=str))}"
                   "</pre></details>") if cfg else ""
    generated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>tirfuzz campaign {e(name)}</title><style>{_CSS}</style></head>
<body><main>
<h1>tirfuzz campaign <code>{e(name)}</code></h1>
<div class=meta>{"<br>".join(meta)}</div>
<div class=meta>{e(" · ".join(brief))}</div>
<div class=cards>{cards}</div>
{coverage_svg(c.stats)}
<div class=row>{kind_table}{_counts_table("Outcomes", c.last.outcomes)}{_counts_table("Filtered", c.last.filtered)}{_counts_table(DIFFERENCES_TITLE, c.last.differences)}{_counts_table("Targets dropped", c.last.dropped)}</div>
{focus_html}
<h2>Bugs</h2>
{_untriaged_html(c)}{bugs_html}
<h2>Campaign</h2>
<div class=meta>{len(c.stats)} statistics rows; declined {c.last.declined:,}, mutator crashes {c.last.mutator_crashes:,},
too slow to test (hangs whose reference also ran past the limit) {c.last.slow_runs:,}, crashes a check explained {c.last.ub_crashes:,}, lost runs {c.last.lost_runs:,},
tirfuzz's own errors (cases in tool-errors/, not TVM bugs) {c.last.tool_errors:,}.</div>
{mutators_html}
{config_html}
<p class=muted>Generated {generated}. Also: <a href="summary.md">summary.md</a>, <a href="summary.json">summary.json</a>.</p>
</main></body></html>
"""


# one bug ---------------------------------------------------------------------------------------------

def issue_report(campaign_dir: Path, signature: str) -> str:
    """The report.md of one bug (by signature, or a prefix that names one bug); ValueError in one line
    when there is no such bug or it has no report yet."""
    root = Path(campaign_dir) / "bugs"
    names = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    found = [n for n in names if n == signature] or [n for n in names if n.startswith(signature)]
    if not found:
        known = ", ".join(names[:6]) + (", …" if len(names) > 6 else "") if names else "none"
        raise ValueError(f"no bug {signature!r} in {root} (bugs: {known})")
    if len(found) > 1:
        raise ValueError(f"{signature!r} names {len(found)} bugs: {', '.join(found[:6])}; give more of the signature")
    path = root / found[0] / "report.md"
    if not path.is_file():
        raise ValueError(f"{found[0]} has no report.md yet: run `tirfuzz triage {campaign_dir}` first")
    return path.read_text()


# writing ---------------------------------------------------------------------------------------------

def write_reports(campaign_dir: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write summary.json / summary.md / index.html (per `formats`) into <campaign_dir>/reports/."""
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise ValueError(f"unknown report formats: {sorted(unknown)} (known: {', '.join(FORMATS)})")
    campaign = load_campaign(Path(campaign_dir))
    out_dir = Path(campaign_dir) / "reports"
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt, name, render in (("json", "summary.json", lambda: json.dumps(summary_dict(campaign), indent=1,
                                                                            default=str) + "\n"),
                              ("md", "summary.md", lambda: render_markdown(campaign)),
                              ("html", "index.html", lambda: render_html(campaign))):
        if fmt in formats:
            atomic_write(out_dir / name, render())
            written.append(out_dir / name)
    return written


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["."]:
        for p in write_reports(Path(arg)):
            print(p)
