"""Coverage of tirfuzz against its baselines and ablations: same wall time, same seeds, same coverage measure.

Every configuration runs for --time seconds per repetition, one after another (interleaved: repetition r
runs every configuration with --seed r before repetition r+1 starts), from the same built-in seeds, and is
measured the same way: tirfuzz's native block coverage of libtvm_compiler.so (scope `tvm`), as each run's
stats.jsonl reports it.

    tirfuzz            tirfuzz fuzz (default configuration)
    tzer               tirfuzz fuzz --mode tzer (Tzer's own choices, re-implemented)
    libfuzzer          atheris/libFuzzer byte mutation of the seeds' TVMScript, TVM coverage fed back
                       (tirfuzz fuzz --mode libfuzzer)
    generate           tirfuzz fuzz --mode generate (random well-typed programs, no feedback; TVMFuzz-like)
    no-pass-mutation   tirfuzz fuzz --no-pass-mutation   (ablation)
    no-ir-mutation     tirfuzz fuzz --no-ir-mutation     (ablation)
    no-feedback        tirfuzz fuzz --no-feedback        (ablation)
    no-stack           tirfuzz fuzz --stack 1            (ablation: one mutation per exec)
    fixed-weights      tirfuzz fuzz --fixed-weights      (ablation: mutator weights do not learn)
    no-structure       tirfuzz fuzz --no-structure       (ablation: no IR-structure feedback)
    pass-structure     tirfuzz fuzz --pass-structure     ((pass, feature) pairs as structure feedback too)
    one-fixed-blocks   all three ablations at once (tirfuzz's search before issue 20)

Writes OUT.json (every run's series and summary), OUT.png (coverage over time) and OUT.md (the table);
prints the table, and as its last line one JSON object with ratio_vs_best_baseline (tirfuzz over the best
of libfuzzer and generate) and ratio_vs_tzer, both on the median blocks covered within --time (the last
stats row at or before it; rows come every 10 s), and the same two ratios on the blocks beyond the seeds.

    python bench/coverage.py --time 30m --reps 2 [--configs a,b] [--seeds all|a,b] [--checkpoints 300,600,1800]

To run configurations at once, start one process per configuration and repetition with --keep DIR
(--first-rep R --reps 1 picks the repetition), then summarize: --reuse DIR --reps N --note "...".
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import RESULTS, machine  # noqa: E402
from plot import Series, line_chart  # noqa: E402

FUZZ = [sys.executable, "-m", "tirfuzz.cli", "fuzz"]
CONFIGS: dict[str, list[str]] = {
    "tirfuzz": FUZZ,
    "tzer": FUZZ + ["--mode", "tzer"],
    "libfuzzer": FUZZ + ["--mode", "libfuzzer"],
    "generate": FUZZ + ["--mode", "generate"],
    "no-pass-mutation": FUZZ + ["--no-pass-mutation"],
    "no-ir-mutation": FUZZ + ["--no-ir-mutation"],
    "no-feedback": FUZZ + ["--no-feedback"],
    "no-stack": FUZZ + ["--stack", "1"],                   # issue 20's ablations: one mutation per exec,
    "fixed-weights": FUZZ + ["--fixed-weights"],           # mutators drawn by fixed weights,
    "no-structure": FUZZ + ["--no-structure"],             # corpus kept for new blocks only,
    "pass-structure": FUZZ + ["--pass-structure"],         # (pass, feature) pairs kept for too (off by default),
    "no-fresh": FUZZ + ["--fresh", "0"],                    # mutants only, no fresh programs mixed in,
    "fresh-0.2": FUZZ + ["--fresh", "0.2"],                 # twice the default share of fresh programs,
    "no-build-targets": FUZZ + ["--no-build-targets"],      # no CUDA or cross-compiled LLVM targets added,
    "one-fixed-blocks": FUZZ + ["--stack", "1", "--fixed-weights", "--no-structure", "--fresh", "0",
                                "--no-build-targets"],      # before issue 20
}
BASELINES = ("libfuzzer", "generate")   # the tools that are not tirfuzz (Tzer's LibFuzzer and TVMFuzz)
BUG_KINDS = ("crash", "hang", "internal-error", "miscompilation", "roundtrip")


class UsageError(ValueError):
    """A bad command-line value (one line, exit 2)."""


@dataclass
class Run:
    """One configuration's run: its coverage series and its final figures."""

    config: str
    rep: int
    seed: int
    out: str
    exit_code: int
    wall_s: float
    series: list[tuple[float, int]] = field(default_factory=list)   # (elapsed_s, cov_blocks)
    final_blocks: int = 0
    seed_blocks: int | None = None     # coverage once the seeds had run (the common start)
    elapsed_s: float = 0.0
    execs: int = 0
    execs_per_s: float = 0.0
    execs_per_s_libfuzzer: float | None = None   # libFuzzer's own count (libfuzzer only)
    valid_ratio: float = 0.0
    bugs: dict[str, int] = field(default_factory=dict)
    corpus_size: int = 0
    error: str = ""

    def blocks_at(self, t: float) -> int:
        """Blocks covered at time t: the last stats row at or before t (the final one past the end)."""
        best = self.series[0][1] if self.series else 0
        for el, cov in self.series:
            if el <= t + 1e-6:
                best = cov
        return best if t < self.elapsed_s else self.final_blocks


