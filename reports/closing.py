"""What a person sees when a campaign ends: a few lines, not a JSON dictionary.

The bugs found with one-line titles, the coverage, where the report is, and the next command. Read from
the campaign directory only (campaign.json, stats.jsonl, bugs/), like the report it points to.
"""

from __future__ import annotations

from pathlib import Path

from tirfuzz.reports.summary import CampaignReport, load_campaign

SHOWN_BUGS = 12     # more than this: the first ones and a count; the report has them all


def _elapsed(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def closing_lines(campaign_dir: Path, interrupted: bool = False) -> list[str]:
    """The campaign's end screen (plain text lines)."""
    c: CampaignReport = load_campaign(Path(campaign_dir))
    t, out = c.last, Path(campaign_dir)
    head = "stopped" if interrupted else "finished"
    lines = [f"campaign {head} after {_elapsed(t.elapsed_s)}: {t.execs:,} execs ({t.execs_per_s:.2f}/s), "
             f"{t.cov_blocks:,} blocks of TVM covered, corpus {t.corpus_size:,}, valid {t.valid_ratio:.0%}"]
    if t.tool_errors:
        lines.append(f"tirfuzz's own errors: {t.tool_errors} (in {out / 'tool-errors'}; not TVM bugs)")
    if not c.bugs:
        lines.append("no bugs found")
    else:
        lines.append(f"{len(c.bugs)} distinct bug{'s' if len(c.bugs) != 1 else ''} (before triage; duplicates "
                     f"are merged by triage):")
        width = max(len(b.signature) for b in c.bugs[:SHOWN_BUGS])
        for b in c.bugs[:SHOWN_BUGS]:
            seen = f" (x{b.count})" if b.count and b.count > 1 else ""
            lines.append(f"  {b.signature:<{width}}  {b.title}{seen}")
        if len(c.bugs) > SHOWN_BUGS:
            lines.append(f"  ... and {len(c.bugs) - SHOWN_BUGS} more in the report")
    lines.append(f"report: {out / 'reports' / 'index.html'}")
    if interrupted:
        lines.append(f"resume: tirfuzz fuzz --out {out} --resume")
    if c.bugs:
        lines.append(f"next:   tirfuzz triage {out}    (replay, merge duplicates, minimize, verified repro.py "
                     f"and report.md per bug)")
    return lines
