"""A small PNG line chart (numpy and zlib only: the environment has no matplotlib) for the bench scripts."""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# A 5x7 bitmap font, upper case (lower case is drawn as upper case): rows top to bottom, '#' is ink.
_FONT = {
    "0": (".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."),
    "1": ("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "2": (".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"),
    "3": ("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."),
    "4": ("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."),
    "5": ("#####", "#....", "####.", "....#", "....#", "#...#", ".###."),
    "6": ("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."),
    "7": ("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."),
    "8": (".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."),
    "9": (".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."),
    "A": (".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "B": ("####.", "#...#", "#...#", "####.", "#...#", "#...#", "####."),
    "C": (".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."),
    "D": ("###..", "#..#.", "#...#", "#...#", "#...#", "#..#.", "###.."),
    "E": ("#####", "#....", "#....", "####.", "#....", "#....", "#####"),
    "F": ("#####", "#....", "#....", "####.", "#....", "#....", "#...."),
    "G": (".###.", "#...#", "#....", "#.###", "#...#", "#...#", ".####"),
    "H": ("#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"),
    "I": (".###.", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."),
    "J": ("..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."),
    "K": ("#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"),
    "L": ("#....", "#....", "#....", "#....", "#....", "#....", "#####"),
    "M": ("#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"),
    "N": ("#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"),
    "O": (".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "P": ("####.", "#...#", "#...#", "####.", "#....", "#....", "#...."),
    "Q": (".###.", "#...#", "#...#", "#...#", "#.#.#", "#..#.", ".##.#"),
    "R": ("####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"),
    "S": (".####", "#....", "#....", ".###.", "....#", "....#", "####."),
    "T": ("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."),
    "U": ("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."),
    "V": ("#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."),
    "W": ("#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."),
    "X": ("#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"),
    "Y": ("#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."),
    "Z": ("#####", "....#", "...#.", "..#..", ".#...", "#....", "#####"),
    " ": (".....",) * 7,
    ".": (".....",) * 5 + (".##..", ".##.."),
    ",": (".....",) * 4 + (".##..", ".##..", "#...."),
    "-": (".....",) * 3 + ("#####",) + (".....",) * 3,
    "_": (".....",) * 6 + ("#####",),
    "/": ("....#", "....#", "...#.", "..#..", ".#...", "#....", "#...."),
    "(": ("...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."),
    ")": (".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."),
    ":": (".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."),
    "%": ("##...", "##..#", "...#.", "..#..", ".#...", "#..##", "...##"),
    "+": (".....", "..#..", "..#..", "#####", "..#..", "..#..", "....."),
    "=": (".....", ".....", "#####", ".....", "#####", ".....", "....."),
}
_GLYPHS = {k: "".join(rows) for k, rows in _FONT.items()}

PALETTE = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


@dataclass
class Series:
    """One line of the chart: a label and its runs, each a list of (x, y) points (one line per run)."""

    label: str
    runs: list[list[tuple[float, float]]] = field(default_factory=list)


class Canvas:
    """An RGB raster with lines, rectangles and text."""

    def __init__(self, width: int, height: int):
        self.w, self.h = width, height
        self.px = np.full((height, width, 3), 255, dtype=np.uint8)

    def rect(self, x0: int, y0: int, x1: int, y1: int, color: tuple[int, int, int]) -> None:
        x0, x1 = sorted((max(0, x0), min(self.w, x1)))
        y0, y1 = sorted((max(0, y0), min(self.h, y1)))
        self.px[y0:y1, x0:x1] = color

    def line(self, x0: float, y0: float, x1: float, y1: float, color: tuple[int, int, int], width: int = 1) -> None:
        n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
        xs = np.rint(np.linspace(x0, x1, n)).astype(int)
        ys = np.rint(np.linspace(y0, y1, n)).astype(int)
        r = width // 2
        for dx in range(-r, width - r):
            for dy in range(-r, width - r):
                x, y = xs + dx, ys + dy
                ok = (x >= 0) & (x < self.w) & (y >= 0) & (y < self.h)
                self.px[y[ok], x[ok]] = color

    def text(self, x: int, y: int, s: str, color: tuple[int, int, int] = (40, 40, 40), scale: int = 2,
             anchor: str = "left") -> None:
        """Draw `s` with its top at y; anchor left, right or center at x."""
        width = len(s) * 6 * scale
        x = x - width if anchor == "right" else x - width // 2 if anchor == "center" else x
        for i, ch in enumerate(s.upper()):
            g = _GLYPHS.get(ch, _GLYPHS[" "])
            for k, c in enumerate(g):
                if c == "#":
                    gx, gy = x + (i * 6 + k % 5) * scale, y + (k // 5) * scale
                    self.rect(gx, gy, gx + scale, gy + scale, color)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + self.px[y].tobytes() for y in range(self.h))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        head = struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for m in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * m) <= n:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _fmt(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v / 1000:g}K" if v % 1000 == 0 else f"{v / 1000:.1f}K"
    return f"{v:g}"


def line_chart(path: str | Path, series: list[Series], title: str, xlabel: str, ylabel: str,
               width: int = 1000, height: int = 560) -> Path:
    """Write a PNG line chart; each series in its own colour, each of its runs as a line."""
    c = Canvas(width, height)
    ml, mr, mt, mb = 90, 270, 70, 60
    pts = [p for s in series for run in s.runs for p in run]
    xs = [p[0] for p in pts] or [0.0, 1.0]
    ys = [p[1] for p in pts] or [0.0, 1.0]
    x0, x1 = 0.0, max(xs) or 1.0
    y0, y1 = min(ys), max(ys)
    pad = (y1 - y0) * 0.05 or 1.0
    y0, y1 = y0 - pad, y1 + pad
    pw, ph = width - ml - mr, height - mt - mb

    def X(v: float) -> float:
        return ml + (v - x0) / (x1 - x0) * pw

    def Y(v: float) -> float:
        return mt + ph - (v - y0) / (y1 - y0) * ph

    grid, axis = (232, 232, 232), (120, 120, 120)
    for t in nice_ticks(y0, y1):
        c.line(ml, Y(t), ml + pw, Y(t), grid)
        c.text(ml - 8, int(Y(t)) - 7, _fmt(t), anchor="right")
    for t in nice_ticks(x0, x1, 8):
        c.line(X(t), mt, X(t), mt + ph, grid)
        c.text(int(X(t)), mt + ph + 8, _fmt(t), anchor="center")
    c.line(ml, mt, ml, mt + ph, axis)
    c.line(ml, mt + ph, ml + pw, mt + ph, axis)
    c.text(width // 2, 10, title, anchor="center")
    c.text(ml + pw // 2, height - 24, xlabel, anchor="center")
    c.text(8, mt - 28, ylabel)
    for i, s in enumerate(series):
        col = PALETTE[i % len(PALETTE)]
        for run in s.runs:
            for (ax, ay), (bx, by) in zip(run, run[1:]):
                c.line(X(ax), Y(ay), X(bx), Y(by), col, width=2)
        ly = mt + 10 + i * 26
        c.rect(ml + pw + 16, ly, ml + pw + 36, ly + 14, col)
        c.text(ml + pw + 44, ly, s.label[:18])
    out = Path(path)
    out.write_bytes(c.png())
    return out
