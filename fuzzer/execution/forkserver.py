"""The fork server: imports TVM once, then runs each case in a forked child with limits.

Started by `Executor` as `python -m tirfuzz.fuzzer.execution.forkserver IN_FD OUT_FD`. A child that
segfaults, aborts, hangs or runs out of memory is reaped here; the server carries on.

Children are forked by a zygote, a process forked once from the warmed-up server that does nothing
but fork: every child starts from the same memory image, whatever the server did before. (Forked
from the server itself, a child's heap layout depends on the results the server has read so far,
and TVM's pointer-keyed maps then take other paths: tens of blocks of coverage noise per case, and
no two campaigns with the same seed alike.)

The next child is forked as soon as a case is handed to the current one, so the fork runs alongside
the case. A case is over when its result arrives; its child's exit and reaping overlap the next case.
(Copying in advance the pages a child will write was tried: 4,500 fewer page faults per case and no
faster, since the cost is the freshly copied pages being cold in the cache, not the faults.)

A campaign's next mutation can be made ahead, alongside the case (`ahead`, then `take`): in the
mutator, one more child that only mutates, from a private copy of TVM's code with no breakpoints
(`NativeCoverage.privatize`), so nothing it runs counts as any case's coverage or takes a block from one.
Likewise a kept child's result other than ok can be judged again aside (`later`): its fresh run goes on in
another private child alongside the next case, and `settle` gives the verdict.
"""

from __future__ import annotations

import gc
import importlib
import os
import resource
import select
import shutil
import signal
import socket
import struct
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from typing import Any, Callable

from tirfuzz.fuzzer.core.case import TestCase
from tirfuzz.fuzzer.core.crashinfo import SEGFAULT_BANNER, frames_from_stderr, top_frame
from tirfuzz.fuzzer.core.hostcc import HostCompiler
from tirfuzz.fuzzer.core.passes import PassPool
from tirfuzz.fuzzer.core.result import ExecResult
from tirfuzz.fuzzer.core.signature import signature
from tirfuzz.fuzzer.execution import wire
from tirfuzz.fuzzer.execution.coverage import NativeCoverage
from tirfuzz.fuzzer.execution.coverage_sites import cache_dir
from tirfuzz.fuzzer.execution.pipeline import run_case
from tirfuzz.fuzzer.execution.reference import reference_target
from tirfuzz.fuzzer.execution.scratch import child_folder, make_scratch
from tirfuzz.fuzzer.execution.stageslot import StageSlot, clear_slot, read_slot
from tirfuzz.oracles.filters import load_filters

# A child lives for one case or a few: collecting cyclic garbage every 700 allocations (Python's default) costs it
# more than the memory it would give back. Its memory limit still holds whatever it allocates.
CHILD_GC_THRESHOLD = (50_000, 20, 100)
STDERR_KEEP = 8000  # characters of a child's stderr kept in its result
# Results after which a child's process is as whole as after an ok case (a Python exception caught in run_case,
# or an oracle's finding): it may run the next case. After any other (a tool error, memory exhausted) it exits.
# Its results other than ok are judged in a fresh child all the same (ForkServer._judge_fresh).
KEEP_AFTER = ("ok", "declined", "rejected", "internal-error", "miscompilation", "roundtrip")
MUTATOR_KEEP = 100  # mutations one mutator child makes before a fresh one takes over (its heap only grows)
# A kept child's results whose fresh run may go on aside, alongside the next case (`later`): those after which the
# kept child runs on. A crash or a hang ended the kept child, and its follow-ups (Executor.run) need the verdict now.
LATER = ("rejected", "internal-error", "miscompilation", "roundtrip")
_MEMORY_WORDS = ("std::bad_alloc", "out of memory", "Cannot allocate memory", "MemoryError")
# What a child says when memory it did not own was overwritten and it died of it other than by a fault:
# the dynamic loader's own data (its link maps live in the heap) fails its assertion at the next
# dlopen/dlsym, which exits 127 with no signal; glibc's malloc finds its heap corrupt and aborts. The same
# wild write faults (SIGSEGV) when it lands on unmapped memory instead, so one case gave either: all of
# these are classified as that SIGSEGV, attributed to the first stage that ran compiled code.
CORRUPTION_WORDS = ("Inconsistency detected by ld.so", "malloc(): ", "free(): ", "double free or corruption",
                    "munmap_chunk(): ", "realloc(): ", "corrupted top size",
                    "corrupted size vs. prev_size", "corrupted double-linked list", "malloc_consolidate(): ")


