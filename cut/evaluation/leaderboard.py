"""Leaderboard CSV in AlpacaEval's layout: one row per model, indexed by model name.

The first column has an empty header and holds the model name, as in AlpacaEval's
published ``*_leaderboard.csv`` files, which are read and updated as they are: their column
order is kept, their existing cells are rewritten byte for byte (no float reformatting), and
columns of ours that a file lacks are appended. Rows are sorted by win_rate, highest first.

One column beyond AlpacaEval's: ``lc_form``. Our length-controlled win rate is the minimal
GLM unless a difficulty vector was given (see length_control.py), which is not the number
AlpacaEval publishes; ``lc_form`` says which one a row holds (blank = from elsewhere).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

from cut.errors import CutError

LEADERBOARD_COLUMNS = ["win_rate", "standard_error", "n_wins", "n_wins_base", "n_draws", "n_total",
                       "discrete_win_rate", "mode", "avg_length", "length_controlled_winrate",
                       "lc_standard_error"]
EXTRA_COLUMNS = ["lc_form"]
_INT_COLUMNS = {"n_wins", "n_wins_base", "n_draws", "n_total", "avg_length"}


def _read_raw(csv_path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(columns after the name column, rows as {"": name, column: cell text})."""
    with open(csv_path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return [], []
        if header[0] != "":
            raise CutError(f"{csv_path}: line 1: not a leaderboard CSV (the first header cell must be empty, "
                           f"holding model names; got {header[0]!r})")
        rows = []
        for line, cells in enumerate(reader, start=2):
            if not cells:
                continue
            if len(cells) != len(header):
                raise CutError(f"{csv_path}: line {line}: {len(cells)} cells for {len(header)} columns")
            rows.append(dict(zip(header, cells)))
    return header[1:], rows


def _parse(column: str, text: str) -> Any:
    if text == "":
        return None
    if column in ("mode", "lc_form"):
        return text
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if column in _INT_COLUMNS and value.is_integer() else value


def read_leaderboard(csv_path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Model name → {column: value} (numbers parsed; blank cells → None)."""
    _, rows = _read_raw(Path(csv_path))
    return {row[""]: {k: _parse(k, v) for k, v in row.items() if k != ""} for row in rows}


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back to the same float
    return str(value)


def _win_rate_key(row: dict[str, str]) -> float:
    try:
        return -float(row.get("win_rate", ""))
    except ValueError:
        return math.inf  # rows without a win rate go last


def update_leaderboard(csv_path: str | os.PathLike, model_name: str, metrics: dict[str, Any],
                       mode: str = "community") -> None:
    """Add or replace ``model_name``'s row from ``metrics`` and rewrite the file atomically.

    ``metrics`` uses the names of ``LEADERBOARD_COLUMNS`` (plus ``lc_form``); missing ones
    are left blank. Creates the file with AlpacaEval's columns if it does not exist.
    """
    path = Path(csv_path)
    columns, rows = _read_raw(path) if path.exists() else ([], [])
    columns = columns or list(LEADERBOARD_COLUMNS)
    columns += [c for c in LEADERBOARD_COLUMNS + EXTRA_COLUMNS if c not in columns]
    new = {"": model_name, **{c: _cell(metrics.get(c)) for c in columns}, "mode": mode}
    rows = [row for row in rows if row[""] != model_name] + [new]
    rows.sort(key=_win_rate_key)  # stable: ties keep their order
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([""] + columns)
        for row in rows:
            writer.writerow([row[""]] + [row.get(c, "") for c in columns])
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
