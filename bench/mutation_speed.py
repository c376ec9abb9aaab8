"""Mutation speed, side by side: the same stacked mutations of the same seeds under two versions of tirfuzz.

Each round runs, in a fresh process per version, `--count` stacked mutations (up to 4 each, as a campaign
stacks them) of every 8th built-in seed, each from a fixed random seed; versions alternate old, new, new,
old, ... so drift in the machine's speed falls on both alike. Prints the median milliseconds a mutation
for each version, their ratio, and whether the two made the same mutants (a digest of the mutants' text
and of the reasons for the declined ones): a change meant only to be faster must keep them identical.

    python bench/mutation_speed.py --old DIR [--new DIR] [--count 300] [--rounds 3] [--out NAME] [--corpus C]

`--corpus C`: mutate the first 60 cases of a campaign's corpus (C/corpus/*.json, or a folder of case
files) instead, each loaded from its TVM JSON as a campaign's child loads a parent, with the mutant's
structure features as a campaign asks for them: the mutation a campaign pays for (seeds are smaller, and
their parse is a larger share).

`--old`/`--new`: folders holding a `tirfuzz` package (put first on PYTHONPATH; `--new` defaults to the
tirfuzz that is imported here). Writes bench/results/NAME.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import alternating, env_with_package, machine, write_result  # noqa: E402


def one_run(count: int, corpus: str = "") -> int:
    """In this process: `count` mutations; one JSON line (ms per mutation, digest of the mutants)."""
    import hashlib
    import time

    from tirfuzz.corpus import list_seeds, load_seed
    from tirfuzz.corpus.cases import seed_case
    from tirfuzz.fuzzer.core.passes import PassPool
    from tirfuzz.mutators.mutate import mutate_module

    pool = PassPool()
    parsed: list[tuple[str | None, None]] = []
    if corpus:
        import tvm

        from tirfuzz.fuzzer.core.case import load_case
        from tirfuzz.fuzzer.core.tvmapi import parse

        folder = Path(corpus) / "corpus" if (Path(corpus) / "corpus").is_dir() else Path(corpus)
        cases = [load_case(f) for f in sorted(folder.glob("*.json"))[:60]]
        parsed = [(tvm.ir.save_json(parse(c.ir)), None) for c in cases]
    else:
        cases = [seed_case(load_seed(s.name), ["llvm"]) for s in list_seeds()[::8]]
    digest, times = hashlib.sha1(), []
    for i in range(count):
        k = i % len(cases)
        t0 = time.perf_counter()
        if corpus:
            new, info, _ = mutate_module(cases[k], i, pool, stack=4, parsed=parsed[k], features="mutant")
        else:
            new, info, _ = mutate_module(cases[k], i, pool, stack=4)
        times.append((time.perf_counter() - t0) * 1e3)
        digest.update((new.ir if new is not None else f"declined:{info.get('reason')}").encode())
    print(json.dumps({"ms_mean": statistics.mean(times), "ms_median": statistics.median(times),
                      "digest": digest.hexdigest(), "count": count}))
    return 0


def run_version(path: str | None, count: int, corpus: str = "") -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", str(count), corpus], env=env_with_package(path),
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"error: the run for {path or 'this tirfuzz'} failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        return one_run(int(sys.argv[2]), sys.argv[3])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--old", required=True, help="folder holding the old `tirfuzz` package")
    ap.add_argument("--new", default=None, help="folder holding the new one (default: the one imported here)")
    ap.add_argument("--count", type=int, default=300, help="mutations per run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default="mutation-speed", help="result name under bench/results/")
    ap.add_argument("--corpus", default="", help="a campaign folder (or a folder of case files) to mutate instead "
                                                 "of the built-in seeds")
    args = ap.parse_args()
    if not (Path(args.old) / "tirfuzz").is_dir():
        print(f"error: --old {args.old}: no tirfuzz package in that folder", file=sys.stderr)
        return 2
    if args.corpus and not any((Path(args.corpus) / "corpus").glob("*.json")) and not any(Path(args.corpus).glob("*.json")):
        print(f"error: --corpus {args.corpus}: no case files there (nor under corpus/)", file=sys.stderr)
        return 2
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    for r, pair in enumerate(alternating(args.rounds)):
        for side in pair:
            runs[side].append(run_version(args.old if side == "old" else args.new, args.count, args.corpus))
            print(f"round {r + 1} {side}: {runs[side][-1]['ms_mean']:.2f} ms a mutation", file=sys.stderr)
    med = {side: statistics.median(x["ms_mean"] for x in rs) for side, rs in runs.items()}
    same = len({x["digest"] for rs in runs.values() for x in rs}) == 1
    summary = {"old_ms": round(med["old"], 2), "new_ms": round(med["new"], 2),
               "speedup": round(med["old"] / med["new"], 3), "same_mutants": same,
               "count": args.count, "rounds": args.rounds, "corpus": args.corpus or None}
    write_result(args.out, {"summary": summary, "runs": runs, "machine": machine(),
                            "old": args.old, "new": args.new})
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