def _cpu_s(pid: int) -> float:
    """CPU seconds a process has used (user and system; 0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


_TICKS = os.sysconf("SC_CLK_TCK")


def _vm_size_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _queued_s(pid: int) -> float | None:
    """Seconds a process's threads have waited for a core, runnable (/proc/PID/task/*/schedstat); None when
    the kernel does not say."""
    total, seen = 0, False
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[1])
                seen = True
            except (OSError, IndexError, ValueError):
                continue
    except OSError:
        return None
    return total / 1e9 if seen else None


@dataclass
class Beside:
    """A reference try running in a side child beside a fresh run (`ForkServer._reference_beside`)."""

    pid: int
    req_w: int
    r: int
    began_at: float
    timeout: float
    target: str
    queued_s: float | None = None  # its threads' wait for a core, read when it stopped or sent its result
    stopped: bool = False          # stopped at its time limit

    def stop(self) -> None:
        """At its limit: how long it waited for a core, then SIGKILL."""
        if not self.stopped:
            self.queued_s = _queued_s(self.pid)
            self.stopped = True
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass


class ForkServer:
    """Owns the pass pool, the optional coverage map and the loop over requests."""

    def __init__(self, options: dict[str, Any], server_fds: tuple[int, ...] = ()):
        import tvm  # noqa: F401  (the point of a fork server: import once)

        self.options = options
        self.server_fds = server_fds  # the executor's pipes: children close them
        self.pool = PassPool(options.get("plugins", ()))

        self.filters = load_filters(options.get("filters", ()))
        self.jobs = self._load_jobs(options.get("jobs", ()))
        # The C backend's headers precompiled once, before the coverage map is planted (preparing the
        # header generates a little C with TVM: no case should be credited with that).
        self.host_cc = HostCompiler.prepare(cache_dir()) if options.get("host_pch", True) else None
        self.coverage = None
        if options.get("coverage"):
            self.coverage = NativeCoverage(scope=options["coverage"], granularity=options.get("granularity", "block"),
                                           progress=False)
            self.coverage.plant()
            preload = options.get("preload_sites")
            if preload is not None:
                self.coverage.preload(preload)
        for ir in self._warm_up_irs() if options.get("warmup", True) else []:
            run_case(TestCase(ir), self.pool, want_outputs=False, host_cc=self.host_cc)
        gc.collect()
        gc.freeze()  # children never scan (and so never copy) the server's objects
        # Each child's temporary files (the C backend's shared objects, the host compiler's own) go in a folder
        # of its own here, removed when the child is reaped: a child killed in a hang leaves nothing behind.
        self.scratch = make_scratch()
        self.stderr_file = tempfile.TemporaryFile(prefix="tirfuzz-child-stderr-")
        self.aside_stderr = tempfile.TemporaryFile(prefix="tirfuzz-aside-stderr-")  # the fresh run going on aside
        self.devnull = os.open(os.devnull, os.O_WRONLY)
        self.standby: tuple[int, int, int] | None = None  # (pid, request fd, result fd)
        self.unreaped: list[int] = []  # children whose result came: reaped while the next case runs
        self.keep = max(1, int(options.get("persistent", 1)))  # cases a child may run, one after another
        self.kept_timeout = float(options.get("kept_timeout_s", 2.0))  # ExecutorConfig.kept_timeout_s
        self.kept_run_s = float(options.get("kept_run_s", 0.0)) or None  # ExecutorConfig.kept_run_s
        self.stopped_running = False  # the last child collected was stopped by kept_run, in its compiled code
        self.pass_features = bool(options.get("pass_features"))  # ExecutorConfig.pass_features
        self.kept: tuple[int, int, int, int] | None = None  # (pid, request fd, result fd, cases it ran)
        # Signatures of results other than ok that a kept child gave and a fresh child then gave too: a
        # kept child's result with one of these is not run again (the same bug seen again, most of them).
        self.confirmed: set[str] = set()
        self.mutator: tuple[int, int, int, int] | None = None  # (pid, request fd, result fd, mutations made)
        self.ahead_sent: tuple[float, float] | None = None  # (when, time limit) of the mutation now under way
        self.private = False  # in a child: this is the mutator, its code private (`_mutate_ahead`)
        # The fresh run of a kept child's result going on aside: (pid, request fd, result fd, started, time limit,
        # the kept child's result); and the verdicts such runs gave, until `settle` hands them over.
        self.aside: tuple[int, int, int, float, float, ExecResult] | None = None
        self.settled: list[ExecResult] = []
        # Side children's time limits, kept while `_collect` waits for a case: (when, how to stop it).
        self.watch: list[tuple[float, Callable[[], None]]] = []
        self.zygote_pid, self.zygote = self._start_zygote()
        self._spawn()

    @staticmethod
    def _load_jobs(specs) -> dict[str, Callable]:
        """The jobs children may run before a case, by name, imported once here ("module:function")."""
        jobs = {}
        for name, where in specs:
            module, _, func = where.partition(":")
            jobs[name] = getattr(importlib.import_module(module), func)
        return jobs

    @staticmethod
    def _warm_up_irs() -> list[str]:
        """Two small programs (block-level and loop-level) whose runs pay TVM's first-use costs."""
        import tvm
        from tvm import te, topi

        a = te.placeholder((4, 4), "float32", name="A")
        block_ir = tvm.IRModule({"main": te.create_prim_func([a, topi.sum(topi.exp(a), axis=1)])}).script()
        flat_ir = ("@T.prim_func\ndef main(A: T.Buffer((4,), \"int32\"), B: T.Buffer((4,), \"int32\")):\n"
                   "    for i in range(4):\n        B[i] = A[i] + 1\n")
        return [block_ir, flat_ir]

    def info(self) -> dict[str, Any]:
        import tvm
        import tvm_ffi

        out = {"tvm": tvm.__version__, "tvm_ffi": getattr(tvm_ffi, "__version__", "?"), "pid": os.getpid(),
               "passes": self.pool.names(),
               "host_pch": (self.host_cc.folder or self.host_cc.error) if self.host_cc is not None else "off",
               "scratch": self.scratch}
        if self.coverage is not None:
            out["coverage"] = asdict(self.coverage.info)
            out["cov_total"] = self.coverage.total()
        return out

    def _start_zygote(self) -> tuple[int, socket.socket]:
        """Fork the zygote; the server keeps one end of a socket pair to ask it for children."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            ours.close()
            self._zygote(theirs)
        theirs.close()
        return pid, ours

    def _zygote(self, sock: socket.socket) -> None:
        """The zygote's loop: on each request fork a child, hand its pipes to the server, report its exit.

        The loop allocates and frees the same small objects every round and collects no garbage, so the
        image each child is forked from never changes.
        """
        gc.disable()
        for fd in self.server_fds:  # the executor must see EOF when the server dies, whatever the zygote does
            os.close(fd)
        self.server_fds = ()
        try:
            while len(cmd := _recv_exact(sock, 5)) == 5:
                if cmd[:1] == b"r":  # reap a child: its exit status
                    _, status = os.waitpid(struct.unpack("i", cmd[1:])[0], 0)
                    sock.sendall(struct.pack("i", status))
                    continue
                req_r, req_w = os.pipe()
                res_r, res_w = os.pipe()
                pid = os.fork()
                if pid == 0:
                    sock.close()
                    os.close(req_w)
                    os.close(res_r)
                    self._child(req_r, res_w)
                os.close(req_r)
                os.close(res_w)
                socket.send_fds(sock, [struct.pack("i", pid)], [req_w, res_r])
                os.close(req_w)
                os.close(res_r)
        except BaseException:  # the server went away: nothing left to fork for
            pass
        os._exit(0)

    def _spawn(self) -> None:
        """Have the zygote fork the next child now, so a request does not wait for the fork."""
        self.zygote.sendall(b"f\0\0\0\0")
        msg, fds, _, _ = socket.recv_fds(self.zygote, 4, 2)
        if len(msg) != 4 or len(fds) != 2:
            raise RuntimeError("the zygote died")
        self.standby = (struct.unpack("i", msg)[0], fds[0], fds[1])

    def _side_child(self, wait_s: float) -> tuple[int, int, int]:
        """The standby child, warm, for work beside the cases (the mutator, a fresh run aside); the next
        standby forked at once. (pid, request fd, result fd)."""
        if self.standby is None:
            self._spawn()
        pid, req_w, r = self.standby
        self.standby = None
        self._spawn()
        self._await_warm(r, time.perf_counter() + wait_s)
        return pid, req_w, r

    def _reap(self, pid: int) -> int:
        """Wait for a child to exit (the zygote reaps it); its exit status."""
        self.zygote.sendall(b"r" + struct.pack("i", pid))
        buf = _recv_exact(self.zygote, 4)
        if len(buf) != 4:
            raise RuntimeError("the zygote died")
        shutil.rmtree(self._folder(pid), ignore_errors=True)
        return struct.unpack("i", buf)[0]

    def _folder(self, pid: int) -> str:
        """A child's scratch folder: its temporary files, its stage (stageslot.py)."""
        return child_folder(self.scratch, pid)

    def _send(self, pid: int, req_w: int, req: dict[str, Any]) -> None:
        """A request to a child, its stage file cleared first (OSError if it died)."""
        clear_slot(self._folder(pid))
        wire.send(req_w, req)

    def close(self) -> None:
        """Remove the children's temporary files (their folders, whatever was not reaped). The standby child,
        forked last, may be making its folder right now: it is killed first."""
        if self.standby is not None:
            try:
                os.kill(self.standby[0], signal.SIGKILL)
            except OSError:
                pass
            self.standby = None
        shutil.rmtree(self.scratch, ignore_errors=True)

    def run(self, req: dict[str, Any]) -> ExecResult:
        """Run one request in a child (the kept one when it may, else a fresh one from the zygote). A result
        other than ok from a kept child, which ran cases before this one, is judged again in a fresh
        child unless a fresh child gave that same result before: what earlier cases left in its memory
        must never make a verdict (`_judge_fresh`)."""
        start = time.perf_counter()
        mark = self.coverage.mark() if self.coverage is not None else 0
        result, fresh = self._run_once(req, start, fresh_only=bool(req.get("fresh")))
        if self.aside is not None:  # the case before's fresh run: settled here, before this case is judged
            self._settle()
        if not fresh and result.outcome not in ("ok", "declined"):
            if req.get("later") and result.outcome in LATER and signature(result) not in self.confirmed:
                self._judge_aside(req, result)
            else:
                result = self._judge_fresh(req, result)
        result.timings_ms["total"] = (time.perf_counter() - start) * 1e3
        hits = self.coverage.hits_since(mark) if self.coverage is not None else None
        if hits is not None:
            result.new_blocks = int(len(hits))
            result.cov_total = int(self.coverage.total())
            if req.get("want_sites"):
                result.new_sites = [int(x) for x in hits]
        return result

    def ahead(self, req: dict[str, Any]) -> None:
        """Hand the request's mutation (`mutate`, on `case`) to the mutator child, forked from the zygote when
        there is none: it mutates while the server runs the next case. `take` collects it."""
        if self.mutator is None:
            self.mutator = (*self._side_child(60.0), 0)
        try:
            self._send(self.mutator[0], self.mutator[1], dict(req, ahead=True))
        except OSError:
            pass  # it died: `take` reaps it and says so
        self.ahead_sent = (time.perf_counter(), float(req.get("timeout_s", 10.0)))

    def take(self) -> ExecResult:
        """The mutation `ahead` handed over: outcome ok with `case` and `mutation` (and `ir_json`, the mutant's
        module), "declined", or the mutator's crash or hang (no `case`: a mutation's failure, never a case's)."""
        if self.ahead_sent is None or self.mutator is None:
            return ExecResult(outcome="declined", stage="mutate", message="no mutation was handed over")
        (began_at, timeout), (pid, req_w, r, made) = self.ahead_sent, self.mutator
        self.ahead_sent, self.mutator = None, None
        result, last, timed_out, stage_times, mutated, began = self._collect(r, pid, began_at + timeout)
        if result is None:
            os.close(req_w)
            os.close(r)
            result = failure(self._reap(pid), "", last, timed_out, timeout, began)
            result.message = "the mutator child: " + result.message
        elif made + 1 < MUTATOR_KEEP and result.outcome in ("ok", "declined"):
            self.mutator = (pid, req_w, r, made + 1)
        else:
            os.close(req_w)
            os.close(r)
            self.unreaped.append(pid)
        if mutated is not None:
            result.case, result.mutation = mutated
        result.timings_ms.update(stage_times)
        result.timings_ms["total"] = (time.perf_counter() - began_at) * 1e3
        return result

    def _judge_fresh(self, req: dict[str, Any], result: ExecResult) -> ExecResult:
        """The verdict on a kept child's result other than ok: its own when a fresh child already gave that
        very result (same outcome and signature) in this server, else the run again in a fresh child."""
        key = signature(result)
        if result.outcome != "hang" and key in self.confirmed:  # a kept child's hang is its shorter limit's
            result.kept_run = dict(_kept_record(result), trusted=f"{key} was confirmed in a fresh child")
            return result
        again = dict(req, mutate=None, case=result.case) if result.case is not None else req
        beside = self._reference_beside(req, result)
        confirmed, _ = self._run_once(again, time.perf_counter(), fresh_only=True)
        if beside is not None:
            confirmed.reference_beside = self._collect_beside(beside)
        self._adopt(result, confirmed)
        return confirmed

    def _reference_beside(self, req: dict[str, Any], kept: ExecResult) -> Beside | None:
        """When a kept child's case ran past its time, start the case's reference try (the job and time the
        executor put in `req["reference"]`) in a child of its own: it runs on another core while the fresh run
        takes the whole limit, and the executor need not run it after. Its code is private, as the try after's
        is (`Executor._try_reference`): none of it counts as coverage."""
        spec = req.get("reference")
        if not spec or kept.outcome != "hang" or kept.resource != "time":
            return None
        target = reference_target(kept.target)
        case = kept.case if kept.case is not None else req["case"]
        job = {"case": case, "timeout_s": float(spec["timeout_s"]), "memory_mb": req.get("memory_mb", 4096),
               "mutate": {"job": spec["job"], "target": target}, "want_outputs": False, "beside": True,
               "private": True}
        pid, req_w, r = self._side_child(job["timeout_s"])
        self.aside_stderr.seek(0)  # no fresh run is aside now: `run` settled it before judging this case
        self.aside_stderr.truncate()
        try:
            self._send(pid, req_w, job)
        except OSError:
            pass  # it died while warming up: `_collect_beside` reports it
        beside = Beside(pid, req_w, r, time.perf_counter(), job["timeout_s"], target)
        self.watch.append((beside.began_at + beside.timeout, beside.stop))
        return beside

    def _collect_beside(self, beside: Beside) -> tuple[str, float, float | None, ExecResult]:
        """The reference try run beside a fresh run: (target, time limit, the seconds it waited for a core,
        its result as the executor's own try would give it)."""
        self.watch = [w for w in self.watch if w[1] != beside.stop]
        result, last, timed_out, stage_times, mutated, began = self._collect(
            beside.r, beside.pid, beside.began_at + beside.timeout, stop=beside.stop)
        if result is not None:  # it sent its result and waits for the next request: its waiting is over
            beside.queued_s = _queued_s(beside.pid)
        os.close(beside.req_w)
        os.close(beside.r)
        status = self._reap(beside.pid) if result is None else 0
        if result is not None:
            self.unreaped.append(beside.pid)
        self.aside_stderr.seek(0)
        stderr = self.aside_stderr.read().decode("utf-8", "replace")
        if result is None:
            result = failure(status, stderr, last, timed_out or beside.stopped, beside.timeout, began)
            result.timings_ms.update(stage_times)
            result.timings_ms["total"] = beside.timeout * 1e3 if beside.stopped else sum(stage_times.values())
        if mutated is not None:
            result.case, result.mutation = mutated
        return beside.target, beside.timeout, beside.queued_s, result

    def _adopt(self, kept: ExecResult, fresh: ExecResult) -> bool:
        """Make the fresh run's result the case's verdict on what the kept child gave (`kept_run`); a failure
        both gave is trusted from then on (`confirmed`). Whether they agreed."""
        if kept.case is not None:
            fresh.case, fresh.mutation = kept.case, kept.mutation
        fresh.kept_run = _kept_record(kept)
        key = signature(kept)
        agreed = fresh.outcome == kept.outcome and signature(fresh) == key
        if agreed:
            self.confirmed.add(key)
        return agreed

    def _judge_aside(self, req: dict[str, Any], result: ExecResult) -> None:
        """Start the fresh run of a kept child's result in a fresh child of its own, alongside the next case:
        its code private (no coverage, so the next case's is its own), its stderr apart. The result is marked
        `confirming`; the kept child runs on. The next `run` (or `settle`) waits for the verdict."""
        again = dict(req, mutate=None, case=result.case) if result.case is not None else dict(req)
        again.update(aside=True, later=False, fresh=False)
        timeout = float(req.get("timeout_s", 10.0))
        pid, req_w, r = self._side_child(timeout)
        self.aside_stderr.seek(0)
        self.aside_stderr.truncate()
        try:
            self._send(pid, req_w, again)
        except OSError:
            pass  # it died while warming up: `_settle` reports it
        self.aside = (pid, req_w, r, time.perf_counter(), timeout, result)
        result.confirming = True

    def _settle(self) -> None:
        """Wait for the fresh run going on aside; its verdict (as `_judge_fresh` gives it) goes to `settled`.
        When it differs from the kept child's, that child (which ran on) is let go."""
        pid, req_w, r, began_at, timeout, kept = self.aside
        self.aside = None
        result, last, timed_out, stage_times, _, began = self._collect(r, pid, began_at + timeout)
        os.close(req_w)
        os.close(r)
        status = self._reap(pid) if result is None else 0
        if result is not None:
            self.unreaped.append(pid)
        self.aside_stderr.seek(0)
        stderr = self.aside_stderr.read().decode("utf-8", "replace")
        if result is None:
            result = failure(status, stderr, last, timed_out, timeout, began)
            result.timings_ms.update(stage_times)
        result.stderr_tail = stderr[-STDERR_KEEP:]
        # the case's coverage is its kept run's (the fresh run's code was private)
        result.new_blocks, result.cov_total, result.new_sites = kept.new_blocks, kept.cov_total, kept.new_sites
        result.ir_json = result.ir_json or kept.ir_json
        result.timings_ms["total"] = kept.timings_ms.get("total", 0.0)
        if not self._adopt(kept, result):
            self._let_go()  # what it ran before may have made its result: it runs no more cases
        self.settled.append(result)

    def settle(self) -> ExecResult | None:
        """The verdict on the oldest result marked `confirming` not handed over yet (waiting for its fresh run
        if it is still going on); None when there is none."""
        if not self.settled and self.aside is not None:
            self._settle()
        return self.settled.pop(0) if self.settled else None

    def _reusable(self, req: dict[str, Any]) -> bool:
        """Whether a request may run in a child that ran cases before: a case, or a mutation and its case."""
        job = (req.get("mutate") or {}).get("job", "mutate")
        return self.keep > 1 and not req.get("check") and job == "mutate"

    def _let_go(self) -> None:
        """The kept child gets EOF on its request pipe and exits (reaped during the next case)."""
        if self.kept is not None:
            pid, req_w, r, _ = self.kept
            os.close(req_w)
            os.close(r)
            self.unreaped.append(pid)
            self.kept = None

    def _run_once(self, req: dict[str, Any], start: float, fresh_only: bool = False) -> tuple[ExecResult, bool]:
        """(the request's result, whether it ran in a fresh child)."""
        timeout = float(req.get("timeout_s", 10.0))
        kept = self.kept if not fresh_only and self._reusable(req) else None
        if kept is None:
            self._let_go()
            if self.standby is None:
                self._spawn()
            pid, req_w, r = self.standby
            self.standby = None
            done = 0
            self._await_warm(r, start + timeout)  # forked and ready: what it hits from now on is this case's
        else:
            pid, req_w, r, done = kept
            self.kept = None
            cpu_budget = min(timeout, self.kept_timeout)  # past it, the fresh child's run is needed anyway
        self.stderr_file.seek(0)
        self.stderr_file.truncate()
        try:
            self._send(pid, req_w, req)
        except OSError:
            pass  # the child died while warming up: reaped and reported below
        if kept is None:
            for gone in self.unreaped:  # earlier children, exited by now
                self._reap(gone)
            self.unreaped = []
            self._spawn()  # forked while this case runs
        result, last_stage, timed_out, stage_times, mutated, began = self._collect(
            r, pid, start + timeout, *((self.kept_run_s, cpu_budget) if kept is not None else (None, None)))
        if result is None:  # it died or hung: wait for it, so its exit status and coverage are complete
            os.close(req_w)
            os.close(r)
            status = self._reap(pid)
        else:  # it sent its result: kept for the next case, or told to exit (reaped during the next case)
            status = 0
            self.kept = (pid, req_w, r, done + 1)
            if done + 1 >= self.keep or not self._reusable(req) or result.outcome not in KEEP_AFTER:
                self._let_go()  # a child is kept only while each case it ran ended in a whole process
        self.stderr_file.seek(0)
        stderr = self.stderr_file.read().decode("utf-8", "replace")
        if result is None:
            result = failure(status, stderr, last_stage, timed_out, timeout, began)
            result.timings_ms.update(stage_times)
            if timed_out and self.stopped_running:
                result.message = (f"its compiled code ran past {self.kept_run_s:g} s of CPU time in a child that ran "
                                  "cases before (killed)")
            elif timed_out and kept is not None and time.perf_counter() < start + timeout:
                result.message = f"no result within {cpu_budget:g} s of CPU time in a child that ran cases before (killed)"
        if mutated is not None:
            result.case, result.mutation = mutated
        result.stderr_tail = stderr[-STDERR_KEEP:]
        result.cases_before = done
        return result, kept is None

    def _child(self, req_fd: int, w: int) -> None:
        """A child's whole life: say it is ready, then run requests until the server closes the pipe (after
        one, unless the server keeps it: `ExecutorConfig.persistent`), each answered with a result."""
        code = 0
        try:
            os.dup2(self.stderr_file.fileno(), 2)
            os.dup2(self.devnull, 1)
            for fd in self.server_fds:
                os.close(fd)
            folder = self._folder(os.getpid())
            os.mkdir(folder)
            self.slot = StageSlot(folder)
            tempfile.tempdir = folder  # this process's temporary files, and (TMPDIR) its compiler's: see `_reap`
            os.environ["TMPDIR"] = folder
            # Nothing else before the request: it runs alongside the previous case, and any TVM code it
            # ran would count in that case's coverage.
            wire.send(w, ("warm",))
            while True:
                try:
                    req = wire.recv(req_fd)
                except EOFError:  # no more cases for this child
                    os._exit(0)
                self._serve(req, w)
        except BaseException:  # anything escaping run_case is tirfuzz's own error: report it
            try:
                wire.send(w, ("error", traceback.format_exc()))
            except BaseException:
                pass
            code = 3
        finally:
            os._exit(code)

    def _serve(self, req: dict[str, Any], w: int) -> None:
        """One request in a child: its limits, its job (a mutation), its case; the result sent."""
        limit = int(req.get("memory_mb", 4096)) << 20
        if limit > 0:
            cap = _vm_size_bytes() + limit
            resource.setrlimit(resource.RLIMIT_AS, (cap, resource.getrlimit(resource.RLIMIT_AS)[1]))
        gc.set_threshold(*CHILD_GC_THRESHOLD)
        if req.get("aside") or req.get("beside"):  # beside a case's run: its stderr apart
            os.dup2(self.aside_stderr.fileno(), 2)
        if (req.get("aside") or req.get("private")) and self.coverage is not None:
            self.coverage.privatize()  # a fresh run alongside the next case, a reference try: its code private
        if req.get("ahead"):
            self._mutate_ahead(req, w)
            return
        case, module = TestCase.from_dict(req["case"]), None
        if req.get("module_json") and not req.get("oracle"):  # the mutator's module, made ahead
            import tvm

            module = tvm.ir.load_json(req["module_json"])
        if req.get("mutate"):
            case, module = self._job(case, req["mutate"], w)
            if case is None:  # declined: its result is sent
                return
        # Without oracles, a mutant runs as the mutator made it: parsing its printed text again is the
        # round trip, an oracle's work (the executor confirms a bug from the text: Executor.run).
        res = run_case(case, self.pool, on_stage=lambda s, t: self._stage(w, s, t),
                       want_outputs=bool(req.get("want_outputs", True)), oracle=bool(req.get("oracle")),
                       filters=self.filters, want_json=bool(req.get("want_json")), check=bool(req.get("check")),
                       host_cc=self.host_cc, module=None if req.get("oracle") else module,
                       pass_features=self.pass_features)
        # Freed here, while the case's coverage is still counted: freeing a TVM object runs TVM code, and
        # after the result is sent it would race the server's mark for the next case (a kept child).
        del case, module
        if self.keep > 1:
            gc.collect()  # the same for cyclic garbage (a helper thread's allocations move when gc would run)
            # What survived is kept by TVM or Python (caches, interned names): the next collections need not
            # scan it again (3 ms a case; what of it turns to garbage later goes when the child exits)
            gc.freeze()
        wire.send(w, ("result", res))

    def _stage(self, w: int, stage: str, target: str | None) -> None:
        """In a child: the stage it enters, in its stage file; sent to the server too unless it is a pass."""
        self.slot.write(stage, target)
        if not stage.startswith("pass:"):
            wire.send(w, ("stage", stage, target))

    def _mutate_ahead(self, req: dict[str, Any], w: int) -> None:
        """In the mutator child: the request's mutation only, its result ok with the mutant's module as JSON.
        First, TVM's code is made private here, stderr goes nowhere and the priority drops to the lowest: the
        case running meanwhile in another child keeps its coverage, its stderr and its CPU to itself."""
        import tvm

        if not self.private:
            os.dup2(self.devnull, 2)
            if self.coverage is not None:
                self.coverage.privatize()
            # The lowest priority: it runs on what the case leaves idle (a second core while the case parses,
            # passes and builds for llvm alone), never slowing the case or its host compiler.
            os.nice(19)
            self.private = True
        new, module = self._job(TestCase.from_dict(req["case"]), req["mutate"], w)
        if new is not None:
            wire.send(w, ("result", ExecResult(outcome="ok", stage="mutate",
                                               ir_json=tvm.ir.save_json(module) if module is not None else None)))
        del new, module
        gc.collect()

    def _job(self, case: TestCase, spec: dict[str, Any], w: int) -> tuple[TestCase | None, Any]:
        """Run the job the request names (mutate, reduce, ...) on the case in the child; tell the server
        what came out: (the case to run or None, the IRModule the job made of it or None). Jobs are
        registered by name (ExecutorConfig.jobs): this module knows none of them."""
        self._stage(w, "mutate", None)
        name = spec.get("job", "mutate")
        job = self.jobs.get(name)
        if job is None:
            new, info, made = None, {"reason": f"no job {name!r} registered with this executor (ExecutorConfig.jobs)"}, []
        else:
            new, info, *made = job(case, spec, self.pool)
        wire.send(w, ("mutated", new.to_dict() if new is not None else None, info))
        if new is None:
            wire.send(w, ("result", ExecResult(outcome="declined", stage="mutate", message=str(info.get("reason")))))
        return new, (made[0] if made else None)

    @staticmethod
    def _await_warm(r: int, deadline: float) -> None:
        """Wait for the standby child's "warm" message (or its death, which the collect step reports)."""
        ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.perf_counter()))
        if ready:
            try:
                wire.recv(r)
            except EOFError:
                pass

    def _collect(self, r: int, pid: int, deadline: float, run_budget: float | None = None,
                 cpu_budget: float | None = None, stop: Callable[[], None] | None = None):
        """The child's messages until its result, or until `deadline` (wall clock); with `cpu_budget`, until the
        case has used that much CPU time, and with `run_budget`, until a `run:` stage has (a kept child's
        limits: CPU time, so a loaded machine stops no case a quiet one would finish, and a campaign stays
        repeatable). `stop` stops the child at its limit (a SIGKILL without it); side children watched
        (`self.watch`) are stopped at theirs meanwhile.
        (result or None, last stage, timed out, stage times, mutated, stages begun)."""
        decoder = wire.Decoder()
        result, last, timed_out, mutated = None, ("spawn", None), False, None
        began: list[tuple[str, str | None]] = []  # every stage the child reported, in order
        stage_times: dict[str, float] = {}
        t_stage = time.perf_counter()
        cpu_case = _cpu_s(pid) if cpu_budget is not None or run_budget is not None else 0.0
        cpu_run: float | None = None  # the child's CPU time when its current `run:` stage began
        wake = min(deadline, t_stage + cpu_budget) if cpu_budget is not None else deadline
        self.stopped_running = False  # stopped by run_budget, not the deadline
        while result is None:  # its last message is a result (or error); then it only exits
            now = time.perf_counter()
            due = [w for w in self.watch if now >= w[0]]
            if due:
                self.watch.remove(due[0])
                due[0][1]()
                continue
            if now >= wake and not select.select([r], [], [], 0)[0]:  # what it sent before the limit is read first
                left = self._cpu_left(pid, cpu_case, cpu_budget, cpu_run, run_budget) if now < deadline else (0.0, False)
                if left is not None and left[0] <= 0:
                    timed_out, self.stopped_running = True, left[1]
                    stop() if stop is not None else os.kill(pid, signal.SIGKILL)
                    break
                # CPU time grows no faster than the clock: its budget cannot run out before then
                wake = deadline if left is None else min(deadline, now + max(left[0], 0.005))
                continue
            ready, _, _ = select.select([r], [], [], max(0.0, min([wake] + [w[0] for w in self.watch]) - now))
            if not ready:
                continue
            data = os.read(r, 1 << 20)
            if not data:
                break
            for msg in decoder.feed(data):
                if msg[0] == "stage":
                    now = time.perf_counter()
                    stage_times[last[0]] = stage_times.get(last[0], 0.0) + (now - t_stage) * 1e3
                    last, t_stage = (msg[1], msg[2]), now
                    began.append(last)
                    cpu_run = _cpu_s(pid) if run_budget is not None and str(msg[1]).startswith("run:") else None
                    if cpu_run is not None:
                        wake = min(wake, now + run_budget)
                elif msg[0] == "mutated":
                    mutated = msg[1:]
                elif msg[0] == "result":
                    result = msg[1]
                elif msg[0] == "error":
                    result = ExecResult(outcome="tool-error", stage="tirfuzz", exc_type="ToolError",
                                        message="tirfuzz error (not a TVM bug): " + msg[1][-4000:])
        if result is None:  # it died or was killed: the stage it was in, passes included, is in its file
            last = read_slot(self._folder(pid)) or last
        return result, last, timed_out, stage_times, mutated, began

    @staticmethod
    def _cpu_left(pid: int, cpu_case: float, cpu_budget: float | None, cpu_run: float | None,
                  run_budget: float | None) -> tuple[float, bool] | None:
        """(CPU seconds left before a kept child's budget runs out, whether the `run:` stage's is the nearer),
        or None when no budget applies (only the wall-clock deadline)."""
        if cpu_budget is None and cpu_run is None:
            return None
        used = _cpu_s(pid)
        case_left = cpu_budget - (used - cpu_case) if cpu_budget is not None else float("inf")
        run_left = run_budget - (used - cpu_run) if cpu_run is not None and run_budget is not None else float("inf")
        return (run_left, True) if run_left < case_left else (case_left, False)

