"""`--seeds` with files and folders: the user's TVMScript files run only in executor children, case files
and built-in names mix with them, bad files are listed with their reason (real TVM, real subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import FLAT_IR

from tirfuzz.fuzzer.campaign.seeds import SeedError, seed_files, seed_tokens
from tirfuzz.fuzzer.core.case import TestCase, save_case

# A file as a TVM user writes it: imports, a constant, an IRModule of two functions, a PrimFunc, and a
# side effect at module level that says which process ran it.
USER_FILE = '''import sys
from pathlib import Path

from tvm.script import ir as I
from tvm.script import tirx as T

with open(Path(__file__).with_name("ran_in.txt"), "a") as f:  # which process ran this file
    f.write(getattr(sys.modules["__main__"].__spec__, "name", "?") + "\\n")

N = 8


@I.ir_module
class Pair:
    @T.prim_func
    def add_one(A: T.Buffer((N,), "int32"), B: T.Buffer((N,), "int32")):
        for i in range(N):
            B[i] = A[i] + 1

    @T.prim_func(s_tir=True)
    def row_sum(A: T.Buffer((4, 4), "float32"), B: T.Buffer((4,), "float32")):
        for i, k in T.grid(4, 4):
            with T.sblock("sum"):
                vi, vk = T.axis.remap("SR", [i, k])
                with T.init():
                    B[vi] = T.float32(0)
                B[vi] = B[vi] + A[vi, vk]


@T.prim_func
def scale(A: T.Buffer((16,), "float32"), B: T.Buffer((16,), "float32")):
    for i in range(16):
        B[i] = A[i] * T.float32(2)
'''

BROKEN = '''from tvm.script import tirx as T


@T.prim_func
def main(A: T.Buffer((8,), "int32")):
    for i in range(8):
        A[i] = undefined_name + 1
'''


def tirfuzz(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tirfuzz.cli", *args], capture_output=True, text=True, timeout=300)


def test_tokens_and_folders(tmp_path):
    """A token that is a path is a path (made absolute), else a built-in name; a campaign dir means its corpus."""
    (tmp_path / "a.py").write_text("x = 1\n")
    assert seed_tokens(f"add_int32, {tmp_path / 'a.py'}") == ["add_int32", str((tmp_path / "a.py").resolve())]
    with pytest.raises(SeedError, match="no built-in seed named 'nope' and no such file"):
        seed_tokens("add_int32,nope")
    camp = tmp_path / "camp"
    (camp / "corpus").mkdir(parents=True)
    (camp / "campaign.json").write_text("{}")
    (camp / "corpus" / "e1.json").write_text("{}")
    (camp / ".hidden").mkdir()
    (camp / ".hidden" / "x.py").write_text("")
    assert seed_files(camp) == [camp / "corpus" / "e1.json"]
    assert seed_files(tmp_path) == [tmp_path / "a.py", camp / "campaign.json", camp / "corpus" / "e1.json"]


def test_fuzz_from_a_folder_of_user_files(tmp_path):
    """Good programs are used under <stem>.<name>, bad files listed once with their reason, the user's
    file runs only in a fork-server child (never in the tirfuzz process), and the campaign goes on."""
    seeds = tmp_path / "mine"
    (seeds / "sub").mkdir(parents=True)
    (seeds / "kernels.py").write_text(USER_FILE)
    (seeds / "broken.py").write_text(BROKEN)
    (seeds / "notes.py").write_text("Remember to fuzz the conv kernels.\nNot code.\n")
    save_case(TestCase(FLAT_IR, targets=["llvm", "c"]), seeds / "sub" / "kept.json")
    out = tmp_path / "out"
    p = tirfuzz("fuzz", "--out", str(out), "--seeds", f"{seeds},add_int32", "--execs", "4", "--targets", "llvm",
                "--no-oracle", "--timeout", "5")
    assert p.returncode == 0, p.stderr
    assert "broken.py: TVMScript does not parse" in p.stderr and "undefined_name" in p.stderr
    assert "notes.py: not Python: SyntaxError" in p.stderr
    rec = json.loads((out / "seeds.json").read_text())
    used = {u["name"]: u for u in rec["used"]}
    assert set(used) == {"kernels.Pair", "kernels.scale", "kept", "add_int32"}
    assert rec["counts"] == {"used": 4, "rejected": 2, "files": 4}
    assert sorted(r["source"].rpartition("/")[2] for r in rec["rejected"]) == ["broken.py", "notes.py"]
    assert "def add_one" in used["kernels.Pair"]["case"]["ir"] and "def row_sum" in used["kernels.Pair"]["case"]["ir"]
    assert "def main" in used["kernels.scale"]["case"]["ir"] and used["kept"]["case"]["targets"] == ["llvm"]
    assert used["kernels.scale"]["case"]["seed_source"] == str(seeds / "kernels.py")
    # Run only by the loader's child (forked from the fork server), once: never imported by the CLI.
    assert (seeds / "ran_in.txt").read_text().splitlines() == ["tirfuzz.fuzzer.execution.forkserver"]
    kept = [json.loads(f.read_text()) for f in (out / "corpus").glob("*.json")]
    assert {k.get("seed") for k in kept if k["tirfuzz"]["reason"] == "seed"} == set(used)


def test_nothing_usable_is_one_line_exit_2(tmp_path):
    seeds = tmp_path / "bad"
    seeds.mkdir()
    (seeds / "broken.py").write_text(BROKEN)
    (seeds / "plain.py").write_text("print('hello')\n")
    p = tirfuzz("fuzz", "--out", str(tmp_path / "out"), "--seeds", str(seeds), "--execs", "1", "--targets", "llvm")
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert "no usable program in 2 file(s)" in p.stderr and "undefined_name" in p.stderr
    assert "plain.py: defines no @T.prim_func or @I.ir_module" in p.stderr
    assert not (tmp_path / "out").exists()
