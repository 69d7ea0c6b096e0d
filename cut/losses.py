"""The CUT loss as pure tensor functions: token log-probs, the flag mask, the loss itself.

Contrastive Unlikelihood Training (arXiv 2312.14591 §3, v4) trains three kinds of rows:
Align-P and Align-N rows by likelihood, Misalign rows (the negative's response in the plain
context) by likelihood on unflagged tokens and unlikelihood ``log(1 - p⁰)`` on flagged ones.
A token is flagged when the critique makes it more likely: ``log p⁻ − log p⁰ > log λ``.

Everything here is tensors in, tensors out: no model, no trainer, no transformers import.
The trainer computes per-token log-probs with :func:`token_logprobs`, builds the mask with
:func:`detect` and calls :func:`cut_loss`.

Departures from the paper / the authors' code, on purpose:
- Log-probs come from a chunked ``logit[target] − logsumexp`` with a hand-written backward,
  so neither the forward nor the state saved for backward ever holds an fp32 (N, V)
  tensor (the authors materialise a full-vocabulary fp32 softmax).
- ``log(1 − p)`` is the standard two-branch log1mexp with a straight-through clamp instead
  of the authors' ``log(1 − p + 1e-5)``; see :func:`log1mexp`.
- The total is the paper's ``L_like + L1`` by default. The authors' code averages the two
  whenever a micro-batch holds a negative, which makes a negative's weight depend on what
  else is in the batch; that is offered as ``normalization="authors"`` for comparison only.
- The focal weight ``w = (p⁻)^γ`` of paper v4 is included (γ = 0 gives the authors' w = 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

# --------------------------------------------------------------------------- log-probs


def _logits_fp32(h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """(n, H) @ (V, H).T (+ (V,)) → (n, V) fp32; the matmul runs in the operands' dtype."""
    logits = h @ weight.t()  # (n, V)
    if bias is not None:
        logits = logits + bias
    return logits.float()


def _unit_dlogits(logits: Tensor, lse: Tensor, t: Tensor) -> Tensor:
    """d log p(t) / d logits = onehot(t) − softmax: (n, V) fp32 from logits (n, V), lse (n,)."""
    dz = torch.exp(logits - lse[:, None]).neg_()  # (n, V)
    return dz.scatter_add_(1, t[:, None], torch.ones_like(lse[:, None]))


class _ChunkedTokenLogprobs(torch.autograd.Function):
    """log p(target) chunk by chunk, never holding more than one chunk's fp32 logits.

    Plain autograd through a chunked loop would keep every chunk's fp32 logits alive for
    the logsumexp backward — the whole (N, V) fp32 tensor again, only in pieces. Instead:
    out_i depends on hidden row i alone, so its gradient w.r.t. that row is a fixed vector
    J_i = (onehot(t_i) − p_i) @ W scaled by the incoming grad; the forward stores J (N, H)
    and the hidden gradient needs no recompute. The weight/bias gradient sums over rows
    with the incoming grads as weights, so it recomputes each chunk's logits in backward
    (only when the lm_head is trained; LoRA keeps it frozen).
    """

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk_size, want_jac):
        # One matmul dtype for forward and backward; autocast off so the passes agree.
        mm_dtype = torch.promote_types(hidden.dtype, weight.dtype)
        if bias is not None:
            mm_dtype = torch.promote_types(mm_dtype, bias.dtype)
        h_all, w = hidden.to(mm_dtype), weight.to(mm_dtype)
        b = None if bias is None else bias.to(mm_dtype)
        n, dev = hidden.shape[0], hidden.device
        out = torch.empty(n, dtype=torch.float32, device=dev)  # (N,)
        lse = torch.empty(n, dtype=torch.float32, device=dev)  # (N,)
        jac = torch.empty(hidden.shape, dtype=torch.float32, device=dev) if want_jac else None  # (N, H)
        with torch.autocast(device_type=dev.type, enabled=False):
            for s in range(0, n, chunk_size):
                sl = slice(s, s + chunk_size)
                logits = _logits_fp32(h_all[sl], w, b)  # (n_c, V) fp32
                lse[sl] = torch.logsumexp(logits, dim=-1)
                out[sl] = logits.gather(1, targets[sl, None]).squeeze(1) - lse[sl]
                if want_jac:
                    jac[sl] = (_unit_dlogits(logits, lse[sl], targets[sl]).to(mm_dtype) @ w).float()
        ctx.save_for_backward(hidden, weight, bias, targets, lse, jac)
        ctx.chunk_size, ctx.mm_dtype = chunk_size, mm_dtype
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):  # grad_out (N,) fp32
        hidden, weight, bias, targets, lse, jac = ctx.saved_tensors
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        g_all = grad_out.float()[:, None]  # (N, 1)
        gh = (g_all * jac).to(hidden.dtype) if need_h else None  # (N, H)
        gw = gb = None
        if need_w or need_b:
            gw, gb = _param_grads(ctx, hidden, weight, bias, targets, lse, g_all, need_w, need_b)
        return gh, gw, gb, None, None, None


