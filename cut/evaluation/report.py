"""An evaluation report: one self-contained HTML file and the PNG charts beside it.

Three views, each a pure function (numbers, testable) and a chart:

- ``winrate_rows``: win rate per model with its standard error and a 95% interval
  (win_rate ± 1.96·SE), from a leaderboard CSV (``leaderboard.read_leaderboard``) or from
  metric dicts (``metrics.evaluate_annotations``); the length-controlled win rate beside it;
- ``subset_rows``: the same per subset of the evaluation set (the ``dataset`` field of the
  annotations: AlpacaEval's helpful_base, koala, oasst, selfinstruct, vicuna), with n;
- ``length_bins``: the length difference model − reference (characters) cut into bins of
  equal count, against the mean P(model wins) = preference − 1 in each bin — does the judge
  reward length?

The HTML embeds the PNGs as base64, so the one file can be mailed or attached as it is; the
PNGs are also written as ``<stem>-winrates.png``, ``<stem>-subsets.png``, ``<stem>-length.png``.
matplotlib runs with the Agg backend (no display needed) and is imported only when drawing.
"""

from __future__ import annotations

import base64
import html
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cut.evaluation.metrics import preferences_with_reasons

Z95 = 1.96
NO_SUBSET = "(no dataset)"


def winrate_rows(models: dict[str, dict[str, Any]], sort: bool = True) -> list[dict[str, Any]]:
    """``[{name, win_rate, standard_error, lo, hi, lc, n_total}]``, best win rate first (or, with
    ``sort=False``, in the given order: rounds of a run).

    ``models``: name → metrics with at least ``win_rate`` (percent) and ``standard_error``;
    ``length_controlled_winrate`` and ``n_total`` are used when present.
    """
    rows = []
    for name, m in models.items():
        if m.get("win_rate") is None:
            continue
        wr, se = float(m["win_rate"]), _float(m.get("standard_error"))
        half = Z95 * se if se is not None else math.nan
        rows.append({"name": name, "win_rate": wr, "standard_error": se, "lo": wr - half, "hi": wr + half,
                     "lc": _float(m.get("length_controlled_winrate")), "n_total": m.get("n_total")})
    return sorted(rows, key=lambda r: -r["win_rate"]) if sort else rows


