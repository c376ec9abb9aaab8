"""The C backend's host compiler, made cheaper: TVM's own headers precompiled once (a GCC precompiled header).

TVM builds a `c` target by writing the generated C and running `g++ -shared -fPIC` on it (tvm.support.cc).
Every generated file starts with the same prelude (`#define TVM_EXPORTS` and six includes), and parsing
those headers is most of the compiler's time on a small kernel. `HostCompiler` compiles the prelude once
into a precompiled header, named after the prelude's first include in a folder searched before TVM's, and
hands `load` the `-I` option that makes g++ use it. Only a file whose prelude is exactly the one compiled
is given the option, so every other file compiles as before; g++ itself ignores a header that does not
match its flags. The shared object is byte for byte the one g++ makes without it (tests/test_hostcc.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from tirfuzz.fuzzer.core.runtime import codegen, load, lower, parse

EXPORTS = "#define TVM_EXPORTS"  # the prelude's first line: given as -DTVM_EXPORTS= to the header's build


@dataclass
class HostCompiler:
    """Options for g++ that use TVM's prelude precompiled; `options(source)` is [] when none apply."""

    prelude: str = ""                   # the generated files' opening lines the header stands for
    folder: str | None = None           # searched first: holds <first include>.gch
    error: str = ""                     # why there is no precompiled header (then options are always [])
    build_s: float = 0.0
    used: int = field(default=0, compare=False)

    def options(self, source: str) -> list[str]:
        if self.folder is None or not self.prelude or not _opening(source).startswith(self.prelude):
            return []
        self.used += 1
        return [f"-I{self.folder}"]

    @classmethod
    def prepare(cls, cache_root: Path) -> "HostCompiler":
        """The precompiled prelude for this TVM and compiler, built once under `cache_root`; on any failure a
        HostCompiler that changes nothing, its `error` saying why."""
        t0 = time.perf_counter()
        try:
            prelude, includes, cxx = _prelude(), _include_dirs(), _compiler()
            first = _first_include(prelude)
            version = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30).stdout
            key = hashlib.sha256("\0".join([prelude, cxx, version, *includes]).encode()).hexdigest()[:16]
            folder = Path(cache_root) / "pch" / key
            if not (folder / (first + ".gch")).exists():
                _build(folder, first, prelude, includes, cxx)
            return cls(prelude, str(folder), build_s=time.perf_counter() - t0)
        except Exception as e:  # noqa: BLE001  (no header: the C backend compiles as TVM does, only slower)
            return cls(error=f"{type(e).__name__}: {str(e).strip()[:300]}", build_s=time.perf_counter() - t0)


