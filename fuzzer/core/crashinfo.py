"""Read TVM's C++ frames from a Python traceback or a segfault dump on stderr."""

from __future__ import annotations

import os
import re
import sysconfig
import traceback

SEGFAULT_BANNER = "!!!!!!! Segfault encountered !!!!!!!"
_FRAME_RE = re.compile(r'^\s*File "([^"]*)", line (\d+), in (.*)$')
# Frames of the logging / check / FFI machinery, never the place a bug lives.
_MACHINERY = ("tvm::ffi::", "tvm::runtime::detail::LogFatal", "tvm::runtime::Logger", "LogFatal",
              "TVMFFI", "tvm::support::", "libc_sigaction", "__restore_rt", "tvm_ffi.core",
              "tvm::ffi::details", "TVMFFIPyCallback")


def frame_name(func: str) -> str:
    """The qualified function name: no return type, no template arguments, no parameter list."""
    depth, cut = 0, len(func)
    for i, ch in enumerate(func):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0 and not func[:i].endswith("operator"):
            cut = i
            break
    head, depth, out = func[:cut], 0, []
    for ch in head:  # drop template arguments so a return type's spaces do not split the name
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out).strip().split(" ")[-1]


def is_machinery(name: str) -> bool:
    return any(name.startswith(m) or m in name for m in _MACHINERY)


def _is_tvm(func: str) -> bool:
    name = frame_name(func)
    return name.startswith("tvm::") and not is_machinery(name)


def _short_file(path: str) -> str:
    i = path.find("/src/")
    return path[i + 1:] if i >= 0 else path


def frames_from_exception(exc: BaseException) -> list[str]:
    """TVM C++ frames ("src/x.cc:123 in func") attached to a Python traceback, innermost first."""
    out = []
    for fs in reversed(traceback.extract_tb(exc.__traceback__)):
        if fs.filename.endswith((".cc", ".h", ".cpp")) and "/src/" in fs.filename:
            out.append(f"{_short_file(fs.filename)}:{fs.lineno} in {fs.name}")
    return out


def frames_from_stderr(text: str) -> list[str]:
    """TVM frames of the last segfault dump in stderr text, innermost first."""
    i = text.rfind(SEGFAULT_BANNER)
    if i < 0:
        return []
    out = []
    for line in text[i:].splitlines()[1:]:
        m = _FRAME_RE.match(line)
        if not m:
            if out:
                break
            continue
        path, lineno, func = m.groups()
        if not _is_tvm(func):
            continue
        where = f"{_short_file(path)}:{lineno}" if path != "<unknown>" else "<unknown>"
        out.append(f"{where} in {func}")
    return out


def top_frame(frames: list[str]) -> str | None:
    """The innermost frame outside the machinery, as file:line when known, else the function."""
    for f in frames:
        where, _, func = f.partition(" in ")
        if is_machinery(frame_name(func)):
            continue
        return where if where != "<unknown>" else frame_name(func)
    return None


_OWN = tuple(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), d) + os.sep
             for d in ("fuzzer", "oracles", "mutators", "corpus", "reports"))
_STDLIB = tuple({os.path.realpath(sysconfig.get_path(k)) + os.sep for k in ("stdlib", "platstdlib")})


def raised_outside_tvm(exc: BaseException) -> str | None:
    """Where an exception was raised ("file:line"), when that is not TVM's code but tirfuzz's own modules,
    numpy or Python's standard library with no TVM frame inside (TVM's C++ errors carry their C++ frames;
    TVMScript's and users' plugins' Python is TVM's side); else None."""
    tb = exc.__traceback__
    if tb is None or getattr(exc, "tvm_side", False):  # TVM's error in TVM's words, raised by tirfuzz (hostcc)
        return None
    while True:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith((".cc", ".h", ".cpp", ".hpp", ".cu", ".c")) or name == "<unknown>":
            return None  # a frame tvm-ffi appended from a C++ backtrace: the error came through TVM's FFI
        if tb.tb_next is None:
            break
        tb = tb.tb_next
    path = tb.tb_frame.f_code.co_filename
    real = os.path.realpath(path) if os.path.isabs(path) else path
    outside = (real.startswith(_OWN) or real.startswith(_STDLIB) or path.startswith("<frozen")
               or "/numpy/" in real or real.startswith("numpy/"))
    return f"{path}:{tb.tb_lineno}" if outside and "/tvm/" not in real and "/tvm_ffi/" not in real else None