def _param_grads(ctx, hidden, weight, bias, targets, lse, g_all, need_w, need_b):
    """lm_head weight (V, H) and bias (V,) gradients, recomputing logits chunk by chunk."""
    cs, mm_dtype = ctx.chunk_size, ctx.mm_dtype
    h_all, w = hidden.to(mm_dtype), weight.to(mm_dtype)
    b = None if bias is None else bias.to(mm_dtype)
    # Sums over chunks: accumulate in fp32, cast once at the end.
    gw = torch.zeros(weight.shape, dtype=torch.float32, device=weight.device) if need_w else None
    gb = torch.zeros(bias.shape, dtype=torch.float32, device=bias.device) if need_b else None
    with torch.autocast(device_type=hidden.device.type, enabled=False):
        for s in range(0, hidden.shape[0], cs):
            sl = slice(s, s + cs)
            dz = _unit_dlogits(_logits_fp32(h_all[sl], w, b), lse[sl], targets[sl]).mul_(g_all[sl])  # (n_c, V)
            if need_w:
                gw += (dz.to(mm_dtype).t() @ h_all[sl]).float()  # (V, H)
            if need_b:
                gb += dz.sum(0)  # (V,)
    return (None if gw is None else gw.to(weight.dtype)), (None if gb is None else gb.to(bias.dtype))


def token_logprobs(hidden: Tensor, weight: Tensor, targets: Tensor, bias: Tensor | None = None,
                   chunk_size: int = 1024) -> Tensor:
    """log p(target) for each row of ``hidden``, without a full-vocabulary fp32 softmax.

    ``hidden`` (N, H) any float dtype; ``weight`` (V, H) the output embedding (lm_head)
    weight; ``targets`` (N,) long in [0, V); optional ``bias`` (V,). Returns (N,) float32.

    Logits are computed ``chunk_size`` rows at a time, in the promoted dtype of the inputs
    (bf16 stays bf16 for the matmul), upcast to fp32 per chunk, and reduced to
    ``logit[target] − logsumexp(logits)``. Differentiable w.r.t. ``hidden``, ``weight`` and
    ``bias`` (first-order only). Under grad, the forward also stores the (N, H) fp32
    gradient direction of each row (one extra matmul, no recompute for the hidden grad);
    only a trained lm_head weight/bias recomputes the logits in backward.
    """
    if hidden.dim() != 2 or weight.dim() != 2 or hidden.shape[1] != weight.shape[1]:
        raise ValueError(f"token_logprobs: need hidden (N, H) and weight (V, H), got "
                         f"{tuple(hidden.shape)} and {tuple(weight.shape)}")
    if targets.shape != hidden.shape[:1]:
        raise ValueError(f"token_logprobs: targets {tuple(targets.shape)} must be (N,) = ({hidden.shape[0]},)")
    if chunk_size < 1:
        raise ValueError(f"token_logprobs: chunk_size must be >= 1, got {chunk_size}")
    targets = targets.long()
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= weight.shape[0]):
        # gather would fail (CPU) or device-assert (CUDA); -100 label padding lands here.
        raise ValueError(f"token_logprobs: targets must lie in [0, {weight.shape[0]}), got "
                         f"[{int(targets.min())}, {int(targets.max())}] (drop ignored positions first)")
    # Grad mode is off inside Function.forward, so decide here whether J is worth computing.
    want_jac = torch.is_grad_enabled() and hidden.requires_grad
    return _ChunkedTokenLogprobs.apply(hidden, weight, bias, targets, int(chunk_size), want_jac)


