"""Native block coverage of the stock libtvm_compiler.so by breakpoints (no TVM rebuild).

Plant once in the fork server after `import tvm`, then, per case: `m = cov.mark()`, fork and run the case,
`cov.hits_since(m)`. A block is uncovered (its 0xCC removed) for the whole process tree on its first hit.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from tirfuzz.fuzzer.execution import _covtrap
from tirfuzz.fuzzer.execution import coverage_sites as cs


@dataclass
class CoverageInfo:
    """What a site set is and where it came from."""

    library: str
    build_id: str
    scope: str
    granularity: str
    sites: int
    functions: int
    cache_path: str
    discovery_s: float
    cached: bool
    load_s: float


def find_sites(scope: str = "tvm", granularity: str = "block", progress: bool = True,
               library: str | None = None) -> tuple[np.ndarray, CoverageInfo]:
    """Sorted uint32 site offsets (ELF virtual addresses) of TVM's compiler library, cached per build-id."""
    offsets, info, _ = _find(scope, granularity, progress, library)
    return offsets, info


def _find(scope: str, granularity: str, progress: bool, library: str | None) -> tuple[np.ndarray, CoverageInfo, dict]:
    """find_sites plus the library layout recorded with the sites."""
    path = os.path.realpath(library or cs.find_library())
    found, doc = cs.get_sites(scope, granularity, progress, path=path)
    info = CoverageInfo(library=path, build_id=doc["layout"]["build_id"], scope=scope, granularity=granularity,
                        sites=len(found.offsets), functions=found.functions, cache_path=found.cache_path,
                        discovery_s=found.discovery_s, cached=found.cached, load_s=found.load_s)
    return found.offsets, info, doc["layout"]


def _load_bias(path: str, exec_vaddr: int, exec_offset: int, lo: int, hi: int) -> int:
    """Load bias of the mapped library; checks that [lo, hi) lies in one executable mapping of it."""
    mapped = cs.mapped_library(os.path.basename(path))
    if mapped is None:
        raise RuntimeError(f"{path} is not mapped in this process (import tvm first)")
    page = os.sysconf("SC_PAGE_SIZE")
    for start, end, perms, offset in mapped[1]:
        if "x" in perms and offset == exec_offset & ~(page - 1):
            bias = start - (exec_vaddr & ~(page - 1))
            if start <= bias + lo and bias + hi <= end:
                return bias
            raise RuntimeError(f"sites [{lo:#x}, {hi:#x}) fall outside the code mapping of {path}")
    raise RuntimeError(f"no executable mapping of {path} at file offset {exec_offset:#x}")


