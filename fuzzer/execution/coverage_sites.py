"""Basic-block sites of the stock libtvm_compiler.so: .eh_frame function ranges, capstone, a build-id cache.

Functions come from .eh_frame (the library is stripped). Each is disassembled linearly with capstone; its
sites are the entry, direct jump targets, the instruction after a conditional jump and the one after a
jmp/ret, kept only where they start a decoded instruction of some function and the byte is not 0xCC.

Scope `tvm` is the .text below LLVM. LLVM is built with -fno-exceptions, so none of its functions names a
personality routine in its CIE, while TVM and Z3 (linked above LLVM) are C++ with exceptions. In address
order, LLVM is therefore the longest run of functions without a personality routine (in 0.27.0.post1:
97,558 functions from 0x42de860, the next longest run is 8,244). Everything below it is TVM's own code plus
what GNU ld places first for every archive: static initialisers (run at load, before planting) and cold
.text.unlikely parts (LLVM's are that 8,244-function run, 0.3% of the `tvm` sites).
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import mmap
import multiprocessing
import os
import struct
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

DISCOVERY_VERSION = 1
SCOPES = ("tvm", "all")
GRANULARITIES = ("block", "function")
LIBRARY_NAME = "libtvm_compiler.so"
_CHUNKS = 64
_BATCH_INSNS = 1 << 18


@dataclass(frozen=True)
class LibraryLayout:
    """Where the code of one library build lives, and where LLVM's statically linked code begins."""

    path: str
    build_id: str
    text_lo: int
    text_hi: int
    exec_vaddr: int
    exec_offset: int
    exec_size: int
    functions: int
    llvm_lo: int
    llvm_hi: int
    llvm_functions: int
    tvm_functions: int


@dataclass(frozen=True)
class SiteSet:
    """Sorted site offsets (ELF virtual addresses) of one scope and granularity, with how they were found."""

    offsets: np.ndarray
    functions: int
    discovery_s: float
    cache_path: str
    cached: bool
    load_s: float


# ---------------------------------------------------------------- library and ELF


def find_library() -> str:
    """Path of the libtvm_compiler.so in use: the mapped one if TVM is loaded, else the installed one."""
    mapped = mapped_library()
    if mapped:
        return mapped[0]
    spec = importlib.util.find_spec("tvm")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the tvm package is not installed")
    for root in spec.submodule_search_locations:
        for cand in (Path(root) / "lib" / LIBRARY_NAME, Path(root) / LIBRARY_NAME):
            if cand.is_file():
                return str(cand.resolve())
    raise FileNotFoundError(f"{LIBRARY_NAME} not found under {spec.submodule_search_locations}")


def mapped_library(name: str = LIBRARY_NAME) -> tuple[str, list[tuple[int, int, str, int]]] | None:
    """The mapped library's path and its /proc/self/maps rows (start, end, perms, file offset), if loaded."""
    rows: list[tuple[int, int, str, int]] = []
    path = None
    with open("/proc/self/maps") as fh:
        for line in fh:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].rstrip("\n").endswith("/" + name):
                path = parts[5].rstrip("\n")
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                rows.append((lo, hi, parts[1], int(parts[2], 16)))
    return (os.path.realpath(path), rows) if path else None


def read_build_id(path: str) -> str:
    """The GNU build-id of an ELF file, as hex (falls back to size+mtime when there is none)."""
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        for seg in elf.iter_segments():
            if seg["p_type"] != "PT_NOTE":
                continue
            for note in seg.iter_notes():
                if note["n_type"] == "NT_GNU_BUILD_ID":
                    return str(note["n_desc"])
    st = os.stat(path)
    return f"nobuildid-{st.st_size:x}-{int(st.st_mtime):x}"


