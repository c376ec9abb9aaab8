"""The live status screen of a campaign (a plain line every 10 s when not on a terminal)."""

from __future__ import annotations

import sys
import time

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table


def _fmt_s(s: float) -> str:
    s = int(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class StatusScreen:
    """Renders a campaign's counters; call update() often, it redraws at most 4 times a second."""

    def __init__(self, campaign, out_dir: str, console: Console | None = None):
        self.campaign, self.out_dir = campaign, out_dir
        self.console = console or Console(stderr=True)
        self.live: Live | None = None
        self.events: list[str] = []
        self.last_draw = 0.0
        self.last_line = 0.0

    def __enter__(self) -> "StatusScreen":
        if self.console.is_terminal:
            self.live = Live(self.render(), console=self.console, refresh_per_second=4, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.update(self.render())
            self.live.__exit__(*exc)

    def event(self, msg: str) -> None:
        self.events = (self.events + [f"{_fmt_s(self.campaign.elapsed())} {msg}"])[-5:]
        if self.live is None:
            print(f"[tirfuzz] {msg}", file=sys.stderr, flush=True)

    def update(self) -> None:
        now = time.monotonic()
        if self.live is not None and now - self.last_draw >= 0.25:
            self.live.update(self.render())
            self.last_draw = now
        elif self.live is None and now - self.last_line >= 10:
            r = self.campaign.stats_row()
            print(f"[tirfuzz] {_fmt_s(r['elapsed_s'])} execs {r['execs']} ({r['execs_per_s']:.2f}/s) "
                  f"blocks {r['cov_blocks']} corpus {r['corpus_size']} valid {r['valid_ratio']:.0%} "
                  f"bugs {sum(r['bugs'].values())}", file=sys.stderr, flush=True)
            self.last_line = now

    def render(self):
        c = self.campaign
        r = c.stats_row()
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold cyan")
        t.add_column()
        t.add_column(style="bold cyan")
        t.add_column()
        since = c.elapsed() - c.stats.last_find if c.stats.last_find else c.elapsed()
        t.add_row("run time", _fmt_s(r["elapsed_s"]), "blocks", f"{r['cov_blocks']:,}")
        t.add_row("execs", f"{r['execs']:,}", "corpus", f"{r['corpus_size']:,}")
        t.add_row("execs/s", f"{r['execs_per_s']:.2f}", "valid", f"{r['valid_ratio']:.1%}")
        t.add_row("last new block", _fmt_s(since) + " ago", "declined", f"{r['declined']:,}")
        bugs = ", ".join(f"{k} {v}" for k, v in sorted(r["bugs"].items())) or "none yet"
        t.add_row("bugs", bugs, "last bug", c.stats.last_bug or "-")
        body = Group(t, *(f"[dim]{e}[/]" for e in self.events))
        return Panel(body, title=f"tirfuzz  {self.out_dir}", subtitle="Ctrl-C stops; --resume continues")


def run_with_screen(campaign, out_dir: str, resume: bool, parallel=None) -> bool:
    """Run a campaign to its budget under the status screen; True when Ctrl-C stopped it (saved and closed)."""
    with StatusScreen(campaign, out_dir) as screen:
        campaign.on_event = screen.event
        campaign.on_progress = screen.update
        screen.event("resuming" if resume else "starting the fork server and running the seeds")
        try:
            campaign.run(resume, on_tick=screen.update,
                         parallel=parallel(campaign) if parallel is not None else None)
        except KeyboardInterrupt:
            return True
    return False