def read_run(run: Run) -> Run:
    """Fill a run's series and figures from its stats.jsonl."""
    path = Path(run.out) / "stats.jsonl"
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    if not rows:
        run.error = run.error or f"no stats rows in {path}"
        return run
    last = rows[-1]
    # Rows before the first exec (the libFuzzer worker writes one; campaigns start after their seeds) are
    # left out of the series: it starts, for every configuration, once cases run.
    run.series = [(float(r.get("elapsed_s", 0.0)), int(r.get("cov_blocks", 0))) for r in rows if r.get("execs")]
    run.final_blocks = int(last.get("cov_blocks", 0))
    run.elapsed_s = float(last.get("elapsed_s", 0.0))
    run.execs = int(last.get("execs", 0))
    run.execs_per_s = round(run.execs / run.elapsed_s, 3) if run.elapsed_s else 0.0
    run.execs_per_s_libfuzzer = last.get("execs_per_s_libfuzzer")
    run.valid_ratio = float(last.get("valid_ratio", 0.0))
    run.bugs = {k: int(v) for k, v in (last.get("bugs") or {}).items()}
    run.corpus_size = int(last.get("corpus_size", 0))
    if "seed_blocks" in last:   # the libFuzzer baseline records when its first mutant ran
        run.seed_blocks = last.get("seed_blocks")
    else:                       # a campaign's first row is written right after the seeds ran
        run.seed_blocks = int(rows[0].get("cov_blocks", 0))
    return run


def run_one(config: str, rep: int, seconds: float, seeds: str | None, root: Path, extra: list[str]) -> Run:
    out = root / f"{config}-r{rep}"
    cmd = CONFIGS[config] + ["--out", str(out), "--time", f"{seconds:g}", "--seed", str(rep)] + extra
    if seeds:
        cmd += ["--seeds", seeds]
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds * 2 + 600)
        code, err = p.returncode, (p.stderr.strip().splitlines() or [""])[-1]
    except subprocess.TimeoutExpired:
        code, err = 124, f"did not finish within {seconds * 2 + 600:g} s"
    run = Run(config, rep, rep, str(out), code, round(time.monotonic() - t0, 1), error=err if code else "")
    return read_run(run)


def spread(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)} if xs else {}