def _kept_record(kept: ExecResult) -> dict[str, Any]:
    """What a kept child gave, kept beside the fresh run's verdict (`ExecResult.kept_run`)."""
    return {"outcome": kept.outcome, "stage": kept.stage, "target": kept.target, "message": kept.message[:500]}


def failure(status: int, stderr: str, last: tuple[str, str | None], timed_out: bool, timeout: float,
            began: list[tuple[str, str | None]] = ()) -> ExecResult:
    """The result of a child that died or hung (`began`: the (stage, target) pairs it began, in order)."""
    stage, target = last
    res = ExecResult(outcome="crash", stage=stage, target=target)
    if timed_out:
        res.outcome, res.resource = "hang", "time"
        res.message = f"no result within {timeout:g} s (killed)"
        return res
    faulted = os.WIFSIGNALED(status) and os.WTERMSIG(status) != signal.SIGABRT
    corrupt = None if faulted else next((w for w in CORRUPTION_WORDS if w in stderr), None)
    if os.WIFSIGNALED(status) or corrupt:
        sig = signal.SIGSEGV if corrupt else os.WTERMSIG(status)
        res.signal = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        res.message = f"child killed by {res.signal}"
    else:
        code = os.WEXITSTATUS(status)
        res.message = f"child exited with code {code} and no result"
        res.exc_type = "Exit"
    res.frames = frames_from_stderr(stderr)[:20]
    res.frame = top_frame(res.frames)
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    if res.frame:
        res.message += f" in {res.frame}"
    elif lines and SEGFAULT_BANNER not in stderr and not corrupt:  # a dump's last line is noise, not a cause
        res.message += f": {lines[-1][:300]}"
    if corrupt:
        ran = next((b for b in began if b[0].startswith("run:")), None)
        if ran is not None:  # the wild write came from compiled code: where a fault would have said it did
            res.stage, res.target = ran
        how = "died in the dynamic loader (ld.so assertion, exit 127)" if "ld.so" in corrupt \
            else f"aborted on a corrupt heap ({corrupt.strip()})"
        res.message = (f"memory was overwritten, classified as SIGSEGV (what the same write gives when it faults): "
                       f"the child {how}" + (f" in {res.frame}" if res.frame else ""))
    if any(word in stderr for word in _MEMORY_WORDS):
        res.outcome, res.resource = "hang", "memory"
        res.message = "memory limit exceeded: " + res.message
    return res


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    """n bytes from a stream socket, or fewer if it closed."""
    buf = b""
    while len(buf) < n:
        got = sock.recv(n - len(buf))
        if not got:
            break
        buf += got
    return buf


