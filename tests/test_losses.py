"""cut.losses against hand-computed numbers and autograd references.

Every expected loss value below is written out by hand next to the assertion; ln values:
ln 2 = 0.693147, ln 4 = 1.386294, ln 10 = 2.302585, ln 5 = 1.609438 (= −ln 0.2),
ln 1.25 = 0.223144 (= −ln 0.8), ln 1.125 = 0.117783, ln 0.9 = −0.105361.
"""

from __future__ import annotations

import math

import pytest
import torch

from cut.losses import (
    DETECTORS,
    NORMALIZATIONS,
    cut_loss,
    detect,
    log1mexp,
    logprobs_from_logits,
    precision_recall,
    ratio_flags,
    span_detection_counts,
    token_logprobs,
)

T, F = True, False
LN = math.log


def t32(rows):
    return torch.tensor(rows, dtype=torch.float32)


def reference_logprobs(hidden, weight, targets, bias=None):
    """The naive formula: full log_softmax over the vocabulary, then gather."""
    logits = hidden @ weight.t() + (0 if bias is None else bias)
    return torch.log_softmax(logits.float(), dim=-1).gather(1, targets[:, None]).squeeze(1)


# --------------------------------------------------------------------------- token_logprobs


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("chunk_size", [1, 3, 7, 100])
def test_token_logprobs_matches_log_softmax_values_and_grads(dtype, chunk_size):
    gen = torch.Generator().manual_seed(0)
    n, h, v = 7, 5, 11
    hidden = torch.randn(n, h, generator=gen).to(dtype).requires_grad_()
    weight = torch.randn(v, h, generator=gen).to(dtype).requires_grad_()
    bias = torch.randn(v, generator=gen).to(dtype).requires_grad_()
    targets = torch.randint(0, v, (n,), generator=gen)
    upstream = torch.randn(n, generator=gen)  # arbitrary incoming gradient

    out = token_logprobs(hidden, weight, targets, bias, chunk_size=chunk_size)
    ref = reference_logprobs(hidden, weight, targets, bias)
    assert out.dtype == torch.float32 and out.shape == (n,)
    # Same matmul dtype and fp32 reduction: equal up to fp32 rounding.
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)

    got = torch.autograd.grad((out * upstream).sum(), (hidden, weight, bias))
    want = torch.autograd.grad((ref * upstream).sum(), (hidden, weight, bias))
    # bf16 gradients round once at a different point (1 ulp of values ~2-4 is 0.0156).
    tol = 1e-5 if dtype == torch.float32 else 3.2e-2
    for g, w in zip(got, want):
        assert g.dtype == dtype
        torch.testing.assert_close(g.float(), w.float(), rtol=tol, atol=tol)


def test_token_logprobs_frozen_head_and_no_grad():
    gen = torch.Generator().manual_seed(1)
    hidden = torch.randn(6, 4, generator=gen, requires_grad=True)
    weight = torch.randn(9, 4, generator=gen)  # frozen lm_head, as under LoRA
    targets = torch.tensor([0, 8, 3, 3, 5, 1])
    out = token_logprobs(hidden, weight, targets, chunk_size=4)
    (g_hidden,) = torch.autograd.grad(out.sum(), hidden)
    (r_hidden,) = torch.autograd.grad(reference_logprobs(hidden, weight, targets).sum(), hidden)
    torch.testing.assert_close(g_hidden, r_hidden, rtol=1e-5, atol=1e-6)
    with torch.no_grad():
        assert not token_logprobs(hidden, weight, targets).requires_grad


def test_token_logprobs_never_saves_a_full_vocabulary_tensor():
    # A chunked loop under plain autograd would save every chunk's (n_c, V) logits, i.e.
    # N·V = 64·50 = 3200 fp32 values in total; the hand-written backward saves hidden (64·8),
    # weight (50·8), targets (64), lse (64) and J (64·8): 1552 values, the largest 512.
    n, h, v = 64, 8, 50
    hidden = torch.randn(n, h, requires_grad=True)
    weight = torch.randn(v, h)
    targets = torch.randint(0, v, (n,))
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda x: saved.append(x.numel()) or x, lambda x: x):
        out = token_logprobs(hidden, weight, targets, chunk_size=16)
    out.sum().backward()
    assert max(saved) == n * h
    assert sum(saved) == 2 * n * h + v * h + 2 * n  # = 1552 < N·V = 3200


