"""Records → tokenized CUT examples → padded batches.

Each positive record yields one sequence (Align-P: plain context + response). Each negative
yields two that share the *same* response ids (arXiv 2312.14591 §3.2): Align-N (judged
context + response, likelihood) and Misalign (plain context + response, likelihood on
unflagged tokens, unlikelihood on flagged ones). A batch holds exactly those rows — no padded
dummy rows for positives, unlike the authors' code.

A negative with a ``revision`` (a corrected answer its judge proposed) adds a third row: the
revision after the plain context, by likelihood (an Align-P row for its instruction), beside
the Misalign row of the original — the minimal contrast CUT wants. With ``detector:
revision`` the Misalign row's flagged tokens are the ones the revision changes (token diff;
an insertion flags the token written in its place, so a missing ending flags the
end-of-turn). ``align_n: false`` leaves the Align-N row out (its only use with the span or
revision detectors is likelihood of a rejected answer under its critique). A record whose
generation was cut off (``metadata.truncated``) trains no end-of-turn target: its end is not
a stopping point.

Length policy: the context (instruction, judgment, template) is never cut. When the longer
context plus the response exceeds ``max_length``, the response is truncated from its end
(``truncate``; both rows keep identical ids) or the record is skipped (``skip``); a context
that alone leaves no room is always skipped. Every such decision is counted in the report.
"""

from __future__ import annotations

import difflib
import random
from collections import Counter
from dataclasses import dataclass, field

from cut.errors import CutError
from cut.records import NEGATIVE, POSITIVE, Record, classify_judgment
from cut.templates import (Template, context_ids, end_of_target_ids, judged_context, plain_context,
                           response_ids)

LENGTH_POLICIES = ("truncate", "skip")
# What the records train: "cut" (Align-P + Align-N + Misalign), "sft" (positives only, plain
# likelihood: rejection-sampling fine-tuning, the paper's Align-P-only ablation), "hindsight"
# (likelihood of every response given its judgment; positives get HINDSIGHT_POSITIVE).
METHODS = ("cut", "sft", "hindsight")
HINDSIGHT_POSITIVE = "Perfect."


@dataclass
class SequenceSettings:
    max_length: int = 1024
    length_policy: str = "truncate"
    # Keep at most ratio × #negatives positives (the paper: 0.25), sampled with ``seed``.
    # None keeps every positive.
    positive_ratio: float | None = 0.25
    seed: int = 42
    method: str = "cut"
    use_revisions: bool = True  # cut: revision rows beside Misalign; sft: revisions as positives (ILF)
    align_n: bool = True  # cut: the Align-N row of each negative (the paper); False needs a span/revision detector
    detector: str = "ratio"  # "revision": Misalign flags from the token diff against the revision


@dataclass
class Example:
    """One record, tokenized. ``judged_ids`` is None for positives."""

    plain_ids: list[int]
    response_ids: list[int]  # includes the end-of-target ids
    judged_ids: list[int] | None = None
    span_mask: list[bool] | None = None  # per response token: overlaps a judge span (or differs from the revision)
    record_id: str | None = None
    revision_ids: list[int] | None = None  # negatives: the revision's ids (+ end of target), an Align-P row
    align_n: bool = True  # negatives: train the Align-N row

    @property
    def is_negative(self) -> bool:
        return self.judged_ids is not None

    @property
    def rows(self) -> int:
        """Sequences this example puts in a batch."""
        if not self.is_negative:
            return 1
        return 1 + self.align_n + (self.revision_ids is not None)


@dataclass
class BuildReport:
    records: int = 0
    positive: int = 0
    negative: int = 0
    rejected: Counter = field(default_factory=Counter)
    positives_dropped: int = 0  # by downsampling
    revisions: int = 0  # revisions trained (cut: beside their Misalign rows; sft: as positives)
    cut_off: int = 0  # records whose generation hit the token limit (no end-of-turn target)
    truncated: int = 0
    truncated_tokens: int = 0  # response (and revision) tokens cut from the ends to fit max_length
    skipped_too_long: int = 0
    examples: int = 0
    sequences: int = 0

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["rejected"] = dict(self.rejected)
        return d


