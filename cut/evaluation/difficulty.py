"""A per-instruction difficulty vector for the length-controlled GLM (``cut eval --difficulty``).

AlpacaEval publishes its difficulty values only on the Hugging Face Hub; users who have them
pass a JSON list of numbers or a CSV (header row, value in the last column), one value per
annotation row in the same order. Errors name the file and the item or line.
"""

from __future__ import annotations

import csv
import json

from cut.errors import CutError


def read_difficulty(path: str) -> list[float]:
    """Difficulty values from a JSON list or a CSV (header row, value in the last column)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            if path.endswith(".json"):
                values = json.load(fh)
                if not isinstance(values, list):
                    raise CutError(f"{path}: expected a JSON list of numbers")
                items = [(i, v) for i, v in enumerate(values)]
            else:
                reader = list(csv.reader(fh))
                items = [(line, cells[-1]) for line, cells in enumerate(reader[1:], start=2) if cells]
    except (OSError, json.JSONDecodeError) as err:
        raise CutError(f"{path}: cannot read difficulty values ({err})") from None
    out = []
    for where, value in items:
        try:
            out.append(float(value))
        except (TypeError, ValueError):
            raise CutError(f"{path}: {'item' if path.endswith('.json') else 'line'} {where}: "
                           f"difficulty is not a number: {value!r}") from None
    return out
