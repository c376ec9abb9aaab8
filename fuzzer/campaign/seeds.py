"""Where a campaign starts (`--seeds`): built-in seed names, the user's files, folders of them.

A token of `--seeds a,b,...` that names an existing path is a path, any other a built-in seed name.
A path is a TVMScript file (`.py`), a case file (`tirfuzz-case/1` JSON: a kept corpus entry, a bug's
case.json), or a folder, searched recursively for both (a campaign directory: its `corpus/`).

TVMScript files are Python: they are run only in executor children (execution/userfile.py), one fresh
child per file, never here. Each program of a file is used with its name `<file stem>.<Python name>`,
or rejected with a one-line reason; case files are checked for their format and passes here, their IR
is judged when the campaign runs them. The result (`SeedSet`) is what OUT/seeds.json records: the
programs used (with their cases: a resumed campaign does not run the files again) and those rejected.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from tirfuzz.corpus import list_seeds, load_seed
from tirfuzz.corpus.cases import seed_case
from tirfuzz.fuzzer.core.case import CaseError, PassSpec, TestCase, load_case
from tirfuzz.fuzzer.core.tvmapi import default_pipeline
from tirfuzz.fuzzer.execution.executor import Executor, ExecutorConfig
from tirfuzz.fuzzer.execution.userfile import LOAD_JOB

SEEDS_FILE = "seeds.json"
FORMAT = "tirfuzz-seeds/1"
MIN_LOAD_TIMEOUT_S = 30.0   # a file's run, print, parse and builds, in its child (or 3x the case limit)


class SeedError(ValueError):
    """A `--seeds` token that is neither an existing path nor a built-in seed name."""


@dataclass
class SeedProgram:
    """A program a campaign starts from: its name, where it came from ("built-in" or a file), its case."""

    name: str
    source: str
    case: TestCase
    dropped: dict[str, str] = field(default_factory=dict)  # targets it cannot build (known backend gaps)


@dataclass
class Rejected:
    """A file (or one program of it, `name`) that cannot be a seed, and why, in one line."""

    source: str
    reason: str
    name: str | None = None

    def line(self) -> str:
        return f"{self.source}{f' ({self.name})' if self.name else ''}: {self.reason}"


@dataclass
class SeedSet:
    """The programs used and the files (or programs) rejected, in the order given."""

    used: list[SeedProgram] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    files: int = 0

    def cases(self) -> list[tuple[str, TestCase]]:
        return [(p.name, p.case) for p in self.used]

    def record(self, tokens: list[str] | None = None) -> dict[str, Any]:
        """OUT/seeds.json."""
        return {"format": FORMAT, "tokens": list(tokens or []),
                "counts": {"used": len(self.used), "rejected": len(self.rejected), "files": self.files},
                "used": [{"name": p.name, "source": p.source, "dropped": p.dropped, "case": p.case.to_dict()}
                         for p in self.used],
                "rejected": [asdict(r) for r in self.rejected]}

    @staticmethod
    def from_record(obj: dict[str, Any]) -> "SeedSet":
        """The SeedSet a seeds.json holds (its unreadable entries left out)."""
        out = SeedSet(files=int(obj.get("counts", {}).get("files", 0) or 0))
        for u in obj.get("used") or []:
            try:
                out.used.append(SeedProgram(str(u["name"]), str(u["source"]), TestCase.from_dict(u["case"]),
                                            dict(u.get("dropped") or {})))
            except (KeyError, TypeError, CaseError):
                continue
        out.rejected = [Rejected(str(r.get("source")), str(r.get("reason")), r.get("name"))
                        for r in obj.get("rejected") or [] if isinstance(r, dict)]
        return out


def seed_tokens(text: str | None) -> list[str] | None:
    """The tokens of `--seeds`: existing paths made absolute, built-in names kept; None for none given.
    Raises SeedError (one line) for a token that is neither."""
    if not text:
        return None
    out = []
    for tok in (t.strip() for t in text.split(",")):
        if not tok:
            continue
        if Path(tok).expanduser().exists():
            out.append(str(Path(tok).expanduser().resolve()))
            continue
        try:
            load_seed(tok)
        except KeyError:
            raise SeedError(f"--seeds: no built-in seed named {tok!r} and no such file or folder "
                            "(see `tirfuzz seeds`)") from None
        out.append(tok)
    return out


def is_path(token: str) -> bool:
    return Path(token).is_absolute()


def seed_files(path: Path) -> list[Path]:
    """The seed files a path stands for: itself, or a folder's .py and .json files (recursively, sorted,
    hidden and __pycache__ folders skipped; a campaign directory's corpus/ only)."""
    if not path.is_dir():
        return [path]
    if (path / "campaign.json").is_file() and (path / "corpus").is_dir():
        path = path / "corpus"
    found = [p for p in path.rglob("*") if p.suffix in (".py", ".json") and p.is_file()
             and not any(part.startswith(".") or part == "__pycache__" for part in p.relative_to(path).parts)]
    return sorted(found)


