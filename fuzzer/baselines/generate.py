"""The generation baseline (`fuzz --mode generate`, TVMFuzz-like): a fresh random program every exec, no feedback.

After the same seeds as any campaign, each exec runs a new program from `mutators.program` (random
well-typed TIR, no seed behind it) under a random pass sequence: TVM's default pipeline changed by 0 to
6 pass-sequence and PassContext mutations drawn like a campaign draws them. Nothing a run finds steers
the next one; the campaign's accounting (stats, bugs, filters, coverage) is the same as tirfuzz's.
"""

from __future__ import annotations

from typing import Any

from tirfuzz.fuzzer.campaign.campaign import Campaign
from tirfuzz.fuzzer.campaign.corpus import Entry


class GenerateCampaign(Campaign):
    """A campaign whose every step is a freshly generated case (works with one job or several); one is kept
    (for the record) only when it found blocks. The programs are those a tirfuzz campaign mixes in now
    and then (campaign/fresh.py)."""

    def plan(self) -> tuple[Entry, list[str], dict[str, Any] | None]:
        """A new case (Campaign.plan_fresh): no mutation request."""
        return self.plan_fresh()
