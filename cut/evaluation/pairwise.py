"""Pairwise annotation: an OpenAI-compatible judge says which of two outputs is better.

Each pair (``alpaca_format.make_pairs``: output_1 = reference, output_2 = model) is shown to
the judge with ``pairwise_prompt``, in one of two modes:

- ``ranking`` (AlpacaEval 1 style): the judge answers with one identifier; the verdict is
  discrete (1 or 2);
- ``weighted`` (AlpacaEval 2 style): one token (``max_tokens`` 1) with ``logprobs`` and
  ``top_logprobs``; with la, lb the log-probabilities of the identifiers of the first and
  second output shown, preference = 2 − exp(la − logsumexp(la, lb))
  (``weighted.preference_from_logprobs``). Spellings of an identifier with surrounding
  whitespace ("A", " A") are one answer: their probabilities are summed.

Position bias: for a seeded, deterministic half of the instructions (AlpacaEval's rule,
``weighted.alpaca_eval_swapped``) the model's output is shown first; the verdict is mapped
back with 3 − x, so a stored ``preference`` always reads 1 = reference better, 2 = model
better. Each annotation records ``swapped``.

Replies go to a ``JudgeCache`` keyed by (settings, messages): a rerun sends nothing, and the
stored ``raw_completion`` (the reply's ``choices[0]``) can be re-parsed
(``weighted.preference_from_raw_completion`` with our identifiers). A cached annotation keeps
the price and time it cost when it was paid for. Unusable replies — no identifier, no
log-probabilities, a refusal, an HTTP failure after retries — are counted by reason, left out
of the annotations (never scored) and returned as failures; they are not cached, so a rerun
asks again. Pairs whose two outputs are identical are draws (1.5) without a judge call.

The HTTP side (key handling, retries, concurrency, prices) is ``cut.judges.openai_client``'s
``ChatClient``.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from cut.errors import CutError, reject_unknown
from cut.evaluation.pairwise_prompt import DEFAULT_PAIRWISE_PROMPT, PairwisePrompt
from cut.evaluation.weighted import alpaca_eval_swapped, first_token_logprobs, preference_from_logprobs

JUDGE_MODES = ("ranking", "weighted")
RANKING_MAX_TOKENS = 16  # room for "Answer A." and the like; the reply must name one identifier

# Reasons an unusable reply is dropped (the keys of PairwiseResult.unusable).
FAILED_REQUEST = "request failed"
REFUSED = "judge refused"
FILTERED = "withheld by a content filter"
NO_IDENTIFIER = "no identifier in the reply"
NO_LOGPROBS = "no log-probabilities in the reply"
NO_ID_LOGPROBS = "neither identifier among the top log-probabilities"


@dataclass
class PairwiseResult:
    """``annotations``: AlpacaEval annotation rows (usable ones only, in input order);
    ``failures``: {instruction, reason, detail, swapped, raw_completion} per dropped pair;
    ``summary``: counts, this run's requests, tokens, cost (USD) and wall seconds."""

    annotations: list[dict]
    failures: list[dict]
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def unusable(self) -> dict[str, int]:
        return dict(Counter(f["reason"] for f in self.failures))


def parse_ranking(text: str | None, first_id: str = "A", second_id: str = "B") -> float | None:
    """1.0 when the reply names the first output shown, 2.0 the second, None otherwise.

    The reply must consist of one identifier, optionally as "Answer A", in quotes, bold or
    followed by a full stop; anything longer is unusable rather than guessed at.
    """
    if not text:
        return None
    ids = "|".join(re.escape(i) for i in (first_id, second_id))
    match = re.fullmatch(rf"[\W_]*(?:(?i:answer|output)\s+)?({ids})[\W_]*", text.strip())
    if match is None:
        return None
    return 1.0 if match.group(1) == first_id else 2.0


def identifier_logprobs(choice: Any, first_id: str = "A", second_id: str = "B") -> dict[str, float] | None:
    """{identifier: log-probability} of the first token, spellings merged; None without logprobs."""
    top = first_token_logprobs(choice)
    if top is None:
        return None
    merged: dict[str, float] = {}
    for token, logprob in top.items():
        name = token.strip()
        if name in (first_id, second_id):
            # log(p1 + p2) for two spellings of the same answer
            merged[name] = logprob if name not in merged else float(_logaddexp(merged[name], logprob))
    return merged


