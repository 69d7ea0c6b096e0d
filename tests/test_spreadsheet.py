"""Spreadsheet round trip: export → a person fills in the CSV (here: the csv module) → import.

Also `cut annotate export|import` end to end.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cut.cli import annotate
from cut.errors import CutError
from cut.judges.base import JudgeItem
from cut.records import Record, RecordError, read_jsonl
from cut.spreadsheet import COLUMNS, export_for_annotation, import_annotations

RECORDS = [
    # A newline inside the response: this row spans sheet lines 2-3.
    Record(id="r1", instruction='Say "hi", then stop.', response='hi, there\n"quoted", line'),
    Record(id="r2", instruction="List fruits,\nplease", input="no apples, ok?", response="apples, pears\nplums"),
    Record(id="r3", instruction="Capital of France?", response="Paris is the capital, of course. Ünïcødé ✓\ttab"),
    Record(id="r4", instruction="Say nothing", response=""),
    Record(id="r5", instruction="Name a city.", response="Marseille,  a port\n\non the sea."),
]


def read_sheet(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def fill_in(path: Path, marks: dict[str, tuple[str, str]]) -> None:
    """What a person does: set (acceptable, judgment) on rows by id, save as plain UTF-8."""
    rows = read_sheet(path)
    for row in rows[1:]:
        if row[0] in marks:
            row[4], row[5] = marks[row[0]]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)


def test_export_writes_empty_verdict_columns_and_exact_cells(tmp_path):
    sheet = tmp_path / "sheet.csv"
    assert export_for_annotation(RECORDS, sheet) == 5
    rows = read_sheet(sheet)
    assert rows[0] == COLUMNS == ["id", "instruction", "input", "response", "acceptable", "judgment"]
    assert rows[2] == ["r2", "List fruits,\nplease", "no apples, ok?", "apples, pears\nplums", "", ""]
    assert [r[3] for r in rows[1:]] == [r.response for r in RECORDS]
    assert sheet.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM, for Excel
    assert not (tmp_path / "sheet.csv.tmp").exists()


def test_round_trip_counts_spans_and_exact_text(tmp_path):
    sheet = tmp_path / "sheet.csv"
    export_for_annotation(RECORDS, sheet)
    fill_in(sheet, {
        "r1": ("yes", ""),
        "r2": ("no", 'It lists "apples" although the input forbids them.'),
        "r3": (" X ", ""),  # a tick mark, with the spaces a spreadsheet may keep
        # r4 left alone: unannotated
        "r5": ("N", 'The "port  city" detail is invented; "Lyon" would be wrong too.'),
    })
    records, counts = import_annotations(sheet)
    assert counts == {"annotated": 4, "positive": 2, "negative": 2, "unannotated": 1, "invalid": 0,
                      "invalid_examples": []}
    by_id = {r.id: r for r in records}
    assert sorted(by_id) == ["r1", "r2", "r3", "r5"]
    for original in RECORDS:
        if original.id in by_id:
            got = by_id[original.id]
            assert (got.instruction, got.input, got.response) == (original.instruction, original.input, original.response)
    assert by_id["r1"].judgment is None and by_id["r3"].judgment is None and by_id["r1"].spans is None
    assert by_id["r2"].judgment == 'It lists "apples" although the input forbids them.'
    assert by_id["r2"].spans == [[0, 6]]  # "apples, pears..." starts with apples: [0, 6)
    # "port  city" (two spaces) is not in "Marseille,  a port\n\non the sea." → no span;
    # "Lyon" neither: a critique without locatable quotes trains with empty spans.
    assert by_id["r5"].spans == []
    assert all(r.judge == "human" and r.source == "sheet" for r in records)


def test_quote_located_with_whitespace_and_case_folded(tmp_path):
    sheet = tmp_path / "sheet.csv"
    export_for_annotation(RECORDS, sheet)
    fill_in(sheet, {"r5": ("no", 'Says "a PORT on the sea" twice.')})
    [record], _ = import_annotations(sheet)
    # response "Marseille,  a port\n\non the sea.": "a" at 12 (9 letters + "," + 2 spaces),
    # "sea" ends at 12 + len("a port\n\non the sea") = 12 + 18 = 30.
    assert record.spans == [[12, 30]] and record.response[12:30] == "a port\n\non the sea"


def test_no_without_judgment_names_file_line_and_field(tmp_path):
    sheet = tmp_path / "sheet.csv"
    export_for_annotation(RECORDS, sheet)
    fill_in(sheet, {"r1": ("y", ""), "r2": ("no", "  ")})
    with pytest.raises(RecordError) as err:
        import_annotations(sheet)
    # header = line 1; r1 = lines 2-3 (its response holds a newline); r2 starts on line 4.
    assert (err.value.path, err.value.line, err.value.field) == (str(sheet), 4, "judgment")
    assert str(err.value) == f"{sheet}:4: field 'judgment': marked not acceptable, but no judgment was written"


def test_skip_invalid_counts_bad_rows_and_keeps_the_rest(tmp_path):
    sheet = tmp_path / "sheet.csv"
    export_for_annotation(RECORDS, sheet)
    fill_in(sheet, {"r1": ("y", ""), "r2": ("no", ""), "r3": ("maybe", ""), "r4": ("no", "N/A")})
    records, counts = import_annotations(sheet, skip_invalid=True, judge="human:alice")
    assert [r.id for r in records] == ["r1"] and records[0].judge == "human:alice"
    assert (counts["invalid"], counts["unannotated"], counts["annotated"]) == (3, 1, 1)
    # r2 starts on line 4 and holds two newlines (instruction, response) → r3 on line 7, r4 on 8.
    assert counts["invalid_examples"] == [
        f"{sheet}:4: field 'judgment': marked not acceptable, but no judgment was written",
        f"{sheet}:7: field 'acceptable': expected yes/no (or true/false, 1/0), got 'maybe'",
        f"{sheet}:8: field 'judgment': not a critique (placeholder 'N/A'): write what is wrong with the response",
    ]


def test_sheet_without_acceptable_column_is_refused(tmp_path):
    sheet = tmp_path / "plain.csv"
    sheet.write_text("instruction,response,judgment\nHi,Hello,\n", encoding="utf-8")
    with pytest.raises(RecordError) as err:
        import_annotations(sheet)
    assert (err.value.line, err.value.field) == (1, "acceptable")
    (tmp_path / "excel.csv").write_text("id;instruction;input;response;acceptable;judgment\n", encoding="utf-8")
    with pytest.raises(RecordError, match="semicolon-separated; save it as CSV"):
        import_annotations(tmp_path / "excel.csv")
    with pytest.raises(CutError, match="no such file"):
        import_annotations(tmp_path / "missing.csv")


def test_include_judgment_prefills_critiques_for_review(tmp_path):
    judged = [Record(id="a", instruction="I", response="R1", judgment=None),
              Record(id="b", instruction="I", response="R2", judgment='Too short: "R2".'),
              Record(id="c", instruction="I", response="R3", judgment="$ERROR$")]
    sheet = tmp_path / "review.csv"
    export_for_annotation(judged, sheet, include_judgment=True)
    assert [row[5] for row in read_sheet(sheet)[1:]] == ["", 'Too short: "R2".', ""]
    # Imported untouched: the prefilled critique stands, the other two await a person.
    records, counts = import_annotations(sheet)
    assert [(r.id, r.judgment, r.spans) for r in records] == [("b", 'Too short: "R2".', [[0, 2]])]
    assert (counts["negative"], counts["unannotated"]) == (1, 2)


def test_export_judge_items_and_rejects_other_objects(tmp_path):
    items = [JudgeItem("Q1", "A1", {"id": 7}), JudgeItem("Q2", "A2")]
    assert export_for_annotation(items, tmp_path / "items.tsv") == 2
    assert (tmp_path / "items.tsv").read_text(encoding="utf-8-sig").splitlines() == [
        "id\tinstruction\tinput\tresponse\tacceptable\tjudgment", "7\tQ1\t\tA1\t\t", "\tQ2\t\tA2\t\t"]
    with pytest.raises(TypeError, match="expected Record or JudgeItem, got dict"):
        export_for_annotation([{"instruction": "Q", "response": "A"}], tmp_path / "bad.csv")


SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def test_real_cut_judgments_survive_the_round_trip(tmp_path):
    """The CUT authors' iter1 file (data README): 1000 records, 287 with a judgment of which
    47 are the literal $ERROR$ → 240 critiques, 1000 - 287 = 713 positives, 47 left open."""
    source = SHARED_DATA / "cut-online" / "train-alpaca-sample-iter1.json"
    if not source.exists():
        pytest.skip(f"shared data not available: {source}")
    from cut.importers import load_records

    originals = {r.id: r for r in load_records(source).records}
    sheet = tmp_path / "iter1.csv"
    assert export_for_annotation(originals.values(), sheet, include_judgment=True) == 1000
    verdict = {"positive": "yes", "negative": "no"}  # a person agreeing with GPT-4; $ERROR$ left open
    fill_in(sheet, {i: (verdict.get(r.polarity, ""), r.judgment if r.polarity == "negative" else "")
                    for i, r in originals.items()})
    records, counts = import_annotations(sheet)
    assert (counts["positive"], counts["negative"], counts["unannotated"]) == (713, 240, 47)
    for got in records:
        want = originals[got.id]
        assert (got.instruction, got.input, got.response, got.judgment) == \
            (want.instruction, want.input, want.response, want.judgment)


# --- the CLI --------------------------------------------------------------------------------


def cli(*argv: str) -> int:
    """Run `cut annotate ...` through its own parser (the dispatcher's list is the lead's)."""
    parser = argparse.ArgumentParser(prog="cut")
    annotate.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["annotate", *argv])
    return args.func(args)


def test_cli_export_then_import(tmp_path, capsys):
    source = tmp_path / "gen.jsonl"
    source.write_text("".join(json.dumps(r.to_dict()) + "\n" for r in RECORDS[:3]), encoding="utf-8")
    sheet, out = tmp_path / "sheet.csv", tmp_path / "judged.jsonl"
    assert cli("export", str(source), "-o", str(sheet)) == 0
    assert "wrote 3 row(s)" in capsys.readouterr().out
    with pytest.raises(CutError, match="exists; pass --force to replace it"):
        cli("export", str(source), "-o", str(sheet))
    fill_in(sheet, {"r1": ("1", ""), "r2": ("0", 'Has "pears".')})
    assert cli("import", str(sheet), "-o", str(out), "--annotator", "bo") == 0
    table = capsys.readouterr().out
    assert "annotated" in table and "unannotated" in table
    assert "│         2 │        1 │        1 │           1 │       0 │" in table
    records = read_jsonl(out)
    assert [(r.id, r.judgment, r.spans, r.judge) for r in records] == [
        ("r1", None, None, "human:bo"), ("r2", 'Has "pears".', [[8, 13]], "human:bo")]
    with pytest.raises(CutError, match="exists"):
        cli("import", str(sheet), "-o", str(out))
    assert cli("import", str(sheet), "-o", str(out), "--force") == 0


def test_cli_module_does_not_import_torch():
    code = ("import sys, argparse; from cut.cli import annotate; "
            "annotate.register(argparse.ArgumentParser().add_subparsers()); "
            "import cut.spreadsheet, cut.judges.human; print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
