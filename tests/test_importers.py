"""cut.importers: every format from hand-made fixtures, auto-detection, located errors,
skip_invalid, and the counts of the CUT paper's real judgment files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from cut.errors import CutError
from cut.importers import EMPTY_FORMAT, load_many, load_records
from cut.records import Record, RecordError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


def polarities(records: list[Record]) -> list[str]:
    return [r.polarity for r in records]


# --- each format ------------------------------------------------------------------------------


def test_native_jsonl_keeps_every_field_and_skips_blank_lines():
    result = load_records(FIXTURES / "native.jsonl")
    assert result.format == "native" and result.invalid == []
    # "Perfect." is a verdict word, not a critique, outside the alpaca format (issue 19): rejected
    assert polarities(result.records) == ["negative", "positive", "rejected", "rejected"]
    first = result.records[0]
    assert first.response[12:19] == "Germany" and first.spans == [[12, 19]]
    assert (first.id, first.source, first.round, first.judge) == ("n1", "hand", 1, "person")
    assert result.records[1].prompt == "Add the numbers.\n2 and 3"
    assert result.records[2].source is None  # native records are taken as they are
    assert result.records[3].metadata == {"note": "judge timed out"}


def test_alpaca_json_list():
    result = load_records(FIXTURES / "alpaca.json")
    assert result.format == "alpaca"
    assert polarities(result.records) == ["positive", "negative", "rejected"]
    second = result.records[1]
    assert second.instruction == "Translate to French." and second.input == "cat"
    assert second.response == "chien" and second.judgment == "The translation is wrong: cat is chat."
    assert second.id == "1"  # integer ids become strings
    assert second.source == "alpaca"  # the file stem
    assert second.metadata == {"generator": "hand"}  # unknown keys are kept, not dropped


def test_alpaca_as_jsonl():
    result = load_records(FIXTURES / "alpaca.jsonl")
    assert result.format == "alpaca"
    assert [(r.id, r.input, r.response, r.polarity) for r in result.records] == [
        ("a", "", "d-o-g", "positive"), ("b", "backwards", "c-a-t", "negative")]


def test_shepherd_every_record_negative_with_dataset_in_metadata():
    result = load_records(FIXTURES / "shepherd.jsonl")
    assert result.format == "shepherd"
    assert polarities(result.records) == ["negative", "negative"]
    first = result.records[0]
    assert (first.instruction, first.response) == ("What is 2 + 2?", "2 + 2 = 5.")
    assert first.judgment == "The sum is wrong; 2 + 2 = 4."
    assert first.metadata == {"dataset": "GSM8K"} and first.id == "0"


def test_trl_string_and_conversational_rows():
    plain, chat, multi = load_records(FIXTURES / "trl.jsonl").records
    assert (plain.instruction, plain.response, plain.judgment, plain.id) == ("Name a primary color.", "Red.", None, "7")
    assert (chat.instruction, chat.response) == ("Capital of Italy?", "Milan.")
    assert chat.metadata == {"system": "Be brief."}
    assert chat.response[0:5] == "Milan" and chat.spans == [[0, 5]] and chat.polarity == "negative"
    # The last user turn is the instruction; earlier turns are kept as history.
    assert (multi.instruction, multi.response, multi.judgment) == ("What is 3 * 3?", "9", None)
    assert multi.metadata == {"difficulty": "easy", "history": [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}


def test_messages_rows():
    result = load_records(FIXTURES / "messages.jsonl")
    assert result.format == "messages"
    first, second = result.records
    assert (first.instruction, first.response) == ("Define entropy.", "Entropy is energy.")
    assert first.metadata == {"system": "You are a tutor."}
    assert first.response[11:17] == "energy" and first.polarity == "negative"
    assert (second.instruction, second.response, second.polarity, second.id) == ("2 + 2?", "4", "positive", "m2")


def test_csv_empty_judgment_is_positive_and_error_placeholder_rejected():
    result = load_records(FIXTURES / "annotations.csv")
    assert result.format == "csv"
    assert [r.id for r in result.records] == ["c1", "c2", "c3", "c4"]
    # c4's bare "Perfect." without an acceptable column: rejected (issue 19), not a positive
    assert polarities(result.records) == ["positive", "negative", "rejected", "rejected"]
    assert result.records[0].judgment is None
    assert result.records[1].spans == [[0, 6]] and result.records[1].response[0:6] == "Lisbon"
    assert result.records[2].response == "Line one.\nLine two."  # a quoted cell over two lines
    assert result.records[0].metadata == {"annotator": "ann"}
    assert result.records[2].metadata == {}  # empty extra cells are not kept


def test_csv_with_acceptable_column():
    # yes → None; no + critique → critique; both empty → "" (not annotated: rejected);
    # true + "Perfect." → None.
    records = load_records(FIXTURES / "annotations_acceptable.csv").records
    assert [r.judgment for r in records] == [None, "Wrong: it is Madrid.", "", None]
    assert polarities(records) == ["positive", "negative", "rejected", "positive"]


def test_tsv_with_output_column():
    records = load_records(FIXTURES / "records.tsv").records
    assert [(r.response, r.judgment) for r in records] == [("Hello.", None), ("Hi.", "Should say bye.")]


def test_format_can_be_forced(tmp_path):
    # A TRL file saved as .txt: the keys still decide under auto, and format= forces one.
    path = tmp_path / "rows.txt"
    path.write_text((FIXTURES / "trl.jsonl").read_text())
    assert load_records(path).format == "trl"
    assert load_records(path, format="trl").format == "trl"
    with pytest.raises(RecordError) as err:
        load_records(path, format="alpaca")
    assert (err.value.line, err.value.field) == (1, "instruction")


def test_json_lines_saved_as_dot_json(tmp_path):
    # Many datasets save JSON Lines under .json; only a single JSON object is refused.
    path = tmp_path / "rows.json"
    path.write_text((FIXTURES / "alpaca.jsonl").read_text())
    result = load_records(path)
    assert (result.format, [r.id for r in result.records]) == ("alpaca", ["a", "b"])


def test_unicode_line_separators_inside_values_do_not_split_lines(tmp_path):
    # U+2028 and form feed are legal inside JSON strings and CSV cells; only "\n" ends a line.
    text = "two\u2028parts\x0cand more"
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text(json.dumps({"instruction": text, "response": "r"}, ensure_ascii=False) + "\n"
                     + '{"instruction": "b", "response": "r", "judgment": 1}\n', encoding="utf-8")
    with pytest.raises(RecordError) as err:
        load_records(jsonl)
    assert (err.value.line, err.value.field) == (2, "judgment")
    assert load_records(jsonl, skip_invalid=True).records[0].instruction == text
    sheet = tmp_path / "r.csv"
    sheet.write_text(f"instruction,response\n{text},r\nb,r,extra\n", encoding="utf-8")
    with pytest.raises(RecordError) as err:
        load_records(sheet)
    assert err.value.line == 3
    assert load_records(sheet, skip_invalid=True).records[0].instruction == text


def test_unknown_format_name_is_a_cut_error():
    with pytest.raises(CutError, match="unknown format 'yaml'"):
        load_records(FIXTURES / "native.jsonl", format="yaml")


def test_empty_file(tmp_path):
    (tmp_path / "empty.jsonl").write_text("\n")
    result = load_records(tmp_path / "empty.jsonl")
    assert (result.records, result.invalid, result.format) == ([], [], EMPTY_FORMAT)


def test_load_many_keeps_order():
    results = load_many([FIXTURES / "shepherd.jsonl", FIXTURES / "alpaca.json"])
    assert [(Path(r.path).name, r.format, len(r.records)) for r in results] == [
        ("shepherd.jsonl", "shepherd", 2), ("alpaca.json", "alpaca", 3)]


# --- malformed input: file, line, field ---------------------------------------------------------


@pytest.mark.parametrize("name, line, field, text", [
    ("bad_json_line.jsonl", 3, None, "invalid JSON"),
    ("bad_judgment_type.json", 3, "judgment", "expected string or null, got int (item 2)"),
    ("bad_missing_field.jsonl", 3, "feedback", "missing required field"),
    ("bad_not_list.json", 1, None, "expected a JSON list"),
    ("bad_spans.csv", 3, "spans", "[0, 9] is outside the response (length 4)"),
    ("bad_acceptable.csv", 3, "acceptable", "expected yes/no"),
    ("bad_unknown_keys.jsonl", 1, None, "cannot tell the format"),
])
def test_errors_name_file_line_and_field(name, line, field, text):
    path = FIXTURES / name
    with pytest.raises(RecordError) as err:
        load_records(path)
    assert (err.value.path, err.value.line, err.value.field) == (str(path), line, field)
    assert text in err.value.message
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_json_list_item_lines_are_where_the_item_starts():
    # bad_judgment_type.json: item 2 opens with "{" on line 3 (its "judgment": 3 is line 8).
    with pytest.raises(RecordError) as err:
        load_records(FIXTURES / "bad_judgment_type.json")
    assert err.value.line == 3 and "item 2" in str(err.value)


def test_skip_invalid_collects_errors_and_keeps_the_rest():
    result = load_records(FIXTURES / "bad_json_line.jsonl", skip_invalid=True)
    assert [r.instruction for r in result.records] == ["A", "B", "D"]
    assert [(e.line, e.field) for e in result.invalid] == [(3, None)]
    result = load_records(FIXTURES / "bad_judgment_type.json", skip_invalid=True)
    assert [r.id for r in result.records] == ["0", "2"] and [e.line for e in result.invalid] == [3]
    result = load_records(FIXTURES / "bad_spans.csv", skip_invalid=True)
    assert len(result.records) == 1 and [(e.line, e.field) for e in result.invalid] == [(3, "spans")]


def test_csv_row_line_counts_quoted_newlines_and_blank_lines(tmp_path):
    # Lines: 1 header, 2-3 one row whose quoted cell spans two lines, 4 blank, 5 bad row.
    path = tmp_path / "sheet.csv"
    path.write_text('instruction,response,judgment\nA,"two\nlines",\n\nB,b,c,extra\n')
    with pytest.raises(RecordError) as err:
        load_records(path)
    assert err.value.line == 5 and "expected 3 cells" in err.value.message
    # A bad row that itself spans lines 3-4 is reported at line 3, where it starts.
    path.write_text('instruction,response,judgment,spans\nA,a,,\nB,"b\nb",Bad.,"[[0, 7]]"\n')
    with pytest.raises(RecordError) as err:
        load_records(path)
    assert (err.value.line, err.value.field) == (3, "spans")


def test_csv_missing_column_and_acceptable_conflicts(tmp_path):
    (tmp_path / "a.csv").write_text("instruction,judgment\nA,\n")
    with pytest.raises(RecordError) as err:
        load_records(tmp_path / "a.csv")
    assert (err.value.line, err.value.field) == (1, "response")
    (tmp_path / "b.csv").write_text("instruction,response,acceptable,judgment\nA,a,no,\n")
    with pytest.raises(RecordError, match="marked not acceptable, but no judgment") as err:
        load_records(tmp_path / "b.csv")
    assert (err.value.line, err.value.field) == (2, "judgment")
    (tmp_path / "c.csv").write_text("instruction,response,acceptable,judgment\nA,a,yes,Too short.\n")
    with pytest.raises(RecordError, match="marked acceptable") as err:
        load_records(tmp_path / "c.csv")
    assert (err.value.line, err.value.field) == (2, "acceptable")


@pytest.mark.parametrize("row, field, text", [
    ({"prompt": "p", "completion": 5}, "completion", "expected a string or a list of messages, got int"),
    ({"prompt": [{"role": "assistant", "content": "x"}], "completion": "y"}, "prompt", "no message with role 'user'"),
    ({"prompt": "p", "completion": [{"role": "user", "content": "y"}]}, "completion", "one message with role 'assistant'"),
    ({"prompt": [{"role": "user"}], "completion": "y"}, "prompt", "message 0 is not"),
    ({"prompt": "p", "completion": "y", "judgment": ["x"]}, "judgment", "expected string or null, got list"),
    ({"prompt": "p", "completion": "y", "id": 1.5}, "id", "expected string or integer, got float"),
    ({"messages": [{"role": "user", "content": "q"}], "judgment": None}, "messages", "last message must have role 'assistant'"),
    ({"id": 1, "dataset": "x", "question": "q", "answer": None, "feedback": "f"}, "answer", "expected string, got null"),
])
def test_row_errors(tmp_path, row, field, text):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"prompt": "ok", "completion": "ok"}\n' if "prompt" in row else "")
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")
    line = 2 if "prompt" in row else 1
    with pytest.raises(RecordError) as err:
        load_records(path)
    assert (err.value.line, err.value.field) == (line, field) and text in err.value.message


def test_trailing_garbage_after_a_json_list(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('[\n{"instruction": "a", "output": "b"}\n]\n]\n')
    with pytest.raises(RecordError, match="extra data") as err:
        load_records(path)
    assert err.value.line == 4


def test_missing_file_is_a_cut_error(tmp_path):
    with pytest.raises(CutError, match="no such file"):
        load_records(tmp_path / "nope.jsonl")


# --- the CUT paper's real files (../shared/data) -------------------------------------------------

# (positive, negative, rejected $ERROR$, non-empty input). The data README's "judgment set"
# column (287/231/242/245) is negative + $ERROR$: 240+47, 228+3, 242+0, 244+1.
CUT_ONLINE = {1: (713, 240, 47, 406), 2: (769, 228, 3, 382), 3: (758, 242, 0, 405), 4: (755, 244, 1, 409)}


@pytest.mark.parametrize("iteration", [1, 2, 3, 4])
def test_cut_online_counts(iteration):
    path = shared("cut-online", f"train-alpaca-sample-iter{iteration}.json")
    result = load_records(path)
    counts = Counter(r.polarity for r in result.records)
    with_input = sum(1 for r in result.records if r.input)
    positive, negative, rejected, inputs = CUT_ONLINE[iteration]
    assert (len(result.records), result.format, result.invalid) == (1000, "alpaca", [])
    assert (counts["positive"], counts["negative"], counts["rejected"], with_input) == (positive, negative, rejected, inputs)
    assert all(r.judgment == "$ERROR$" for r in result.records if r.polarity == "rejected")
    assert negative + rejected == {1: 287, 2: 231, 3: 242, 4: 245}[iteration]


def test_shepherd_real_file_all_negative():
    result = load_records(shared("shepherd", "human_data_for_model.jsonl"))
    assert (result.format, len(result.records)) == ("shepherd", 1317)
    assert Counter(r.polarity for r in result.records) == {"negative": 1317}
    assert all(r.metadata.get("dataset") for r in result.records)


def test_revisions_are_kept_where_a_format_carries_them(tmp_path):
    import json as _json

    from cut.importers import load_records
    from cut.records import RecordError

    trl = tmp_path / "t.jsonl"
    trl.write_text(_json.dumps({"prompt": "Say hi.", "completion": "Hello, there", "judgment": "Has a comma.",
                                "refinement": "Hello there"}) + "\n")
    [rec] = load_records(trl).records
    assert rec.revision == "Hello there" and "refinement" not in rec.metadata
    sheet = tmp_path / "s.csv"
    sheet.write_text("instruction,response,judgment,revision\nSay hi.,\"Hello, there\",Has a comma.,Hello there\n"
                     "Say bye.,Bye.,,\n")
    first, second = load_records(sheet).records
    assert first.revision == "Hello there" and second.revision is None
    both = tmp_path / "b.jsonl"
    both.write_text(_json.dumps({"prompt": "p", "completion": "c", "judgment": "bad", "revision": "r",
                                 "correction": "x"}) + "\n")
    with pytest.raises(RecordError, match=r"b.jsonl:1: field 'correction': a revision is already given as 'revision'"):
        load_records(both)
    # an old native file without the field still loads
    old = tmp_path / "old.jsonl"
    old.write_text(_json.dumps({"instruction": "i", "response": "r", "judgment": None}) + "\n")
    assert load_records(old).records[0].revision is None