def _logaddexp(a: float, b: float) -> float:
    top = max(a, b)
    return top + math.log(math.exp(a - top) + math.exp(b - top))


def preference_from_reply(mode: str, choice: dict | None, swapped: bool, first_id: str = "A",
                          second_id: str = "B") -> tuple[float | None, str | None]:
    """(preference mapped back to 1 = reference, 2 = model; None) or (None, reason unusable)."""
    message = (choice or {}).get("message") or {}
    if message.get("refusal"):
        return None, REFUSED
    if (choice or {}).get("finish_reason") == "content_filter":
        return None, FILTERED
    if mode == "ranking":
        shown = parse_ranking(message.get("content"), first_id, second_id)
        if shown is None:
            return None, NO_IDENTIFIER
    else:
        merged = identifier_logprobs(choice, first_id, second_id)
        if merged is None:
            return None, NO_LOGPROBS
        shown = preference_from_logprobs(merged, first_id, second_id)
        if shown is None:
            return None, NO_ID_LOGPROBS
    return (3 - shown if swapped else shown), None


class PairwiseJudge:
    """Annotates pairs with an OpenAI-compatible judge; see the module docstring.

    ``config`` is an ``OpenAIJudgeConfig`` (model, endpoint, key variable, concurrency,
    retries, prices, ``cache_dir``); its critique ``prompt`` is not used. In weighted mode
    ``max_tokens`` is forced to 1.
    """

    def __init__(self, config, mode: str = "weighted", prompt: PairwisePrompt = DEFAULT_PAIRWISE_PROMPT,
                 swap_seed: int = 0, top_logprobs: int = 5, progress: bool = True):
        from cut.judges.cache import JudgeCache
        from cut.judges.openai_client import ChatClient

        if mode not in JUDGE_MODES:
            raise CutError(f"judge mode must be one of {', '.join(JUDGE_MODES)}, got {mode!r}")
        if not 2 <= top_logprobs <= 20:
            raise CutError(f"top_logprobs must be within [2, 20] (the API's range), got {top_logprobs}")
        self.config = replace(config, max_tokens=1) if mode == "weighted" else config
        self.mode, self.prompt, self.swap_seed = mode, prompt, swap_seed
        self.top_logprobs, self.progress = top_logprobs, progress
        self.annotator = f"{prompt.name}-{prompt.version}_{mode}:{config.model}"
        self.client = ChatClient(self.config, f"openai:{config.model}")
        self.cache = JudgeCache(self.config.cache_dir) if self.config.cache_dir else None

    def settings(self) -> dict[str, Any]:
        """What determines a reply, hence the cache key: no secrets, no transport knobs."""
        from cut.judges.openai_client import OPENAI_URL

        c = self.config
        out = {"model": c.model, "base_url": (c.base_url or OPENAI_URL).rstrip("/"), "temperature": c.temperature,
               "max_tokens": c.max_tokens, "prompt": self.prompt.tag, "mode": self.mode}
        if self.mode == "weighted":
            out["top_logprobs"] = self.top_logprobs
        return out

    def annotate(self, pairs: Sequence[dict]) -> PairwiseResult:
        """Judge every pair whose ``preference`` is None (others, e.g. identical outputs, are kept)."""
        from cut.progress import progress_bar
        from cut.judges.cache import JudgeCache

        start = time.monotonic()
        rows: list[dict | None] = [None] * len(pairs)
        failures: dict[int, dict] = {}
        pending: list[tuple[int, str, list[dict], bool]] = []  # (index, cache key, messages, swapped)
        cache_hits = 0
        for i, pair in enumerate(pairs):
            swapped = alpaca_eval_swapped(pair["instruction"], self.swap_seed)
            if pair.get("preference") is not None:  # known without a judge (identical outputs)
                rows[i] = self._row(pair, pair["preference"], swapped, None, 0.0, 0.0)
                continue
            first, second = (pair["output_2"], pair["output_1"]) if swapped else (pair["output_1"], pair["output_2"])
            messages = self.prompt.render(pair["instruction"], first, second)
            key = JudgeCache.make_key(self.settings(), messages, "")
            entry = self.cache.get(key) if self.cache else None
            if entry is not None:
                pref, _ = preference_from_reply(self.mode, entry.get("choice"), swapped, self.prompt.first_id,
                                                self.prompt.second_id)
                if pref is not None:  # else parsing rules changed since: ask again
                    rows[i] = self._row(pair, pref, swapped, entry["choice"], entry.get("cost", 0.0),
                                        entry.get("seconds", 0.0))
                    cache_hits += 1
                    continue
            pending.append((i, key, messages, swapped))
        extra = {"logprobs": True, "top_logprobs": self.top_logprobs} if self.mode == "weighted" else {}
        with progress_bar(self.progress, f"pairwise judging ({self.mode})", len(pairs)) as bar:
            bar.advance(len(pairs) - len(pending))
            replies = self.client.send([p[2] for p in pending], extra, on_reply=lambda _, __: bar.advance(1))
        for (i, key, _, swapped), reply in zip(pending, replies):
            outcome = self._use(pairs[i], key, swapped, reply)
            if "reason" in outcome:
                failures[i] = outcome
            else:
                rows[i] = outcome
        result = PairwiseResult([r for r in rows if r is not None], [failures[i] for i in sorted(failures)])
        result.summary = {"pairs": len(pairs), "annotated": len(result.annotations), "cache_hits": cache_hits,
                          "unusable": result.unusable, "n_unusable": len(result.failures),
                          **self.client.stats, "wall_seconds": time.monotonic() - start}
        return result

    def _use(self, pair: dict, key: str, swapped: bool, reply) -> dict:
        """An annotation row from a reply (cached when usable), or a failure dict with ``reason``."""
        if reply.failed:
            return {"instruction": pair["instruction"], "reason": FAILED_REQUEST, "detail": reply.error,
                    "swapped": swapped, "raw_completion": None}
        pref, reason = preference_from_reply(self.mode, reply.choice, swapped, self.prompt.first_id,
                                             self.prompt.second_id)
        if pref is None:
            return {"instruction": pair["instruction"], "reason": reason, "detail": (reply.text or "")[:200],
                    "swapped": swapped, "raw_completion": reply.choice}
        if self.cache is not None:
            self.cache.put(key, {"choice": reply.choice, "prompt_tokens": reply.prompt_tokens,
                                 "completion_tokens": reply.completion_tokens, "cost": reply.cost,
                                 "seconds": reply.seconds})
        return self._row(pair, pref, swapped, reply.choice, reply.cost, reply.seconds)

    def _row(self, pair: dict, preference: float, swapped: bool, raw: dict | None, price: float,
             seconds: float) -> dict:
        row = {k: pair.get(k) for k in ("instruction", "output_1", "generator_1", "output_2", "generator_2")}
        if pair.get("dataset") is not None:
            row["dataset"] = pair["dataset"]
        row.update(annotator=self.annotator, preference=float(preference), swapped=swapped,
                   raw_completion=raw, price_per_example=price, time_per_example=seconds)
        return row


def make_pairwise_judge(spec: str, mode: str = "weighted", swap_seed: int = 0, top_logprobs: int = 5,
                        progress: bool = True, **options: Any) -> PairwiseJudge:
    """``make_pairwise_judge("openai:gpt-4o-mini", mode="ranking", base_url=..., cache_dir=...)``.

    ``spec`` is ``openai:MODEL``, as for ``cut collect``; ``options`` are ``OpenAIJudgeConfig``
    fields. Without ``max_tokens``, ranking mode allows a short reply.
    """
    from cut.judges.openai_client import OpenAIJudgeConfig

    kind, _, model = spec.partition(":")
    if kind != "openai" or not model:
        raise CutError(f"pairwise judge {spec!r}: use openai:MODEL (any OpenAI-compatible endpoint, "
                       f"with --base-url for a local server)")
    reject_unknown(options, OpenAIJudgeConfig, "pairwise judge", exclude=("model", "prompt"))
    options.setdefault("max_tokens", RANKING_MAX_TOKENS)
    return PairwiseJudge(OpenAIJudgeConfig(model=model, **options), mode=mode, swap_seed=swap_seed,
                         top_logprobs=top_logprobs, progress=progress)