def summarize(runs: list[Run], checkpoints: list[float], seconds: float) -> dict[str, dict]:
    """Per configuration: median and spread of blocks at each checkpoint and at the end of the budget
    (the last stats row at or before it: what was found within the same wall time), blocks beyond the
    seeds, execs/s, valid share, bugs."""
    out: dict[str, dict] = {}
    for name in dict.fromkeys(r.config for r in runs):
        rs = [r for r in runs if r.config == name and not r.error]
        if not rs:
            out[name] = {"error": next(r.error for r in runs if r.config == name)}
            continue
        s = {"reps": len(rs),
             "blocks": {f"{c:g}": spread([float(r.blocks_at(c)) for r in rs]) for c in checkpoints},
             "blocks_at_time": spread([float(r.blocks_at(seconds)) for r in rs]),
             "final_blocks": spread([float(r.final_blocks) for r in rs]),
             "seed_blocks": spread([float(r.seed_blocks) for r in rs if r.seed_blocks is not None]),
             "blocks_beyond_seeds": spread([float(r.blocks_at(seconds) - r.seed_blocks) for r in rs
                                            if r.seed_blocks is not None]),
             "execs_per_s": spread([r.execs_per_s for r in rs]),
             "valid_ratio": spread([r.valid_ratio for r in rs]),
             "bugs": {k: spread([float(r.bugs.get(k, 0)) for r in rs]) for k in BUG_KINDS}}
        lf = [r.execs_per_s_libfuzzer for r in rs if r.execs_per_s_libfuzzer is not None]
        if lf:
            s["execs_per_s_libfuzzer"] = spread(lf)
        out[name] = s
    return out


def ratios(summary: dict[str, dict]) -> dict[str, object]:
    """tirfuzz's median blocks at the end of the budget over the best baseline's and over --mode tzer's
    (and the same for the blocks beyond the seeds)."""
    def med(name: str, key: str) -> float | None:
        s = summary.get(name, {})
        return s[key]["median"] if key in s and s[key] else None

    res: dict[str, object] = {}
    for key, suffix in (("blocks_at_time", ""), ("blocks_beyond_seeds", "_beyond_seeds")):
        ours = med("tirfuzz", key)
        base = {b: med(b, key) for b in BASELINES if med(b, key) is not None}
        best = max(base, key=lambda b: base[b]) if base else None
        tz = med("tzer", key)
        res[f"ratio_vs_best_baseline{suffix}"] = round(ours / base[best], 3) if ours and best and base[best] else None
        res[f"ratio_vs_tzer{suffix}"] = round(ours / tz, 3) if ours and tz else None
        if not suffix:
            res["best_baseline"] = best
    return res


