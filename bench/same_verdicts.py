"""Do two checkouts of tirfuzz say the same of the same cases? A check for refactorings.

Both sides run every case once, with the oracles on, in a fork server of their own: this checkout (the
package Python finds) and the other one (`--other DIR`, a folder holding a `tirfuzz` package, put
first on PYTHONPATH). Each result is reduced to what decides a verdict: outcome, stage, target, the
filter that rejected it, the filter that hid an oracle difference, and the bug signature. Campaigns
cannot be compared exec by exec across checkouts: the fork server's memory image differs, TVM's
pointer-keyed maps iterate in another order, and a few blocks of coverage more or less steer the
power schedule elsewhere. The same cases can.

    python bench/same_verdicts.py --other /path/to/old --cases OUT1/corpus OUT2/corpus OUT1/bugs ...
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import RESULTS, machine  # noqa: E402

KEYS = ("outcome", "stage", "target", "filter", "oracle_filter", "signature")


def worker(cases_file: Path, out_file: Path) -> int:
    """Run each case (one JSON object a line) and write its verdict fields, one JSON line each."""
    try:
        from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
    except ImportError:  # a checkout from before the layered packages
        from tirfuzz.fuzzer.executor import Executor, ExecutorConfig
    try:
        from tirfuzz.fuzzer.core.case import TestCase
        from tirfuzz.fuzzer.core.signature import signature
    except ImportError:
        from tirfuzz.fuzzer.case import TestCase
        from tirfuzz.reports.signature import signature
    with Executor(ExecutorConfig(timeout_s=30.0)) as ex, open(out_file, "w") as out:
        for line in cases_file.read_text().splitlines():
            name, case = json.loads(line)
            res = ex.run(TestCase.from_dict(case), want_outputs=False, oracle=True)
            row = {"name": name, "outcome": res.outcome, "stage": res.stage, "target": res.target,
                   "filter": res.filter, "oracle_filter": (res.oracle or {}).get("filtered"),
                   "signature": signature(res) if res.is_bug else None,
                   "message": (res.message or "").splitlines()[0][:200] if res.message else ""}
            out.write(json.dumps(row) + "\n")
    return 0


def collect(folders: list[str]) -> list[tuple[str, dict]]:
    """Every case file under the folders (corpus/*.json, bugs/*/case.json), each distinct case once."""
    seen, out = set(), []
    for folder in folders:
        for p in sorted(Path(folder).rglob("*.json")):
            if p.name in ("info.json", "minimized.json") or "examples" in p.parts:
                continue
            try:
                case = json.loads(p.read_text())
            except ValueError:
                continue
            if not isinstance(case, dict) or case.get("format") != "tirfuzz-case/1":
                continue
            key = json.dumps({k: case.get(k) for k in ("ir", "passes", "pass_config", "targets", "input_seed")},
                             sort_keys=True)
            if key not in seen:
                seen.add(key)
                out.append((str(p), case))
    return out


def run_side(cases_file: Path, pythonpath: str | None) -> tuple[list[dict], float]:
    out = Path(tempfile.mkstemp(suffix=".jsonl")[1])
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.monotonic()
    subprocess.run([sys.executable, __file__, "--worker", str(cases_file), str(out)], env=env, check=True)
    return [json.loads(line) for line in out.read_text().splitlines()], time.monotonic() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--other", help="folder holding the other checkout's tirfuzz package")
    ap.add_argument("--cases", nargs="+", default=[], help="folders of case files (a corpus, a bugs folder)")
    ap.add_argument("--out", default="same-verdicts", help="result name under bench/results/")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(Path(args.worker[0]), Path(args.worker[1]))
    cases = collect(args.cases)
    cases_file = Path(tempfile.mkstemp(suffix=".jsonl")[1])
    cases_file.write_text("".join(json.dumps([name, case]) + "\n" for name, case in cases))
    this, this_s = run_side(cases_file, None)
    other, other_s = run_side(cases_file, args.other)
    differ = [(a, b) for a, b in zip(this, other) if any(a[k] != b[k] for k in KEYS)]
    lines = [f"# Same verdicts: this checkout against {args.other}", "", f"Machine: {machine()}", "",
             f"{len(cases)} cases from {', '.join(args.cases)}; {len(cases) - len(differ)} give the same outcome, "
             f"stage, target, filters and signature; {len(differ)} differ.", ""]
    for a, b in differ:
        lines.append(f"- `{a['name']}`: this {({k: a[k] for k in KEYS})}, other {({k: b[k] for k in KEYS})}; "
                     f"messages: `{a['message']}` / `{b['message']}`")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[4:]))
    print(json.dumps({"cases": len(cases), "same": len(cases) - len(differ), "differ": len(differ),
                      "this_s": round(this_s, 1), "other_s": round(other_s, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
