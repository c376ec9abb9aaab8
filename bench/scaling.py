"""Execs/s of a campaign with 1 job and with N jobs on this machine, side by side, as a ratio.

Each configuration fuzzes for the same wall time from the same seeds (steady state: the seeds are run
first and their time is not counted). Last line: one JSON object.

    python bench/scaling.py [--time 120] [--jobs 2] [--reps 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

SEEDS = "relu_f32,add_int32,flat_argmax_axis1,conv2d_nchw,batch_norm_inference,tanh_f32,bitwise_and_int32,softmax_f32"


def steady_rate(out: Path) -> float:
    """Execs/s after the seeds: from the first stats row with mutations to the last."""
    rows = [json.loads(line) for line in (out / "stats.jsonl").read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r.get("execs", 0) > 0]
    if len(rows) < 2:
        return 0.0
    a, b = rows[0], rows[-1]
    return (b["execs"] - a["execs"]) / max(b["elapsed_s"] - a["elapsed_s"], 1e-9)


def run(jobs: int, seconds: float, tmp: Path, rep: int) -> float:
    out = tmp / f"j{jobs}-r{rep}"
    from tirfuzz.corpus import list_seeds

    names = {s.name for s in list_seeds()}
    seeds = ",".join(n for n in SEEDS.split(",") if n in names)
    cmd = [sys.executable, "-m", "tirfuzz.cli", "fuzz", "--out", str(out), "--time", f"{seconds:g}s",
           "--seeds", seeds, "--targets", "llvm,c", "--seed", str(rep), "--jobs", str(jobs)]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=seconds * 3 + 300)
    return steady_rate(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time", type=float, default=120.0, help="seconds per configuration and repetition")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--out", default="bench/results/scaling.json")
    args = ap.parse_args()
    rates: dict[str, list[float]] = {"1": [], str(args.jobs): []}
    with tempfile.TemporaryDirectory(prefix="tirfuzz-scaling-") as tmp:
        for rep in range(args.reps):
            for jobs in (1, args.jobs):  # interleaved: drift in the machine's load hits both alike
                r = run(jobs, args.time, Path(tmp), rep)
                rates[str(jobs)].append(r)
                print(f"rep {rep} jobs {jobs}: {r:.3f} execs/s", flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    summary = {"time_s": args.time, "reps": args.reps, "execs_per_s_1_job": round(med["1"], 3),
               f"execs_per_s_{args.jobs}_jobs": round(med[str(args.jobs)], 3),
               "ratio": round(med[str(args.jobs)] / med["1"], 3) if med["1"] else None,
               "ray": "not built (tirfuzz fuzz --ray is not implemented yet)", "machine": machine()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"summary": summary, "rates": rates}, indent=1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
