"""Breakpoint-coverage overhead per case over the seed corpus: first run, second run, coverage off.

Run from the repository root: `python bench/coverage_overhead.py [--scope tvm] [--targets llvm] [--reps 3]`.
Two server processes are forked after `import tvm`, like the fork server: one plants native coverage,
one does not. Each case runs in a forked child of a server (default pipeline, build, run). Round "first"
replays every seed on the planted server (every block traps once); then `reps` rounds replay each seed
on both servers, alternating which goes first: "second" (planted, blocks already uncovered) and "off".
Last line: one JSON object with `ratio` (second / off over the sums of per-case medians; target <= 1.10).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import pickle
import signal
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine, median, run_forked, write_result  # noqa: E402

CASE_TIMEOUT_S = 120


def _send(fd: int, obj) -> None:
    """Write one length-prefixed pickle."""
    data = pickle.dumps(obj)
    os.write(fd, struct.pack("<Q", len(data)) + data)


def _recv(fd: int):
    """Read one length-prefixed pickle."""
    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                raise EOFError("server closed its pipe")
            buf += chunk
        return buf

    return pickle.loads(exact(struct.unpack("<Q", exact(8))[0]))


def _digest(result) -> str:
    """A hash of every output array of a case (bit-exact comparison across runs)."""
    h = hashlib.sha256()
    for target in sorted(result.outputs):
        for func in sorted(result.outputs[target]):
            for arr in result.outputs[target][func]:
                h.update(f"{target}/{func}/{arr.dtype}{arr.shape}".encode())
                h.update(arr.tobytes())
    return h.hexdigest()[:16]


def _run_in_child(case, pool) -> tuple[float, float, str, str]:
    """Fork a child that runs the case; return (wall ms from fork to reap, child CPU ms, outcome, digest)."""
    from tirfuzz.fuzzer.execution.pipeline import run_case

    def child() -> bytes:
        signal.alarm(CASE_TIMEOUT_S)
        res = run_case(case, pool, want_outputs=True)
        return pickle.dumps((res.outcome, _digest(res)))

    t0 = time.perf_counter()
    data, _, usage = run_forked(child)
    ms = (time.perf_counter() - t0) * 1e3
    outcome, digest = pickle.loads(data) if data else ("died", "")
    return ms, (usage.ru_utime + usage.ru_stime) * 1e3, outcome, digest


def _warm_up(pool) -> None:
    """Pay TVM's first-use costs (parser, LLVM init) in the server, as the fork server does."""
    import tvm
    from tvm import te, topi

    from tirfuzz.fuzzer.core.case import TestCase
    from tirfuzz.fuzzer.execution.pipeline import run_case

    a = te.placeholder((4, 4), "float32", name="A")
    block_ir = tvm.IRModule({"main": te.create_prim_func([a, topi.sum(topi.exp(a), axis=1)])}).script()
    flat_ir = ('@T.prim_func\ndef main(A: T.Buffer((4,), "int32"), B: T.Buffer((4,), "int32")):\n'
               "    for i in range(4):\n        B[i] = A[i] + 1\n")
    for ir in (block_ir, flat_ir):
        run_case(TestCase(ir), pool, want_outputs=False)


def _server(cmd_r: int, res_w: int, cases: list, scope: str | None, granularity: str) -> None:
    """Serve `run i` requests: each case in a forked child, with coverage planted first when `scope`."""
    from tirfuzz.fuzzer.core.passes import PassPool

    pool = PassPool()
    cov = None
    if scope:
        from tirfuzz.fuzzer.execution.coverage import NativeCoverage

        cov = NativeCoverage(scope, granularity, progress=False)
        cov.plant()
    _warm_up(pool)
    gc.collect()
    gc.freeze()
    _send(res_w, {"planted_sites": cov.planted_sites if cov else 0, "plant_s": cov.plant_s if cov else 0.0,
                  "warmup_blocks": cov.total() if cov else 0})
    while True:
        req = _recv(cmd_r)
        if req is None:
            return
        if req == "total":
            _send(res_w, cov.total() if cov else 0)
            continue
        mark = cov.mark() if cov else 0
        ms, cpu_ms, outcome, digest = _run_in_child(cases[req], pool)
        new = len(cov.hits_since(mark)) if cov else 0
        _send(res_w, {"ms": ms, "cpu_ms": cpu_ms, "outcome": outcome, "digest": digest, "new": new,
                      "total": cov.total() if cov else 0})


