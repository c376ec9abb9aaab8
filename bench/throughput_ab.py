"""Campaign throughput of two checkouts side by side: the same seeds, time and mode, runs alternating.

Each run is a fresh process that runs one campaign exactly as `tirfuzz fuzz` does, with the checkout's
own code (`--old DIR` / `--new DIR`: folders holding a `tirfuzz` package, put first on PYTHONPATH; `--new`
left out is the installed one), and records every exec's time: the child's stages (parse, passes,
builds, runs, oracles), the mutation, and what the driver and the fork server spend around them. Runs
alternate old, new, new, old, ... so that drift in the machine's speed falls on both sides alike.

Prints, per side, the median campaign execs/s (the campaign's own stats row, seeds included) and the
median of the mutation loop's execs/s (from the first mutation on), their ratio, the bug signatures each
run found, and a table of where an exec's time goes, median over runs.

    python bench/throughput_ab.py --old /work/snappkg --time 120 --rounds 3 [--mode tzer] [--out NAME]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import alternating, env_with_package, machine, median, write_result  # noqa: E402

SEEDS = "relu_f32,add_int32,flat_argmax_axis1,conv2d_nchw,batch_norm_inference,tanh_f32,bitwise_and_int32,softmax_lastaxis"


def one_run(seconds: float, seed: int, mode: str, seeds: list[str], out_json: Path, keep: str = "") -> int:
    """In a fresh process: one campaign with the tirfuzz PYTHONPATH finds; its timings as JSON."""
    import tirfuzz
    from tirfuzz.fuzzer.campaign.campaign import Campaign, make_campaign
    from tirfuzz.fuzzer.campaign.config import CampaignConfig, config_record
    from tirfuzz.fuzzer.campaign.store import CampaignDir

    stages: Counter = Counter()
    kinds: Counter = Counter()
    execs, loop = [0], {"t0": None, "t1": None}

    class Timed(Campaign):
        """A campaign that adds up where each exec's time went."""

        def step(self):
            t0 = time.perf_counter()
            loop["t0"] = loop["t0"] or t0
            res = super().step()
            t1 = loop["t1"] = time.perf_counter()
            if res.outcome == "declined" or res.case is None:
                stages["declined mutations (whole step)"] += (t1 - t0) * 1e3
                return res
            execs[0] += 1
            tm = dict(res.timings_ms)
            total = float(tm.pop("total", 0.0))
            for k, v in tm.items():
                if "@" in k or k in ("parse", "roundtrip:parsed", "precheck", "setup", "targets", "config"):
                    stages[k] += v
            mut = res.mutation if isinstance(res.mutation, dict) else {}
            kinds[str(mut.get("kind"))] += 1
            in_child = 0.0 if mut.get("ahead") else float(mut.get("ms", 0.0) or 0.0)  # ahead: made alongside the case before
            stages["mutation (in the child)"] += in_child
            if mut.get("ahead"):
                stages["mutation made ahead (off the clock)"] += float(mut.get("ms", 0.0) or 0.0)
            inside = sum(v for k, v in tm.items() if k != "mutate") + in_child
            stages["fork server and child, outside stages"] += max(0.0, total - inside)
            stages["driver (schedule, bookkeeping, pipes)"] += (t1 - t0) * 1e3 - total
            return res

    with tempfile.TemporaryDirectory(prefix="tirfuzz-ab-") as tmp:
        if keep:  # the campaign directory stays (its bugs can be replayed: bench/same_verdicts.py)
            tmp = keep
        config = CampaignConfig(out=f"{tmp}/c", time_s=seconds, seed=seed, seeds=seeds, mode=mode)
        store = CampaignDir(Path(tmp) / "c")
        store.create(config_record(config), False)
        camp = make_campaign(config, store, False, Timed)
        camp.run()
        row = camp.stats_row()
        bugs = sorted(p.name for p in (Path(tmp) / "c" / "bugs").iterdir()) if (Path(tmp) / "c" / "bugs").exists() else []
    n = max(execs[0], 1)
    loop_s = (loop["t1"] - loop["t0"]) if loop["t0"] else 0.0
    out = {"package": str(Path(tirfuzz.__file__).resolve().parent), "campaign_execs_per_s": row["execs_per_s"],
           "execs": row["execs"], "loop_execs": execs[0], "loop_s": round(loop_s, 2),
           "loop_execs_per_s": round(execs[0] / loop_s, 3) if loop_s else 0.0,
           "ms_per_exec": {k: round(v / n, 1) for k, v in stages.most_common()}, "bugs": bugs,
           "outcomes": row.get("outcomes", {}), "filtered": row.get("filtered", {}),
           "mutation_kinds": dict(kinds)}
    out_json.write_text(json.dumps(out))
    return 0