class NativeCoverage:
    """Breakpoint coverage over one scope/granularity of libtvm_compiler.so, shared by a fork tree."""

    def __init__(self, scope: str = "tvm", granularity: str = "block", progress: bool = True):
        """Load (or discover) the sites; nothing is planted yet."""
        self.offsets, self.info, self._layout = _find(scope, granularity, progress, None)
        self._log: np.ndarray | None = None
        self._preloaded = np.empty(0, dtype=np.uint32)
        self._preloaded_armed = 0
        self.planted_sites = 0
        self.plant_s = 0.0

    def plant(self) -> None:
        """Arm every site; call in the fork server after `import tvm`, before any fork."""
        import tvm  # noqa: F401  (the library must be mapped)


        if self._log is not None:
            raise RuntimeError("already planted")
        t0 = time.perf_counter()
        mapped = cs.mapped_library()
        if mapped is None or os.path.realpath(mapped[0]) != os.path.realpath(self.info.library):
            raise RuntimeError(f"the loaded TVM library is not {self.info.library}")
        if cs.read_build_id(mapped[0]) != self.info.build_id:
            raise RuntimeError("the loaded TVM library changed since its sites were found")
        lo, hi = int(self.offsets[0]), int(self.offsets[-1]) + 1
        bias = _load_bias(mapped[0], self._layout["exec_vaddr"], self._layout["exec_offset"], lo, hi)
        self.planted_sites = _covtrap.plant(bias, np.ascontiguousarray(self.offsets, dtype=np.uint32))
        self._log = np.frombuffer(_covtrap.log(), dtype=np.uint32)
        self.plant_s = time.perf_counter() - t0

    @property
    def planted(self) -> bool:
        """Whether plant() ran in this process (or in the parent this process was forked from)."""
        return self._log is not None

    def _need_log(self) -> np.ndarray:
        """The shared hit log; raises if plant() has not run."""
        if self._log is None:
            raise RuntimeError("coverage is not planted")
        return self._log

    def mark(self) -> int:
        """Current length of the shared hit log."""
        self._need_log()
        return int(_covtrap.count())

    def hits_since(self, mark: int) -> np.ndarray:
        """Site offsets first hit after `mark` (by this process or any process forked from the planter)."""
        log = self._need_log()
        new = log[mark: self.mark()].copy()
        return new[new != 0]

    def total(self) -> int:
        """Blocks covered so far in this process tree, preloaded ones included."""
        return self.mark() + self._preloaded_armed

    def covered(self) -> np.ndarray:
        """All site offsets covered so far (hit or preloaded), sorted; persist it to resume a campaign."""
        return cs.sorted_unique(np.concatenate((self.hits_since(0), self._preloaded)))

    def preload(self, offsets: np.ndarray) -> int:
        """Uncover these sites without logging them (a resumed campaign); returns how many were armed."""
        self._need_log()
        offs = cs.sorted_unique(np.asarray(offsets, dtype=np.uint32))
        offs = offs[cs.sorted_contains(self.offsets, offs)]
        done = int(_covtrap.restore(np.ascontiguousarray(offs)))
        self._preloaded_armed += done
        self._preloaded = cs.sorted_unique(np.concatenate((self._preloaded, offs)))
        return done

    def privatize(self) -> int:
        """In this process only (a forked child that must not count: the mutator), run TVM's code from a
        private copy with no breakpoints: what it runs is neither logged nor uncovered for the others."""
        return int(_covtrap.privatize()) if self._log is not None else 0

    def armed(self) -> int:
        """Sites still armed (0xCC) right now: a full scan, for tests and stats."""
        return int(_covtrap.armed())


def coverage_info_lines(measure_load: bool = True) -> list[str]:
    """Human-readable lines for `tirfuzz coverage --info`: library, build-id, cached site sets, timings."""
    path = cs.find_library()
    build_id = cs.read_build_id(path)
    lines = [f"library:    {path}", f"build-id:   {build_id}", f"cache dir:  {cs.cache_dir() / build_id}"]
    layout = None
    for scope in cs.SCOPES:
        for gran in cs.GRANULARITIES:
            t0 = time.perf_counter()
            hit = cs.load_cached(build_id, scope, gran) if measure_load else None
            load_s = time.perf_counter() - t0
            if hit is None:
                lines.append(f"  {scope:>3} {gran:<8}  not cached (first use discovers it)")
                continue
            arr, doc = hit
            layout = doc["layout"]
            lines.append(f"  {scope:>3} {gran:<8}  {doc['sites']:>9,} sites in {doc['functions']:>7,} functions;"
                         f" cold discovery {doc['discovery_s']:.1f} s (scope {doc.get('discovered_with', scope)}"
                         f" run), cached load {load_s * 1000:.0f} ms")
    if layout is not None:
        lines.append(f"TVM code:   {layout['text_lo']:#x}-{layout['llvm_lo']:#x} "
                     f"({layout['tvm_functions']:,} functions, .text up to where LLVM starts)")
        lines.append(f"LLVM code:  {layout['llvm_lo']:#x}-{layout['llvm_hi']:#x} ({layout['llvm_functions']:,}"
                     " functions without a personality routine); Z3 and the rest above, up to "
                     f"{layout['text_hi']:#x}")
    return lines
