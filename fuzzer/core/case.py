"""The test-case record `tirfuzz-case/1`: load, validate, save (no TVM needed)."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "tirfuzz-case/1"
KNOWN_KEYS = ("format", "ir", "passes", "pass_config", "targets", "input_seed")


class CaseError(ValueError):
    """A case file or record that does not follow `tirfuzz-case/1`."""


@dataclass(frozen=True)
class PassSpec:
    """One pass of a sequence: its dotted name under `tvm` (or `plugin:stem.name`) and its arguments."""

    name: str
    args: tuple = ()
    as_object: bool = field(default=False, compare=False)  # written as {"name", "args"} even without args

    def to_json(self) -> str | dict:
        return {"name": self.name, "args": list(self.args)} if self.args or self.as_object else self.name

    @staticmethod
    def from_json(obj: Any) -> "PassSpec":
        if isinstance(obj, str) and obj:
            return PassSpec(obj)
        if isinstance(obj, dict) and isinstance(obj.get("name"), str) and obj["name"]:
            args = obj.get("args", [])
            if not isinstance(args, list):
                raise CaseError(f"pass {obj['name']!r}: 'args' must be a list")
            return PassSpec(obj["name"], tuple(_freeze(a) for a in args), as_object=True)
        raise CaseError(f"a pass must be a name or {{'name': ..., 'args': [...]}}, got {obj!r}")

    def __str__(self) -> str:
        return f"{self.name}({', '.join(map(repr, self.args))})" if self.args else self.name


def _freeze(value: Any) -> Any:
    return tuple(_freeze(v) for v in value) if isinstance(value, list) else value


def _thaw(value: Any) -> Any:
    return [_thaw(v) for v in value] if isinstance(value, tuple) else value


@dataclass
class TestCase:
    """A TVMScript module, the passes to run on it, the targets to build for and the input seed."""

    __test__ = False  # not a pytest class

    ir: str
    passes: list[PassSpec] = field(default_factory=list)
    pass_config: dict[str, Any] = field(default_factory=dict)
    targets: list[str] = field(default_factory=lambda: ["llvm"])
    input_seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # keys this version does not know, kept

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT,
            "ir": self.ir,
            "passes": [_thaw(p.to_json()) for p in self.passes],
            "pass_config": self.pass_config,
            "targets": list(self.targets),
            "input_seed": self.input_seed,
        }
        out.update({k: v for k, v in self.extra.items() if k not in KNOWN_KEYS})
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, sort_keys=False)

    @staticmethod
    def from_dict(obj: Any) -> "TestCase":
        if not isinstance(obj, dict):
            raise CaseError("a case must be a JSON object")
        fmt = obj.get("format")
        if fmt != FORMAT:
            raise CaseError(f"unsupported format {fmt!r} (expected {FORMAT!r})")
        ir = obj.get("ir")
        if not isinstance(ir, str) or not ir.strip():
            raise CaseError("'ir' must be a non-empty TVMScript string")
        passes = obj.get("passes", [])
        if not isinstance(passes, list):
            raise CaseError("'passes' must be a list")
        config = obj.get("pass_config", {})
        if not isinstance(config, dict):
            raise CaseError("'pass_config' must be an object")
        targets = obj.get("targets", ["llvm"])
        if not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t for t in targets):
            raise CaseError("'targets' must be a non-empty list of target names")
        seed = obj.get("input_seed", 0)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise CaseError("'input_seed' must be an integer")
        extra = {k: v for k, v in obj.items() if k not in KNOWN_KEYS}
        return TestCase(ir, [PassSpec.from_json(p) for p in passes], dict(config), list(targets), seed, extra)

    @staticmethod
    def from_json(text: str) -> "TestCase":
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise CaseError(f"malformed JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
        return TestCase.from_dict(obj)


def load_case(path: str | os.PathLike) -> TestCase:
    """Read and validate a case file; raise CaseError naming the problem."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseError(f"{p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise CaseError(f"{p}: cannot read: {e}") from None
    try:
        return TestCase.from_json(text)
    except CaseError as e:
        raise CaseError(f"{p}: {e}") from None


def atomic_write(path: str | os.PathLike, text: str) -> None:
    """Write text to path through a temporary file and a rename, so readers never see half a file."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def save_case(case: TestCase, path: str | os.PathLike) -> None:
    atomic_write(path, case.to_json() + "\n")


def read_cases(folder: Path) -> tuple[list[tuple[str, TestCase]], list[str]]:
    """Every readable case file in a folder (corpus entries included), and the names that were not."""
    out, bad = [], []
    for p in sorted(Path(folder).glob("*.json")):
        try:
            out.append((p.name, load_case(p)))
        except CaseError as e:
            bad.append(f"{p.name}: {e}")
    return out, bad
