"""How far llvm, c and the reference pipeline legitimately disagree on float outputs, per op family.

For every seed and input profile: the seed's own pass sequence built for llvm and c, and the reference
(TVM's default pipeline, llvm), run on the same inputs. Prints, per family and float width, the largest
difference relative to the buffer's scale and in ULPs, next to the tolerance oracles/compare.py uses
(ratio = measured / allowed: below 1 means no seed would be a false alarm). Last line: one JSON object.

    python bench/oracle_tolerance.py [--seeds N] [--out bench/results/oracle-tolerance.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine  # noqa: E402

from tirfuzz.corpus import list_seeds  # noqa: E402
from tirfuzz.corpus.cases import seed_case  # noqa: E402
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig  # noqa: E402
from tirfuzz.fuzzer.core.tvmapi import default_pipeline  # noqa: E402
from tirfuzz.oracles.compare import TOLERANCES, op_family, ulp_distance  # noqa: E402


def measure(ref: np.ndarray, got: np.ndarray, fam: str) -> tuple[float, int, float] | None:
    """Largest relative-to-scale difference, largest ULP distance, and the largest per-element ratio to
    the tolerance (an element passes when either bound holds), over elements finite on both sides."""
    if ref.dtype.kind != "f" or ref.shape != got.shape:
        return None
    r, g = ref.astype(np.float64), got.astype(np.float64)
    both = np.isfinite(r) & np.isfinite(g)
    if not both.any():
        return 0.0, 0, 0.0
    tol = TOLERANCES[(fam, ref.dtype.itemsize * 8)]
    scale = max(float(np.max(np.abs(r[np.isfinite(r)]), initial=0.0)), float(np.finfo(ref.dtype).tiny))
    rel_e = (np.abs(r - g) / scale)[both]
    ulp_e = ulp_distance(ref, got)[both]
    ratio = float(np.max(np.minimum(rel_e / tol.rtol, ulp_e / tol.ulps)))
    return float(np.max(rel_e)), int(np.max(ulp_e)), ratio


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=0, help="first N seeds only (0: all)")
    ap.add_argument("--out", default="bench/results/oracle-tolerance.json")
    args = ap.parse_args()
    seeds = list_seeds()[: args.seeds or None]
    worst: dict[tuple[str, int], dict] = defaultdict(lambda: {"rel": 0.0, "ulps": 0, "rel_at": "", "ulps_at": "",
                                                              "ratio": 0.0, "ratio_at": ""})
    t0 = time.time()
    runs = 0
    with Executor(ExecutorConfig(timeout_s=60)) as ex:
        for s in seeds:
            for input_seed in (0, 1, 2):
                case = seed_case(s, ["llvm", "c"])
                case.input_seed = input_seed
                fuzzed = ex.run(case, want_outputs=True)
                ref_case = seed_case(s, ["llvm"])
                ref_case.input_seed, ref_case.passes = input_seed, default_pipeline()
                ref = ex.run(ref_case, want_outputs=True)
                runs += 2
                if fuzzed.outcome != "ok" or ref.outcome != "ok":
                    continue
                fam = op_family(case.ir, case.pass_config)
                for target, funcs in fuzzed.outputs.items():
                    for fname, arrs in funcs.items():
                        for a, b in zip(ref.outputs["llvm"][fname], arrs):
                            if fam == "fast-math":
                                continue
                            m = measure(a, b, fam)
                            if m is None:
                                continue
                            w = worst[(fam, a.dtype.itemsize * 8)]
                            where = f"{s.name}/{target}/profile{input_seed}"
                            if m[2] > w["ratio"]:
                                w["ratio"], w["ratio_at"] = m[2], where
                            if m[0] > w["rel"]:
                                w["rel"], w["rel_at"] = m[0], where
                            if m[1] > w["ulps"]:
                                w["ulps"], w["ulps_at"] = m[1], where
    rows = []
    for (fam, bits), w in sorted(worst.items()):
        tol = TOLERANCES[(fam, bits)]
        ratio = w["ratio"]
        rows.append({"family": fam, "bits": bits, **w, "rtol": tol.rtol, "ulps_allowed": tol.ulps,
                     "ratio": round(ratio, 4)})
        print(f"{fam:15} f{bits}: max rel {w['rel']:.3g} ({w['rel_at']}), max ulps {w['ulps']} ({w['ulps_at']}); "
              f"allowed rtol {tol.rtol:g} or {tol.ulps} ulps; worst element ratio {ratio:.3f} ({w['ratio_at']})")
    summary = {"seeds": len(seeds), "runs": runs, "wall_s": round(time.time() - t0, 1),
               "max_ratio": max((r["ratio"] for r in rows), default=0.0), "machine": machine()}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
