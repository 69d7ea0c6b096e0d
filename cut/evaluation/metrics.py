"""Win-rate metrics from pairwise annotations, as AlpacaEval defines and publishes them.

With q_i = preference_i − 1 ∈ [0, 1] (1 = reference wins, 2 = model wins, 1.5 = draw):
win_rate = 100·mean(q); standard_error = 100·std(q, ddof=1)/√n; n_wins = #(q > ½),
n_wins_base = #(q < ½), n_draws = #(q = ½); discrete_win_rate = 100·(n_wins + n_draws/2)/n.
A legacy preference of 0 is a draw. A preference that is missing (None, NaN) or outside
[1, 2] is a judge reply that could not be used: it is counted in ``n_dropped`` (with the
reason) and left out of every metric, never scored as a draw or a loss.

These functions reproduce the ``alpaca-7b`` rows of both published AlpacaEval leaderboards
from the published annotation files (tests/test_eval_metrics.py). ``avg_length`` is the
integer part of the mean character length of the evaluated outputs (output_2), which is how
those leaderboards store it.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Callable, Sequence

import numpy as np

from cut.errors import CutError

MISSING, OUT_OF_RANGE = "missing", "out of range [1, 2]"


def _preference_to_q(pref: Any) -> tuple[float, str | None]:
    """One preference → (q, None), or (NaN, reason it was dropped)."""
    if pref is None or isinstance(pref, bool):
        return math.nan, MISSING
    value = float(pref)
    if math.isnan(value):
        return math.nan, MISSING
    if value == 0:  # AlpacaEval 1's legacy encoding of a draw
        return 0.5, None
    if not 1 <= value <= 2:
        return math.nan, OUT_OF_RANGE
    return value - 1, None


def preferences_with_reasons(prefs: Sequence[Any]) -> tuple[np.ndarray, Counter]:
    """q per preference (NaN where dropped), shape (n,), and a count of dropped ones by reason."""
    parsed = [_preference_to_q(p) for p in prefs]
    q = np.array([v for v, _ in parsed], dtype=float)  # (n,)
    return q, Counter(reason for _, reason in parsed if reason)


def preferences_to_q(prefs: Sequence[Any]) -> np.ndarray:
    """AlpacaEval preferences → q ∈ [0, 1] of the usable ones (legacy 0 → 0.5; None/NaN/out of range dropped)."""
    q, _ = preferences_with_reasons(prefs)
    return q[~np.isnan(q)]


def summarise_q(q: np.ndarray) -> dict[str, Any]:
    """Win rate, standard error, counts and discrete win rate of usable q values, shape (n,)."""
    n = len(q)
    if n == 0:
        raise CutError("no usable preferences: every annotation was missing or out of range")
    n_wins, n_base = int(np.sum(q > 0.5)), int(np.sum(q < 0.5))
    n_draws = n - n_wins - n_base
    # std with ddof=1 is undefined for one value; NaN says so instead of a misleading 0.
    se = 100 * float(np.std(q, ddof=1)) / math.sqrt(n) if n > 1 else math.nan
    return {
        "win_rate": 100 * float(np.mean(q)),
        "standard_error": se,
        "n_wins": n_wins,
        "n_wins_base": n_base,
        "n_draws": n_draws,
        "n_total": n,
        "discrete_win_rate": 100 * (n_wins + n_draws / 2) / n,
    }


def win_rate_metrics(annotations: list[dict]) -> dict[str, Any]:
    """Metrics of one model against one reference from AlpacaEval annotation rows.

    Returns win_rate, standard_error, n_wins, n_wins_base, n_draws, n_total,
    discrete_win_rate, avg_length (of output_2, over all rows), n_dropped and
    ``dropped`` (reason → count).
    """
    q, dropped = preferences_with_reasons([row.get("preference") for row in annotations])
    out = summarise_q(q[~np.isnan(q)])
    out["avg_length"] = int(np.mean([len(row["output_2"]) for row in annotations]))
    out["n_dropped"] = int(sum(dropped.values()))
    out["dropped"] = dict(dropped)
    return out


def pair_names(annotations: list[dict]) -> tuple[str | None, str | None]:
    """(model, reference) generator names; CutError if a file mixes several of either."""
    names = []
    for key in ("generator_2", "generator_1"):
        values = sorted({str(row.get(key)) for row in annotations if row.get(key) is not None})
        if len(values) > 1:
            raise CutError(f"annotations mix several {key} values ({', '.join(values[:5])}); "
                           "metrics compare one model with one reference, split the file first")
        names.append(values[0] if values else None)
    return names[0], names[1]


def evaluate_annotations(annotations: list[dict], difficulty: Sequence[float] | None = None,
                         n_bootstrap: int = 200, seed: int = 0,
                         on_step: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Every metric of one annotation set, flat: win-rate metrics plus the length-controlled win rate.

    ``difficulty`` (one value per annotation row, same order) selects the GLM form; without
    it the minimal form is fitted and labelled as such. ``on_step(done, total)`` reports
    bootstrap progress.
    """
    from cut.evaluation.length_control import length_controlled_winrate  # sklearn: import on use

    model, reference = pair_names(annotations)
    out: dict[str, Any] = {"model": model, "reference": reference}
    annotators = sorted({str(r["annotator"]) for r in annotations if r.get("annotator")})
    out["annotator"] = ", ".join(annotators) or None
    out.update(win_rate_metrics(annotations))

    q, _ = preferences_with_reasons([row.get("preference") for row in annotations])
    keep = ~np.isnan(q)  # (n,) the LC model sees exactly the rows the win rate counts
    if difficulty is not None and len(difficulty) != len(annotations):
        raise CutError(f"difficulty has {len(difficulty)} values for {len(annotations)} annotations")
    lc = length_controlled_winrate(
        q[keep],
        len_model=np.array([len(r["output_2"]) for r in annotations])[keep],
        len_ref=np.array([len(r["output_1"]) for r in annotations])[keep],
        difficulty=None if difficulty is None else np.asarray(difficulty, dtype=float)[keep],
        n_bootstrap=n_bootstrap, seed=seed, on_step=on_step,
    )
    out["length_controlled_winrate"] = lc["length_controlled_winrate"]
    out["lc_standard_error"] = lc["lc_standard_error"]
    out["lc_form"], out["lc_label"], out["lc_ci95"] = lc["form"], lc["label"], lc["ci95"]
    out["lc_coefficients"], out["lc_C"] = lc["coefficients"], lc["C"]
    return out
