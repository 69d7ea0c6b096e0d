"""Which response tokens does a judgment flag? Analysis and rendering for ``cut detect``.

For each negative record the model scores the response twice — after the judged context
(p⁻) and after the plain context (p⁰) — and CUT's ratio rule flags tokens with
log p⁻ − log p⁰ > log λ (arXiv 2312.14591 §3.3). Shown beside the judge's own spans, with
the detector's precision/recall against them, this is how a user picks λ and sees whether a
model is large enough for ratio detection to point at the criticised tokens at all.
Scoring runs without dropout and in fp32 (flags computed in bf16 are noise at λ = 1.1).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from cut import losses
from cut.records import NEGATIVE, Record, classify_judgment


@dataclass
class TokenAnalysis:
    record: Record
    tokens: list[str]  # response token strings (end-of-target included)
    log_ratio: list[float]  # log p⁻ − log p⁰ per token
    flags: list[bool]  # ratio detector at λ
    in_span: list[bool] | None  # token overlaps a judge span (None: record has no spans)

    def counts(self) -> tuple[int, int, int]:
        if self.in_span is None:
            return 0, 0, 0
        tp = sum(f and s for f, s in zip(self.flags, self.in_span))
        fp = sum(f and not s for f, s in zip(self.flags, self.in_span))
        fn = sum(s and not f for f, s in zip(self.flags, self.in_span))
        return tp, fp, fn


def analyse(model, tokenizer, template, records: list[Record], lam: float, batch_size: int = 4,
            progress=None) -> list[TokenAnalysis]:
    """Score every negative record's response in both contexts (no grad, fp32, eval mode)."""
    import torch

    from cut.sequences import collate, tokenize_record
    from cut.templates import end_of_target_ids
    from cut.trainer import response_logprobs

    negatives = [r for r in records if classify_judgment(r.judgment)[0] == NEGATIVE]
    eot = end_of_target_ids(template, tokenizer)
    model.eval()
    out: list[TokenAnalysis] = []
    for start in range(0, len(negatives), batch_size):
        chunk = negatives[start:start + batch_size]
        examples = [tokenize_record(r, tokenizer, template, eot) for r in chunk]
        batch = collate(examples, tokenizer.pad_token_id)
        with torch.no_grad():
            lp = response_logprobs(model, batch, chunk_size=1024)  # (2M, L): M Align-N rows, then M Misalign
        M = len(chunk)
        judged, plain = lp[batch["pair_index"]], lp[M:]
        flags = losses.ratio_flags(judged, plain, lam)
        for i, (rec, ex) in enumerate(zip(chunk, examples)):
            n = len(ex.response_ids)
            out.append(TokenAnalysis(
                record=rec,
                tokens=[tokenizer.decode([t]) for t in ex.response_ids],
                log_ratio=(judged[i, :n] - plain[i, :n]).tolist(),
                flags=flags[i, :n].tolist(),
                in_span=ex.span_mask,
            ))
        if progress is not None:
            progress(len(chunk))
    return out


def summarise(results: list[TokenAnalysis]) -> dict:
    tokens = sum(len(r.tokens) for r in results)
    flagged = sum(sum(r.flags) for r in results)
    tp = fp = fn = 0
    for r in results:
        a, b, c = r.counts()
        tp, fp, fn = tp + a, fp + b, fn + c
    precision, recall = losses.precision_recall(tp, fp, fn)
    with_spans = sum(r.in_span is not None for r in results)
    in_span = sum(sum(r.in_span) for r in results if r.in_span is not None)
    tokens_with_spans = sum(len(r.tokens) for r in results if r.in_span is not None)
    return {
        "records": len(results), "tokens": tokens, "flagged": flagged,
        "flagged_frac": flagged / tokens if tokens else 0.0,
        "mean_log_ratio": sum(sum(r.log_ratio) for r in results) / tokens if tokens else 0.0,
        "records_with_spans": with_spans, "span_token_frac": in_span / tokens_with_spans if tokens_with_spans else None,
        "precision": precision if with_spans else None, "recall": recall if with_spans else None,
    }


def rich_text(result: TokenAnalysis):
    """The response with flagged tokens in red, judge-span tokens underlined."""
    from rich.text import Text

    text = Text()
    spans = result.in_span or [False] * len(result.tokens)
    for tok, flag, span in zip(result.tokens, result.flags, spans):
        style = " ".join(s for s, on in (("bold white on red", flag), ("underline yellow", span)) if on)
        text.append(tok, style=style or None)
    return text


def render_html(results: list[TokenAnalysis], summary: dict, lam: float, title: str) -> str:
    rows = []
    for r in results:
        spans = r.in_span or [False] * len(r.tokens)
        cells = "".join(
            f'<span class="{"f" if f else ""} {"s" if s else ""}" title="log ratio {lr:+.3f}">{html.escape(t)}</span>'
            for t, f, s, lr in zip(r.tokens, r.flags, spans, r.log_ratio))
        tp, fp, fn = r.counts()
        pr = ""
        if r.in_span is not None:
            p, rc = losses.precision_recall(tp, fp, fn)
            pr = f"<div class=m>precision {p:.2f} · recall {rc:.2f}</div>"
        rows.append(
            f"<section><div class=m>{html.escape(str(r.record.id or ''))}</div>"
            f"<p><b>Instruction</b> {html.escape(r.record.prompt)}</p>"
            f"<p><b>Judgment</b> {html.escape(r.record.judgment or '')}</p>"
            f"<pre>{cells}</pre>{pr}</section>")
    stats = "".join(f"<tr><td>{k}</td><td>{_fmt(v)}</td></tr>" for k, v in summary.items())
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:auto}} pre{{white-space:pre-wrap;font-size:1.05em}}
.f{{background:#e55;color:#fff}} .s{{border-bottom:3px solid #d9a400}} section{{border-top:1px solid #ccc;padding:.5em 0}}
.m{{color:#666;font-size:.9em}} td{{padding:0 1em}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Tokens with log p(judged) − log p(plain) &gt; log λ (λ = {lam}) are <span class=f>red</span>;
tokens inside the judge's own spans are <span class=s>underlined</span>. Hover a token for its log ratio.</p>
<table>{stats}</table>{''.join(rows)}</body></html>"""


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.4f}" if isinstance(v, float) else str(v)
