"""Execs/s of a campaign with 1 job, with N local jobs, and with N Ray workers, side by side, as ratios.

Each configuration fuzzes for the same wall time from the same seeds (steady state: the seeds are run
first and their time is not counted). The Ray configuration starts a one-node Ray cluster on loopback
(`ray start --head`, N CPUs) and runs `tirfuzz fuzz --ray` against it. Last line: one JSON object.

    python bench/scaling.py [--time 120] [--jobs 2] [--reps 1] [--no-ray]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
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


def run(jobs: int, seconds: float, tmp: Path, rep: int, ray: str | None = None) -> float:
    out = tmp / f"j{jobs}{'-ray' if ray else ''}-r{rep}"
    from tirfuzz.corpus import list_seeds

    names = {s.name for s in list_seeds()}
    seeds = ",".join(n for n in SEEDS.split(",") if n in names)
    cmd = [sys.executable, "-m", "tirfuzz.cli", "fuzz", "--out", str(out), "--time", f"{seconds:g}s",
           "--seeds", seeds, "--targets", "llvm,c", "--seed", str(rep), "--jobs", str(jobs)]
    if ray:
        cmd += ["--ray", ray]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=seconds * 3 + 300)
    return steady_rate(out)


class LocalCluster:
    """`ray start --head` on 127.0.0.1 with N CPUs; `ray stop` at exit."""

    def __init__(self, cpus: int):
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.cpus, self.ray = cpus, str(Path(sys.executable).with_name("ray"))
        # Ray (2.59+) authenticates with a token: one of our own for the cluster and its clients
        os.environ.setdefault("RAY_AUTH_MODE", "token")
        os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))

    def __enter__(self) -> str:
        subprocess.run([self.ray, "start", "--head", f"--port={self.port}", "--node-ip-address=127.0.0.1",
                        f"--num-cpus={self.cpus}", "--include-dashboard=false", "--disable-usage-stats"],
                       check=True, capture_output=True, timeout=300)
        return f"127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        subprocess.run([self.ray, "stop", "--force"], capture_output=True, timeout=120)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time", type=float, default=120.0, help="seconds per configuration and repetition")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray configuration")
    ap.add_argument("--out", default="bench/results/scaling.json")
    args = ap.parse_args()
    n = args.jobs
    configs = [("1", 1, False), (str(n), n, False)] + ([] if args.no_ray else [(f"ray{n}", n, True)])
    rates: dict[str, list[float]] = {name: [] for name, _, _ in configs}
    with tempfile.TemporaryDirectory(prefix="tirfuzz-scaling-") as tmp:
        for rep in range(args.reps):
            for name, jobs, use_ray in configs:  # interleaved: drift in the machine's load hits all alike
                if use_ray:
                    with LocalCluster(jobs) as address:
                        r = run(jobs, args.time, Path(tmp), rep, ray=address)
                else:
                    r = run(jobs, args.time, Path(tmp), rep)
                rates[name].append(r)
                print(f"rep {rep} {name}: {r:.3f} execs/s", flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    one = med["1"]
    summary = {"time_s": args.time, "reps": args.reps, "execs_per_s_1_job": round(one, 3),
               f"execs_per_s_{n}_jobs": round(med[str(n)], 3),
               "ratio": round(med[str(n)] / one, 3) if one else None}
    if not args.no_ray:
        summary[f"execs_per_s_{n}_ray_workers"] = round(med[f"ray{n}"], 3)
        summary["ratio_ray"] = round(med[f"ray{n}"] / one, 3) if one else None
    summary["machine"] = machine()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"summary": summary, "rates": rates}, indent=1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
