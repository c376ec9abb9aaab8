"""The libFuzzer baseline (Tzer's "LibFuzzer"): atheris' own byte-level mutation of the seeds' TVMScript text.

libFuzzer (linked into atheris) owns the loop: corpus, mutation (-seed, -max_len, -max_total_time) and
the decision to keep an input. Each input's bytes are decoded as TVMScript and run like a seed case
(TVM's default pipeline, the campaign's targets and oracles) in tirfuzz's executor, with native block
coverage. The feedback is TVM's coverage itself: one atheris counter is reserved per coverage site
(`atheris._reserve_counter`), and every site an input reaches first is reported with
`atheris._trace_branch`, so libFuzzer keeps exactly the inputs that reach new blocks of libtvm. No Python
code is instrumented.

    tirfuzz fuzz --mode libfuzzer --out DIR --time 30m [--seed S] [--seeds a,b] [--targets llvm,c]

OUT holds what a campaign holds (campaign.json, stats.jsonl, state.json, coverage.npy, bugs/), plus
libfuzzer/corpus/ (libFuzzer's corpus: the seeds' text and every input it kept) and libfuzzer/log.txt
(its own output). The last stats row has a `libfuzzer` object: libFuzzer's own counts (runs, exec/s,
units added) parsed from that log. A worker process runs libFuzzer (which ends the process when its
time is up: `python -m tirfuzz.fuzzer.baselines.atheris OUT`); the `fuzz` command prepares OUT,
waits, and writes that last row.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tirfuzz.corpus import list_seeds, load_seed, seed_text
from tirfuzz.fuzzer.campaign.bugs import BugStore
from tirfuzz.fuzzer.campaign.campaign import Campaign
from tirfuzz.fuzzer.campaign.config import CampaignConfig
from tirfuzz.fuzzer.campaign.corpus import Corpus, Entry
from tirfuzz.fuzzer.campaign.stats import Stats, StatsRow
from tirfuzz.fuzzer.campaign.seeds import SEEDS_FILE, SeedSet
from tirfuzz.fuzzer.campaign.store import CampaignDir
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.fuzzer.core.tvmapi import default_pipeline
from tirfuzz.fuzzer.execution.coverage import find_sites
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig

CORPUS = "libfuzzer/corpus"
LOG = "libfuzzer/log.txt"
EXTRA_LEN = 4096           # libFuzzer may grow an input this far past the largest seed
STATS_EVERY_S = 10.0
COVERAGE_EVERY_S = 30.0


@dataclass
class LibFuzzerStats:
    """What libFuzzer itself says about its run (from -print_final_stats and its status lines)."""

    runs: int = 0
    seconds: int = 0
    execs_per_s: float = 0.0           # runs / seconds, libFuzzer's own count
    average_exec_per_sec: int = 0      # libFuzzer's stat::average_exec_per_sec (integer)
    new_units_added: int = 0
    corpus_units: int = 0              # `corp: N/...` on its last status line
    features: int = 0                  # `ft:` on its last status line
    peak_rss_mb: int = 0
    exit_code: int | None = None


def parse_log(text: str) -> LibFuzzerStats:
    """libFuzzer's own numbers from its output (status lines, `Done N runs in T second(s)`, stat:: lines)."""
    st = LibFuzzerStats()
    for line in text.splitlines():
        m = re.match(r"#(\d+)\s+\S+\s.*?ft: (\d+) corp: (\d+)/", line)
        if m:
            st.runs, st.features, st.corpus_units = int(m.group(1)), int(m.group(2)), int(m.group(3))
        m = re.match(r"Done (\d+) runs in (\d+) second", line)
        if m:
            st.runs, st.seconds = int(m.group(1)), int(m.group(2))
        m = re.match(r"stat::(\w+):\s+(\d+)", line)
        if m:
            key, val = m.group(1), int(m.group(2))
            if key == "number_of_executed_units":
                st.runs = val
            elif key in ("average_exec_per_sec", "new_units_added", "peak_rss_mb"):
                setattr(st, key, val)
    if st.seconds:
        st.execs_per_s = round(st.runs / st.seconds, 3)
    return st


class LibFuzzerCorpus(Corpus):
    """libFuzzer keeps its own corpus (libfuzzer/corpus/): the campaign keeps nothing."""

    def add(self, entry: Entry, case: TestCase, ir_json: str | None = None) -> None:
        pass


