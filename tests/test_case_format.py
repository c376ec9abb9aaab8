"""The tirfuzz-case/1 record: validation, JSON round trip, unknown keys."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tirfuzz.fuzzer.core.case import CaseError, PassSpec, TestCase, load_case, save_case

DESIGN_EXAMPLE = {
    "format": "tirfuzz-case/1",
    "ir": "<TVMScript of an IRModule>",
    "passes": ["s_tir.transform.LowerInitBlock", {"name": "s_tir.transform.ThreadSync", "args": ["shared"]}],
    "pass_config": {"tirx.UnrollLoop": {"auto_max_step": 16}},
    "targets": ["llvm", "c"],
    "input_seed": 0,
}


def test_design_example_round_trips_unchanged():
    case = TestCase.from_dict(DESIGN_EXAMPLE)
    assert case.passes[1] == PassSpec("s_tir.transform.ThreadSync", ("shared",))
    assert case.to_dict() == DESIGN_EXAMPLE


def test_unknown_keys_are_kept_not_fatal(tmp_path):
    obj = dict(DESIGN_EXAMPLE, parent="abc123", history=[{"mutator": "flip"}])
    path = tmp_path / "c.json"
    path.write_text(json.dumps(obj))
    case = load_case(path)
    assert case.extra == {"parent": "abc123", "history": [{"mutator": "flip"}]}
    save_case(case, tmp_path / "d.json")
    assert json.loads((tmp_path / "d.json").read_text()) == obj


@pytest.mark.parametrize("bad, words", [
    ({**DESIGN_EXAMPLE, "format": "tirfuzz-case/2"}, "unsupported format"),
    ({k: v for k, v in DESIGN_EXAMPLE.items() if k != "ir"}, "'ir'"),
    ({**DESIGN_EXAMPLE, "passes": "LowerInitBlock"}, "'passes'"),
    ({**DESIGN_EXAMPLE, "passes": [{"args": []}]}, "a pass must be"),
    ({**DESIGN_EXAMPLE, "targets": []}, "'targets'"),
    ({**DESIGN_EXAMPLE, "input_seed": "0"}, "'input_seed'"),
    ([1, 2], "JSON object"),
])
def test_invalid_records_name_the_problem(bad, words):
    with pytest.raises(CaseError, match=words):
        TestCase.from_dict(bad)


def test_malformed_json_and_missing_file(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"format": ')
    with pytest.raises(CaseError, match="malformed JSON"):
        load_case(p)
    with pytest.raises(CaseError, match="no such file"):
        load_case(tmp_path / "missing.json")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda kids: st.lists(kids, max_size=3), max_leaves=6)
pass_entries = st.one_of(
    st.text(min_size=1, max_size=20),
    st.builds(lambda n, a: {"name": n, "args": a}, st.text(min_size=1, max_size=20),
              st.lists(json_values, max_size=3)))


@given(ir=st.text(min_size=1).filter(str.strip), passes=st.lists(pass_entries, max_size=5),
       targets=st.lists(st.sampled_from(["llvm", "c", "cuda"]), min_size=1, max_size=3),
       seed=st.integers(-2**40, 2**40),
       extra=st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda k: k not in DESIGN_EXAMPLE),
                             json_values, max_size=3))
def test_any_valid_case_round_trips_through_json(ir, passes, targets, seed, extra):
    obj = {"format": "tirfuzz-case/1", "ir": ir, "passes": passes, "pass_config": {}, "targets": targets,
           "input_seed": seed, **extra}
    case = TestCase.from_json(json.dumps(obj))
    assert json.loads(case.to_json()) == obj
    assert TestCase.from_json(case.to_json()) == case
