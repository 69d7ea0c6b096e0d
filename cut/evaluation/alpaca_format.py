"""AlpacaEval's file shapes: model outputs and pairwise annotations, read, validated, written.

Both are JSON lists (not JSONL), exactly as AlpacaEval writes them, so files move between
AlpacaEval and ``cut eval`` unchanged:

- model outputs: ``[{instruction, output, generator, dataset?}, ...]`` in the canonical order
  of the evaluation set;
- annotations: ``[{instruction, output_1, generator_1, output_2, generator_2, dataset?,
  annotator?, preference, price_per_example?, time_per_example?, raw_completion?}, ...]``,
  where output_1 is the reference and output_2 the evaluated model.

Unknown fields are kept as they are (AlpacaEval adds columns over versions). Errors are
``RecordError``s naming the file, the 0-based index of the item in the list and the field.
Rows are matched to the reference on instruction text, never on position alone: a model
output file for a different or partial instruction set is refused before a judge is paid.
"""

from __future__ import annotations

import math
import os
from typing import Any, Iterable

from cut.errors import CutError
from cut.records import RecordError, write_json_atomic

# How many mismatching rows an error message lists before it stops.
MAX_LISTED = 5


def _load_list(path: str | os.PathLike) -> list[Any]:
    from cut.paths import read_json

    data = read_json(path)  # one line for a missing, unreadable, non-UTF-8 or non-JSON file
    if not isinstance(data, list):
        raise RecordError(path, None, None, f"expected a JSON list of objects, got {type(data).__name__}")
    return data


def _require(path, index: int, row: Any, name: str, types: tuple, optional: bool = False) -> None:
    """Check ``row[name]`` has one of ``types`` (bool never counts as a number)."""
    if not isinstance(row, dict):
        raise RecordError(path, None, None, f"item {index}: expected a JSON object, got {type(row).__name__}")
    if name not in row:
        if optional:
            return
        raise RecordError(path, None, name, f"item {index}: missing required field")
    value = row[name]
    if isinstance(value, bool) or not isinstance(value, types):
        names = ("null" if t is type(None) else "number" if t in (int, float) else t.__name__ for t in types)
        want = " or ".join(dict.fromkeys(names))  # dict keeps order, drops the repeated "number"
        raise RecordError(path, None, name, f"item {index}: expected {want}, got {type(value).__name__}")


def read_model_outputs(path: str | os.PathLike, generator: str | None = None) -> list[dict]:
    """Read an AlpacaEval model-output file (JSON list of {instruction, output, generator, dataset?}).

    ``generator`` fills rows that lack one (a user's own file); without it a missing
    generator is an error, since the name is what identifies the model downstream.
    """
    rows = _load_list(path)
    for i, row in enumerate(rows):
        _require(path, i, row, "instruction", (str,))
        _require(path, i, row, "output", (str,))
        if "generator" not in row and generator is not None:
            row["generator"] = generator
        _require(path, i, row, "generator", (str,))
        _require(path, i, row, "dataset", (str, type(None)), optional=True)
    return rows


def read_annotations(path: str | os.PathLike) -> list[dict]:
    """Read an AlpacaEval annotation file; ``preference`` may be a number, null or NaN.

    Values of ``preference`` outside [1, 2] are *not* errors here: they are judge replies
    that could not be used, counted and dropped by the metrics (``metrics.preferences_to_q``).
    """
    rows = _load_list(path)
    for i, row in enumerate(rows):
        for name in ("instruction", "output_1", "output_2"):
            _require(path, i, row, name, (str,))
        for name in ("generator_1", "generator_2", "annotator", "dataset"):
            _require(path, i, row, name, (str, type(None)), optional=True)
        _require(path, i, row, "preference", (int, float, type(None)), optional=True)
    return rows


def _json_safe(rows: Iterable[dict]) -> list[dict]:
    # json.dump writes NaN as a bare `NaN`, which strict JSON readers reject; null is what
    # AlpacaEval itself reads back as a missing preference.
    return [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()} for row in rows]


def write_model_outputs(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Write model outputs as AlpacaEval's JSON list, atomically."""
    write_json_atomic(path, _json_safe(rows))


def write_annotations(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Write annotations as AlpacaEval's JSON list, atomically (NaN preferences become null)."""
    write_json_atomic(path, _json_safe(rows))


def _short(text: str | None, width: int = 60) -> str:
    if text is None:
        return "<none>"
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def _index_by_instruction(rows: list[dict], what: str) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, row in enumerate(rows):
        text = row["instruction"]
        if text in index:
            raise CutError(f"{what}: instruction {_short(text)} appears twice (index {index[text]} and {i}); "
                           "each instruction must appear once")
        index[text] = i
    return index


def check_instructions_match(model_rows: list[dict], reference_rows: list[dict]) -> None:
    """Raise CutError unless the model rows cover exactly the reference instructions, once each.

    Order may differ (``align_to_reference`` reorders). The message gives the counts of
    missing and extra instructions and the first few positions where the lists disagree as
    ``index i: expected <reference instruction>, got <model instruction>``.
    """
    ref_index = _index_by_instruction(reference_rows, "reference")
    model_index = _index_by_instruction(model_rows, "model outputs")
    missing = [t for t in ref_index if t not in model_index]
    extra = [t for t in model_index if t not in ref_index]
    if not missing and not extra:
        return
    lines = []
    for i in range(max(len(model_rows), len(reference_rows))):
        expected = reference_rows[i]["instruction"] if i < len(reference_rows) else None
        got = model_rows[i]["instruction"] if i < len(model_rows) else None
        # Positions that differ only because of order are not the problem; skip them.
        if expected != got and (expected in missing or got in extra or None in (expected, got)):
            lines.append(f"index {i}: expected {_short(expected)}, got {_short(got)}")
        if len(lines) == MAX_LISTED:
            break
    raise CutError(
        f"model outputs do not match the reference instructions: {len(model_rows)} rows vs "
        f"{len(reference_rows)} in the reference, {len(missing)} reference instructions missing, "
        f"{len(extra)} not in the reference; first mismatches: " + "; ".join(lines)
    )


def align_to_reference(model_rows: list[dict], reference_rows: list[dict]) -> list[dict]:
    """The model rows reordered to the reference order (after ``check_instructions_match``)."""
    check_instructions_match(model_rows, reference_rows)
    by_text = {row["instruction"]: row for row in model_rows}
    return [by_text[row["instruction"]] for row in reference_rows]


def make_pairs(model_rows: list[dict], reference_rows: list[dict]) -> list[dict]:
    """Annotation rows to be judged, in the reference order: output_1 = reference, output_2 = model.

    Where both outputs are identical the preference is already known (1.5, a draw) and no
    judge is needed, as in AlpacaEval; elsewhere ``preference`` is None until judged.
    """
    aligned = align_to_reference(model_rows, reference_rows)
    pairs = []
    for ref, model in zip(reference_rows, aligned):
        pairs.append({
            "instruction": ref["instruction"],
            "output_1": ref["output"],
            "generator_1": ref.get("generator"),
            "output_2": model["output"],
            "generator_2": model.get("generator"),
            "dataset": ref.get("dataset", model.get("dataset")),
            "preference": 1.5 if ref["output"] == model["output"] else None,
        })
    return pairs
