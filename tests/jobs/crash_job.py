"""An executor job for tests/test_throughput_parts.py: a mutation whose process dies (as a TVM crash in the
middle of a mutation would), to show that such a death is the mutation's, never a case's."""

from __future__ import annotations

import os
import signal
from typing import Any


def crash_job(case, spec: dict[str, Any], pool: Any):
    """Never returns: the process is killed by SIGSEGV."""
    os.kill(os.getpid(), signal.SIGSEGV)
    raise AssertionError("unreachable")