def test_token_logprobs_rejects_bad_input():
    hidden, weight = torch.zeros(3, 4), torch.zeros(5, 4)
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 5\).*-100"):
        token_logprobs(hidden, weight, torch.tensor([1, -100, 2]))
    with pytest.raises(ValueError, match="weight"):
        token_logprobs(hidden, torch.zeros(5, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="chunk_size"):
        token_logprobs(hidden, weight, torch.tensor([0, 1, 2]), chunk_size=0)


def test_logprobs_from_logits_hand_case():
    # logits [0, ln 3] → softmax [1/4, 3/4]: log p(1) = ln 0.75 = −0.287682, log p(0) = ln 0.25.
    logits = torch.tensor([[0.0, LN(3)], [0.0, LN(3)]], dtype=torch.bfloat16)
    out = logprobs_from_logits(logits, torch.tensor([1, 0]))
    assert out.dtype == torch.float32
    # bf16(ln 3) = 1.1015625, so the exact answer uses that value: −ln(1 + e^−1.1015625).
    b = float(torch.tensor(LN(3), dtype=torch.bfloat16))
    torch.testing.assert_close(out, t32([-math.log1p(math.exp(-b)), -math.log1p(math.exp(b))]))


# --------------------------------------------------------------------------- log1mexp


@pytest.mark.parametrize("x", [-1e-5, -1e-3, -0.1, -0.5, -0.69, -0.7, -1.0, -5.0, -20.0])
def test_log1mexp_values_default_eps(x):
    # Above the cap log(1 − 1e-6) ≈ −1e-6 nothing is clamped.
    got = log1mexp(t32([x])).item()
    assert got == pytest.approx(math.log(1 - math.exp(x)), rel=1e-5)


@pytest.mark.parametrize("x", [-1e-8, -1e-7, -1e-6])
def test_log1mexp_values_near_zero_with_small_eps(x):
    # log(1 − e^x) ≈ log(−x): −18.42 at x = −1e-8; fp32 expm1 keeps that difference.
    got = log1mexp(t32([x]), eps=1e-12).item()
    assert got == pytest.approx(math.log(1 - math.exp(x)), rel=1e-5)


def test_log1mexp_clamps_to_log_eps():
    # x ≥ log(1 − eps) is read as log(1 − eps): value log(eps) = ln 1e-6 = −13.815511.
    got = log1mexp(t32([-1e-8, -1e-12, 0.0]))
    torch.testing.assert_close(got, torch.full((3,), LN(1e-6)), rtol=1e-4, atol=0)


@pytest.mark.parametrize("x", [0.0, -1e-12])
def test_log1mexp_finite_value_and_gradient_at_p_one(x):
    logp = t32([x]).requires_grad_()
    out = log1mexp(logp)
    (grad,) = torch.autograd.grad(out.sum(), logp)
    assert torch.isfinite(out).all() and torch.isfinite(grad).all()
    # Straight-through cap: gradient is d/dx log(1 − e^x) at x = log(1 − eps),
    # −e^x/(1 − e^x) = −(1 − 1e-6)/1e-6 = −999999 (not 0: the token still gets pushed down).
    assert grad.item() == pytest.approx(-999999.0, rel=1e-3)


def test_log1mexp_gradient_on_both_branches():
    # d/dx log(1 − e^x) = −e^x / (1 − e^x):
    #   x = −1   (log1p branch): −0.367879/0.632121 = −0.581977
    #   x = −0.1 (expm1 branch): −0.904837/0.095163 = −9.508331
    logp = t32([-1.0, -0.1]).requires_grad_()
    (grad,) = torch.autograd.grad(log1mexp(logp).sum(), logp)
    torch.testing.assert_close(grad, t32([-0.581977, -9.508331]), rtol=1e-5, atol=0)


# --------------------------------------------------------------------------- ratio_flags / detectors


def test_ratio_flags_strict_threshold():
    at = torch.tensor(LN(1.1), dtype=torch.float32)  # fp32(ln 1.1) = 0.0953102
    above = torch.nextafter(at, torch.tensor(1.0))
    below = torch.nextafter(at, torch.tensor(0.0))
    judged = torch.stack([at, above, below, at - 1.0])[None, :]  # (1, 4)
    plain = torch.tensor([[0.0, 0.0, 0.0, -1.0]])
    # Last column: (ln1.1 − 1) − (−1) in fp32 need not be exactly fp32(ln 1.1); check first.
    last = (judged[0, 3] - plain[0, 3]).item()
    flags = ratio_flags(judged, plain, 1.1)
    assert flags.dtype == torch.bool and flags.shape == (1, 4)
    assert flags[0, :3].tolist() == [F, T, F]  # equal: not flagged (strict >)
    assert flags[0, 3].item() == (last > at.item())


def test_ratio_flags_upcasts_bf16():
    # plain = −196·2⁻¹¹ = −0.0957031, judged = −0.00030327 (both exact in bf16).
    # fp32 difference 0.0953999 > ln 1.1 = 0.0953102 → flagged. In bf16 arithmetic the
    # difference rounds to 195·2⁻¹¹ = 0.0952148 < ln 1.1 and would not be flagged.
    plain = torch.tensor([[-196 * 2 ** -11]], dtype=torch.bfloat16)
    judged = torch.tensor([[-0.0003031]], dtype=torch.bfloat16)
    assert (judged - plain).item() < LN(1.1) < (judged.float() - plain.float()).item()
    assert ratio_flags(judged, plain, 1.1).tolist() == [[T]]


def test_ratio_flags_is_detached():
    judged = t32([[-1.0, -2.0]]).requires_grad_()
    plain = t32([[-2.0, -1.0]]).requires_grad_()
    flags = ratio_flags(judged, plain, 1.2)
    assert flags.dtype == torch.bool and not flags.requires_grad and flags.grad_fn is None
    assert flags.tolist() == [[T, F]]  # log ratios +1 > ln 1.2 = 0.182, −1


def test_ratio_flags_rejects_bad_lambda():
    with pytest.raises(ValueError, match="lambda"):
        ratio_flags(t32([[0.0]]), t32([[0.0]]), 0.0)


# Log ratios [+1, +1, −1, −1] at λ = 1.1 give ratio mask [T, T, F, F]; spans [T, F, T, F].
JUDGED = t32([[-1.0, -1.0, -3.0, -3.0]])
PLAIN = t32([[-2.0, -2.0, -2.0, -2.0]])
SPANS = torch.tensor([[T, F, T, F]])


@pytest.mark.parametrize("name, with_spans, without_spans", [
    ("ratio", [T, T, F, F], [T, T, F, F]),
    ("spans", [T, F, T, F], [F, F, F, F]),
    ("union", [T, T, T, F], [T, T, F, F]),
    ("intersection", [T, F, F, F], [F, F, F, F]),
])
def test_detectors_table(name, with_spans, without_spans):
    assert detect(name, JUDGED, PLAIN, 1.1, SPANS).tolist() == [with_spans]
    assert detect(name, JUDGED, PLAIN, 1.1, None).tolist() == [without_spans]
    ratio = ratio_flags(JUDGED, PLAIN, 1.1)
    assert DETECTORS[name](ratio, SPANS).tolist() == [with_spans]


def test_detect_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="ratio, spans, revision, union, intersection"):
        detect("both", JUDGED, PLAIN, 1.1, None)


