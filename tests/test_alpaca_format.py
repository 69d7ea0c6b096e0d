"""AlpacaEval file shapes (model outputs, annotations), instruction matching, leaderboard CSV."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from cut.errors import CutError
from cut.evaluation.alpaca_format import (
    align_to_reference,
    check_instructions_match,
    make_pairs,
    read_annotations,
    read_model_outputs,
    write_annotations,
    write_model_outputs,
)
from cut.evaluation.leaderboard import LEADERBOARD_COLUMNS, read_leaderboard, update_leaderboard
from cut.records import RecordError

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
AE = DATA / "alpaca_eval"


def need_data():
    if not AE.is_dir():
        pytest.skip(f"shared AlpacaEval data not found at {AE} (a fresh clone has no ../shared)")


def outputs(*instructions, generator="m"):
    return [{"instruction": t, "output": f"answer to {t}", "generator": generator} for t in instructions]


# ---------------------------------------------------------------- read / write

def test_model_outputs_round_trip_and_atomic_write(tmp_path):
    rows = outputs("a", "b") + [{"instruction": "c", "output": "", "generator": "m", "dataset": "x"}]
    path = tmp_path / "sub" / "out.json"
    write_model_outputs(path, rows)
    assert read_model_outputs(path) == rows
    assert json.loads(path.read_text())[2]["dataset"] == "x"  # a plain JSON list, as AlpacaEval writes
    assert not list(path.parent.glob("*.tmp"))


def test_missing_generator_is_filled_only_when_given(tmp_path):
    path = tmp_path / "out.json"
    path.write_text(json.dumps([{"instruction": "a", "output": "x"}]))
    with pytest.raises(RecordError) as err:
        read_model_outputs(path)
    assert (err.value.field, str(path) in str(err.value), "item 0" in str(err.value)) == ("generator", True, True)
    assert read_model_outputs(path, generator="mine")[0]["generator"] == "mine"


@pytest.mark.parametrize("content, field, words", [
    ([{"instruction": "a", "output": 3, "generator": "m"}], "output", "item 0: expected str, got int"),
    ([{"instruction": "a", "output": "x", "generator": "m"}, "oops"], None, "item 1: expected a JSON object"),
    ({"instruction": "a"}, None, "expected a JSON list"),
])
def test_model_output_errors_name_file_item_and_field(tmp_path, content, field, words):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(RecordError) as err:
        read_model_outputs(path)
    assert err.value.field == field and words in str(err.value) and str(path) in str(err.value)


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[\n{"instruction": "a",\n "output": }\n]')
    with pytest.raises(RecordError, match=r"bad\.json:3: invalid JSON"):
        read_model_outputs(path)


def test_annotations_round_trip_nan_becomes_null(tmp_path):
    rows = [{"instruction": "a", "output_1": "r", "output_2": "m", "preference": float("nan"), "extra": [1]},
            {"instruction": "b", "output_1": "r", "output_2": "m", "preference": 1.75}]
    path = tmp_path / "ann.json"
    write_annotations(path, rows)
    assert "NaN" not in path.read_text()  # strict JSON: readers outside Python accept it
    back = read_annotations(path)
    assert back[0]["preference"] is None and back[0]["extra"] == [1] and back[1]["preference"] == 1.75


def test_annotation_preference_must_be_a_number_or_null(tmp_path):
    path = tmp_path / "ann.json"
    path.write_text(json.dumps([{"instruction": "a", "output_1": "r", "output_2": "m", "preference": "2"}]))
    with pytest.raises(RecordError, match="field 'preference': item 0: expected number or null, got str"):
        read_annotations(path)
    path.write_text(json.dumps([{"instruction": "a", "output_1": "r", "preference": 2}]))
    with pytest.raises(RecordError, match="field 'output_2': item 0: missing required field"):
        read_annotations(path)


def test_shared_files_load_as_they_are():
    need_data()
    assert len(read_annotations(AE / "annotations" / "alpaca-7b.weighted_alpaca_eval_gpt4_turbo.json")) == 805
    assert len(read_annotations(AE / "annotations" / "alpaca-7b.alpaca_eval_gpt4.json")) == 805
    assert len(read_model_outputs(AE / "model_outputs" / "alpaca-7b.json")) == 805


# ---------------------------------------------------------------- instruction matching

def test_mismatch_names_counts_and_first_mismatch():
    ref = outputs("a", "b", "c", "d")
    model = outputs("a", "B?", "c", "d", "e")
    with pytest.raises(CutError) as err:
        check_instructions_match(model, ref)
    msg = str(err.value)
    assert "5 rows vs 4 in the reference, 1 reference instructions missing, 2 not in the reference" in msg
    assert "index 1: expected 'b', got 'B?'" in msg and "index 4: expected <none>, got 'e'" in msg


def test_reordered_outputs_are_aligned_to_reference_order():
    ref = outputs("a", "b", "c")
    model = outputs("c", "a", "b", generator="x")
    check_instructions_match(model, ref)  # same set, different order: accepted
    assert [r["instruction"] for r in align_to_reference(model, ref)] == ["a", "b", "c"]


def test_duplicate_instruction_is_an_error():
    with pytest.raises(CutError, match=r"instruction 'b' appears twice \(index 1 and 2\)"):
        check_instructions_match(outputs("a", "b", "b"), outputs("a", "b", "c"))


def test_make_pairs_puts_reference_first_and_decides_identical_outputs():
    ref = outputs("a", "b", generator="ref")
    model = [dict(ref[1], generator="m"), {"instruction": "a", "output": "other", "generator": "m"}]
    pairs = make_pairs(model, ref)
    assert [p["instruction"] for p in pairs] == ["a", "b"]
    assert pairs[0]["output_1"] == "answer to a" and pairs[0]["output_2"] == "other"
    assert (pairs[0]["preference"], pairs[1]["preference"]) == (None, 1.5)  # identical: a draw, no judge
    assert (pairs[0]["generator_1"], pairs[0]["generator_2"]) == ("ref", "m")


def test_shared_model_outputs_match_reference_and_a_damaged_copy_is_refused():
    need_data()
    ref = read_model_outputs(AE / "reference" / "text_davinci_003.json")
    model = read_model_outputs(AE / "model_outputs" / "alpaca-7b.json")
    check_instructions_match(model, ref)
    damaged = model[:10] + [dict(model[10], instruction=model[10]["instruction"] + " ")] + model[11:800]
    with pytest.raises(CutError) as err:
        check_instructions_match(damaged, ref)
    msg = str(err.value)
    assert "800 rows vs 805" in msg and "6 reference instructions missing, 1 not in the reference" in msg
    assert msg.index("index 10:") < msg.index("index 800:")


# ---------------------------------------------------------------- leaderboard

METRICS = {"win_rate": 30.5, "standard_error": 1.25, "n_wins": 240, "n_wins_base": 560, "n_draws": 5,
           "n_total": 805, "discrete_win_rate": 30.12, "avg_length": 512, "length_controlled_winrate": 31.0,
           "lc_standard_error": 1.5, "lc_form": "minimal", "model": "ignored"}


def test_new_leaderboard_has_alpaca_eval_columns(tmp_path):
    path = tmp_path / "lb.csv"
    update_leaderboard(path, "b", dict(METRICS, win_rate=10.0))
    update_leaderboard(path, "a", METRICS)
    header, *rows = list(csv.reader(path.open()))
    assert header == [""] + LEADERBOARD_COLUMNS + ["lc_form"]
    assert [r[0] for r in rows] == ["a", "b"]  # sorted by win_rate, highest first
    board = read_leaderboard(path)
    assert board["a"]["win_rate"] == 30.5 and board["a"]["n_wins"] == 240 and board["a"]["mode"] == "community"
    update_leaderboard(path, "b", dict(METRICS, win_rate=99.0), mode="dev")  # replaced, not duplicated
    board = read_leaderboard(path)
    assert list(board) == ["b", "a"] and board["b"]["mode"] == "dev"


def test_shared_leaderboard_updated_in_place_keeps_other_rows(tmp_path):
    need_data()
    src = AE / "leaderboards" / "alpaca_eval_gpt4_leaderboard.csv"
    path = tmp_path / "lb.csv"
    shutil.copy(src, path)
    before = read_leaderboard(path)
    update_leaderboard(path, "my-model", METRICS)
    after = read_leaderboard(path)
    assert len(after) == len(before) + 1 and after["my-model"]["n_total"] == 805
    header = next(csv.reader(path.open()))
    # AlpacaEval 1's own column order is kept; our missing columns are appended.
    assert header[:11] == next(csv.reader(src.open())) and header[11:] == ["lc_standard_error", "lc_form"]
    # Existing cells are rewritten as they were (no float reformatting).
    old_lines = {line.split(",")[0]: line for line in src.read_text().splitlines()[1:]}
    new_lines = {line.split(",")[0]: line for line in path.read_text().splitlines()[1:]}
    assert all(new_lines[name] == old + ",," for name, old in old_lines.items())
    wins = [after[m]["win_rate"] for m in after if after[m]["win_rate"] is not None]
    assert wins == sorted(wins, reverse=True)


def test_leaderboard_that_is_not_one_is_refused(tmp_path):
    path = tmp_path / "lb.csv"
    path.write_text("model,win_rate\nx,1\n")
    with pytest.raises(CutError, match="line 1: not a leaderboard CSV"):
        update_leaderboard(path, "y", METRICS)
