"""Length-controlled win rate: AlpacaEval 2.0's logistic GLM, with and without difficulty.

Per instruction i, with Δ_i = (len_ref_i − len_model_i) / std(len_ref − len_model, ddof=1)
(characters; note the sign, reference minus model):

    logit P(model wins on i) = θ·tanh(Δ_i) [+ φ·d_i] + ψ·1

fitted by L1-penalised logistic regression (scikit-learn's liblinear solver, no intercept
besides the explicit constant column ψ, penalty strength chosen by 5-fold cross-validation
with instructions as groups). The soft labels q_i ∈ [0, 1] are fitted by duplicating each
row, once with y = 1 and weight q_i and once with y = 0 and weight 1 − q_i, and the folds are
scored by the same weighted log-loss. The length-controlled win rate is the prediction with
no length difference: 100 · mean_i σ(φ·d_i + ψ).

Departures from AlpacaEval (state them whenever the number is reported):
- The difficulty vector d and the two "gamed" baselines (verbose / concise prompting of the
  reference, weight 0.1 each) that AlpacaEval adds to regularise towards the baseline are
  published only on the Hugging Face Hub. Without d we fit the *minimal* form θ·tanh(Δ) + ψ,
  labelled "LC (minimal, no difficulty)"; it predicts one probability for every instruction,
  so the spread of the predictions says nothing about uncertainty and a bootstrap over
  instructions gives the 95% interval and standard error instead. With d ("glm") the
  features are AlpacaEval's, but the gamed baselines are still absent, so numbers can differ
  from the published ones.
- The bootstrap refits each resample with the penalty chosen on the full data (plain
  LogisticRegression), not a new cross-validation: 200 resamples stay well under a second.
- Degenerate inputs are decided explicitly, not left to the solver: when every q is the same
  (e.g. the reference against itself, all q = ½) there is nothing to fit and the result is
  exactly 100·q; when all length differences are equal, Δ is taken as 0.

Symmetry: swapping model and reference maps (Δ, q) to (−Δ, 1 − q); the penalised loss is
then minimised by (θ, φ, ψ) → (θ, −φ, −ψ) with the same folds and the same cross-validation
scores, so LC becomes 100 − LC up to the solver's tolerance (we use tol 1e-10).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from cut.errors import CutError

LABEL_MINIMAL = "LC (minimal, no difficulty)"
LABEL_GLM = "LC (GLM with difficulty)"
N_SPLITS = 5
TOL = 1e-10  # tight, so the swap symmetry holds to ~1e-6 points rather than to liblinear's 1e-4 default


def tanh_length_feature(len_model: np.ndarray, len_ref: np.ndarray) -> np.ndarray:
    """tanh(Δ), shape (n,), with Δ = (len_ref − len_model)/std(ddof=1); zeros when the std is 0 or undefined."""
    diff = np.asarray(len_ref, dtype=float) - np.asarray(len_model, dtype=float)  # (n,)
    std = float(np.std(diff, ddof=1)) if len(diff) > 1 else 0.0
    if not np.isfinite(std) or std == 0:
        return np.zeros_like(diff)
    return np.tanh(diff / std)


def design_matrix(tanh_delta: np.ndarray, difficulty: np.ndarray | None) -> np.ndarray:
    """Columns [tanh(Δ), (d), 1], shape (n, 2) or (n, 3)."""
    cols = [tanh_delta] + ([difficulty] if difficulty is not None else []) + [np.ones_like(tanh_delta)]
    return np.column_stack(cols)


def _soft_rows(X: np.ndarray, q: np.ndarray, groups: np.ndarray):
    """Each row twice: y=1 with weight q and y=0 with weight 1−q. Shapes (2n, k), (2n,), (2n,), (2n,)."""
    n = len(q)
    y = np.concatenate([np.ones(n), np.zeros(n)])
    return np.vstack([X, X]), y, np.concatenate([q, 1 - q]), np.concatenate([groups, groups])


def fit_glm(X: np.ndarray, q: np.ndarray, groups: np.ndarray, C: float | None = None,
            seed: int = 0) -> tuple[np.ndarray, float]:
    """L1 logistic fit of soft labels q (n,) on X (n, k) → (coefficients (k,), C).

    With ``C=None`` the penalty is chosen by grouped cross-validation (weighted log-loss);
    otherwise that C is used directly.
    """
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import GroupKFold

    X2, y2, w2, g2 = _soft_rows(X, q, groups)
    common = dict(solver="liblinear", fit_intercept=False, tol=TOL, max_iter=10_000, random_state=seed)
    if C is None:
        n_groups = len(np.unique(groups))
        if n_groups < 2:
            raise CutError("the length-controlled win rate needs at least 2 instructions with usable preferences")
        # Explicit splits: LogisticRegressionCV only routes `groups` to its splitter when
        # sklearn's metadata routing is switched on globally, which we must not do for callers.
        folds = list(GroupKFold(n_splits=min(N_SPLITS, n_groups)).split(X2, y2, g2))
        model = LogisticRegressionCV(cv=folds, l1_ratios=(1.0,), scoring="neg_log_loss",
                                     use_legacy_attributes=False, **common)
        model.fit(X2, y2, sample_weight=w2)
        C = float(np.ravel(model.C_)[0])
    else:
        model = LogisticRegression(C=C, l1_ratio=1.0, **common)
        model.fit(X2, y2, sample_weight=w2)
    return np.ravel(model.coef_).astype(float), C


def predict_at_zero_length(coef: np.ndarray, difficulty: np.ndarray | None, n: int) -> float:
    """100 · mean σ(φ·d + ψ): the win rate the GLM predicts with no length difference."""
    logits = np.full(n, coef[-1]) if difficulty is None else coef[1] * difficulty + coef[-1]  # (n,)
    return 100 * float(np.mean(1 / (1 + np.exp(-logits))))


def _estimate(q, len_model, len_ref, difficulty, groups, C, seed) -> tuple[float, np.ndarray | None, float | None]:
    """(LC, coefficients or None, C or None) for one data set; constant q is decided without a fit."""
    if np.all(q == q[0]):
        return 100 * float(q[0]), None, C
    X = design_matrix(tanh_length_feature(len_model, len_ref), difficulty)
    coef, C = fit_glm(X, q, groups, C=C, seed=seed)
    return predict_at_zero_length(coef, difficulty, len(q)), coef, C


def _check_inputs(q, len_model, len_ref, difficulty) -> None:
    n = len(q)
    if n == 0:
        raise CutError("no usable preferences to fit the length-controlled win rate")
    if len(len_model) != n or len(len_ref) != n or (difficulty is not None and len(difficulty) != n):
        raise CutError(f"length-controlled win rate: {n} preferences but {len(len_model)} model lengths, "
                       f"{len(len_ref)} reference lengths"
                       + ("" if difficulty is None else f", {len(difficulty)} difficulty values"))
    if not np.all((q >= 0) & (q <= 1)):
        raise CutError("length-controlled win rate: q must be in [0, 1] with no NaN (drop missing preferences first)")
    if difficulty is not None and not np.all(np.isfinite(difficulty)):
        raise CutError("length-controlled win rate: the difficulty vector has NaN or infinite values")


def length_controlled_winrate(q, len_model, len_ref, difficulty=None, n_bootstrap: int = 200, seed: int = 0,
                              groups=None, on_step: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Length-controlled win rate of soft preferences ``q`` (n,) ∈ [0, 1] (1 = model wins).

    ``len_model``/``len_ref`` are output lengths in characters; ``difficulty`` (n,) selects
    the GLM form; ``groups`` (n,) names the instruction of each row (default: one each).
    Returns length_controlled_winrate, form ("minimal" or "glm"), label, C, coefficients
    (tanh_delta, [difficulty], constant), n, and from ``n_bootstrap`` resamples of the
    instructions ci95 [low, high] and lc_standard_error (both None when n_bootstrap is 0).
    """
    q = np.asarray(q, dtype=float)
    len_model, len_ref = np.asarray(len_model, dtype=float), np.asarray(len_ref, dtype=float)
    difficulty = None if difficulty is None else np.asarray(difficulty, dtype=float)
    groups = np.arange(len(q)) if groups is None else np.asarray(groups)
    _check_inputs(q, len_model, len_ref, difficulty)

    lc, coef, C = _estimate(q, len_model, len_ref, difficulty, groups, None, seed)
    names = ["tanh_delta"] + (["difficulty"] if difficulty is not None else []) + ["constant"]
    out: dict[str, Any] = {
        "length_controlled_winrate": lc,
        "form": "minimal" if difficulty is None else "glm",
        "label": LABEL_MINIMAL if difficulty is None else LABEL_GLM,
        "C": C,
        "coefficients": None if coef is None else dict(zip(names, map(float, coef))),
        "n": len(q), "n_bootstrap": n_bootstrap, "ci95": None, "lc_standard_error": None,
    }
    if n_bootstrap > 0:
        boot = bootstrap_lc(q, len_model, len_ref, difficulty, C, n_bootstrap, seed, on_step)
        out["ci95"] = [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))]
        out["lc_standard_error"] = float(np.std(boot, ddof=1)) if n_bootstrap > 1 else None
    return out


def bootstrap_lc(q, len_model, len_ref, difficulty, C, n_bootstrap: int, seed: int = 0,
                 on_step: Callable[[int, int], None] | None = None) -> np.ndarray:
    """LC of ``n_bootstrap`` resamples of the instructions (with replacement), shape (n_bootstrap,)."""
    rng = np.random.default_rng(seed)
    n = len(q)
    out = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        idx = rng.integers(0, n, size=n)  # (n,)
        d = None if difficulty is None else difficulty[idx]
        # C is None only when the full data had constant q, and then so does every resample.
        out[b] = _estimate(q[idx], len_model[idx], len_ref[idx], d, np.arange(n), C, seed)[0]
        if on_step:
            on_step(b + 1, n_bootstrap)
    return out