def test_span_detection_counts_and_precision_recall():
    flags = torch.tensor([[T, T, F, F, T]])
    spans = torch.tensor([[T, F, T, F, T]])
    valid = torch.tensor([[T, T, T, T, F]])
    # Over the 4 valid tokens: pos0 flag∧span = TP, pos1 flag∧¬span = FP, pos2 ¬flag∧span = FN,
    # pos3 neither; pos4 would be a TP but is padding.
    assert span_detection_counts(flags, spans, valid) == (1, 1, 1)
    assert precision_recall(1, 1, 1) == (0.5, 0.5)
    p, r = precision_recall(0, 0, 3)  # nothing flagged: precision undefined, recall 0/3
    assert math.isnan(p) and r == 0.0
    p, r = precision_recall(0, 2, 0)  # no span tokens: precision 0/2, recall undefined
    assert p == 0.0 and math.isnan(r)


# --------------------------------------------------------------------------- cut_loss

# One like row [ln .5, ln .25] + a padding column; one Misalign row [ln .5, ln .8, ln .1]
# + a padding column that is flagged and has log p⁰ = −inf (it must count for nothing).
LIKE = t32([[LN(0.5), LN(0.25), -7.0]])
LIKE_MASK = torch.tensor([[T, T, F]])
MIS = t32([[LN(0.5), LN(0.8), LN(0.1), -math.inf]])
MIS_MASK = torch.tensor([[T, T, T, F]])
# log p⁻ = [ln .4, ln .9, ln .05]: ratios .8, 1.125, .5 → only token 2 passes λ = 1.1.
JUDGED_MIS = t32([[LN(0.4), LN(0.9), LN(0.05), 0.0]])
FLAGS = torch.tensor([[F, T, F, T]])

L_LIKE = (LN(2) + LN(4)) / 2  # = 3 ln2 / 2 = 1.039721


