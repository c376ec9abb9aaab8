"""Confirm what the checked run hid in a campaign: rerun each kept case's checked run in a fresh process.

A campaign keeps the first cases each filter hid in OUT/hidden/<filter>/ (with the reason). For every
`ub-*` folder, up to --max cases in all: run the case's checked run again (its own child, same inputs) and
check that the same check trips with the same reason; and run the case itself again to see the
difference (or crash) is still there. Prints a markdown table; exit 1 if any did not confirm.

    python bench/confirm_hidden.py OUT [--max 20]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--max", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args()
    paths = sorted(p for d in sorted((args.out / "hidden").glob("ub-*")) for p in sorted(d.glob("*.json")))
    paths = paths[: args.max]
    rows, bad = [], 0
    with Executor(ExecutorConfig(timeout_s=args.timeout)) as ex:
        for p in paths:
            d = json.loads(p.read_text())
            case = TestCase.from_dict(d)
            want, reason = d.get("tirfuzz_hidden"), d.get("tirfuzz_message", "")
            checked = ex.check(case)
            again = ex.run(case, want_outputs=False, oracle=True)
            seen = bool(again.oracle.get("diff")) or again.outcome in ("crash", "hang")
            same = checked.get("filter") == want and checked.get("reason") == reason
            bad += not (same and seen)
            rows.append((p.stem, want, checked.get("filter"), "yes" if same else "NO", "yes" if seen else "NO",
                         (checked.get("reason") or checked.get("error") or "")[:110]))
    print("| case | hidden by | checked run now | same trip | difference still there | reason |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| " + " | ".join(str(x).replace("|", "\\|") for x in r) + " |")
    print(f"\n{len(rows) - bad} of {len(rows)} confirmed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
