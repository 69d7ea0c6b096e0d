"""Win-rate metrics, the length-controlled win rate and the weighted-preference parser.

The published-number tests use AlpacaEval's own annotation files and leaderboards from
../shared/data/alpaca_eval and skip when that folder is absent.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cut.errors import CutError
from cut.evaluation.alpaca_format import make_pairs, read_annotations, read_model_outputs
from cut.evaluation.leaderboard import read_leaderboard
from cut.evaluation.length_control import LABEL_GLM, LABEL_MINIMAL, length_controlled_winrate
from cut.evaluation.metrics import evaluate_annotations, preferences_to_q, win_rate_metrics
from cut.evaluation.weighted import (
    alpaca_eval_swapped,
    preference_from_logprobs,
    preference_from_raw_completion,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
AE = DATA / "alpaca_eval"
AE1 = ("alpaca-7b.alpaca_eval_gpt4.json", "alpaca_eval_gpt4_leaderboard.csv")
AE2 = ("alpaca-7b.weighted_alpaca_eval_gpt4_turbo.json", "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv")


def need_data():
    if not AE.is_dir():
        pytest.skip(f"shared AlpacaEval data not found at {AE} (a fresh clone has no ../shared)")


def ann(pref, out2="x", out1="ref"):
    return {"instruction": f"i{out2}{pref}", "output_1": out1, "output_2": out2, "preference": pref,
            "generator_1": "ref", "generator_2": "model"}


# ---------------------------------------------------------------- win-rate metrics

def test_hand_computed_four_annotations():
    """preferences [2, 0 (legacy draw), None, 1.25] → q = [1, 0.5, 0.25], None dropped.

    win_rate = 100·1.75/3 = 58.3333…; deviations from 7/12 are 5/12, −1/12, −4/12, so
    var(ddof=1) = (25+1+16)/144/2 = 7/48 and se = 100·sqrt(7/48/3) = 100·√7/12 = 22.0479…;
    wins 1 (q=1), base wins 1 (q=0.25), draws 1; discrete = 100·(1 + ½)/3 = 50;
    output_2 lengths 4, 2, 6, 1 → mean 3.25 → avg_length 3 (integer part, as published).
    """
    rows = [ann(2, "abcd"), ann(0, "ab"), ann(None, "abcdef"), ann(1.25, "a")]
    m = win_rate_metrics(rows)
    assert m["win_rate"] == pytest.approx(175 / 3, abs=1e-12)
    assert m["standard_error"] == pytest.approx(100 * math.sqrt(7) / 12, abs=1e-12)
    assert (m["n_wins"], m["n_wins_base"], m["n_draws"], m["n_total"]) == (1, 1, 1, 3)
    assert m["discrete_win_rate"] == pytest.approx(50.0, abs=1e-12)
    assert m["avg_length"] == 3
    assert m["n_dropped"] == 1 and m["dropped"] == {"missing": 1}


def test_unusable_preferences_are_counted_and_dropped_never_scored():
    q = preferences_to_q([1, 2, 1.5, 0, None, float("nan"), 3, -1, 0.5])
    assert q.tolist() == [0.0, 1.0, 0.5, 0.5]
    m = win_rate_metrics([ann(p) for p in (2, None, float("nan"), 3, -1)])
    assert m["n_total"] == 1 and m["win_rate"] == 100.0
    assert m["n_dropped"] == 4 and m["dropped"] == {"missing": 2, "out of range [1, 2]": 2}
    assert math.isnan(m["standard_error"])  # one value: no spread to estimate, not a fake 0
    with pytest.raises(CutError, match="no usable preferences"):
        win_rate_metrics([ann(None), ann(7)])


@pytest.mark.parametrize("annotation_file, leaderboard_file", [AE1, AE2], ids=["alpaca_eval_1", "alpaca_eval_2"])
def test_reproduces_published_alpaca_7b_rows(annotation_file, leaderboard_file):
    need_data()
    m = win_rate_metrics(read_annotations(AE / "annotations" / annotation_file))
    row = read_leaderboard(AE / "leaderboards" / leaderboard_file)["alpaca-7b"]
    for key in ("win_rate", "standard_error", "discrete_win_rate"):
        assert m[key] == pytest.approx(row[key], abs=1e-6), key
    for key in ("n_wins", "n_wins_base", "n_draws", "n_total", "avg_length"):
        assert m[key] == row[key], key
    assert m["n_dropped"] == 0


def test_published_numbers_of_the_evaluation_doc():
    need_data()
    m1 = win_rate_metrics(read_annotations(AE / "annotations" / AE1[0]))
    m2 = win_rate_metrics(read_annotations(AE / "annotations" / AE2[0]))
    assert (round(m1["win_rate"], 4), round(m1["standard_error"], 4)) == (26.4596, 1.5357)
    assert (m1["n_wins"], m1["n_wins_base"], m1["n_draws"]) == (205, 584, 16)
    assert (round(m2["win_rate"], 4), round(m2["standard_error"], 4), round(m2["discrete_win_rate"], 4)) \
        == (2.5915, 0.4871, 2.2981)
    assert (m2["n_wins"], m2["n_wins_base"], m2["n_draws"]) == (17, 785, 3)


def test_reference_against_itself_is_exactly_50():
    need_data()
    ref = read_model_outputs(AE / "reference" / "text_davinci_003.json")
    m = evaluate_annotations(make_pairs(ref, ref), n_bootstrap=20)
    assert m["win_rate"] == 50.0 and m["discrete_win_rate"] == 50.0
    assert m["length_controlled_winrate"] == 50.0 and m["lc_ci95"] == [50.0, 50.0]
    assert m["standard_error"] == 0.0 and m["n_draws"] == 805


def test_all_draws_with_different_lengths_is_exactly_50_without_data():
    rows = [ann(1.5, "x" * k, "y" * (3 * k % 17 + 1)) for k in range(1, 30)]
    m = evaluate_annotations(rows, n_bootstrap=10)
    assert (m["win_rate"], m["discrete_win_rate"], m["length_controlled_winrate"]) == (50.0, 50.0, 50.0)


def test_mixed_models_in_one_file_is_an_error():
    rows = [ann(2), dict(ann(1), generator_2="other")]
    with pytest.raises(CutError, match="generator_2"):
        evaluate_annotations(rows, n_bootstrap=0)


# ---------------------------------------------------------------- length control

def _synthetic(n=400, seed=1):
    rng = np.random.default_rng(seed)
    len_ref = rng.integers(200, 1200, n).astype(float)
    len_model = len_ref * rng.uniform(0.6, 2.5, n)  # the model is usually longer
    return rng, len_model, len_ref


def test_lc_removes_a_pure_length_preference():
    """The judge only likes length: logit P(model wins) = −3·tanh(Δ), Δ = (ref − model)/std.

    The model is longer on most instructions, so its raw win rate is far above 50; with the
    length effect removed (Δ = 0, ψ = 0 in truth) the LC must come back near 50. The sign
    of θ pins the convention Δ = reference − model (the other one would give θ ≈ +3).
    """
    _, len_model, len_ref = _synthetic()
    diff = len_ref - len_model
    q = 1 / (1 + np.exp(3 * np.tanh(diff / diff.std(ddof=1))))
    res = length_controlled_winrate(q, len_model, len_ref, n_bootstrap=0)
    assert 100 * q.mean() > 70
    assert abs(res["length_controlled_winrate"] - 50) < 3
    assert res["coefficients"]["tanh_delta"] < -2
    assert res["form"] == "minimal" and res["label"] == LABEL_MINIMAL


def test_lc_glm_with_difficulty_recovers_the_generating_model():
    """q = σ(−1.5·tanh(Δ) + 1.0·d − 0.5): LC with d is 100·mean σ(d − 0.5), near the truth."""
    rng, len_model, len_ref = _synthetic()
    d = rng.normal(0, 1, len(len_ref))
    diff = len_ref - len_model
    q = 1 / (1 + np.exp(-(-1.5 * np.tanh(diff / diff.std(ddof=1)) + d - 0.5)))
    res = length_controlled_winrate(q, len_model, len_ref, difficulty=d, n_bootstrap=10)
    truth = 100 * np.mean(1 / (1 + np.exp(-(d - 0.5))))
    assert res["form"] == "glm" and res["label"] == LABEL_GLM
    assert res["length_controlled_winrate"] == pytest.approx(truth, abs=2)
    assert res["coefficients"]["difficulty"] == pytest.approx(1.0, abs=0.15)
    lo, hi = res["ci95"]
    assert lo <= res["length_controlled_winrate"] <= hi


def test_lc_degenerate_inputs_are_decided_explicitly():
    lengths = np.array([10.0, 20.0, 30.0])
    assert length_controlled_winrate(np.ones(3), lengths, lengths[::-1])["length_controlled_winrate"] == 100.0
    assert length_controlled_winrate(np.zeros(3), lengths, lengths)["length_controlled_winrate"] == 0.0
    # Equal length differences (std 0): Δ = 0 and only the constant is fitted, so LC is the
    # raw win rate 75 up to the L1 shrinkage (CV picks C = 1e4 here: σ(ψ) = 74.9997).
    q = np.array([1.0] * 30 + [0.0] * 10)
    res = length_controlled_winrate(q, np.full(40, 5.0), np.full(40, 9.0), n_bootstrap=0)
    assert res["coefficients"]["tanh_delta"] == 0.0
    assert res["length_controlled_winrate"] == pytest.approx(75, abs=0.01)
    with pytest.raises(CutError, match="q must be in"):
        length_controlled_winrate(np.array([0.5, np.nan]), lengths[:2], lengths[:2])
    with pytest.raises(CutError, match="2 model lengths"):
        length_controlled_winrate(np.array([0.5, 1, 0]), lengths[:2], lengths)


@pytest.mark.parametrize("annotation_file", [AE1[0], AE2[0]], ids=["alpaca_eval_1", "alpaca_eval_2"])
def test_lc_minimal_swap_symmetry_on_shared_data(annotation_file):
    """Swapping model and reference maps (Δ, q) → (−Δ, 1 − q); the L1 loss is then minimised
    by (θ, ψ) → (θ, −ψ) with identical folds and CV scores, so LC' = 100 − LC exactly in
    exact arithmetic. The solver stops at tol 1e-10 on the coefficients, i.e. ~1e-9 points
    of LC (measured: 4e-10 and 1e-12); 1e-6 leaves room for platform differences.
    """
    need_data()
    rows = read_annotations(AE / "annotations" / annotation_file)
    q = preferences_to_q([r["preference"] for r in rows])
    len_model = np.array([len(r["output_2"]) for r in rows])
    len_ref = np.array([len(r["output_1"]) for r in rows])
    fwd = length_controlled_winrate(q, len_model, len_ref, n_bootstrap=20)
    back = length_controlled_winrate(1 - q, len_ref, len_model, n_bootstrap=20)
    assert fwd["length_controlled_winrate"] + back["length_controlled_winrate"] == pytest.approx(100, abs=1e-6)
    assert fwd["coefficients"]["constant"] == pytest.approx(-back["coefficients"]["constant"], abs=1e-6)
    assert fwd["ci95"][0] == pytest.approx(100 - back["ci95"][1], abs=1e-6)
    assert fwd["label"] == LABEL_MINIMAL and fwd["lc_standard_error"] > 0


# ---------------------------------------------------------------- weighted parser

def test_preference_from_logprobs_hand_computed():
    # P(m) = 0.75, P(M) = 0.25 (renormalised over the two) → preference = 2 − 0.75 = 1.25
    assert preference_from_logprobs({"m": math.log(0.75), "M": math.log(0.25), "The": -1}) == pytest.approx(1.25)
    # Renormalisation: 0.3 vs 0.1 is the same 3 : 1 ratio.
    assert preference_from_logprobs({"m": math.log(0.3), "M": math.log(0.1)}) == pytest.approx(1.25)
    assert preference_from_logprobs({"M": -0.1}) == 2.0  # missing token = −inf
    assert preference_from_logprobs({"m": -40.0}) == 1.0
    assert preference_from_logprobs({"The": -0.1}) is None
    raw = {"logprobs": {"content": [{"token": "m", "top_logprobs": [
        {"token": "m", "logprob": math.log(0.75)}, {"token": "M", "logprob": math.log(0.25)}]}]}}
    assert preference_from_raw_completion(raw) == pytest.approx(1.25)
    assert preference_from_raw_completion(raw, swapped=True) == pytest.approx(1.75)
    legacy = {"logprobs": {"top_logprobs": [{"m": math.log(0.75), "M": math.log(0.25)}]}}
    assert preference_from_raw_completion(legacy) == pytest.approx(1.25)
    assert preference_from_raw_completion(None) is None
    assert preference_from_raw_completion({"text": "M"}) is None  # no log-probabilities: unusable


def test_weighted_parser_reproduces_stored_preferences():
    """All 805 AlpacaEval 2 annotations: 802 re-parse from raw_completion to 1e-6 (measured
    max error 5e-11; the stored values have 10 decimals). The 3 exceptions have no
    raw_completion: output_1 == output_2, so AlpacaEval stored a draw without asking the judge.
    """
    need_data()
    rows = read_annotations(AE / "annotations" / AE2[0])
    reparsed, exceptions = 0, []
    for row in rows:
        pref = preference_from_raw_completion(row["raw_completion"], swapped=alpaca_eval_swapped(row["instruction"]))
        if pref is None:
            exceptions.append(row)
            continue
        assert pref == pytest.approx(row["preference"], abs=1e-6), row["instruction"][:60]
        reparsed += 1
    assert reparsed == 802 and len(exceptions) == 3
    assert all(r["raw_completion"] is None and r["output_1"] == r["output_2"] and r["preference"] == 1.5
               for r in exceptions)
    # The swap is a seeded half, not all or nothing.
    assert 350 < sum(alpaca_eval_swapped(r["instruction"]) for r in rows) < 455