def logprobs_from_logits(logits: Tensor, targets: Tensor) -> Tensor:
    """Precomputed ``logits`` (N, V) and ``targets`` (N,) → log p(target) (N,) fp32.

    ``gather − logsumexp`` in fp32 (one fp32 copy of ``logits``; use :func:`token_logprobs`
    when the logits are not already materialised)."""
    logits = logits.float()  # (N, V)
    return logits.gather(-1, targets.long().unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


# --------------------------------------------------------------------------- log(1 − p)

_LN_HALF = -math.log(2.0)


def log1mexp(logp: Tensor, eps: float = 1e-6) -> Tensor:
    """``log(1 − exp(logp))`` for ``logp <= 0``, finite with a finite gradient as p → 1.

    Two branches (Mächler's split): ``log(−expm1(x))`` for ``x > −ln 2``, where expm1 keeps
    the small difference 1 − p exact, and ``log1p(−exp(x))`` below, where exp is small.

    ``logp`` is capped at ``log(1 − eps)``, so the value never goes below ``log(eps)``
    (−13.8 for the default). The cap is straight-through: its gradient is 1, not 0, so a
    flagged token the model is already sure of (p⁰ ≈ 1, the one unlikelihood most wants to
    push down) still gets a gradient, ``−(1 − eps)/eps`` w.r.t. ``logp``. Through the
    softmax that becomes at most ≈ 2 in logit space, since ∂logp/∂logits has size 2(1 − p).
    """
    cap = math.log1p(-eps)
    x = logp - (logp - cap).clamp(min=0).detach()  # value min(logp, cap); d x / d logp = 1
    return torch.where(x > _LN_HALF, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


# --------------------------------------------------------------------------- detection


def ratio_flags(judged_logp: Tensor, plain_logp: Tensor, lam: float) -> Tensor:
    """Flag where the critique makes a token more likely: ``log p⁻ − log p⁰ > log λ``.

    ``judged_logp`` (log p⁻) and ``plain_logp`` (log p⁰) are (M, L) of the same response
    tokens; compared in fp32 on detached copies (strict >). Returns (M, L) bool, no grad.
    Padding positions are not masked here: the caller combines with its token mask.
    """
    if lam <= 0:
        raise ValueError(f"ratio_flags: lambda must be > 0, got {lam}")
    if judged_logp.shape != plain_logp.shape:
        raise ValueError(f"ratio_flags: shapes differ: judged {tuple(judged_logp.shape)} "
                         f"vs plain {tuple(plain_logp.shape)}")
    log_ratio = judged_logp.detach().float() - plain_logp.detach().float()  # (M, L)
    # A python scalar does not promote the comparison: log λ is rounded to fp32 too, so a
    # log ratio equal to fp32(log λ) is not flagged.
    return log_ratio > math.log(lam)


def _spans_or_none(ratio: Tensor, spans: Tensor | None) -> Tensor:
    return torch.zeros_like(ratio, dtype=torch.bool) if spans is None else spans.bool()


# name → combine(ratio_mask, span_mask or None) → mask. "spans" uses the judge's quoted
# spans alone; records without spans then flag nothing (rather than everything). "revision"
# reads the same mask, which ``cut.sequences`` fills from the token diff against the record's
# revision where it has one (and from the judge's spans where it has none).
DETECTORS: dict[str, Callable[[Tensor, Tensor | None], Tensor]] = {
    "ratio": lambda ratio, spans: ratio,
    "spans": _spans_or_none,
    "revision": _spans_or_none,
    "union": lambda ratio, spans: ratio | _spans_or_none(ratio, spans),
    "intersection": lambda ratio, spans: ratio & _spans_or_none(ratio, spans),
}


def detect(name: str, judged_logp: Tensor, plain_logp: Tensor, lam: float,
           span_mask: Tensor | None) -> Tensor:
    """The flag mask (M, L) bool of detector ``name`` (a key of :data:`DETECTORS`)."""
    try:
        combine = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; valid: {', '.join(DETECTORS)}") from None
    ratio = ratio_flags(judged_logp, plain_logp, lam)
    if span_mask is not None and span_mask.shape != ratio.shape:
        raise ValueError(f"detect: span_mask {tuple(span_mask.shape)} must match {tuple(ratio.shape)}")
    return combine(ratio, span_mask)


def span_detection_counts(flags: Tensor, span_mask: Tensor, valid: Tensor) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of ``flags`` against the judge's
    ``span_mask``, counted over ``valid`` tokens only (all three the same shape)."""
    f, s, v = flags.bool(), span_mask.bool(), valid.bool()
    tp, fp, fn = (f & s & v).sum(), (f & ~s & v).sum(), (~f & s & v).sum()
    return int(tp), int(fp), int(fn)


def precision_recall(tp: int, fp: int, fn: int) -> tuple[float, float]:
    """(precision, recall); each is nan when its denominator is 0."""
    precision = tp / (tp + fp) if tp + fp else math.nan
    recall = tp / (tp + fn) if tp + fn else math.nan
    return precision, recall


# --------------------------------------------------------------------------- the loss


def _paper_total(l_like: Tensor, l1: Tensor, n_mis: Tensor) -> Tensor:
    return l_like + l1


def _authors_total(l_like: Tensor, l1: Tensor, n_mis: Tensor) -> Tensor:
    # The authors' code halves the sum whenever the micro-batch has a negative, so one
    # negative's weight depends on batch composition. Compatibility only.
    return torch.where(n_mis > 0, (l_like + l1) / 2, l_like)


NORMALIZATIONS = ("paper", "authors")
_TOTALS: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "paper": _paper_total,
    "authors": _authors_total,
}
assert tuple(_TOTALS) == NORMALIZATIONS


@dataclass
class CUTLossOutput:
    """``loss``: scalar, differentiable. ``terms``: python floats for logging, nan-free —
    loss, like, unlike (L1), mle_misalign (the unflagged part of L1), flagged_frac,
    log_ratio_mean, n_like_tokens, n_mis_tokens, n_flagged."""

    loss: Tensor
    terms: dict[str, float]


def _check_same_shape(what: str, *tensors: Tensor) -> None:
    shapes = {tuple(t.shape) for t in tensors}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(f"cut_loss: {what} tensors must be 2-D and share one shape, got {sorted(shapes)}")


def cut_loss(like_logp: Tensor, like_mask: Tensor,
             mis_logp: Tensor, mis_mask: Tensor,
             judged_logp: Tensor, flags: Tensor,
             alpha: float = 1.0, gamma: float = 0.0,
             normalization: str = "paper", beta: float = 1.0) -> CUTLossOutput:
    """The CUT loss of one micro-batch (arXiv 2312.14591 §3, Eq. for L_CUT; v4 focal weight).

    Inputs (padding positions: mask False; their values are ignored, even if ±inf):
      like_logp (A, L) fp32, with grad — log p of the target tokens of Align-P and Align-N
          rows; like_mask (A, L) bool. A may be 0.
      mis_logp (M, L2) fp32, with grad — log p⁰ of Misalign response tokens (plain context);
          mis_mask (M, L2) bool. M may be 0.
      judged_logp (M, L2) — log p⁻ of the same tokens in the judged context; used detached,
          only for the focal weight. flags (M, L2) bool — the detector's mask; no gradient.

    With N_like, N_mis the token counts and U the flagged tokens:
      L_like = −Σ like_logp / N_like                                   (0 if N_like = 0)
      L1     = −[β Σ_{t∉U} log p⁰_t + α Σ_{t∈U} w_t log(1 − p⁰_t)] / N_mis  (0 if N_mis = 0)
      w_t    = (p⁻_t)^γ, detached (γ = 0 → 1)
      β      = 1 in the paper; β = 0 drops the likelihood on the unflagged tokens of a rejected
               response (not in the paper: with a detector that flags the wrong tokens, that
               term is plain MLE on rejected answers)
      loss   = L_like + L1                         ("paper")
             = (L_like + L1)/2 if N_mis > 0 else L_like   ("authors", compatibility only)
    """
    if normalization not in _TOTALS:
        raise ValueError(f"unknown normalization {normalization!r}; valid: {', '.join(NORMALIZATIONS)}")
    if alpha < 0 or gamma < 0 or beta < 0:
        raise ValueError(f"cut_loss: alpha, beta and gamma must be >= 0, got alpha={alpha}, beta={beta}, gamma={gamma}")
    _check_same_shape("like", like_logp, like_mask)
    _check_same_shape("Misalign", mis_logp, mis_mask, judged_logp, flags)

    like_valid = like_mask.bool()  # (A, L)
    n_like = like_valid.sum()
    like_sum = torch.where(like_valid, like_logp.float(), 0.0).sum()
    l_like = -like_sum / n_like.clamp(min=1)

    mis_valid = mis_mask.bool()  # (M, L2)
    flagged = flags.detach().bool() & mis_valid
    kept = mis_valid & ~flagged
    n_mis, n_flagged = mis_valid.sum(), flagged.sum()
    mis_logp = mis_logp.float()
    judged = torch.where(flagged, judged_logp.detach().float(), 0.0)  # (M, L2)
    # gamma == 0 is w = 1 exactly, also where log p⁻ = −inf (0 · −inf would be nan).
    weight = torch.ones_like(judged) if gamma == 0 else torch.exp(gamma * judged)
    mle_sum = torch.where(kept, mis_logp, 0.0).sum()
    unlike_sum = torch.where(flagged, weight * log1mexp(mis_logp), 0.0).sum()
    denom = n_mis.clamp(min=1)
    l1 = -(beta * mle_sum + alpha * unlike_sum) / denom

    loss = _TOTALS[normalization](l_like, l1, n_mis)

    with torch.no_grad():
        log_ratio_sum = torch.where(mis_valid, judged_logp.float() - mis_logp, 0.0).sum()
        stats = torch.stack([x.double() for x in (
            loss, l_like, l1, -mle_sum / denom, n_flagged / denom, log_ratio_sum / denom,
            n_like, n_mis, n_flagged)]).tolist()  # one device sync for all terms
    names = ("loss", "like", "unlike", "mle_misalign", "flagged_frac", "log_ratio_mean",
             "n_like_tokens", "n_mis_tokens", "n_flagged")
    return CUTLossOutput(loss=loss, terms=dict(zip(names, map(float, stats))))
