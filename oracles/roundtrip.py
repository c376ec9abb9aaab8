"""The round-trip oracle: print a module as TVMScript, parse it back, and require the same module
(up to the normalization block regions get when parsed: then one more round must change nothing).

The check lives in fuzzer/core/runtime.py, which every repro.py embeds.
"""

from __future__ import annotations

from tirfuzz.fuzzer.core.runtime import NORMALIZED, check_roundtrip

__all__ = ["NORMALIZED", "check_roundtrip"]
