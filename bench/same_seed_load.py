"""Two campaigns of one seed, side by side, on a loaded machine: do they keep the same corpus and bugs?

tests/test_campaign.py checks this once on a quiet machine. Here each round adds `--load` busy processes
(two campaigns and the load share the cores), so what a time limit cuts differs between the two. Prints
each round, then one JSON line: the rounds whose corpora or bugs differ. Details: bench/results/.

    python bench/same_seed_load.py --rounds 5 --load 2
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEEDS = "relu_f32,add_int32,flat_argmax_axis1,bitwise_and_int32,cast_f32_to_int32,ceil_f32"


def campaign(out: Path, execs: int, seed: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tirfuzz.cli", "fuzz", "--out", str(out), "--execs", str(execs),
                             "--seeds", SEEDS, "--targets", "llvm", "--seed", str(seed), "--no-oracle", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def snapshot(out: Path) -> tuple[set[str], set[str]]:
    corpus = {p.name for p in (out / "corpus").glob("*.json")}
    bugs = {p.name for p in (out / "bugs").iterdir() if (p / "case.json").exists()} if (out / "bugs").exists() else set()
    return corpus, bugs


def one_round(work: Path, execs: int, seed: int, load: int) -> dict:
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(load)]
    t0 = time.monotonic()
    try:
        procs = [campaign(work / name, execs, seed) for name in ("a", "b")]
        rows = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    finally:
        for b in busy:
            b.kill()
            b.wait()
    (ca, ba), (cb, bb) = snapshot(work / "a"), snapshot(work / "b")
    return {"seconds": round(time.monotonic() - t0, 1), "execs": [r["execs"] for r in rows],
            "corpus": [len(ca), len(cb)], "corpus_differs": len(ca ^ cb), "bugs_differ": len(ba ^ bb),
            "same": ca == cb and ba == bb}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--load", type=int, default=2, help="busy processes beside the two campaigns")
    ap.add_argument("--execs", type=int, default=150)
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out", type=Path, default=Path("bench/results/same-seed-load.json"),
                    help="JSON record of every round")
    args = ap.parse_args()
    rounds = []
    for i in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="tirfuzz-same-seed-") as tmp:
            r = one_round(Path(tmp), args.execs, args.seed, args.load)
        rounds.append(r)
        print(f"round {i + 1}: {'same' if r['same'] else 'DIFFERENT'}  corpus {r['corpus']}  "
              f"entries differing {r['corpus_differs']}  bugs differing {r['bugs_differ']}  {r['seconds']} s", flush=True)
    differ = sum(not r["same"] for r in rounds)
    head = {"rounds": len(rounds), "differ": differ, "load": args.load, "execs": args.execs, "seed": args.seed}
    args.out.write_text(json.dumps({**head, "each": rounds}, indent=1) + "\n")
    print(json.dumps(head))


if __name__ == "__main__":
    main()