def launch(pkg: str, args, out_json: Path) -> dict:
    env = env_with_package(pkg)
    cmd = [sys.executable, __file__, "--one", str(out_json), "--time", str(args.time), "--seed", str(args.seed),
           "--mode", args.mode, "--seeds", args.seeds]
    if args.keep:
        cmd += ["--keep", str(Path(args.keep) / out_json.stem)]
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   timeout=args.time * 3 + 600)
    return json.loads(out_json.read_text())


def table(runs: dict[str, list[dict]]) -> list[tuple[str, float, float]]:
    """(where, old median ms per exec, new median ms per exec), largest first."""
    keys = {k for side in runs.values() for r in side for k in r["ms_per_exec"]}
    rows = [(k, median([r["ms_per_exec"].get(k, 0.0) for r in runs["old"]]),
             median([r["ms_per_exec"].get(k, 0.0) for r in runs["new"]])) for k in keys]
    return sorted(rows, key=lambda r: -max(r[1], r[2]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--old", help="folder holding the old checkout's `tirfuzz` package")
    ap.add_argument("--new", default="", help="folder holding the new one (default: the installed tirfuzz)")
    ap.add_argument("--time", type=float, default=120.0, help="seconds per campaign")
    ap.add_argument("--rounds", type=int, default=3, help="campaigns per side")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mode", default="tirfuzz")
    ap.add_argument("--seeds", default=SEEDS, help="built-in seeds (comma-separated)")
    ap.add_argument("--out", default="", help="result name under bench/results/ (default: none written)")
    ap.add_argument("--keep", default="", help="keep each campaign directory under this folder (old-0, new-0, ...)")
    args = ap.parse_args()
    seeds = [s for s in args.seeds.split(",") if s]
    if args.one:
        return one_run(args.time, args.seed, args.mode, seeds, Path(args.one), args.keep)
    if not args.old or not (Path(args.old) / "tirfuzz").is_dir():
        print("error: --old must be a folder holding a `tirfuzz` package", file=sys.stderr)
        return 2
    runs: dict[str, list[dict]] = {"old": [], "new": []}
    order = alternating(args.rounds)
    with tempfile.TemporaryDirectory() as tmp:
        for r, pair in enumerate(order):
            for side in pair:
                got = launch(args.old if side == "old" else args.new, args, Path(tmp) / f"{side}-{r}.json")
                runs[side].append(got)
                print(f"round {r + 1} {side}: {got['campaign_execs_per_s']:.3f} execs/s (loop "
                      f"{got['loop_execs_per_s']:.3f}), bugs: {', '.join(got['bugs']) or 'none'}", file=sys.stderr)
    summary = {}
    for key in ("campaign_execs_per_s", "loop_execs_per_s"):
        old, new = median([r[key] for r in runs["old"]]), median([r[key] for r in runs["new"]])
        summary[key] = {"old": old, "new": new, "ratio": round(new / old, 3) if old else None}
    print(f"\n{args.mode}, {args.time:g} s x {args.rounds} per side, seed {args.seed}")
    for key, v in summary.items():
        print(f"  {key:22} old {v['old']:.3f}  new {v['new']:.3f}  ratio {v['ratio']}")
    print(f"\n  {'ms per exec (median over runs)':44} {'old':>8} {'new':>8}")
    for where, o, n in table(runs):
        print(f"  {where:44} {o:8.1f} {n:8.1f}")
    if args.out:
        write_result(args.out, {"summary": summary, "runs": runs, "table": table(runs), "mode": args.mode,
                                "time_s": args.time, "rounds": args.rounds, "seed": args.seed, "seeds": seeds,
                                "old": args.old, "new": args.new or "installed", "machine": machine()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