class Server:
    """A forked server process and its two pipes."""

    def __init__(self, cases: list, scope: str | None, granularity: str):
        """Fork the server and wait for its hello."""
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            code = 1
            try:
                os.close(self.cmd_w)
                os.close(self.res_r)
                _server(cmd_r, res_w, cases, scope, granularity)
                code = 0
            finally:
                os._exit(code)
        os.close(cmd_r)
        os.close(res_w)
        self.hello = _recv(self.res_r)

    def run(self, i: int) -> dict:
        """Run case i in a forked child of the server."""
        _send(self.cmd_w, i)
        return _recv(self.res_r)

    def total(self) -> int:
        """Blocks the server's tree has covered."""
        _send(self.cmd_w, "total")
        return _recv(self.res_r)

    def close(self) -> None:
        """Stop the server and reap it."""
        _send(self.cmd_w, None)
        os.waitpid(self.pid, 0)


def main() -> None:
    """Replay the corpus three ways and report the overhead."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scope", default="tvm", choices=("tvm", "all"))
    ap.add_argument("--granularity", default="block", choices=("block", "function"))
    ap.add_argument("--targets", default="llvm")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N seeds")
    args = ap.parse_args()

    import tvm  # noqa: F401  (both servers fork from here, as from a fork server)

    from tirfuzz.corpus import list_seeds
    from tirfuzz.corpus.cases import seed_case
    from tirfuzz.fuzzer.execution.coverage import find_sites

    _, info = find_sites(args.scope, args.granularity, progress=True)
    seeds = list_seeds()[: args.limit or None]
    cases = [seed_case(s, args.targets.split(",")) for s in seeds]
    names = [s.name for s in seeds]
    cov, off = Server(cases, args.scope, args.granularity), Server(cases, None, args.granularity)
    rows = {n: {k: [] for k in ("first", "first_off", "second", "off")} for n in names}
    info_rows = {n: {} for n in names}
    mismatches: list[str] = []

    def record(srv: Server, i: int, kind: str) -> dict:
        r = srv.run(i)
        rows[names[i]][kind].append((r["ms"], r["cpu_ms"]))
        ref = info_rows[names[i]].setdefault("digest", r["digest"])
        if r["digest"] != ref:
            mismatches.append(f"{names[i]} ({kind})")
        return r

    try:
        for i in range(len(names)):  # warm the page cache and host tools; not counted
            info_rows[names[i]].update(digest=off.run(i)["digest"])
        t0 = time.perf_counter()
        for i, n in enumerate(names):  # every block traps once; each case paired with an `off` run
            for kind in (("first_off", "first") if i % 2 else ("first", "first_off")):
                r = record(cov if kind == "first" else off, i, kind)
                if kind == "first":
                    info_rows[n].update(first_new=r["new"], outcome=r["outcome"])
        first_wall = time.perf_counter() - t0
        total_after_first = cov.total()
        for rep in range(args.reps):
            for i in range(len(names)):
                for kind in (("second", "off") if (rep + i) % 2 else ("off", "second")):
                    r = record(cov if kind == "second" else off, i, kind)
                    if kind == "second":
                        info_rows[names[i]]["second_new"] = info_rows[names[i]].get("second_new", 0) + r["new"]
            print(f"rep {rep + 1}/{args.reps} done", file=sys.stderr)
        total_end = cov.total()
    finally:
        cov.close()
        off.close()

    def med(n: str, kind: str, col: int) -> float:
        return round(median([x[col] for x in rows[n][kind]]), 2)

    per_case = {n: {**{f"{k}_{u}": med(n, k, c) for k in rows[n] for u, c in (("ms", 0), ("cpu_ms", 1))},
                    "first_new_blocks": info_rows[n]["first_new"], "second_new_blocks": info_rows[n]["second_new"],
                    "outcome": info_rows[n]["outcome"]} for n in names}

    def tot(key: str) -> float:
        return sum(v[key] for v in per_case.values())

    def mid(key: str) -> float:
        return round(median([v[key] for v in per_case.values()]), 1)

    first_new = total_after_first - cov.hello["warmup_blocks"]
    summary = {
        "ratio": round(tot("second_ms") / tot("off_ms"), 3),
        "cpu_ratio": round(tot("second_cpu_ms") / tot("off_cpu_ms"), 3),
        "median_case_ratio": round(median([v["second_ms"] / v["off_ms"] for v in per_case.values()]), 3),
        "first_ratio": round(tot("first_ms") / tot("first_off_ms"), 3),
        "first_cpu_ratio": round(tot("first_cpu_ms") / tot("first_off_cpu_ms"), 3),
        "first_extra_s": round((tot("first_ms") - tot("first_off_ms")) / 1e3, 2),
        "first_extra_cpu_s": round((tot("first_cpu_ms") - tot("first_off_cpu_ms")) / 1e3, 2),
        "first_extra_cpu_per_block_us": round((tot("first_cpu_ms") - tot("first_off_cpu_ms")) * 1e3
                                              / max(first_new, 1), 2),
        "median_first_ms": mid("first_ms"), "median_second_ms": mid("second_ms"), "median_off_ms": mid("off_ms"),
        "blocks_after_warmup": cov.hello["warmup_blocks"], "blocks_after_first": total_after_first,
        "blocks_at_end": total_end, "first_round_wall_s": round(first_wall, 1),
        "sites": cov.hello["planted_sites"], "plant_s": round(cov.hello["plant_s"], 3),
        "output_mismatches": len(mismatches), "cases": len(cases), "reps": args.reps,
        "scope": args.scope, "granularity": args.granularity, "targets": args.targets.split(","),
        "sites_cached": info.cached, "sites_load_s": round(info.load_s, 3),
    }
    mach = machine()
    name = "coverage_overhead" if (args.scope, args.granularity) == ("tvm", "block") else \
        f"coverage_overhead-{args.scope}-{args.granularity}"
    path = write_result(name, {"summary": summary, "machine": mach, "per_case": per_case,
                                              "mismatches": mismatches})
    print(f"{'seed':34} {'first ms':>9} {'second ms':>10} {'off ms':>8} {'new blocks':>10}")
    for n, v in per_case.items():
        print(f"{n:34} {v['first_ms']:9.1f} {v['second_ms']:10.1f} {v['off_ms']:8.1f} {v['first_new_blocks']:10,}")
    print(f"machine: {mach['cores']} cores, {mach['cpu']}")
    print(f"scope {args.scope}/{args.granularity}: {summary['sites']:,} sites planted in {summary['plant_s']} s; "
          f"blocks covered: {summary['blocks_after_warmup']:,} by the servers' warm-up, "
          f"{total_after_first:,} after the first round, {total_end:,} at the end")
    print(f"medians per case (wall, fork to reap): first {summary['median_first_ms']} ms, "
          f"second {summary['median_second_ms']} ms, off {summary['median_off_ms']} ms")
    print(f"first-run cost: wall x{summary['first_ratio']} ({summary['first_extra_s']} s over {len(cases)} cases), "
          f"child CPU x{summary['first_cpu_ratio']} ({summary['first_extra_cpu_s']} s, "
          f"{summary['first_extra_cpu_per_block_us']} us per new block)")
    print(f"second/off ratio: wall {summary['ratio']}, child CPU {summary['cpu_ratio']} (target <= 1.10); "
          f"output mismatches: {len(mismatches)}; details in {path}")
    print(json.dumps({**summary, "cores": mach["cores"]}))


if __name__ == "__main__":
    main()
