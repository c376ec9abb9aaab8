"""Campaign reports (reports/summary.py) on a small fake campaign directory; no TVM needed."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from tirfuzz.reports.summary import bug_title, load_campaign, write_reports

STATS = [
    {"elapsed_s": 3.6, "execs": 6, "execs_per_s": 1.66, "cov_blocks": 58504, "corpus_size": 6, "valid_ratio": 1.0,
     "bugs": {}, "declined": 0, "mutator_crashes": 0, "slow_runs": 0, "ub_crashes": 0, "outcomes": {"ok": 6},
     "last_find_s": 0.0},  # an older row: no "filtered"
    {"elapsed_s": 13.8, "execs": 28, "execs_per_s": 2.03, "cov_blocks": 72598, "corpus_size": 28,
     "valid_ratio": 0.98, "bugs": {"crash": 1}, "declined": 1, "mutator_crashes": 0, "slow_runs": 0,
     "ub_crashes": 0, "filtered": {}, "outcomes": {"ok": 27, "crash": 1}, "last_find_s": 13.8},
    {"elapsed_s": 24.1, "execs": 48, "execs_per_s": 1.99, "cov_blocks": 80160, "corpus_size": 47,
     "valid_ratio": 0.97, "bugs": {"crash": 1, "miscompilation": 1}, "declined": 3, "mutator_crashes": 1,
     "slow_runs": 2, "ub_crashes": 0, "filtered": {"float-reassoc": 4},
     "outcomes": {"ok": 45, "crash": 2, "miscompilation": 1}, "last_find_s": 20.5},
    {"elapsed_s": 610.0, "execs": 1200, "execs_per_s": 1.97, "cov_blocks": 91000, "corpus_size": 180,
     "valid_ratio": 0.95, "bugs": {"crash": 1, "miscompilation": 1}, "declined": 17, "mutator_crashes": 1,
     "slow_runs": 3, "ub_crashes": 1, "filtered": {"float-reassoc": 9, "nan-payload": 2, "ub:division-by-zero": 5},
     "differences": {"reported": 3, "ub:division-by-zero": 5, "reads-unwritten-memory": 1},
     "outcomes": {"ok": 1190, "crash": 7, "miscompilation": 3}, "last_find_s": 20.5},
]

CRASH = {"signature": "crash-667426cf524a", "kind": "crash", "count": 7, "first_exec": 20, "last_exec": 1100,
         "stage": "build:llvm", "target": "llvm", "frame": "tvm::ObjectMutator::DispatchNode<A&B>",
         "signal": "SIGSEGV", "resource": None, "exc_type": None,
         "message": "child killed by SIGSEGV in tvm::ObjectMutator::DispatchNode", "parent": "0f2222a09a03b072",
         "case_id": "a478d3b1f59ef224", "stderr_tail": "...", "oracle": {}, "verified": True,
         "minimized": {"nodes_before": 120, "nodes_after": 14, "passes_before": 9, "passes_after": 1,
                       "seconds": 3.2}}
MISCOMP = {"signature": "miscompilation-0123456789ab", "kind": "miscompilation", "count": 3, "first_exec": 40,
           "last_exec": 900, "stage": "oracle:c", "target": "c", "frame": "tirx.transform.VectorizeLoop",
           "signal": None, "resource": None, "exc_type": None, "message": "c differs from the reference",
           "parent": None, "case_id": "35a70371682573d3", "stderr_tail": "",
           "oracle": {"outcome": "miscompilation", "culprit": "tirx.transform.VectorizeLoop", "target": "c",
                      "diff": {"func": "main", "buffer": 1, "index": [3], "expected": "1.0", "actual": "2.0",
                               "abs_diff": 1.0, "mismatches": 4, "size": 32, "dtype": "float32"}}}


def _campaign(root: Path) -> Path:
    """A small campaign directory: campaign.json, stats.jsonl, two bugs (one with report.md, one without case)."""
    root.mkdir()
    (root / "campaign.json").write_text(json.dumps({
        "config": {"mode": "tirfuzz", "targets": ["llvm", "c"], "seed": 5, "time_s": 600},
        "versions": {"tirfuzz": "0.1.0", "tvm": "0.27.0.post1", "tvm_ffi": "0.1.14.post1", "python": "3.11.7"},
        "started": "2026-11-27T09:32:56Z"}))
    (root / "stats.jsonl").write_text("".join(json.dumps(r) + "\n" for r in STATS))
    for info in (CRASH, MISCOMP):
        d = root / "bugs" / info["signature"]
        d.mkdir(parents=True)
        (d / "info.json").write_text(json.dumps(info, indent=1))
    crash = root / "bugs" / CRASH["signature"]
    (crash / "case.json").write_text(json.dumps({"format": "tirfuzz-case/1", "ir": "x", "passes": []}))
    (crash / "report.md").write_text("# crash\n")
    (root / "corpus").mkdir()
    return root


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    return _campaign(tmp_path / "c1")


def test_writes_three_files(campaign: Path) -> None:
    paths = write_reports(campaign)
    assert {p.name for p in paths} == {"summary.json", "summary.md", "index.html"}
    assert all(p.parent == campaign / "reports" and p.stat().st_size > 0 for p in paths)
    assert not list((campaign / "reports").glob("*.tmp"))
    assert [p.name for p in write_reports(campaign, formats=("md",))] == ["summary.md"]
    with pytest.raises(ValueError):
        write_reports(campaign, formats=("pdf",))


def test_summary_json(campaign: Path) -> None:
    write_reports(campaign)
    s = json.loads((campaign / "reports" / "summary.json").read_text())
    assert s["campaign"]["versions"]["tvm"] == "0.27.0.post1"
    assert s["campaign"]["started"] == "2026-11-27T09:32:56Z"
    t = s["totals"]
    assert (t["execs"], t["cov_blocks"], t["corpus_size"], t["elapsed_s"]) == (1200, 91000, 180, 610.0)
    assert t["filtered"] == {"float-reassoc": 9, "nan-payload": 2, "ub:division-by-zero": 5}
    assert t["outcomes"]["crash"] == 7 and t["stats_rows"] == 4
    assert s["bugs_by_kind"] == {"crash": {"bugs": 1, "hits": 7}, "miscompilation": {"bugs": 1, "hits": 3}}
    bugs = {b["signature"]: b for b in s["bugs"]}
    assert [b["kind"] for b in s["bugs"]] == ["crash", "miscompilation"]
    crash, mis = bugs[CRASH["signature"]], bugs[MISCOMP["signature"]]
    assert crash["verified"] is True and crash["minimized"]["nodes_after"] == 14
    assert crash["title"] == bug_title(CRASH) and crash["first_exec"] == 20 and crash["stage"] == "build:llvm"
    assert set(crash["links"]) == {"report.md", "case.json", "info.json"}
    assert crash["links"]["report.md"] == f"../bugs/{CRASH['signature']}/report.md"
    assert set(mis["links"]) == {"info.json"}   # listed although it has no case.json
    assert mis["verified"] is None and mis["minimized"] is None


def test_summary_md(campaign: Path) -> None:
    write_reports(campaign)
    md = (campaign / "reports" / "summary.md").read_text()
    assert "| kind | distinct bugs | hits |" in md
    assert "| crash | 1 | 7 |" in md and "| miscompilation | 1 | 3 |" in md
    assert CRASH["signature"] in md and MISCOMP["signature"] in md
    assert "minimized 120→14 nodes" in md and "float-reassoc" in md
    table = md.split("## Differences and run-time crashes by verdict")[1].split("##")[0]  # by check, and reported
    assert "| ub:division-by-zero | 5 |" in table and "| reported | 3 |" in table


def test_index_html(campaign: Path) -> None:
    write_reports(campaign)
    reports = campaign / "reports"
    page = (reports / "index.html").read_text()
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    svg = re.search(r"<svg\b.*?</svg>", page, re.S)
    assert svg
    lines = re.findall(r'<polyline class="(\w+)" points="([^"]*)"', svg.group(0))
    assert {cls for cls, _ in lines} == {"cov", "corpus"}
    for _, points in lines:
        pairs = points.split()
        assert len(pairs) == len(STATS)
        assert all(re.fullmatch(r"-?[\d.]+,-?[\d.]+", p) for p in pairs)
    assert "Coverage over time" in svg.group(0) and "elapsed (minutes)" in svg.group(0)
    for info in (CRASH, MISCOMP):
        assert html.escape(bug_title(info)) in page
    assert "DispatchNode<A&B>" not in page and "DispatchNode&lt;A&amp;B&gt;" in page
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert f"../bugs/{CRASH['signature']}/report.md" in hrefs
    assert f"../bugs/{CRASH['signature']}/case.json" in hrefs
    assert not any(h.endswith("repro.py") for h in hrefs)
    assert not any(MISCOMP["signature"] in h and not h.endswith("info.json") for h in hrefs)
    for h in hrefs:
        assert (reports / unquote(html.unescape(h))).is_file(), h
    assert page.index(CRASH["signature"]) < page.index(MISCOMP["signature"])


def test_empty_campaign(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    (root / "stats.jsonl").write_text("")
    paths = write_reports(root)
    assert len(paths) == 3
    s = json.loads((root / "reports" / "summary.json").read_text())
    assert s["bugs"] == [] and s["bugs_by_kind"] == {} and s["totals"]["execs"] == 0
    assert s["totals"]["stats_rows"] == 0 and s["campaign"]["config"] == {}
    page = (root / "reports" / "index.html").read_text()
    assert "<svg" in page and "<polyline" not in page and "No bugs found." in page
    assert "No bugs found." in (root / "reports" / "summary.md").read_text()


def test_partial_stats_line_and_bug_without_info(campaign: Path) -> None:
    with (campaign / "stats.jsonl").open("a") as f:
        f.write('{"elapsed_s": 620.0, "execs": 12')          # being appended right now
    (campaign / "bugs" / "hang-aaaaaaaaaaaa").mkdir()
    c = load_campaign(campaign)
    assert len(c.stats) == len(STATS)
    assert [b.kind for b in c.bugs] == ["crash", "hang", "miscompilation"]
    write_reports(campaign)


@pytest.mark.parametrize("info, title", [
    ({"kind": "internal-error", "stage": "pass:tirx.transform.VectorizeLoop",
      "frame": "src/ir/prim/vector_expr.cc:219", "exc_type": "InternalError", "message": "Check failed"},
     "internal-error in pass:tirx.transform.VectorizeLoop at src/ir/prim/vector_expr.cc:219"),
    ({"kind": "internal-error", "stage": "pass:s_tir.transform.CompactBufferAllocation", "frame": None,
      "exc_type": "IndexError", "message": "Index 0 out of bounds 0\nmore"},
     "internal-error in pass:s_tir.transform.CompactBufferAllocation: IndexError: Index 0 out of bounds 0"),
    ({"kind": "crash", "stage": "build:llvm", "signal": "SIGSEGV", "frame": "tvm::codegen::CodeGenLLVM::Foo"},
     "crash (SIGSEGV) in build:llvm at tvm::codegen::CodeGenLLVM::Foo"),
    (MISCOMP, "miscompilation: c differs from reference, culprit tirx.transform.VectorizeLoop"),
    ({"kind": "hang", "stage": "run:llvm", "resource": None}, "hang (time) in run:llvm"),
    ({"kind": "hang", "stage": "build:c", "resource": "memory"}, "hang (memory) in build:c"),
    ({"kind": "roundtrip", "stage": "roundtrip", "message": "\nprinted script does not parse\n  line 3"},
     "roundtrip: printed script does not parse"),
])
def test_bug_title(info: dict, title: str) -> None:
    assert bug_title(info) == title
    assert "\n" not in bug_title({**info, "message": "a\nb" * 200}) and len(bug_title({**info, "frame": "x" * 500})) <= 180


def test_a_bug_known_upstream_is_labelled_and_sorts_last(tmp_path):
    """The crash matches a known upstream issue: labelled in every report, listed after the other bug."""
    from tirfuzz.reports.summary import read_bugs
    from tirfuzz.reports.upstream import KnownUpstreamError, _read, load_known, match

    root = _campaign(tmp_path / "c")
    known_file = tmp_path / "known.toml"
    known_file.write_text('[[issue]]\nnumber = 12345\nstate = "open"\ntitle = "[Bug] segfault in a mutator"\n'
                          'kind = "crash"\nstage = "^build:"\nmessage = "SIGSEGV in tvm::ObjectMutator"\n'
                          'why = "the same frame"\n')
    known = _read(known_file)
    assert match(known, "crash", "pass:x", CRASH["message"]) is None  # the stage must match too
    bugs, _ = read_bugs(root / "bugs", known)
    assert [b.signature for b in bugs] == [MISCOMP["signature"], CRASH["signature"]]  # crash kinds sort first, but known last
    assert bugs[1].known_upstream["issue"] == 12345 and bugs[0].known_upstream is None
    assert [b.signature for b in read_bugs(root / "bugs", [])[0]] == [CRASH["signature"], MISCOMP["signature"]]
    # the built-in file loads, and every entry's regexes compile
    assert all(k.number > 0 and k.state in ("open", "closed", "merged") for k in load_known())
    bad = tmp_path / "bad.toml"
    bad.write_text('[[issue]]\nnumber = 1\nstate = "fixed"\ntitle = "x"\nmessage = "y"\n')
    with pytest.raises(KnownUpstreamError, match="state 'fixed'"):
        _read(bad)
    bad.write_text('[[issue]]\nnumber = 1\nstate = "open"\ntitle = "x"\nmessage = "(unclosed"\n')
    with pytest.raises(KnownUpstreamError, match="message is not a regex"):
        _read(bad)
