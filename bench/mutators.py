"""Mutators side by side: applicability, validity and cost per mutator, and the index-safety check.

Run from the repository root: `python bench/mutators.py [--apps 1000] [--safety 1000] [--mutators a,b]`.
For each mutator, `--apps` applications on random seeds (each under TVM's default pipeline, target llvm):
applicable % (the mutator produced a new case), valid % of those (parses, passes the pre-check and builds
for llvm, judged by the fork-server executor so crashes cannot kill the bench), and ms per application
(with and without the TVMScript parse). Then `--safety` cases, each a seed after 1-3 IR mutations, run
on llvm and on c with outputs compared: a difference on a case whose accesses were all proven in bounds
(marked safe) is counted and listed. The seeds are tirfuzz's own corpus, so this process parses them.
Last line: one JSON object with `valid` (overall share of produced cases that are valid, weighted as a
campaign draws mutators), `valid_unweighted`, `safe_diffs_from_access` (differences on safe cases with an
access the re-run prover cannot prove in bounds: the index-safety target is 0) and the other counts.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine, median, write_result  # noqa: E402

from tirfuzz.corpus import list_seeds  # noqa: E402
from tirfuzz.corpus.cases import seed_case  # noqa: E402
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig  # noqa: E402
from tirfuzz.fuzzer.core.passes import PassPool  # noqa: E402
from tirfuzz.mutators.mutate import mutate_case  # noqa: E402
from tirfuzz.mutators.registry import all_mutators, by_name  # noqa: E402

# Written reasons for any mutator that stays below 40% valid (none does in the runs so far; a mutator that
# drops below without an entry here is reported as "no written reason").
LOW_VALID_REASONS: dict[str, str] = {}


def valid_result(res) -> bool:
    """Parsed, passed the pre-check and built for llvm (it may still fail when run)."""
    return res.outcome == "ok" or res.stage.startswith("run:")


def compare(a: list, b: list, rtol: float = 1e-4, atol: float = 1e-4) -> str | None:
    """None when two output lists agree (floats with tolerance, NaN equal to NaN), else where they differ."""
    for i, (x, y) in enumerate(zip(a, b)):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape != y.shape:
            return f"output {i}: shape {x.shape} vs {y.shape}"
        if x.dtype.kind == "f" or y.dtype.kind == "f":
            xf, yf = x.astype(np.float64), y.astype(np.float64)
            same = np.isclose(xf, yf, rtol=rtol, atol=atol) | (np.isnan(xf) & np.isnan(yf)) | (xf == yf)
        else:
            same = x == y
        if not np.all(same):
            k = int(np.argmin(same.reshape(-1)))
            return f"output {i}[{k}]: {x.reshape(-1)[k]!r} vs {y.reshape(-1)[k]!r} ({int((~same).sum())} differ)"
    return None


def bench_mutators(args, seeds, pool, ex) -> tuple[dict, list]:
    muts = by_name(args.mutators.split(",")) if args.mutators else all_mutators()
    rng = random.Random(args.seed)
    rows: dict[str, dict] = {}
    for m in muts:
        t_m = time.perf_counter()
        st = Counter()
        reasons: Counter = Counter()
        outcomes: Counter = Counter()
        ms, ms_np = [], []
        for _ in range(args.apps):
            case = seed_case(rng.choice(seeds), ["llvm"])
            donor = seed_case(rng.choice(seeds), ["llvm"])
            new, info = mutate_case(case, rng.randrange(1 << 31), pool, [m], donor=donor)
            ms.append(info.get("ms", 0.0))
            ms_np.append(info.get("ms", 0.0) - info.get("parse_ms", 0.0))
            if new is None:
                st["declined"] += 1
                reasons[info["reason"][:120]] += 1
                continue
            st["applicable"] += 1
            st["safe"] += bool(info.get("safe"))
            res = ex.run(new, want_outputs=False)
            if valid_result(res):
                st["valid"] += 1
            else:
                key = f"{res.outcome}:{res.filter or res.stage}"
                outcomes[key] += 1
                if res.outcome != "rejected":
                    outcomes[f"msg:{(res.message or '').splitlines()[0][:100] if res.message else ''}"] += 1
        app = st["applicable"]
        rows[m.name] = {
            "kind": m.kind, "weight": m.weight, "apps": args.apps,
            "applicable": app / args.apps, "valid": st["valid"] / app if app else None,
            "safe": st["safe"] / app if app else None,
            "ms": float(np.mean(ms)), "ms_no_parse": float(np.mean(ms_np)), "ms_median": median(ms),
            "declined": dict(reasons.most_common(8)), "invalid": dict(outcomes.most_common(10)),
            "wall_s": time.perf_counter() - t_m,
        }
        r = rows[m.name]
        print(f"{m.name:18} {m.kind:6} w={m.weight:<4} applicable {r['applicable']:6.1%}  valid "
              f"{(r['valid'] or 0):6.1%}  {r['ms']:7.1f} ms ({r['ms_no_parse']:6.1f} without parse)",
              file=sys.stderr, flush=True)
    return rows, muts


def _differs(outs: dict) -> str | None:
    for fn in outs.get("llvm", {}):
        where = compare(outs["llvm"][fn], outs["c"].get(fn, []))
        if where:
            return where
    return None


def _float_only(outs: dict) -> bool:
    """Whether every output that differs between llvm and c is a float array."""
    for fn, arrs in outs.get("llvm", {}).items():
        for a, b in zip(arrs, outs["c"].get(fn, [])):
            if compare([a], [b]) and np.asarray(a).dtype.kind != "f":
                return False
    return True


def bench_safety(args, seeds, pool, ex) -> dict:
    """Mutated cases on llvm and c; every difference on a case marked safe is attributed."""
    from tirfuzz.fuzzer.core.tvmapi import parse
    from tirfuzz.fuzzer.tir.safety import find_unsafe

    ir_muts = [m for m in all_mutators() if m.kind == "ir"]
    rng = random.Random(args.seed + 1)
    st: Counter = Counter()
    diffs: list = []
    found: list = []  # bug-like outcomes met on the way (for triage, not part of the safety verdict)
    seed_diff: dict = {}
    for k in range(args.safety):
        seed = rng.choice(seeds)
        case = seed_case(seed, ["llvm", "c"], input_seed=rng.randrange(3))
        made = 0
        for _ in range(rng.choice([1, 2, 3])):
            new, info = mutate_case(case, rng.randrange(1 << 31), pool, ir_muts,
                                    donor=seed_case(rng.choice(seeds), ["llvm", "c"]))
            if new is not None:
                case, made = new, made + 1
        if (k + 1) % 100 == 0:
            print(f"safety {k + 1}/{args.safety}: {dict(st)}", file=sys.stderr, flush=True)
        if not made:
            st["no-mutation"] += 1
            continue
        st["cases"] += 1
        safe = bool(case.extra.get("safe", True))
        st["safe" if safe else "unsafe"] += 1
        res = ex.run(case, want_outputs=True)
        outs = res.outputs
        if "llvm" not in outs or "c" not in outs:
            st[f"not-compared:{res.outcome}:{res.filter or res.stage}"] += 1
            if res.outcome in ("crash", "hang", "internal-error") and len(found) < 40:
                found.append({"outcome": res.outcome, "stage": res.stage, "frame": res.frame,
                              "message": (res.message or "")[:300], "history": case.extra.get("history"),
                              "seed": seed.name, "safe": safe})
            continue
        st["compared"] += 1
        st["compared_safe" if safe else "compared_unsafe"] += 1
        where = _differs(outs)
        if where is None:
            continue
        st["diff"] += 1
        key = (seed.name, case.input_seed)
        if key not in seed_diff:  # does the unmutated seed already differ on these inputs?
            r0 = ex.run(seed_case(seed, ["llvm", "c"], input_seed=case.input_seed), want_outputs=True)
            seed_diff[key] = "llvm" in r0.outputs and "c" in r0.outputs and _differs(r0.outputs) is not None
        entry = {"safe": safe, "where": where, "history": case.extra.get("history"),
                 "ub_risks": case.extra.get("ub_risks", []), "input_seed": case.input_seed, "seed": seed.name,
                 "seed_differs": seed_diff[key], "float_only": _float_only(outs)}
        if not safe:
            st["diff_unsafe"] += 1
        elif seed_diff[key]:
            st["diff_safe_preexisting"] += 1  # the seed itself differs between llvm and c on these inputs
        else:
            bad, checked = find_unsafe(parse(case.ir))  # re-prove every access of the printed case
            entry["unproven_accesses"] = len(bad)
            small = ex.run(replace(case, input_seed=0), want_outputs=True)  # no NaN, Inf or extreme inputs
            entry["differs_on_small_inputs"] = ("llvm" in small.outputs and "c" in small.outputs
                                                and _differs(small.outputs) is not None)
            entry["case"] = case.to_dict()
            st["diff_safe"] += 1
            st["diff_safe_from_access" if bad else "diff_safe_all_proven"] += 1
        diffs.append(entry)
    return {"counts": dict(st), "diffs": diffs, "bug_like": found}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--apps", type=int, default=1000, help="applications per mutator")
    ap.add_argument("--safety", type=int, default=1000, help="mutated cases run on llvm and c (0: skip)")
    ap.add_argument("--mutators", default="", help="comma-separated names (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20.0)
    args = ap.parse_args()
    seeds = list_seeds()
    pool = PassPool()
    t0 = time.perf_counter()
    with Executor(ExecutorConfig(timeout_s=args.timeout)) as ex:
        rows, muts = bench_mutators(args, seeds, pool, ex) if args.apps > 0 else ({}, [])
        safety = bench_safety(args, seeds, pool, ex) if args.safety > 0 else {"counts": {}, "diffs": []}
    have = {n: r for n, r in rows.items() if r["valid"] is not None}
    wsum = sum(r["weight"] for r in have.values())
    valid_w = sum(r["weight"] * r["valid"] for r in have.values()) / wsum if wsum else 0.0
    valid_u = float(np.mean([r["valid"] for r in have.values()])) if have else 0.0
    low = {n: LOW_VALID_REASONS.get(n, "no written reason") for n, r in have.items() if r["valid"] < 0.4}
    summary = {"valid": round(valid_w, 4), "valid_unweighted": round(valid_u, 4),
               "applicable": round(float(np.mean([r["applicable"] for r in rows.values()])), 4) if rows else None,
               "mutators": len(rows), "apps_per_mutator": args.apps, "below_40": low,
               "safety_cases": safety["counts"].get("compared", 0),
               "safety_safe_cases": safety["counts"].get("compared_safe", 0),
               "safe_diffs_from_access": safety["counts"].get("diff_safe_from_access", 0),
               "safe_diffs_all_proven": safety["counts"].get("diff_safe_all_proven", 0),
               "safe_diffs_preexisting": safety["counts"].get("diff_safe_preexisting", 0),
               "unsafe_diffs": safety["counts"].get("diff_unsafe", 0),
               "wall_s": round(time.perf_counter() - t0, 1)}
    info = machine()
    write_result("mutators", {"summary": summary, "machine": info, "per_mutator": rows, "safety": safety})
    print(f"{'mutator':18} {'kind':6} {'weight':>6} {'applicable':>10} {'valid':>7} {'safe':>6} {'ms':>7} "
          f"{'ms-parse':>8}")
    for n, r in rows.items():
        v = "-" if r["valid"] is None else f"{r['valid']:.1%}"
        s = "-" if r["safe"] is None else f"{r['safe']:.0%}"
        print(f"{n:18} {r['kind']:6} {r['weight']:6.1f} {r['applicable']:10.1%} {v:>7} {s:>6} {r['ms']:7.1f} "
              f"{r['ms_no_parse']:8.1f}")
    print(f"safety: {safety['counts']}")
    print(f"machine: {info['cores']} cores, {info['cpu']}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