def table(summary: dict[str, dict], checkpoints: list[float]) -> str:
    """A Markdown table: blocks at each checkpoint, beyond the seeds, execs/s, valid %, unique bugs by kind."""
    def cell(d: dict, fmt: str = "{:,.0f}") -> str:
        if not d:
            return "-"
        m = fmt.format(d["median"])
        return m if d["min"] == d["max"] else f"{m} ({fmt.format(d['min'])}-{fmt.format(d['max'])})"

    head = ["configuration"] + [f"blocks @{c:g}s" for c in checkpoints] + \
        ["beyond seeds", "execs/s", "valid %", "bugs (crash/hang/ie/misc/rt)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, s in summary.items():
        if "error" in s:
            lines.append(f"| {name} | failed: {s['error'][:120]} |" + " |" * (len(head) - 2))
            continue
        eps = cell(s["execs_per_s"], "{:.2f}")
        if "execs_per_s_libfuzzer" in s:
            eps += f" (libFuzzer: {cell(s['execs_per_s_libfuzzer'], '{:.2f}')})"
        valid = {k: v * 100 for k, v in s["valid_ratio"].items()}
        bugs = "/".join(f"{s['bugs'][k]['median']:g}" for k in BUG_KINDS)
        row = [name] + [cell(s["blocks"][f"{c:g}"]) for c in checkpoints] + \
            [cell(s["blocks_beyond_seeds"]), eps, cell(valid, "{:.0f}"), bugs]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--time", default="30m", help="wall time per configuration and repetition: 120, 90s, 10m")
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--first-rep", type=int, default=0,
                    help="number the repetitions from here (its seed too): lets several processes run one each")
    ap.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated, from: " + ", ".join(CONFIGS))
    ap.add_argument("--seeds", default="all", help="built-in seed names, comma-separated, or all")
    ap.add_argument("--checkpoints", default=None, help="seconds, comma-separated (default 300,600,1800 up to --time)")
    ap.add_argument("--out", default=str(RESULTS / "coverage"), help="results path without extension")
    ap.add_argument("--keep", default=None, help="keep the campaign directories in this folder")
    ap.add_argument("--reuse", default=None, help="summarize the runs kept in this folder (--keep) instead of running")
    ap.add_argument("--note", default="", help="a sentence for the table's header (how the runs shared the machine)")
    args = ap.parse_args(argv)
    from tirfuzz.fuzzer.campaign.config import parse_duration

    try:
        args.seconds = parse_duration(args.time)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.seconds <= 0 or args.reps < 1 or args.first_rep < 0:
        raise UsageError("--time must be positive, --reps at least 1 and --first-rep at least 0")
    args.config_list = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in args.config_list if c not in CONFIGS]
    if unknown or not args.config_list:
        raise UsageError(f"--configs: unknown {unknown} (known: {', '.join(CONFIGS)})")
    if args.checkpoints:
        try:
            args.checkpoint_list = sorted({float(x) for x in args.checkpoints.split(",") if x.strip()})
        except ValueError:
            raise UsageError(f"--checkpoints {args.checkpoints!r}: expected seconds, comma-separated") from None
    else:
        cps = [c for c in (300.0, 600.0, 1800.0) if c < args.seconds] + [args.seconds]
        args.checkpoint_list = cps if len(cps) > 1 else [round(args.seconds / 2, 1), args.seconds]
    if args.seeds != "all":
        from tirfuzz.corpus import list_seeds

        known = {s.name for s in list_seeds()}
        bad = [n for n in args.seeds.split(",") if n.strip() and n.strip() not in known]
        if bad:
            raise UsageError(f"--seeds: no built-in seed named {bad[0]!r} (see `tirfuzz seeds`)")
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    seeds = None if args.seeds == "all" else args.seeds
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="tirfuzz-coverage-") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        for rep in range(args.first_rep, args.first_rep + args.reps):
            for name in args.config_list:
                if args.reuse:
                    out = Path(args.reuse) / f"{name}-r{rep}"
                    run = read_run(Run(name, rep, rep, str(out), 0, 0.0,
                                       error="" if out.is_dir() else f"no kept run {out}"))
                else:
                    run = run_one(name, rep, args.seconds, seeds, root, [])
                runs.append(run)
                print(f"rep {rep} {name}: {run.blocks_at(args.seconds):,} blocks, {run.execs} execs "
                      f"({run.execs_per_s:.2f}/s), valid {run.valid_ratio:.0%}, bugs {run.bugs}"
                      + (f"  ERROR {run.error}" if run.error else ""), flush=True)
    summary = summarize(runs, args.checkpoint_list, args.seconds)
    heads = ratios(summary)
    md = table(summary, args.checkpoint_list)
    info = machine()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    title = f"Blocks of libtvm over time ({args.seconds:g} s x {args.reps} rep)"
    line_chart(out.with_suffix(".png"), [Series(n, [r.series for r in runs if r.config == n and r.series])
                                         for n in args.config_list], title, "seconds", "blocks covered (tvm scope)")
    header = (f"{info['date']}, {info['cores']} cores, {info['cpu']}, tvm {info['tvm']}, tvm-ffi {info['tvm_ffi']}, "
              f"python {info['python']}; {args.seconds:g} s per run, {args.reps} repetition(s), seeds: {args.seeds}. "
              "Cells: median (min-max over repetitions); bugs: median unique signatures per kind."
              + (f" {args.note}" if args.note else ""))
    out.with_suffix(".md").write_text(header + "\n\n" + md + "\n")
    result = {"time_s": args.seconds, "reps": args.reps, "seeds": args.seeds, "checkpoints": args.checkpoint_list,
              **heads, "median_blocks": {n: s["blocks_at_time"]["median"] for n, s in summary.items()
                                         if "blocks_at_time" in s},
              "targets": {"ratio_vs_best_baseline": 1.75, "ratio_vs_tzer": 1.15}, "machine": info,
              "reused_runs": args.reuse, "note": args.note}
    out.with_suffix(".json").write_text(json.dumps({"summary": result, "configs": summary,
                                                    "runs": [asdict(r) for r in runs]}, indent=1) + "\n")
    print(header)
    print(md)
    print(json.dumps(result))
    return 0 if not any(r.error for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