class PendingLoad:
    """A generated runtime module on its way to runnable functions: `start` it, `finish` it later.

    For C source, `start` writes the source and starts the host compiler's process (the command TVM's
    tvm.support.cc runs for `Executable.jit`), and the caller builds other targets meanwhile; `finish`
    waits for it, raises its error in TVM's words, loads the shared object. No thread: a thread's Python
    allocations would interleave with the caller's as the scheduler has it, and a kept child's heap (so
    the order of TVM's pointer-keyed maps, so the blocks its next cases reach) would follow the machine's
    load. Other modules load in `finish` (llvm's machine code).
    """

    def __init__(self, raw, names: Sequence[str], host_cc: "HostCompiler | None" = None, target: str | None = None):
        self.raw, self.names, self.target = raw, list(names), target
        self.proc: subprocess.Popen | None = None
        self.cmd: list[str] = []
        self.folder: str | None = None
        if raw.kind != "c":
            return
        options = host_cc.options(raw.inspect_source()) if host_cc is not None else []
        self.folder = tempfile.mkdtemp(prefix="tirfuzz-cc-")
        self.path = os.path.join(self.folder, "lib.so")
        calls: list[tuple[str, list, dict]] = []
        raw.export_library(self.path, fcompile=lambda out, files, **kw: calls.append((out, list(files), kw)),
                           workspace_dir=self.folder, options=options)
        self.cmd, cwd = _shared_library_command(*calls[0])
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd)

    def finish(self) -> dict[str, Any]:
        """Runnable functions by name (raises what the host compiler or the load raised)."""
        if self.proc is None:
            return load(self.raw, self.names, self.target)
        import tvm

        try:
            out, _ = self.proc.communicate()
            if self.proc.returncode != 0:  # what tvm.support.cc raises for it: TVM's error, said by tirfuzz
                err = RuntimeError("Compilation error:\n" + out.decode("utf-8", errors="replace") +
                                   "\nCommand line: " + " ".join(self.cmd))
                err.tvm_side = True  # crashinfo.raised_outside_tvm: not a failure of tirfuzz's own code
                raise err
            rt = tvm.runtime.load_module(self.path)
            return {name: rt.get_function(name, query_imports=True) for name in self.names}
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Drop the build (the compiler is waited for); its files go."""
        if self.proc is not None and self.proc.returncode is None:  # not waited for by `finish`
            self.proc.communicate()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def _shared_library_command(output: str, objects: list, kwargs: dict) -> tuple[list[str], str | None]:
    """The command tvm.support.cc.create_shared runs on Linux for these arguments, and its working folder."""
    from tvm.support import cc

    if kwargs.get("ccache_env") is not None:
        raise ValueError("a ccache build is not supported here")
    cmd = [kwargs.get("cc") or cc.get_cc(), "-shared", "-fPIC", "-o", output, *(kwargs.get("options") or []), *objects]
    return cmd, kwargs.get("cwd")


def _opening(source: str) -> str:
    """The source from its first line that is not a // comment (the target comment leads every file)."""
    start = 0
    while source.startswith("//", start):
        nl = source.find("\n", start)
        if nl < 0:
            return ""
        start = nl + 1
    return source[start:]


def _compiler() -> str:
    from tvm.support import cc

    return cc.get_cc() or "g++"


def _include_dirs() -> list[str]:
    """The include folders export_library gives the host compiler, in its order."""
    import tvm
    from tvm_ffi import libinfo

    return [tvm.libinfo.find_include_path(), libinfo.find_include_path(), libinfo.find_dlpack_include_path()]


def _prelude() -> str:
    """The opening lines (up to and with the last #include of the first block) of the C the backend emits."""
    import tvm


    mod = parse("@T.prim_func\ndef main(A: T.Buffer((2,), \"float32\")):\n    A[0] = T.float32(1)\n")
    with tvm.transform.PassContext(opt_level=3):
        m, tgt = lower(mod, "c", [])
        source = codegen(m, tgt).inspect_source()
    lines, kept = source.splitlines(keepends=True), []
    for line in lines:
        if line.startswith("//") and not kept:
            continue  # the target comment differs per target string: not part of the prelude
        if line.startswith(("#define", "#include")):
            kept.append(line)
        else:
            break
    prelude = "".join(kept)
    if not kept or kept[0].strip() != EXPORTS or not any(ln.startswith("#include") for ln in kept):
        raise RuntimeError(f"unexpected opening of generated C: {prelude[:200]!r}")
    return prelude


def _first_include(prelude: str) -> str:
    line = next(ln for ln in prelude.splitlines() if ln.startswith("#include"))
    name = line.split(None, 1)[1].strip()
    if not name.startswith('"'):
        raise RuntimeError(f"the prelude's first include is not a quoted header: {line}")
    return name.strip('"')


def _build(folder: Path, first: str, prelude: str, includes: list[str], cxx: str) -> None:
    """Compile the prelude (less its #define, given on the command line instead) into folder/first.gch."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".pch-", dir=folder.parent))
    try:
        header = tmp / "prelude.h"
        header.write_text(prelude.replace(EXPORTS + "\n", "", 1))
        out = tmp / (first + ".gch")
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [cxx, "-x", "c++-header", "-fPIC", "-DTVM_EXPORTS=", *[f"-I{d}" for d in includes], str(header),
               "-o", str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip()[-300:]}")
        header.unlink()
        try:
            os.rename(tmp, folder)  # atomic: a worker building the same header at once loses the race harmlessly
        except OSError:
            if not (folder / (first + ".gch")).exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
