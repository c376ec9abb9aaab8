"""The coverage baselines: random program generation (`fuzz --mode generate`) and the atheris/libFuzzer one."""

from __future__ import annotations

import json
import random
import subprocess
import sys

from tirfuzz.fuzzer.baselines.atheris import parse_log
from tirfuzz.fuzzer.campaign.fresh import random_case
from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.passes import builtin_pass_names
from tirfuzz.fuzzer.core.tvmapi import default_pipeline, parse, precheck
from tirfuzz.fuzzer.tir.program import ProgramGen


def test_generated_programs_parse_and_pass_the_precheck():
    gen = ProgramGen(random.Random(7))
    progs = [gen.program() for _ in range(25)]
    assert {p.kind for p in progs} == {"flat", "block"}
    for p in progs:
        precheck(parse(p.text))  # raises on a program that does not parse or is ill-formed
    again = ProgramGen(random.Random(7))
    assert [again.program().text for _ in range(25)] == [p.text for p in progs]  # same seed, same programs


def test_generated_programs_build_and_run(executor):
    gen = ProgramGen(random.Random(11))
    outcomes = []
    for _ in range(8):
        res = executor.run(TestCase(gen.program().text, default_pipeline(), targets=["llvm"]), want_outputs=False)
        outcomes.append(res.outcome)
    assert outcomes.count("ok") >= 6, outcomes


def test_random_case_mutates_the_pipeline_with_known_passes():
    names = builtin_pass_names()
    rng = random.Random(3)
    cases = [random_case(rng, ProgramGen(rng), names, ["llvm", "c"]) for _ in range(12)]
    assert any(c.passes != default_pipeline() for c in cases)
    assert all(p.name in names for c in cases for p in c.passes)
    assert all(c.extra["safe"] == (not c.extra.get("ub_risks")) for c in cases)


def test_generate_mode_runs_a_campaign(tmp_path):
    out = tmp_path / "g"
    p = subprocess.run([sys.executable, "-m", "tirfuzz.cli", "fuzz", "--json", "--mode", "generate", "--out", str(out),
                        "--execs", "6", "--seeds", "relu_f32", "--targets", "llvm", "--seed", "1"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    final = json.loads(p.stdout.strip().splitlines()[-1])
    assert final["execs"] >= 6 and final["cov_blocks"] > 20_000 and final["valid_ratio"] > 0.3
    assert json.loads((out / "campaign.json").read_text())["config"]["mode"] == "generate"


def test_tzer_mode_uses_tzer_choices_only(tmp_path):
    """--mode tzer: llvm only, no oracles, and every kept mutant made by a mutator of Tzer's set."""
    from tirfuzz.fuzzer.campaign.presets import TZER_MUTATORS
    from tirfuzz.mutators.registry import all_mutators

    assert set(TZER_MUTATORS) <= {m.name for m in all_mutators()}
    out = tmp_path / "t"
    p = subprocess.run([sys.executable, "-m", "tirfuzz.cli", "fuzz", "--json", "--mode", "tzer", "--out", str(out),
                        "--execs", "30", "--seeds", "relu_f32,add_int32", "--seed", "3"],
                       capture_output=True, text=True, timeout=400)
    assert p.returncode == 0, p.stderr
    config = json.loads((out / "campaign.json").read_text())["config"]
    assert config["mode"] == "tzer" and config["targets"] == ["llvm"] and config["oracle"] is False
    made = [h["mutator"] for f in (out / "corpus").glob("*.json") for h in json.loads(f.read_text()).get("history", [])]
    assert made, "30 execs kept no mutant"
    assert set(made) <= set(TZER_MUTATORS), set(made) - set(TZER_MUTATORS)


def test_atheris_baseline_reports_execs_and_coverage(tmp_path):
    out = tmp_path / "a"
    p = subprocess.run([sys.executable, "-m", "tirfuzz.cli", "fuzz", "--mode", "libfuzzer", "--out", str(out), "--time", "10",
                        "--seeds", "relu_f32,add_int32", "--targets", "llvm", "--no-oracle", "--seed", "2"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr + (out / "libfuzzer" / "log.txt").read_text()[-2000:]
    final = json.loads(p.stdout.strip().splitlines()[-1])
    lf = final["libfuzzer"]
    assert final["execs"] > 2 and final["cov_blocks"] > 20_000
    assert lf["runs"] == final["execs"] and lf["seconds"] > 0 and final["execs_per_s_libfuzzer"] > 0
    assert lf["features"] > 1000  # TVM's blocks reached libFuzzer as features through atheris' counters
    log = (out / "libfuzzer" / "log.txt").read_text()
    assert "INITED" in log and parse_log(log).runs == lf["runs"]
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines()]
    assert rows[-1]["valid_ratio"] < 1.0 and "unparseable-tvmscript" in rows[-1]["filtered"]


def test_atheris_baseline_rejects_bad_input(tmp_path):
    p = subprocess.run([sys.executable, "-m", "tirfuzz.cli", "fuzz", "--mode", "libfuzzer", "--out", str(tmp_path / "x"),
                        "--time", "5", "--seeds", "no_such_seed"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "no_such_seed" in p.stderr
