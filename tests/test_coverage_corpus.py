"""Coverage through the executor: per-case new blocks, and outputs unchanged by breakpoints."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

from conftest import FLAT_IR

from tirfuzz.corpus import list_seeds
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig


def test_outputs_bit_identical_with_coverage_on_and_off_over_the_seed_corpus():
    seeds = list_seeds()
    assert len(seeds) >= 60

    def outputs(cov):  # each side in its own fork server: the two run at once, on two cores
        got = {}
        with Executor(ExecutorConfig(timeout_s=60, coverage=cov, persistent=16)) as ex:  # kept children, as a campaign
            for s in seeds:
                res = ex.run(seed_case(s, ["llvm"], input_seed=2))
                assert res.outcome == "ok", (s.name, cov, res.message)
                got[s.name] = [(a.dtype.str, a.shape, a.tobytes()) for a in res.outputs["llvm"]["main"]]
            total = ex.run(TestCase(FLAT_IR)).cov_total if cov else None
        return got, total

    with ThreadPoolExecutor(2) as pool:
        (off, _), (on, total) = pool.map(outputs, (None, "tvm"))
    assert total > 20_000
    for s in seeds:
        assert on[s.name] == off[s.name], f"{s.name}: outputs differ with coverage on"


def test_executor_reports_the_blocks_each_case_uncovers_first():
    with Executor(ExecutorConfig(timeout_s=60, coverage="tvm", warmup=False)) as ex:
        first = ex.run(TestCase(FLAT_IR), want_sites=True)
        again = ex.run(TestCase(FLAT_IR, input_seed=3), want_sites=True)
        other = ex.run(TestCase(FLAT_IR, targets=["c"]), want_sites=True)
    assert first.outcome == again.outcome == other.outcome == "ok"
    assert first.new_blocks == len(first.new_sites) > 10_000
    assert again.new_blocks < first.new_blocks // 50  # the same program again: (almost) nothing new
    assert other.new_blocks > 200  # the C backend's code generator
    assert other.cov_total == first.new_blocks + again.new_blocks + other.new_blocks + (first.cov_total - first.new_blocks)


def test_cli_coverage_json_counts_blocks_of_a_seed():
    p = subprocess.run([sys.executable, "-m", "tirfuzz.cli", "coverage", "relu_f32", "add_int32", "--json"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.strip().splitlines()]
    assert [r["input"] for r in rows] == ["relu_f32", "add_int32"]
    assert rows[0]["blocks"] >= 20_000 and rows[0]["new"] == rows[0]["blocks"]
    assert 0 < rows[1]["new"] < rows[1]["blocks"]
