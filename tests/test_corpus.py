"""Tests for the seed corpus: metadata, file format, parsing, and reproducible regeneration."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tirfuzz.corpus import GENERATED_LINE, Seed, list_seeds, load_seed, read_header, seed_dir, seed_text

SEEDS = list_seeds()


def sample(n_block: int = 4, n_flat: int = 2) -> list[Seed]:
    """A deterministic sample spread over the corpus, with both kinds."""
    blocks = [s for s in SEEDS if s.kind == "block"]
    flats = [s for s in SEEDS if s.kind == "flat"]
    pick = lambda xs, n: [xs[i * len(xs) // n] for i in range(n)]  # noqa: E731
    return pick(blocks, n_block) + pick(flats, n_flat)


def test_corpus_size_kinds_and_dtypes() -> None:
    assert len(SEEDS) >= 60
    kinds = Counter(s.kind for s in SEEDS)
    assert kinds["block"] >= 60 and kinds["flat"] >= 10
    dtypes = {s.dtype for s in SEEDS}
    assert {"float32", "int8", "int32", "int64"} <= dtypes
    assert [s.name for s in SEEDS] == sorted(s.name for s in SEEDS)
    assert all(s.name.startswith("flat_") == (s.kind == "flat") for s in SEEDS)


def test_every_file_has_header_and_no_import() -> None:
    for seed in SEEDS:
        text = seed_text(seed)
        assert seed.path.parent == seed_dir() and seed.path.stem == seed.name
        fields = read_header(text)
        assert fields["name"] == seed.name and fields["kind"] in ("block", "flat")
        assert {"op", "dtype", "about"} <= fields.keys()
        assert GENERATED_LINE in text.splitlines()
        assert not any(line.lstrip().startswith(("import ", "from ")) for line in text.splitlines()), seed.name
        assert "def main(" in text


def test_load_seed() -> None:
    first = SEEDS[0]
    assert load_seed(first.name) == first
    with pytest.raises(KeyError, match="no seed named"):
        load_seed("no_such_seed")


@pytest.mark.parametrize("seed", sample(), ids=lambda s: s.name)
def test_sample_parses(seed: Seed) -> None:
    import tvm

    mod = tvm.script.from_source(seed_text(seed))
    assert [gv.name_hint for gv in mod.get_global_vars()] == ["main"]
    func = mod["main"]
    assert len(func.params) >= 2


def test_regenerate_subset_is_byte_identical(tmp_path: Path) -> None:
    from tirfuzz.corpus.generate import regenerate

    names = [s.name for s in sample(3, 2)]
    (tmp_path / "keep_me.py").write_text("# not a seed\n")
    written = regenerate(tmp_path, names=names)
    assert [s.name for s in written] == sorted(names)
    for seed in written:
        assert seed.path.read_bytes() == (seed_dir() / f"{seed.name}.py").read_bytes(), seed.name
    assert (tmp_path / "keep_me.py").exists()  # a subset run deletes nothing


def test_regenerate_all_matches_and_drops_stale(tmp_path: Path) -> None:
    from tirfuzz.corpus.generate import regenerate

    (tmp_path / "stale_seed.py").write_text("# stale\n")
    seen: list[str] = []
    written = regenerate(tmp_path, progress=seen.append)
    assert sorted(seen) == [s.name for s in SEEDS] == [s.name for s in written]
    assert not (tmp_path / "stale_seed.py").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(s.path.name for s in SEEDS)
    for seed in SEEDS:
        assert (tmp_path / seed.path.name).read_bytes() == seed.path.read_bytes(), seed.name
    assert list_seeds(tmp_path) == [Seed(s.name, tmp_path / s.path.name, s.dtype, s.kind, s.op) for s in SEEDS]


def test_regenerate_rejects_unknown_name(tmp_path: Path) -> None:
    from tirfuzz.corpus.generate import regenerate

    with pytest.raises(KeyError, match="unknown seed"):
        regenerate(tmp_path, names=["no_such_seed"])
