"""Oracles: what decides that a case that ran is a bug (round trip, differential), and the false-alarm filters.

The pipeline runs `DEFAULT_ORACLES` (fuzzer/execution/pipeline.py, `run_case(oracle=True)`); the
interface is in `oracles/base.py`.
"""

from tirfuzz.oracles.base import BUILT, PARSED, Finding, Oracle, OracleContext
from tirfuzz.oracles.differential import DifferentialOracle
from tirfuzz.oracles.roundtrip import RoundTripOracle

# In the order they run at each point: the round trip after parsing, the differential check after the builds.
DEFAULT_ORACLES: tuple[Oracle, ...] = (RoundTripOracle(), DifferentialOracle())