def main(argv: list[str]) -> int:
    in_fd, out_fd = int(argv[1]), int(argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        options = wire.recv(in_fd)
        server = ForkServer(options, (in_fd, out_fd))
    except EOFError:
        return 0
    except BaseException as e:
        wire.send(out_fd, ("failed", f"{type(e).__name__}: {e}"))
        return 2
    try:
        wire.send(out_fd, ("ready", server.info()))  # fails when the executor went away while this started
        serve(server, in_fd, out_fd)
    except BrokenPipeError:
        pass
    finally:
        server.close()
    return 0


def serve(server: ForkServer, in_fd: int, out_fd: int) -> None:
    """Answer the executor's requests until it closes the pipe."""
    while True:
        try:
            req = wire.recv(in_fd)
        except EOFError:
            return
        if req.get("op") == "info":
            wire.send(out_fd, ("info", server.info()))
            continue
        if req.get("op") == "preload":
            n = server.coverage.preload(req["sites"]) if server.coverage is not None else 0
            wire.send(out_fd, ("preloaded", n))
            continue
        if req.get("op") == "ahead":
            server.ahead(req["req"])
            wire.send(out_fd, ("sent", None))
            continue
        if req.get("op") == "take":
            wire.send(out_fd, ("taken", server.take()))
            continue
        if req.get("op") == "settle":
            wire.send(out_fd, ("settled", server.settle()))
            continue
        if req.get("op") == "covered":
            wire.send(out_fd, ("covered", server.coverage.covered() if server.coverage is not None else None))
            continue
        wire.send(out_fd, ("result", server.run(req)))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