def run(alpha, gamma, normalization="paper", flags=FLAGS):
    like = LIKE.clone().requires_grad_()
    mis = MIS.clone().requires_grad_()
    out = cut_loss(like, LIKE_MASK, mis, MIS_MASK, JUDGED_MIS, flags, alpha, gamma, normalization)
    return out, like, mis


def test_fixture_flags_are_what_the_ratio_detector_gives():
    assert (ratio_flags(JUDGED_MIS, MIS, 1.1) & MIS_MASK).tolist() == [[F, T, F, F]]


def test_cut_loss_gamma0_both_normalizations():
    # L1 = −(ln .5 + ln .1 + 0.5·ln(1 − .8)) / 3 = (0.693147 + 2.302585 + 0.5·1.609438)/3
    #    = 3.800451/3 = 1.266817;  unflagged part (0.693147 + 2.302585)/3 = 0.998577
    l1 = (LN(2) + LN(10) + 0.5 * LN(5)) / 3
    out, _, _ = run(alpha=0.5, gamma=0.0)
    assert out.loss.item() == pytest.approx(L_LIKE + l1, rel=1e-6)  # 2.306538
    assert out.terms["like"] == pytest.approx(1.039721, rel=1e-6)
    assert out.terms["unlike"] == pytest.approx(1.266817, rel=1e-6)
    assert out.terms["mle_misalign"] == pytest.approx(0.998577, rel=1e-6)
    assert out.terms["loss"] == pytest.approx(2.306538, rel=1e-6)
    assert out.terms["n_like_tokens"] == 2.0 and out.terms["n_mis_tokens"] == 3.0
    assert out.terms["n_flagged"] == 1.0 and out.terms["flagged_frac"] == pytest.approx(1 / 3)
    # log ratio mean = (ln .8 + ln 1.125 + ln .5)/3 = (−0.223144 + 0.117783 − 0.693147)/3
    assert out.terms["log_ratio_mean"] == pytest.approx(-0.266169, rel=1e-5)
    authors, _, _ = run(alpha=0.5, gamma=0.0, normalization="authors")
    assert authors.loss.item() == pytest.approx((L_LIKE + l1) / 2, rel=1e-6)  # 1.153269


def test_cut_loss_focal_gamma1():
    # w = (p⁻)^1 = 0.9 on the flagged token:
    # L1 = (0.693147 + 2.302585 + 0.5·0.9·1.609438)/3 = 3.719979/3 = 1.239993
    l1 = (LN(2) + LN(10) + 0.5 * 0.9 * LN(5)) / 3
    out, _, _ = run(alpha=0.5, gamma=1.0)
    assert out.terms["unlike"] == pytest.approx(1.239993, rel=1e-6)
    assert out.loss.item() == pytest.approx(L_LIKE + l1, rel=1e-6)  # 2.279714
    authors, _, _ = run(alpha=0.5, gamma=1.0, normalization="authors")
    assert authors.loss.item() == pytest.approx((L_LIKE + l1) / 2, rel=1e-6)


def test_cut_loss_beta_scales_only_the_unflagged_likelihood():
    # β = 0: L1 = −0.5·ln(1 − .8)/3 = 0.5·1.609438/3 = 0.268240; gradient 0 on unflagged tokens.
    # β = .5: L1 = (0.5·(0.693147 + 2.302585) + 0.804719)/3 = 0.767528
    mis = MIS.clone().requires_grad_()
    out = cut_loss(LIKE, LIKE_MASK, mis, MIS_MASK, JUDGED_MIS, FLAGS, alpha=0.5, beta=0.0)
    assert out.terms["unlike"] == pytest.approx(0.268240, rel=1e-5)
    out.loss.backward()
    assert mis.grad[0, 0].item() == 0.0 and mis.grad[0, 2].item() == 0.0
    assert mis.grad[0, 1].item() == pytest.approx(0.666667, rel=1e-5)  # (α/3)·p/(1−p), as with β = 1
    half = cut_loss(LIKE, LIKE_MASK, MIS, MIS_MASK, JUDGED_MIS, FLAGS, alpha=0.5, beta=0.5)
    assert half.terms["unlike"] == pytest.approx(0.767528, rel=1e-5)
    with pytest.raises(ValueError, match="beta"):
        cut_loss(LIKE, LIKE_MASK, MIS, MIS_MASK, JUDGED_MIS, FLAGS, beta=-1.0)