def _float(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def _usable(annotations: Sequence[dict]) -> tuple[np.ndarray, np.ndarray]:
    """(q, keep mask) over all rows, both (n,); q is NaN where the preference is unusable."""
    q, _ = preferences_with_reasons([row.get("preference") for row in annotations])
    return q, ~np.isnan(q)


def subset_rows(annotations: Sequence[dict]) -> list[dict[str, Any]]:
    """``[{dataset, n, win_rate, standard_error}]`` per ``dataset`` value (sorted), then ``all``.

    Rows without a usable preference are left out; SE is NaN for a subset of one.
    """
    q, keep = _usable(annotations)
    groups: dict[str, list[float]] = {}
    for row, value, ok in zip(annotations, q, keep):
        if ok:
            groups.setdefault(str(row.get("dataset") or NO_SUBSET), []).append(float(value))
    out = [_subset(name, values) for name, values in sorted(groups.items())]
    if out:
        out.append(_subset("all", [v for values in groups.values() for v in values]))
    return out


def _subset(name: str, values: list[float]) -> dict[str, Any]:
    arr = np.asarray(values)  # (n,)
    se = 100 * float(np.std(arr, ddof=1)) / math.sqrt(len(arr)) if len(arr) > 1 else math.nan
    return {"dataset": name, "n": len(arr), "win_rate": 100 * float(np.mean(arr)), "standard_error": se}


def length_bins(annotations: Sequence[dict], n_bins: int = 8) -> list[dict[str, Any]]:
    """Bins of Δ = len(output_2) − len(output_1) (model − reference, characters), equal counts.

    Rows are sorted by Δ and cut into ``min(n_bins, n)`` consecutive groups whose sizes differ
    by at most one (``numpy.array_split``); each bin reports ``lo``/``hi`` (its smallest and
    largest Δ), ``median``, ``n`` and ``p_model_wins`` = 100·mean(preference − 1).
    """
    q, keep = _usable(annotations)
    delta = np.array([len(r["output_2"]) - len(r["output_1"]) for r in annotations], dtype=float)[keep]
    q = q[keep]
    if len(q) == 0:
        return []
    order = np.argsort(delta, kind="stable")
    out = []
    for chunk in np.array_split(order, min(n_bins, len(order))):
        d = delta[chunk]
        out.append({"lo": float(d.min()), "hi": float(d.max()), "median": float(np.median(d)), "n": len(chunk),
                    "p_model_wins": 100 * float(np.mean(q[chunk]))})
    return out


# --- charts ----------------------------------------------------------------------------------

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _bar_chart(path: Path, labels: list[str], values: list[float], errors: list[float], title: str,
               xlabel: str) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(labels) + 1.6))
    y = np.arange(len(labels))
    err = [0.0 if e is None or math.isnan(e) else e for e in errors]
    ax.barh(y, values, xerr=err, color="#4c78a8", ecolor="#333333", capsize=3)
    ax.axvline(50, color="#999999", linestyle="--", linewidth=1)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()  # first row on top
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _length_chart(path: Path, bins: list[dict], overall: float | None) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    x = [b["median"] for b in bins]
    ax.plot(x, [b["p_model_wins"] for b in bins], marker="o", color="#e45756")
    for b in bins:
        ax.annotate(f"n={b['n']}", (b["median"], b["p_model_wins"]), textcoords="offset points", xytext=(0, 6),
                    ha="center", fontsize=7)
    if overall is not None:
        ax.axhline(overall, color="#999999", linestyle="--", linewidth=1, label=f"overall {overall:.1f}")
        ax.legend(fontsize=8)
    ax.axvline(0, color="#cccccc", linewidth=1)
    ax.set_xlabel("length difference, model − reference (characters; bin median)")
    ax.set_ylabel("mean P(model wins) (%)")
    ax.set_title("Length against win probability (bins of equal count)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --- HTML ------------------------------------------------------------------------------------

def _num(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else html.escape(str(value))


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_num(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _image(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(path.name)}" src="data:image/png;base64,{data}">'


_STYLE = ("body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
          "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;"
          "text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}img{max-width:100%}")


def write_report(html_path: str | os.PathLike, models: dict[str, dict[str, Any]] | None = None,
                 annotations: Sequence[dict] | None = None, title: str = "Evaluation report",
                 n_bins: int = 8, sort: bool = True) -> dict[str, Any]:
    """Write the HTML report and its PNGs; returns ``{"html", "pngs", "winrates", "subsets", "length"}``.

    ``models`` (name → metrics) gives the win-rate view; ``annotations`` (one model against
    one reference) give the subset and length views. Either may be left out. ``sort=False``
    keeps the models in the given order.
    """
    html_path = Path(html_path)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    stem = html_path.with_suffix("")
    winrates = winrate_rows(models or {}, sort)
    subsets = subset_rows(annotations) if annotations else []
    bins = length_bins(annotations, n_bins) if annotations else []
    pngs, parts = [], [f"<h1>{html.escape(title)}</h1>"]
    if winrates:
        png = Path(f"{stem}-winrates.png")
        _bar_chart(png, [r["name"] for r in winrates], [r["win_rate"] for r in winrates],
                   [Z95 * r["standard_error"] if r["standard_error"] is not None else None for r in winrates],
                   "Win rate against the reference (95% interval)", "win rate (%)")
        pngs.append(png)
        parts += ["<h2>Win rates</h2>", _image(png), _table(
            ["model", "win rate", "SE", "95% low", "95% high", "LC win rate", "n"],
            [[r["name"], r["win_rate"], r["standard_error"], r["lo"], r["hi"], r["lc"], r["n_total"]]
             for r in winrates])]
    if subsets:
        png = Path(f"{stem}-subsets.png")
        _bar_chart(png, [f"{s['dataset']} (n={s['n']})" for s in subsets], [s["win_rate"] for s in subsets],
                   [Z95 * s["standard_error"] for s in subsets], "Win rate per subset (95% interval)",
                   "win rate (%)")
        pngs.append(png)
        parts += ["<h2>Per subset</h2>", _image(png), _table(
            ["dataset", "n", "win rate", "SE"],
            [[s["dataset"], s["n"], s["win_rate"], s["standard_error"]] for s in subsets])]
    if bins:
        png = Path(f"{stem}-length.png")
        _length_chart(png, bins, subsets[-1]["win_rate"] if subsets else None)
        pngs.append(png)
        parts += ["<h2>Length against win probability</h2>", _image(png), _table(
            ["Δ length from", "Δ length to", "median Δ", "n", "mean P(model wins) %"],
            [[b["lo"], b["hi"], b["median"], b["n"], b["p_model_wins"]] for b in bins])]
    if len(parts) == 1:
        parts.append("<p>Nothing to report: no metrics and no annotations were given.</p>")
    document = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>\n")
    tmp = html_path.with_name(html_path.name + ".tmp")
    tmp.write_text(document, encoding="utf-8")
    os.replace(tmp, html_path)
    return {"html": html_path, "pngs": pngs, "winrates": winrates, "subsets": subsets, "length": bins}