def _read_uleb(d: bytes, i: int) -> tuple[int, int]:
    """An unsigned LEB128 at d[i]: (value, next index)."""
    value = shift = 0
    while True:
        b = d[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def _read_sleb(d: bytes, i: int) -> tuple[int, int]:
    """A signed LEB128 at d[i]: (value, next index)."""
    value, j = _read_uleb(d, i)
    bits = 7 * (j - i)
    return (value - (1 << bits) if value & (1 << (bits - 1)) else value), j


_PTR_FORMATS = {0x00: "<Q", 0x02: "<H", 0x03: "<I", 0x04: "<Q", 0x0A: "<h", 0x0B: "<i", 0x0C: "<q"}


def _read_ptr(d: bytes, i: int, enc: int, vaddr_of_i: int, pcrel: bool = True) -> tuple[int, int]:
    """A DW_EH_PE-encoded pointer at d[i] (absolute or pc-relative): (value, next index)."""
    fmt = _PTR_FORMATS.get(enc & 0x0F)
    if fmt is None or (enc & 0x70) not in (0x00, 0x10):
        raise ValueError(f"unsupported .eh_frame pointer encoding {enc:#x}")
    (value,) = struct.unpack_from(fmt, d, i)
    if pcrel and enc & 0x70 == 0x10:
        value += vaddr_of_i
    return value, i + struct.calcsize(fmt)


def parse_eh_frame(data: bytes, vaddr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Function ranges from an .eh_frame section: starts, sizes, and whether the CIE names a personality."""
    cies: dict[int, tuple[int, bool]] = {}
    starts: list[int] = []
    sizes: list[int] = []
    pers: list[bool] = []
    i, n = 0, len(data)
    while i + 4 <= n:
        (length,) = struct.unpack_from("<I", data, i)
        if length == 0:
            break
        hdr = i + 4
        if length == 0xFFFFFFFF:
            (length,) = struct.unpack_from("<Q", data, hdr)
            hdr += 8
        end = hdr + length
        (cie_id,) = struct.unpack_from("<I", data, hdr)
        if cie_id == 0:
            cies[i] = _parse_cie(data, hdr + 4, vaddr)
        else:
            enc, has_pers = cies[hdr - cie_id]
            j = hdr + 4
            if enc == 0x1B:  # pcrel | sdata4, what GCC emits
                start, size = struct.unpack_from("<iI", data, j)
                start += vaddr + j
            else:
                start, j = _read_ptr(data, j, enc, vaddr + j)
                size, j = _read_ptr(data, j, enc & 0x0F, 0, pcrel=False)
            starts.append(start & 0xFFFFFFFFFFFFFFFF)
            sizes.append(size)
            pers.append(has_pers)
        i = end
    order = np.argsort(np.asarray(starts, dtype=np.uint64), kind="stable")
    return (np.asarray(starts, dtype=np.uint64)[order], np.asarray(sizes, dtype=np.uint64)[order],
            np.asarray(pers, dtype=bool)[order])


def _parse_cie(d: bytes, j: int, vaddr: int) -> tuple[int, bool]:
    """A CIE body from its version byte: (FDE pointer encoding, whether it names a personality routine)."""
    version = d[j]
    j += 1
    k = d.index(b"\0", j)
    aug = d[j:k].decode("ascii")
    j = k + 1
    _, j = _read_uleb(d, j)
    _, j = _read_sleb(d, j)
    if version == 1:
        j += 1
    else:
        _, j = _read_uleb(d, j)
    enc, has_pers = 0x00, False
    if aug.startswith("z"):
        _, j = _read_uleb(d, j)
        for c in aug[1:]:
            if c == "R":
                enc, j = d[j], j + 1
            elif c == "L":
                j += 1
            elif c == "P":
                penc = d[j]
                _, j = _read_ptr(d, j + 1, penc & 0x7F, vaddr + j + 1)
                has_pers = True
            else:
                break
    return enc, has_pers


def llvm_run(starts: np.ndarray, personality: np.ndarray) -> tuple[int, int]:
    """Index range [lo, hi) of the longest run of consecutive functions whose CIE names no personality routine.

    LLVM is built with -fno-exceptions, so none of its functions has a personality routine, while TVM (and
    Z3, linked above LLVM) are C++ with exceptions; the linker lays LLVM's archive out in one piece after TVM.
    """
    flags = np.concatenate(([True], personality, [True]))
    edges = np.flatnonzero(np.diff(flags.astype(np.int8)))
    if len(edges) < 2:
        raise ValueError("no function without a personality routine: cannot place LLVM's code")
    run_lo, run_hi = edges[0::2], edges[1::2]
    k = int(np.argmax(run_hi - run_lo))
    if run_hi[k] - run_lo[k] < 0.05 * len(starts):
        raise ValueError("no long run of exception-free functions: this build does not look like TVM + LLVM")
    return int(run_lo[k]), int(run_hi[k])


def read_layout(path: str) -> tuple[LibraryLayout, np.ndarray, np.ndarray]:
    """Parse the library's ELF headers and .eh_frame: its layout plus the sorted function starts and sizes."""
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        text = elf.get_section_by_name(".text")
        ehf = elf.get_section_by_name(".eh_frame")
        if text is None or ehf is None:
            raise ValueError(f"{path}: no .text or .eh_frame section")
        text_lo, text_hi = text["sh_addr"], text["sh_addr"] + text["sh_size"]
        execs = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD" and s["p_flags"] & 1
                 and s["p_vaddr"] <= text_lo < s["p_vaddr"] + s["p_memsz"]]
        if not execs:
            raise ValueError(f"{path}: .text is in no executable segment")
        seg = execs[0]
        starts, sizes, pers = parse_eh_frame(ehf.data(), ehf["sh_addr"])
    keep = (starts >= text_lo) & (starts + sizes <= text_hi) & (sizes > 0)
    starts, sizes, pers = starts[keep], sizes[keep], pers[keep]
    lo, hi = llvm_run(starts, pers)
    layout = LibraryLayout(
        path=path, build_id=read_build_id(path), text_lo=int(text_lo), text_hi=int(text_hi),
        exec_vaddr=int(seg["p_vaddr"]), exec_offset=int(seg["p_offset"]), exec_size=int(seg["p_filesz"]),
        functions=len(starts), llvm_lo=int(starts[lo]), llvm_hi=int(starts[hi - 1] + sizes[hi - 1]),
        llvm_functions=hi - lo, tvm_functions=lo)
    return layout, starts, sizes


def scope_range(layout: LibraryLayout, scope: str) -> tuple[int, int]:
    """Address range [lo, hi) of a scope: `tvm` is the code below LLVM, `all` the whole .text."""
    if scope == "tvm":
        return layout.text_lo, layout.llvm_lo
    if scope == "all":
        return layout.text_lo, layout.text_hi
    raise ValueError(f"unknown coverage scope {scope!r} (expected one of {SCOPES})")


# ---------------------------------------------------------------- disassembly (worker side)

_JCC_NAMES = "JA JAE JB JBE JCXZ JECXZ JE JG JGE JL JLE JNE JNO JNP JNS JO JP JRCXZ JS LOOP LOOPE LOOPNE".split()
_UNCOND_NAMES = "JMP RET RETF RETFQ".split()
_worker: dict = {}


def _worker_state(path: str) -> dict:
    """Per-process capstone handle, insn dtype and a read-only map of the library (opened once)."""
    if _worker.get("path") == path:
        return _worker
    import capstone
    from capstone import x86_const

    lib = ctypes.CDLL(capstone._cs._name)
    lib.cs_open.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_size_t)]
    lib.cs_disasm.argtypes = [ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64,
                              ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)]
    lib.cs_disasm.restype = ctypes.c_size_t
    lib.cs_free.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    handle = ctypes.c_size_t()
    if lib.cs_open(capstone.CS_ARCH_X86, capstone.CS_MODE_64, ctypes.byref(handle)) != 0:
        raise RuntimeError("capstone cs_open failed")
    insn = capstone._cs_insn
    isz = ctypes.sizeof(insn)
    dtype = np.dtype({"names": ["id", "addr", "size", "op"], "formats": ["<u4", "<u8", "<u2", ("u1", 18)],
                      "offsets": [insn.id.offset, insn.address.offset, insn.size.offset, insn.op_str.offset],
                      "itemsize": isz})
    fh = open(path, "rb")
    mm = mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ)
    view = np.frombuffer(mm, dtype=np.uint8)
    hexlut = np.full(256, 255, dtype=np.uint8)
    for i, c in enumerate(b"0123456789abcdef"):
        hexlut[c] = i
    _worker.update(path=path, lib=lib, handle=handle, isz=isz, dtype=dtype, mm=mm, fh=fh, view=view,
                   base=view.ctypes.data, hexlut=hexlut,
                   jcc=np.array([getattr(x86_const, "X86_INS_" + n) for n in _JCC_NAMES], dtype=np.uint32),
                   uncond=np.array([getattr(x86_const, "X86_INS_" + n) for n in _UNCOND_NAMES], dtype=np.uint32),
                   jmp=x86_const.X86_INS_JMP)
    return _worker


def sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array (faster than np.unique's hashing on millions)."""
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


def sorted_contains(haystack: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mask of `values` found in the sorted array `haystack` (binary search; no hashing)."""
    if len(haystack) == 0:
        return np.zeros(len(values), dtype=bool)
    k = np.minimum(np.searchsorted(haystack, values), len(haystack) - 1)
    return haystack[k] == values


def _block_candidates(st: dict, insns: np.ndarray) -> np.ndarray:
    """Direct jump targets, fall-throughs after conditional jumps and after jmp/ret, for a batch of insns."""
    ids, addr, size = insns["id"], insns["addr"], insns["size"].astype(np.uint64)
    cond = np.isin(ids, st["jcc"])
    ends = cond | np.isin(ids, st["uncond"])
    op = insns["op"]
    direct = (cond | (ids == st["jmp"])) & (op[:, 0] == ord("0")) & (op[:, 1] == ord("x"))
    digits = st["hexlut"][op[direct, 2:]]
    target = np.zeros(len(digits), dtype=np.uint64)
    live = np.ones(len(digits), dtype=bool)
    for col in range(digits.shape[1]):
        nib = digits[:, col]
        live &= nib != 255
        target = np.where(live, target * np.uint64(16) + nib.astype(np.uint64), target)
    return np.concatenate((target, (addr + size)[ends]))


def disassemble_chunk(path: str, starts: np.ndarray, sizes: np.ndarray, exec_delta: int) -> tuple:
    """Disassemble functions [starts, starts+sizes): (bitmap origin, packed insn-start bitmap, candidates, entries)."""
    st = _worker_state(path)
    lib, handle, isz, dtype, base = st["lib"], st["handle"], st["isz"], st["dtype"], st["base"]
    lo8 = int(starts.min()) & ~7
    hi8 = (int((starts + sizes).max()) + 7) & ~7
    isstart = np.zeros(hi8 - lo8, dtype=bool)
    buf = np.empty(_BATCH_INSNS * isz, dtype=np.uint8)
    bufp = buf.ctypes.data
    out = ctypes.c_void_p()
    cands: list[np.ndarray] = []
    entries: list[int] = []
    fill = 0

    def flush(arr: np.ndarray) -> None:
        if len(arr):
            isstart[(arr["addr"] - np.uint64(lo8)).astype(np.int64)] = True
            cands.append(sorted_unique(_block_candidates(st, arr).astype(np.uint32)))

    for start, size in zip(starts.tolist(), sizes.tolist()):
        n = lib.cs_disasm(handle, base + start + exec_delta, size, start, 0, ctypes.byref(out))
        if n == 0:
            continue
        entries.append(start)
        if n > _BATCH_INSNS:
            big = np.frombuffer(ctypes.string_at(out, n * isz), dtype=dtype)
            lib.cs_free(out, n)
            flush(big)
            continue
        if fill + n > _BATCH_INSNS:
            flush(buf[: fill * isz].view(dtype))
            fill = 0
        ctypes.memmove(bufp + fill * isz, out, n * isz)
        lib.cs_free(out, n)
        fill += n
    flush(buf[: fill * isz].view(dtype))
    cand = sorted_unique(np.concatenate(cands)) if cands else np.empty(0, np.uint32)
    return lo8, np.packbits(isstart, bitorder="little"), cand, np.asarray(entries, dtype=np.uint32)


def _run_chunk(args: tuple) -> tuple:
    """Pool entry point: chunk id plus its disassembly."""
    cid, path, starts, sizes, delta = args
    return (cid,) + disassemble_chunk(path, starts, sizes, delta)


# ---------------------------------------------------------------- discovery (parent side)


def _split(sizes: np.ndarray, parts: int) -> list[tuple[int, int]]:
    """Split function indices into about `parts` contiguous pieces of similar byte size."""
    if len(sizes) == 0:
        return []
    cum = np.cumsum(sizes.astype(np.float64))
    cuts = np.searchsorted(cum, np.linspace(0, cum[-1], parts + 1)[1:-1])
    bounds = np.unique(np.concatenate(([0], cuts, [len(sizes)])))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def discover(layout: LibraryLayout, starts: np.ndarray, sizes: np.ndarray, scope: str,
             progress: bool = True, workers: int = 2) -> dict[tuple[str, str], np.ndarray]:
    """Disassemble every function of `scope` and return sites per (scope, granularity) it determines."""
    lo, hi = scope_range(layout, scope)
    sel = np.flatnonzero((starts >= lo) & (starts < hi))
    n_tvm = int(np.count_nonzero(starts[sel] < layout.llvm_lo))
    delta = layout.exec_offset - layout.exec_vaddr
    pieces = _split(sizes[sel[:n_tvm]], _CHUNKS)
    pieces += [(a + n_tvm, b + n_tvm) for a, b in _split(sizes[sel[n_tvm:]], _CHUNKS)]
    jobs = [(k, layout.path, starts[sel[a:b]], sizes[sel[a:b]], delta) for k, (a, b) in enumerate(pieces)]
    jobs.sort(key=lambda j: -int(j[3].sum()))
    results = _run_jobs(jobs, progress, workers, int(sizes[sel].sum()))
    tlo, thi = layout.text_lo & ~7, (layout.text_hi + 7) & ~7
    bitmap = np.zeros((thi - tlo) // 8, dtype=np.uint8)
    for lo8, bits, _, _ in results.values():
        off = (lo8 - tlo) // 8
        bitmap[off: off + len(bits)] |= bits
    with open(layout.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ) as mm:
        code = np.frombuffer(mm, dtype=np.uint8)
        out: dict[tuple[str, str], np.ndarray] = {}
        for sc in (("tvm", "all") if scope == "all" else ("tvm",)):
            slo, shi = scope_range(layout, sc)
            mine = [r for cid, r in results.items() if sc == "all" or pieces[cid][0] < n_tvm]
            entries = np.concatenate([r[3] for r in mine]) if mine else np.empty(0, np.uint32)
            cands = np.concatenate([r[2] for r in mine] + [entries]) if mine else entries
            out[(sc, "block")] = _validate(cands, starts, sizes, bitmap, tlo, code, delta, slo, shi)
            out[(sc, "function")] = _validate(entries, starts, sizes, bitmap, tlo, code, delta, slo, shi)
        del code
    return out


def _run_jobs(jobs: list[tuple], progress: bool, workers: int, total_bytes: int) -> dict[int, tuple]:
    """Run disassembly jobs on a spawn pool, with a rich progress bar when asked."""
    results: dict[int, tuple] = {}
    ctx = multiprocessing.get_context("spawn")
    bar = None
    if progress:
        bar = Progress(TextColumn("[bold]finding coverage sites[/] {task.description}"), BarColumn(),
                       TextColumn("{task.percentage:>3.0f}%"), TimeElapsedColumn(),
                       console=Console(stderr=True), transient=False)
    with ctx.Pool(max(1, workers)) as pool:
        it = pool.imap_unordered(_run_chunk, jobs)
        if bar is None:
            for r in it:
                results[r[0]] = r[1:]
        else:
            with bar:
                task = bar.add_task(f"({total_bytes / 2**20:.0f} MiB of code)", total=total_bytes)
                size_of = {j[0]: int(j[3].sum()) for j in jobs}
                for r in it:
                    results[r[0]] = r[1:]
                    bar.advance(task, size_of[r[0]])
    return results


def _validate(cands: np.ndarray, starts: np.ndarray, sizes: np.ndarray, bitmap: np.ndarray, tlo: int,
              code: np.ndarray, delta: int, lo: int, hi: int) -> np.ndarray:
    """Keep candidates in [lo, hi) that start a decoded instruction inside a function and are not int3."""
    c = sorted_unique(cands.astype(np.uint32)).astype(np.uint64)
    c = c[(c >= lo) & (c < hi)]
    k = np.searchsorted(starts, c, side="right") - 1
    ok = k >= 0
    c, k = c[ok], k[ok]
    c = c[c < starts[k] + sizes[k]]
    rel = (c - np.uint64(tlo)).astype(np.int64)
    c = c[(bitmap[rel >> 3] >> (rel & 7).astype(np.uint8)) & 1 == 1]
    c = c[code[(c.astype(np.int64) + delta)] != 0xCC]
    return c.astype(np.uint32)


# ---------------------------------------------------------------- cache


def cache_dir() -> Path:
    """Cache root: $TIRFUZZ_CACHE_DIR, else $XDG_CACHE_HOME/tirfuzz, else ~/.cache/tirfuzz."""
    env = os.environ.get("TIRFUZZ_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg if xdg else Path.home() / ".cache") / "tirfuzz"


def cache_paths(build_id: str, scope: str, granularity: str) -> tuple[Path, Path]:
    """The .npy and .json cache files of one build-id, scope and granularity."""
    stem = cache_dir() / build_id / f"sites-v{DISCOVERY_VERSION}-{scope}-{granularity}"
    return stem.with_suffix(".npy"), stem.with_suffix(".json")


def _atomic_write(path: Path, write) -> None:
    """Write a file through a temporary sibling and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def site_doc(layout: LibraryLayout, scope: str, granularity: str, offsets: np.ndarray, functions: int,
             discovery_s: float, discovered_with: str) -> dict:
    """The metadata stored next to a site array."""
    return {"version": DISCOVERY_VERSION, "scope": scope, "granularity": granularity, "sites": int(len(offsets)),
            "functions": functions, "discovery_s": round(discovery_s, 3), "discovered_with": discovered_with,
            "created": time.time(), "layout": asdict(layout)}


def save_sites(doc: dict, offsets: np.ndarray) -> Path:
    """Store one site set (array first, metadata last, so metadata marks a complete entry)."""
    npy, meta = cache_paths(doc["layout"]["build_id"], doc["scope"], doc["granularity"])
    _atomic_write(npy, lambda fh: np.save(fh, offsets.astype(np.uint32), allow_pickle=False))
    _atomic_write(meta, lambda fh: fh.write(json.dumps(doc, indent=1).encode()))
    return npy


def load_cached(build_id: str, scope: str, granularity: str) -> tuple[np.ndarray, dict] | None:
    """A cached site set and its metadata, or None when absent or unreadable."""
    npy, meta = cache_paths(build_id, scope, granularity)
    try:
        doc = json.loads(meta.read_text())
        arr = np.load(npy, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if doc.get("version") != DISCOVERY_VERSION or len(arr) != doc.get("sites") or arr.dtype != np.uint32:
        return None
    return arr, doc


def get_sites(scope: str = "tvm", granularity: str = "block", progress: bool = True,
              path: str | None = None, workers: int = 2) -> tuple[SiteSet, dict]:
    """Sites of a scope/granularity for the library at `path` (default: TVM's), from cache or discovered."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown coverage granularity {granularity!r} (expected one of {GRANULARITIES})")
    if scope not in SCOPES:
        raise ValueError(f"unknown coverage scope {scope!r} (expected one of {SCOPES})")
    path = os.path.realpath(path or find_library())
    t0 = time.perf_counter()
    build_id = read_build_id(path)
    hit = load_cached(build_id, scope, granularity)
    if hit is not None:
        arr, doc = hit
        load_s = time.perf_counter() - t0
        return SiteSet(arr, doc["functions"], doc["discovery_s"], str(cache_paths(build_id, scope, granularity)[0]),
                       True, load_s), doc
    layout, starts, sizes = read_layout(path)
    found = discover(layout, starts, sizes, scope, progress, workers)
    discovery_s = time.perf_counter() - t0
    docs: dict[tuple[str, str], dict] = {}
    for (sc, gr), arr in found.items():
        if sc != scope and load_cached(build_id, sc, gr) is not None:
            continue  # keep its own (shorter) discovery time
        lo, hi = scope_range(layout, sc)
        nfun = int(np.count_nonzero((starts >= lo) & (starts < hi)))
        docs[(sc, gr)] = site_doc(layout, sc, gr, arr, nfun, discovery_s, scope)
        try:
            save_sites(docs[(sc, gr)], arr)
        except OSError as exc:
            warnings.warn(f"could not cache coverage sites under {cache_dir()}: {exc}", stacklevel=2)
    return SiteSet(found[(scope, granularity)], docs[(scope, granularity)]["functions"], discovery_s,
                   str(cache_paths(build_id, scope, granularity)[0]), False, time.perf_counter() - t0), \
        docs[(scope, granularity)]