def build_examples(records: list[Record], tokenizer, template: Template,
                   settings: SequenceSettings) -> tuple[list[Example], BuildReport]:
    """Classify, downsample, tokenize and length-check records (pure apart from the tokenizer)."""
    if settings.length_policy not in LENGTH_POLICIES:
        raise CutError(f"unknown length_policy {settings.length_policy!r}: use truncate or skip")
    report = BuildReport(records=len(records))
    positives, negatives = [], []
    for rec in records:
        polarity, reason = classify_judgment(rec.judgment)
        if polarity == POSITIVE:
            positives.append(rec)
        elif polarity == NEGATIVE:
            negatives.append(rec)
        else:
            report.rejected[reason] += 1
    report.positive, report.negative = len(positives), len(negatives)
    if settings.method not in METHODS:
        raise CutError(f"unknown method {settings.method!r}: use one of {', '.join(METHODS)}")
    if not settings.align_n and settings.detector not in ("spans", "revision"):
        raise CutError(f"align_n false needs detector spans or revision (the {settings.detector!r} detector "
                       f"reads the Align-N row)")
    if settings.method == "cut":
        kept_pos = downsample_positives(positives, len(negatives), settings.positive_ratio, settings.seed)
    else:  # the baselines train on every record they use: nothing to balance against
        kept_pos = positives
    report.positives_dropped = len(positives) - len(kept_pos)
    if settings.method == "sft":
        if settings.use_revisions:  # ILF: a critiqued answer's revision is a positive of its own
            kept_pos = kept_pos + [revision_record(rec) for rec in negatives if rec.revision is not None]
        negatives = []

    eot = end_of_target_ids(template, tokenizer)
    examples = []
    for rec in kept_pos + negatives:
        if settings.method == "hindsight":
            ex = tokenize_hindsight(rec, tokenizer, template, eot)
        else:
            ex = tokenize_record(rec, tokenizer, template, eot, settings)
        ex = apply_length_policy(ex, settings, report)
        if ex is not None:
            examples.append(ex)
            report.cut_off += bool(rec.metadata.get("truncated"))
            report.revisions += ex.revision_ids is not None or bool(rec.metadata.get("from_revision"))
    # Shuffle once, seeded, so positives and negatives mix across batches.
    random.Random(settings.seed).shuffle(examples)
    report.examples = len(examples)
    report.sequences = sum(ex.rows for ex in examples)
    return examples, report


def revision_record(rec: Record) -> Record:
    """A negative's revision as a positive record of the same instruction (for sft)."""
    return Record(instruction=rec.instruction, input=rec.input, response=rec.revision, judgment=None,
                  id=f"{rec.id}#revision" if rec.id else None, source=rec.source, round=rec.round, judge=rec.judge,
                  metadata={"from_revision": True})


def downsample_positives(positives: list, n_negatives: int, ratio: float | None, seed: int) -> list:
    if ratio is None:
        return list(positives)
    keep = min(len(positives), int(round(ratio * n_negatives)))
    return random.Random(seed).sample(positives, keep)


def tokenize_record(rec: Record, tokenizer, template: Template, eot: list[int],
                    settings: SequenceSettings | None = None) -> Example:
    settings = settings or SequenceSettings()
    ids, offsets = response_ids(tokenizer, rec.response)
    end = [] if rec.metadata.get("truncated") else list(eot)  # a cut-off answer did not end here
    plain = context_ids(template, tokenizer, plain_context(template, tokenizer, rec.prompt))
    judged = None
    span_mask = None
    revision = None
    if classify_judgment(rec.judgment)[0] == NEGATIVE:
        judged = context_ids(template, tokenizer, judged_context(template, tokenizer, rec.prompt, rec.judgment))
        if rec.spans is not None:
            span_mask = spans_to_token_mask(rec.spans, offsets) + [False] * len(end)
        if rec.revision is not None and settings.use_revisions and settings.method == "cut":
            revision = response_ids(tokenizer, rec.revision)[0] + list(eot)
            if settings.detector == "revision":
                span_mask = revision_flags(ids + end, revision)
    return Example(plain_ids=plain, response_ids=ids + end, judged_ids=judged, span_mask=span_mask,
                   record_id=rec.id, revision_ids=revision, align_n=settings.align_n)


def revision_flags(original: list[int], revision: list[int]) -> list[bool]:
    """Per token of ``original``: True where the revision changes it. Replaced and deleted
    tokens are flagged (the loop a revision cuts off, a comma it removes); an insertion flags
    the original token at its place (the token written instead of what the revision inserts:
    a missing ending flags the end-of-turn, a missing opening quote the first word)."""
    flags = [False] * len(original)
    ops = difflib.SequenceMatcher(None, original, revision, autojunk=False).get_opcodes()
    for tag, i1, i2, _, _ in ops:
        if tag == "equal":
            continue
        for i in range(i1, i2) if tag != "insert" else [min(i1, len(original) - 1)]:
            flags[i] = True
    return flags


def tokenize_hindsight(rec: Record, tokenizer, template: Template, eot: list[int]) -> Example:
    """Hindsight baseline: one likelihood row, the response after its judged context."""
    ids, _ = response_ids(tokenizer, rec.response)
    judgment = rec.judgment if classify_judgment(rec.judgment)[0] == NEGATIVE else HINDSIGHT_POSITIVE
    ctx = context_ids(template, tokenizer, judged_context(template, tokenizer, rec.prompt, judgment))
    return Example(plain_ids=ctx, response_ids=ids + list(eot), record_id=rec.id)