class SeedLoader:
    """Turns tokens into a SeedSet; user files run in a fork server of its own, started on first need."""

    def __init__(self, targets: list[str], plugins: list[str] | tuple[str, ...] = (), timeout_s: float = 10.0,
                 memory_mb: int = 4096, check_pass: Callable[[PassSpec], None] | None = None,
                 on_file: Callable[[Path], None] | None = None):
        self.targets = list(targets)
        self.timeout_s = max(MIN_LOAD_TIMEOUT_S, 3 * timeout_s)
        self.config = ExecutorConfig(timeout_s=self.timeout_s, memory_mb=memory_mb, plugins=tuple(plugins),
                                     warmup=False, jobs=(LOAD_JOB,))
        self.check_pass = check_pass
        self.on_file = on_file or (lambda p: None)
        self.executor: Executor | None = None
        self.out = SeedSet()

    def load(self, tokens: list[str] | None) -> SeedSet:
        """Every token's programs (all built-in seeds for None), names made unique."""
        try:
            for tok in tokens if tokens is not None else [s.name for s in list_seeds()]:
                if not is_path(tok):
                    self._use(tok, "built-in", seed_case(load_seed(tok), self.targets))
                    continue
                for f in seed_files(Path(tok)):
                    self.out.files += 1
                    self.on_file(f)
                    self._load_file(f)
        finally:
            if self.executor is not None:
                self.executor.close()
        return self.out

    def _use(self, name: str, source: str, case: TestCase, dropped: dict[str, str] | None = None) -> None:
        taken = {p.name for p in self.out.used}
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f"{name}~{n}"
        case.extra = {**case.extra, "seed": unique} if source == "built-in" else \
            {**case.extra, "seed": unique, "seed_source": source}
        self.out.used.append(SeedProgram(unique, source, case, dict(dropped or {})))

    def _load_file(self, path: Path) -> None:
        if path.suffix == ".json":
            self._load_case(path)
        elif path.suffix == ".py":
            self._load_python(path)
        else:
            self.out.rejected.append(Rejected(str(path), "neither a TVMScript .py file nor a case .json file"))

    def _load_case(self, path: Path) -> None:
        try:
            case = load_case(path)
            for p in case.passes:
                if self.check_pass is not None:
                    self.check_pass(p)
        except ValueError as e:  # CaseError, PassError
            self.out.rejected.append(Rejected(str(path), " ".join(str(e).removeprefix(f"{path}: ").split())[:240]))
            return
        case.targets = list(self.targets)  # the campaign's targets, as for every seed
        self._use(path.stem, str(path), case)

    def _load_python(self, path: Path) -> None:
        if self.executor is None:
            self.executor = Executor(self.config)
        spec = {"job": LOAD_JOB[0], "path": str(path), "targets": self.targets}
        res = self.executor.run(TestCase(str(path), targets=self.targets), want_outputs=False, mutate=spec)
        info = res.mutation if isinstance(res.mutation, dict) else {}
        if res.outcome != "declined":
            last = ([ln.strip() for ln in res.message.splitlines() if ln.strip()] or [""])[-1][:160]
            what = (f"running it took longer than {self.timeout_s:g} s (killed)" if res.resource == "time" else
                    "running it ran out of memory" if res.resource == "memory" else
                    f"tirfuzz's own error while loading it (please report): {last}" if res.outcome == "tool-error"
                    else f"running it killed the process ({res.signal or last})")
            self.out.rejected.append(Rejected(str(path), what))
        elif info.get("error"):
            self.out.rejected.append(Rejected(str(path), str(info["error"])))
        for p in info.get("programs") or []:
            if p.get("reason"):
                self.out.rejected.append(Rejected(str(path), str(p["reason"]), p["name"]))
            else:
                case = TestCase(ir=p["ir"], passes=default_pipeline(), targets=list(self.targets))
                self._use(p["name"], str(path), case, p.get("dropped"))


def load_seeds(tokens: list[str] | None, targets: list[str], **kw: Any) -> SeedSet:
    """`SeedLoader(targets, **kw).load(tokens)`."""
    return SeedLoader(targets, **kw).load(tokens)
