"""The authors' CUT formulation, re-implemented plainly — a yardstick for bench/train_speed.py.

Not used by ``cut``; written from the description of the authors' code (github wwxu21/CUT,
arXiv 2312.14591) in /work/shared/docs/cut-method.md, to measure what ``cut``'s own path
saves. What it does, as their code does:

- Every record becomes two rows in one batch of 2B rows: row i is the likelihood row
  (positive: plain context + response; negative: judged context + response) and row B + i
  the Misalign row (negative: plain context + the same response ids). A positive has no
  Misalign row, so row B + i is a dummy of pad tokens (attention mask 0, no labels) that is
  computed anyway.
- The whole batch's logits (2B, T, V) go through a full-vocabulary fp32 softmax, and
  p(target) is gathered from the probabilities.
- Flags: p⁻ / p⁰ > λ on the negatives' response tokens (same pass, so dropout on in
  training), detached.
- L_like = mean −log p over the likelihood rows; L_unlike = mean over Misalign tokens of
  −log p⁰ (unflagged) and −α·log(1 − p⁰ + 1e-5) (flagged); the loss is
  (L_like + L_unlike) / 2 when the batch holds a negative, else L_like.

One departure, in the authors' favour: their code takes ``log`` of the whole probability
tensor of the likelihood rows before an NLL loss; here the target probability is gathered
first and only those values are logged, which saves a (B, T, V) tensor. So the measured
speed-up of ``cut`` over this baseline is, if anything, understated.
"""

from __future__ import annotations

import torch

IGNORE = -100


def authors_batch(examples: list, pad_id: int) -> dict:
    """Examples (``cut.sequences.Example``) → the authors' 2B-row layout, right-padded.

    Returns input_ids / attention_mask / labels (2B, T) — labels are the response ids at
    their own positions, -100 elsewhere (the model shifts) — and is_negative (B,) bool.
    """
    B = len(examples)
    first, second = [], []
    for ex in examples:
        first.append(((ex.judged_ids if ex.is_negative else ex.plain_ids), ex.response_ids))
        second.append((ex.plain_ids, ex.response_ids) if ex.is_negative else None)
    rows = first + second
    T = max(len(ctx) + len(resp) for ctx, resp in filter(None, rows))
    input_ids = torch.full((2 * B, T), pad_id, dtype=torch.long)
    attention = torch.zeros((2 * B, T), dtype=torch.long)
    labels = torch.full((2 * B, T), IGNORE, dtype=torch.long)
    for i, row in enumerate(rows):
        if row is None:  # the dummy: all pad, nothing attended, nothing learnt — still computed
            continue
        ctx, resp = row
        n = len(ctx) + len(resp)
        input_ids[i, :n] = torch.tensor(ctx + resp)
        attention[i, :n] = 1
        labels[i, len(ctx):n] = torch.tensor(resp)
    is_negative = torch.tensor([ex.is_negative for ex in examples], dtype=torch.bool)
    return {"input_ids": input_ids, "attention_mask": attention, "labels": labels, "is_negative": is_negative}


def authors_loss(logits: torch.Tensor, batch: dict, lam: float = 1.1, alpha: float = 1.0) -> tuple[torch.Tensor, dict]:
    """The authors' loss from the full logits (2B, T, V); returns (loss, float terms)."""
    B = logits.shape[0] // 2
    probs = torch.softmax(logits.float(), dim=-1)  # (2B, T, V) fp32: the full softmax
    labels = batch["labels"][:, 1:]  # (2B, T-1): token t+1 is predicted at position t
    valid = labels != IGNORE  # (2B, T-1)
    p = probs[:, :-1].gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)  # (2B, T-1)

    l_like = -torch.log(p[:B][valid[:B]]).mean()
    neg = batch["is_negative"]  # (B,)
    if not bool(neg.any()):
        return l_like, {"like": float(l_like.detach()), "unlike": 0.0, "flagged_frac": 0.0}
    # Response tokens of each negative, in order; the two rows of a negative hold the same
    # response ids, so the k-th judged value pairs with the k-th plain value.
    p_judged = p[:B][neg][valid[:B][neg]]  # (N_mis,) p⁻
    p_plain = p[B:][neg][valid[B:][neg]]  # (N_mis,) p⁰
    if p_judged.shape != p_plain.shape:
        raise ValueError("authors_loss: a negative's two rows have different response lengths")
    flags = (p_judged / p_plain).detach() > lam  # (N_mis,) bool
    per_token = torch.where(flags, alpha * torch.log(1 - p_plain + 1e-5), torch.log(p_plain))
    l_unlike = -per_token.mean()
    loss = (l_like + l_unlike) / 2
    terms = {"like": float(l_like.detach()), "unlike": float(l_unlike.detach()), "flagged_frac": float(flags.float().mean())}
    return loss, terms


def authors_step(model, optimizer, batch: dict, lam: float = 1.1) -> float:
    """One training step of the authors' formulation: forward over 2B rows, loss, backward, step."""
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False)
    loss, _ = authors_loss(out.logits, batch, lam)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())