class AtherisCampaign(Campaign):
    """The campaign's accounting (stats, bugs, filters, coverage) for inputs that libFuzzer chooses."""

    def __init__(self, config: CampaignConfig, store: CampaignDir, corpus_dir: Path):
        runner = Executor(ExecutorConfig(timeout_s=config.timeout_s, memory_mb=config.memory_mb,
                                         coverage=config.coverage, plugins=tuple(config.plugins),
                                         filters=tuple(config.filters)))
        super().__init__(config, runner, LibFuzzerCorpus(), BugStore(store), Stats(), store=store)
        self.corpus_dir = corpus_dir
        self.offsets = None            # sorted coverage sites; site i is atheris counter base + i
        self.base = 0
        self.seed_blocks: int | None = None
        self.seed_texts: set[bytes] = set()
        self._last_stats = self._last_cov = time.monotonic()

    def open(self, resume: bool = False) -> None:
        """Start the executor (coverage planted); libFuzzer runs the seeds itself."""
        info = self.runner.start()
        self.cov_blocks = int(info.get("cov_total", 0))

    def reserve_counters(self) -> int:
        """One atheris counter per coverage site, contiguous; returns how many."""
        import atheris

        self.offsets, _ = find_sites(self.config.coverage, "block", progress=False)
        n = len(self.offsets)
        self.base = atheris._reserve_counter()
        for _ in range(n - 1):
            atheris._reserve_counter()
        return n

    def row(self) -> StatsRow:
        row = super().row()
        row.corpus_size = sum(1 for _ in self.corpus_dir.iterdir()) if self.corpus_dir.is_dir() else 0
        row.extra["seed_blocks"] = self.seed_blocks
        return row

    def run_input(self, data: bytes) -> ExecResult:
        """Run one libFuzzer input as a case; report the sites it reached first to libFuzzer."""
        import atheris

        if self.seed_blocks is None and data and data not in self.seed_texts:
            self.seed_blocks = self.cov_blocks  # libFuzzer's first mutant: the seeds are done
        text = data.decode("utf-8", "replace")
        if not text.strip():  # not a case at all (libFuzzer starts with an empty input): a rejected exec
            res = ExecResult(outcome="rejected", stage="parse", filter="unparseable-tvmscript", message="empty input")
            self._count(res)
            self._checkpoint_now()
            return res
        case = TestCase(ir=text, passes=default_pipeline(), targets=list(self.config.targets), extra={"libfuzzer": True})
        res = self.runner.run(case, want_outputs=False, want_sites=True, oracle=self.config.oracle)
        if res.new_sites:
            idx = np.searchsorted(self.offsets, np.asarray(res.new_sites, dtype=np.uint32))
            for i in idx.tolist():
                atheris._trace_branch(self.base + i)
        res.new_sites = []
        if res.case is None:
            res.case = case.to_dict()
        self.absorb(Entry("libfuzzer-input", "libfuzzer"), ["bytes"], res)
        self._checkpoint_now()
        return res

    def _checkpoint_now(self) -> None:
        """state.json after every input; a stats row every 10 s; coverage.npy every 30 s."""
        now = time.monotonic()
        row = self.stats_row()
        self.store.write_json("state.json", row)
        if now - self._last_stats >= STATS_EVERY_S:
            self.store.append_stats(row)
            self._last_stats = now
        if now - self._last_cov >= COVERAGE_EVERY_S:
            self.store.save_coverage(self.runner.covered())
            self._last_cov = now


def prepare(config: CampaignConfig, out: Path) -> None:
    """libFuzzer's seed corpus in OUT: the seeds' text (OUT holds the campaign.json already)."""
    corpus = out / CORPUS
    corpus.mkdir(parents=True, exist_ok=True)
    saved = CampaignDir(out).read_json(SEEDS_FILE)  # --seeds with files: loaded in children (cli.py)
    if saved.get("used"):
        texts = [(name, case.ir) for name, case in SeedSet.from_record(saved).cases()]
    else:
        seeds = [load_seed(n) for n in config.seeds] if config.seeds else list_seeds()
        texts = [(s.name, seed_text(s)) for s in seeds]
    for name, text in texts:
        (corpus / f"seed-{name}.tvmscript").write_text(text, encoding="utf-8")


def worker(out: Path) -> int:
    """The libFuzzer process: set up counters and the callback, then hand the loop to atheris."""
    import atheris

    start = time.monotonic()
    store = CampaignDir(out)
    config = CampaignConfig(**store.config()["config"])
    corpus = out / CORPUS
    camp = AtherisCampaign(config, store, corpus)
    camp.start = start
    camp.seed_texts = {p.read_bytes() for p in corpus.iterdir()}
    camp.open()
    n = camp.reserve_counters()
    max_len = max((len(t) for t in camp.seed_texts), default=0) + EXTRA_LEN
    left = max(1, math.ceil(config.time_s - camp.elapsed()))
    argv = [sys.argv[0], str(corpus), f"-max_total_time={left}", f"-seed={config.seed + 1}",  # 0: libFuzzer picks one
            f"-max_len={max_len}", f"-max_counters={n}", f"-timeout={int(config.timeout_s * 6 + 60)}",
            "-print_final_stats=1", f"-artifact_prefix={out / 'libfuzzer'}/", "-rss_limit_mb=4096"]

    def test_one_input(data: bytes) -> None:
        camp.run_input(data)

    camp.store.append_stats(camp.stats_row())
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()  # libFuzzer ends the process when -max_total_time is up
    return 0


def finish(out: Path, code: int, log_text: str) -> dict[str, Any]:
    """The last stats row: the worker's final state plus libFuzzer's own numbers."""
    store = CampaignDir(out)
    try:
        row = json.loads((out / "state.json").read_text())
    except (OSError, ValueError):
        row = {"elapsed_s": 0.0, "execs": 0, "cov_blocks": 0, "valid_ratio": 0.0, "bugs": {}}
    lf = parse_log(log_text)
    lf.exit_code = code
    row["libfuzzer"] = asdict(lf)
    row["execs_per_s_libfuzzer"] = lf.execs_per_s
    store.append_stats(row)
    store.write_json("state.json", row)
    return row


def run_libfuzzer(config: CampaignConfig, out: Path) -> tuple[int, dict[str, Any], str]:
    """Run libFuzzer on OUT (its campaign.json written) for config.time_s: (exit code, last stats row, log tail)."""
    prepare(config, out)
    log_path = out / LOG
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tirfuzz.fuzzer.baselines.atheris", str(out)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            code = proc.wait(timeout=config.time_s + config.timeout_s * 6 + 120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
        except KeyboardInterrupt:
            os.killpg(proc.pid, signal.SIGINT)
            code = proc.wait()
    text = log_path.read_text(encoding="utf-8", errors="replace")
    tail_line = ([ln for ln in text.splitlines() if ln.strip()][-1:] or ["no output"])[0][:300]
    return code, finish(out, code, text), tail_line


if __name__ == "__main__":  # the worker process run_libfuzzer starts
    sys.exit(worker(Path(sys.argv[1])))
