"""cut.records: polarity rules, validation errors that name file/line/field, JSONL writes."""

from __future__ import annotations

import json

import pytest

from cut.records import (
    NEGATIVE, POSITIVE, REJECTED, Record, RecordError, append_jsonl, classify_judgment, read_jsonl,
    record_from_dict, write_json_atomic, write_jsonl,
)

PERFECT_REASON = "the verdict 'perfect' where a critique belongs (null means acceptable)"
CRITIQUE = ("The response says the Eiffel Tower is in Berlin; it is in Paris, so the answer "
            "is factually wrong.")


@pytest.mark.parametrize("judgment, expected", [
    (None, (POSITIVE, None)),
    # issue 19: the word "perfect" is not a verdict outside the format whose convention it is
    # (cut.importers' alpaca): the bare verdict is rejected, a critique starting with it is one
    ("Perfect.", (REJECTED, PERFECT_REASON)),
    ("perfect", (REJECTED, PERFECT_REASON)),
    ("  Perfect, nothing to add.", (REJECTED, PERFECT_REASON)),
    ("PERFECT response", (NEGATIVE, None)),
    ("Perfectly awful.", (NEGATIVE, None)),
    ("$ERROR$", (REJECTED, "placeholder '$ERROR$'")),
    (" $error$\n", (REJECTED, "placeholder '$error$'")),
    ("N/A", (REJECTED, "placeholder 'N/A'")),
    ("", (REJECTED, "empty judgment")),
    ("  ", (REJECTED, "empty judgment")),
    (CRITIQUE, (NEGATIVE, None)),
    ("Not perfect: the list misses one item.", (NEGATIVE, None)),
])
def test_classify_judgment(judgment, expected):
    assert classify_judgment(judgment) == expected
    assert Record("i", "r", judgment=judgment).polarity == expected[0]


def test_prompt_appends_input_after_a_newline():
    assert Record("Translate.", "chat", input="cat").prompt == "Translate.\ncat"
    assert Record("Translate.", "chat").prompt == "Translate."


def test_record_from_dict_converts_ids_and_keeps_fields():
    rec = record_from_dict({"instruction": "i", "response": "abc", "judgment": "Bad.", "spans": [[0, 2]], "id": 4,
                            "round": 2, "metadata": {"k": 1}})
    assert (rec.id, rec.spans, rec.round, rec.metadata, rec.input) == ("4", [[0, 2]], 2, {"k": 1}, "")


@pytest.mark.parametrize("obj, field, text", [
    ({"response": "r"}, "instruction", "missing required field"),
    ({"instruction": "i"}, "response", "missing required field"),
    ({"instruction": "i", "response": "r", "judgment": 3}, "judgment", "expected str or null, got int"),
    ({"instruction": "i", "response": "r", "round": True}, "round", "got bool"),
    ({"instruction": 1, "response": "r"}, "instruction", "expected str, got int"),
    ({"instruction": "i", "response": "r", "id": [1]}, "id", "expected string or integer"),
    ({"instruction": "i", "response": "r", "spans": [[0, 2]]}, "spans", "[0, 2] is outside the response (length 1)"),
    ({"instruction": "i", "response": "rr", "spans": [[1, 1]]}, "spans", "start must be less than end"),
    ({"instruction": "i", "response": "rr", "spans": [[2, 0]]}, "spans", "start must be less than end"),
    ({"instruction": "i", "response": "rr", "spans": [[0, "1"]]}, "spans", "not a [start, end] pair"),
    ({"instruction": "i", "response": "rr", "spans": "0-1"}, "spans", "expected a list"),
    ({"instruction": "i", "response": "r", "score": 1}, "score", "unknown field"),
])
def test_record_from_dict_errors_name_file_line_and_field(obj, field, text):
    with pytest.raises(RecordError) as err:
        record_from_dict(obj, "data/x.jsonl", 7)
    assert (err.value.path, err.value.line, err.value.field) == ("data/x.jsonl", 7, field)
    assert text in err.value.message
    assert str(err.value).startswith(f"data/x.jsonl:7: field '{field}': ")


def test_record_from_dict_rejects_non_objects():
    with pytest.raises(RecordError, match=r"x.jsonl:2: expected a JSON object, got list"):
        record_from_dict([1, 2], "x.jsonl", 2)


def test_append_then_read_round_trip(tmp_path):
    path = tmp_path / "runs" / "records.jsonl"  # parent folder is created
    first = [Record("a", "b"), Record("c", "dd", judgment="Wrong.", spans=[[0, 1]], id="2", round=1)]
    assert append_jsonl(path, first) == 2
    assert append_jsonl(path, [{"instruction": "e", "response": "f", "judgment": "$ERROR$"}]) == 1
    back = read_jsonl(path)
    assert back[:2] == first
    assert (back[2].instruction, back[2].polarity) == ("e", REJECTED)
    assert path.read_text().count("\n") == 3


def _write_torn(path):
    append_jsonl(path, [Record("a", "b"), Record("c", "d")])
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"instruction": "torn", "resp')  # a writer killed mid-line: no newline


def test_torn_tail_only_tolerated_when_asked(tmp_path):
    path = tmp_path / "r.jsonl"
    _write_torn(path)
    assert [r.instruction for r in read_jsonl(path, allow_torn_tail=True)] == ["a", "c"]
    with pytest.raises(RecordError) as err:
        read_jsonl(path)
    assert err.value.line == 3 and "invalid JSON" in err.value.message


def test_bad_line_in_the_middle_is_never_a_torn_tail(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"instruction": "a", "response": "b"}\n{"instruction": \n{"instruction": "c", "response": "d"}')
    with pytest.raises(RecordError) as err:
        read_jsonl(path, allow_torn_tail=True)
    assert err.value.line == 2


def test_append_after_torn_tail_drops_the_fragment(tmp_path):
    path = tmp_path / "r.jsonl"
    _write_torn(path)
    append_jsonl(path, [Record("e", "f")])
    lines = path.read_text().splitlines()
    # the never-completed third line is cut off; the new record follows the two complete ones
    assert len(lines) == 3 and json.loads(lines[2])["instruction"] == "e"


def test_resumed_file_is_readable_after_append(tmp_path):
    path = tmp_path / "r.jsonl"
    _write_torn(path)
    append_jsonl(path, [Record("e", "f")])
    assert [r.instruction for r in read_jsonl(path, allow_torn_tail=True)] == ["a", "c", "e"]


def test_write_jsonl_replaces_atomically(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("old contents\n")
    write_jsonl(path, [Record("a", "b"), {"instruction": "c", "response": "d"}])
    assert [r.instruction for r in read_jsonl(path)] == ["a", "c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl"]  # no r.jsonl.tmp left


def test_write_jsonl_failure_leaves_the_old_file(tmp_path):
    path = tmp_path / "r.jsonl"
    write_jsonl(path, [Record("old", "x")])

    def items():
        yield Record("new", "y")
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError):
        write_jsonl(path, items())
    assert [r.instruction for r in read_jsonl(path)] == ["old"]


def test_write_jsonl_failure_leaves_no_tmp(tmp_path):
    def items():
        yield Record("new", "y")
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError):
        write_jsonl(tmp_path / "r.jsonl", items())
    assert list(tmp_path.iterdir()) == []


def test_write_json_atomic(tmp_path):
    path = tmp_path / "state" / "s.json"
    write_json_atomic(path, {"round": 2, "note": "é"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"round": 2, "note": "é"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["s.json"]
