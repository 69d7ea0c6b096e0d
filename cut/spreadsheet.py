"""Spreadsheet round trip: export responses to a CSV for people to judge, import their verdicts.

The sheet has the columns ``id, instruction, input, response, acceptable, judgment``. A
person marks ``acceptable`` (``yes``/``y``/``true``/``1``/``x``, or ``no``/``n``/``false``/``0``)
and, for a "no", writes what is wrong in ``judgment``, quoting the parts they criticise
("like this"); each quote found in the response becomes a span.

Import reads the sheet with the CSV reader and rules of ``cut.importers`` (the same ones
``cut data stats`` applies, so both agree on every row), and adds what an annotation pass
needs on top:

- ``x`` in ``acceptable`` means yes (a tick mark).
- A row with neither a mark nor a judgment is *unannotated*: counted, not returned, so a
  half-finished sheet can be imported and finished later.
- The ``acceptable`` mark decides polarity: "no" with "Perfectly awful." is a negative. A
  row with only a judgment is a critique (a prefilled judgment left standing is thus kept);
  only the bare verdict ``Perfect.`` there is an error asking for the mark, since a verdict
  word is not a critique.
- A critique that is a judge-failure placeholder (``N/A``, ``none``, ``$ERROR$``) is an error
  naming the row, not a record that would be counted and dropped later.
- Spans come from the critique's quotes unless the sheet has a ``spans`` column.

The file is written with a UTF-8 byte-order mark so that Excel shows non-ASCII text
correctly; the importer (and LibreOffice, Google Sheets) read it either way. Excel may still
rewrite cells that look like numbers, dates or formulas (a response starting with ``=``);
LibreOffice with "format quoted field as text" keeps them as typed.

Not in the paper: CUT (arXiv 2312.14591) takes its offline human judgments from Shepherd and
its online ones from GPT-4; this is a way to write your own.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Iterable

from cut.importers import record_from_csv_row, iter_csv_rows, read_text
from cut.judges.base import JudgeItem
from cut.judges.quotes import spans_from_quotes
from cut.records import NEGATIVE, POSITIVE, Record, RecordError, classify_judgment

COLUMNS = ["id", "instruction", "input", "response", "acceptable", "judgment"]
TICK_MARKS = {"x"}  # accepted here on top of the importer's yes/y/true/1
_DELIMITERS = {".tsv": "\t"}  # anything else is comma-separated


SHEET_SUFFIXES = (".csv", ".tsv")


def check_sheet_name(path: str | os.PathLike) -> None:
    """Refuse a sheet name whose extension promises a format this module does not write (CSV
    text saved as ``.xlsx`` is a file Excel refuses to open)."""
    from cut.errors import CutError

    if Path(path).suffix.lower() not in SHEET_SUFFIXES:
        raise CutError(f"{path}: a sheet is written as .csv or .tsv (Excel and LibreOffice open both), "
                       f"not {Path(path).suffix or 'a name without an extension'}")


def export_for_annotation(records_or_items: Iterable[Record | JudgeItem], path: str | os.PathLike,
                          include_judgment: bool = False) -> int:
    """Write a sheet to annotate (replacing ``path`` atomically) and return the rows written.

    ``acceptable`` is left empty. ``judgment`` is empty too, unless ``include_judgment``:
    then a record's critique is prefilled for review (a null judgment stays empty, and a
    judge-failure placeholder is left out, since it is nothing to review).
    """
    path = Path(path)
    check_sheet_name(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    rows = 0
    # utf-8-sig: the BOM makes Excel read UTF-8; newline="": the csv module writes the row ends.
    with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, delimiter=_delimiter(path))
        writer.writerow(COLUMNS)
        for item in records_or_items:
            writer.writerow(_row(item, include_judgment))
            rows += 1
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return rows


def _row(item: Record | JudgeItem, include_judgment: bool) -> list[str]:
    if isinstance(item, Record):
        judgment = ""
        if include_judgment and classify_judgment(item.judgment)[0] in (POSITIVE, NEGATIVE):
            judgment = item.judgment or ""
        return [item.id or "", item.instruction, item.input, item.response, "", judgment]
    if isinstance(item, JudgeItem):
        item_id = item.metadata.get("id")
        return ["" if item_id is None else str(item_id), item.instruction, "", item.response, "", ""]
    raise TypeError(f"expected Record or JudgeItem, got {type(item).__name__}")


def import_annotations(path: str | os.PathLike, skip_invalid: bool = False,
                       judge: str = "human") -> tuple[list[Record], dict]:
    """Read an annotated sheet back as records (``judge`` set on each).

    Returns (records, counts) with counts ``annotated`` (= positive + negative), ``positive``,
    ``negative``, ``unannotated``, ``invalid``, and ``invalid_examples`` (the first five
    error messages). A bad row raises RecordError (file, line, field) unless ``skip_invalid``,
    which skips and counts it. A missing file raises CutError.
    """
    path = Path(path)
    text = read_text(path)
    header = next(csv.reader(text.splitlines()[:1], delimiter=_delimiter(path)), [])
    if "acceptable" not in [h.strip() for h in header]:
        # Without it the importer reads an empty judgment as "acceptable": every row a
        # person has not reached yet would come back as a positive.
        hint = "not an annotation sheet (make one with `cut annotate export`)"
        if len(header) == 1 and ";" in header[0]:  # Excel in some locales saves with semicolons
            hint = "the sheet is semicolon-separated; save it as CSV (UTF-8) with commas"
        raise RecordError(path, 1, "acceptable", f"missing column: {hint}")
    records, invalid, unannotated = [], [], 0
    for line, _, row in iter_csv_rows(text, path, _delimiter(path)):
        try:
            record = _annotated_record(row, path, line)
        except RecordError as err:
            if not skip_invalid:
                raise
            invalid.append(err)
            continue
        if record is None:
            unannotated += 1
            continue
        record.judge = judge
        records.append(record)
    positive = sum(1 for r in records if r.polarity == POSITIVE)
    counts = {"annotated": len(records), "positive": positive, "negative": len(records) - positive,
              "unannotated": unannotated, "invalid": len(invalid),
              "invalid_examples": [str(err) for err in invalid[:5]]}
    return records, counts


def _delimiter(path: Path) -> str:
    return _DELIMITERS.get(path.suffix.lower(), ",")


def _annotated_record(row: dict[str, str] | RecordError, path: Path, line: int) -> Record | None:
    """One sheet row → Record, or None when nobody has annotated it yet."""
    if isinstance(row, RecordError):  # a row with the wrong number of cells
        raise row
    mark = row.get("acceptable", "").strip().lower()
    if not mark and not row.get("judgment", "").strip():
        return None
    if mark in TICK_MARKS:
        row = {**row, "acceptable": "yes"}
    record = record_from_csv_row(row, path, line)
    polarity, reason = classify_judgment(record.judgment)
    if polarity not in (POSITIVE, NEGATIVE):
        raise RecordError(path, line, "judgment", f"not a critique ({reason}): write what is wrong with the response")
    if polarity == NEGATIVE and record.spans is None:
        record.spans = spans_from_quotes(record.judgment, record.response)
    return record