def test_cut_loss_gradients_by_hand():
    # paper, α = .5, γ = 0. d/d like_logp = −1/2 per real like token.
    # d/d mis_logp: unflagged −1/3; flagged −(α/3)·d log(1−e^x)/dx = (α/3)·p/(1−p)
    #   = (.5/3)·(.8/.2) = 0.666667; padding 0.
    out, like, mis = run(alpha=0.5, gamma=0.0)
    judged = JUDGED_MIS.clone().requires_grad_()
    out = cut_loss(like, LIKE_MASK, mis, MIS_MASK, judged, FLAGS, 0.5, 1.0)
    g_like, g_mis, g_judged = torch.autograd.grad(out.loss, (like, mis, judged), allow_unused=True)
    torch.testing.assert_close(g_like, t32([[-0.5, -0.5, 0.0]]))
    # γ = 1 scales the flagged gradient by w = .9: 0.6
    torch.testing.assert_close(g_mis, t32([[-1 / 3, 0.6, -1 / 3, 0.0]]), rtol=1e-5, atol=1e-6)
    assert g_judged is None  # the focal weight is detached


def test_cut_loss_lambda_infinite_is_plain_nll():
    # λ → ∞ flags nothing: L1 = −mean(log p⁰) = (ln2 + ln1.25 + ln10)/3 = 3.218876/3 = 1.072959
    flags = ratio_flags(JUDGED_MIS, MIS, math.inf)
    assert not flags.any()
    out, _, _ = run(alpha=0.5, gamma=1.0, flags=flags)
    assert out.terms["unlike"] == pytest.approx(1.072959, rel=1e-6)
    assert out.terms["mle_misalign"] == pytest.approx(1.072959, rel=1e-6)
    assert out.terms["n_flagged"] == 0.0


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_cut_loss_positives_only(normalization):
    # M = 0: loss = L_like = 1.039721 in both normalisations; Misalign terms are 0, not nan.
    empty = torch.zeros(0, 4)
    like = LIKE.clone().requires_grad_()
    out = cut_loss(like, LIKE_MASK, empty, empty.bool(), empty, empty.bool(), 1.0, 0.0, normalization)
    assert out.loss.item() == pytest.approx(L_LIKE, rel=1e-6)
    assert out.terms["unlike"] == 0.0 and out.terms["n_mis_tokens"] == 0.0
    assert out.terms["flagged_frac"] == 0.0 and out.terms["log_ratio_mean"] == 0.0
    assert all(math.isfinite(v) for v in out.terms.values())
    (g,) = torch.autograd.grad(out.loss, like)
    torch.testing.assert_close(g, t32([[-0.5, -0.5, 0.0]]))


def test_cut_loss_finite_when_flagged_token_is_certain():
    # One flagged token with p⁰ = 1 (log p⁰ = 0), α = 1: L1 = −log(eps) = ln 1e6 = 13.815511,
    # gradient (1 − eps)/eps ≈ 999999 — large but finite.
    mis = t32([[0.0]]).requires_grad_()
    out = cut_loss(torch.zeros(0, 1), torch.zeros(0, 1, dtype=torch.bool), mis,
                   torch.tensor([[T]]), t32([[0.0]]), torch.tensor([[T]]), alpha=1.0)
    (g,) = torch.autograd.grad(out.loss, mis)
    assert out.loss.item() == pytest.approx(13.815511, rel=1e-4)
    assert g.item() == pytest.approx(999999.0, rel=1e-3)


def test_cut_loss_end_to_end_from_hidden_states_certain_token():
    # A target logit 40 above the rest makes p⁰ = 1 in fp32; the flagged unlikelihood must
    # still give finite gradients all the way to the hidden state.
    weight = torch.eye(4)
    hidden = t32([[40.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]]).requires_grad_()
    targets = torch.tensor([0, 1])
    logp = token_logprobs(hidden, weight, targets).view(1, 2)  # (M=1, L=2)
    out = cut_loss(logp, torch.ones(1, 2, dtype=torch.bool), logp, torch.ones(1, 2, dtype=torch.bool),
                   logp.detach() + 1.0, torch.tensor([[T, F]]), alpha=1.0, gamma=0.5)
    (g,) = torch.autograd.grad(out.loss, hidden)
    assert math.isfinite(out.loss.item()) and torch.isfinite(g).all()


def test_cut_loss_rejects_bad_arguments():
    m = torch.ones(1, 2, dtype=torch.bool)
    x = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="paper, authors"):
        cut_loss(x, m, x, m, x, m, normalization="mean")
    with pytest.raises(ValueError, match="share one shape"):
        cut_loss(x, m, x, m, torch.zeros(1, 3), m)
    with pytest.raises(ValueError, match="gamma"):
        cut_loss(x, m, x, m, x, m, gamma=-1.0)
