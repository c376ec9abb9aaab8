"""The campaign's corpus: the kept entries, their cases, and what makes a case worth keeping."""

from __future__ import annotations

# A case counts as new only when it reaches at least this many blocks no case reached before (a
# handful is rarely worth its slot). Runs are repeatable (see forkserver.py and wire.py), so same --seed, same corpus.
MIN_NEW_BLOCKS = 4