def spans_to_token_mask(spans: list[list[int]], offsets: list[tuple[int, int]]) -> list[bool]:
    """True for each token whose character range overlaps any [start, end) span."""
    return [any(s < end and e > start for start, end in spans) for s, e in offsets]


def apply_length_policy(ex: Example, settings: SequenceSettings, report: BuildReport) -> Example | None:
    # the judged context is a row only with Align-N; without it a long critique costs nothing
    longest_context = max(len(ex.plain_ids), len(ex.judged_ids or []) if ex.align_n else 0)
    room = settings.max_length - longest_context
    if ex.revision_ids is not None and len(ex.revision_ids) > settings.max_length - len(ex.plain_ids):
        report.truncated += 1  # a revision is only cut, never dropped with its record
        report.truncated_tokens += len(ex.revision_ids) - max(settings.max_length - len(ex.plain_ids), 1)
        ex.revision_ids = ex.revision_ids[: max(settings.max_length - len(ex.plain_ids), 1)]
    if len(ex.response_ids) <= room:
        return ex
    if room < 1 or settings.length_policy == "skip":
        report.skipped_too_long += 1
        return None
    report.truncated += 1
    report.truncated_tokens += len(ex.response_ids) - room
    ex.response_ids = ex.response_ids[:room]
    if ex.span_mask is not None:
        ex.span_mask = ex.span_mask[:room]
    return ex


def collate(examples: list[Example], pad_id: int) -> dict:
    """Pad a micro-batch into one tensor of rows: likelihood rows first, then Misalign rows.

    Rows 0..A-1: Align-P (positives, and the revisions of negatives) and Align-N (negatives,
    judged context). Rows A..A+M-1: Misalign (negatives, plain context), row A+i pairs with
    Align-N row ``pair_index[i]`` (or with itself when the example has no Align-N row); both
    carry the same response ids, so their response positions align.

    Returns tensors: input_ids/attention_mask (R, T); targets/pred_pos/resp_mask (R, L) —
    response token k of row r is ``targets[r, k]``, predicted from position ``pred_pos[r, k]``;
    pair_index (M,); span_mask (M, L); has_spans (M,).
    """
    import torch

    like_rows, mis_rows, pair_index, spans = [], [], [], []
    for ex in examples:
        if ex.is_negative:
            if ex.revision_ids is not None:
                like_rows.append((ex.plain_ids, ex.revision_ids))
            pair_index.append(len(like_rows) if ex.align_n else -1)  # -1: its own Misalign row, set below
            if ex.align_n:
                like_rows.append((ex.judged_ids, ex.response_ids))
            mis_rows.append((ex.plain_ids, ex.response_ids))
            spans.append(ex.span_mask)
        else:
            like_rows.append((ex.plain_ids, ex.response_ids))
    # Without an Align-N row, a Misalign row is paired with itself: its "judged" log-probs are
    # its own (log ratio 0), which only the ratio detector and the focal weight would read.
    pair_index = [p if p >= 0 else len(like_rows) + i for i, p in enumerate(pair_index)]
    rows = like_rows + mis_rows
    T = max(len(c) + len(r) for c, r in rows)
    L = max(len(r) for _, r in rows)
    R = len(rows)
    input_ids = torch.full((R, T), pad_id, dtype=torch.long)
    attention = torch.zeros((R, T), dtype=torch.long)
    targets = torch.zeros((R, L), dtype=torch.long)
    pred_pos = torch.zeros((R, L), dtype=torch.long)
    resp_mask = torch.zeros((R, L), dtype=torch.bool)
    for i, (ctx, resp) in enumerate(rows):
        n = len(ctx) + len(resp)
        input_ids[i, :n] = torch.tensor(ctx + resp)
        attention[i, :n] = 1
        k = len(resp)
        targets[i, :k] = torch.tensor(resp)
        # token at position len(ctx)+j is predicted by the hidden state one position earlier
        pred_pos[i, :k] = torch.arange(len(ctx) - 1, len(ctx) - 1 + k)
        resp_mask[i, :k] = True
    M = len(mis_rows)
    span_mask = torch.zeros((M, L), dtype=torch.bool)
    has_spans = torch.zeros((M,), dtype=torch.bool)
    for i, sm in enumerate(spans):
        if sm is not None:
            span_mask[i, : len(sm)] = torch.tensor(sm, dtype=torch.bool)
            has_spans[i] = True
    return {
        "input_ids": input_ids, "attention_mask": attention, "targets": targets,
        "pred_pos": pred_pos, "resp_mask": resp_mask,
        "pair_index": torch.tensor(pair_index, dtype=torch.long),
        "span_mask": span_mask, "has_spans": has_spans,
    }


class ExampleDataset:
    """A list of examples as a map-style dataset for transformers' Trainer."""

    def __init__(self, examples: list[Example]):
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> Example:
        return self.examples[i]


class Collator:
    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, examples: list[Example]) -> dict:
        return collate(examples, self.pad_id)
