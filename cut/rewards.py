"""Rewards for decoding-time alignment: (item, text) pairs in, one score in [0, 1] per pair out.

DeAL (arXiv 2402.06147) scores each candidate of its search by the model's log-probability
plus λ times an alignment reward of the candidate's text; best-of-N reranks whole samples by
the same reward. A reward here scores a *batch* of pairs in one call (``score``), because the
search asks for every candidate of a step at once. An item is the prompt and its metadata;
the verifiable prompts carry their constraints there (IFEval ``instruction_id_list`` and
``kwargs``, as ``cut.judges.rules`` reads them).

Rewards, chosen by a spec string (``make_reward``)::

    rules                  fraction of the prompt's constraints the text satisfies (strict,
                           the checkers of cut.judges.checkers); the natural DeAL reward here
    keywords               fraction of the required keywords present (case-insensitive, as
                           IFEval's keywords:existence matches): those of the prompt's
                           keywords:existence constraints, or a "keywords" metadata field
    keywords:sun,moon      the same, with the keywords given
    length:20-80           1 for 20..80 words (IFEval's \\w+ words); n/lo below, hi/n above;
                           either bound may be left out ("length:-80", "length:20-")
    judge:SPEC             any cut judge (rules, openai:MODEL, hf:PATH): 1 when it finds the
                           text acceptable, else 0. For reranking (best-of-N) only: one judge
                           call per search step and candidate is far too slow for DeAL
    A@w+B@v                a weighted sum, e.g. "rules@0.7+length:0-80@0.3"; weights default to
                           1 and are normalised to sum to 1, so the sum stays in [0, 1]

``+`` and ``@`` separate terms and weights, so keywords cannot contain them. DeAL scores
partial texts (prefix + lookahead): "fewer than N words" holds early and may fail later,
"at least N" the other way round; the search trades these off through λ.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

from cut.errors import CutError
from cut.judges.checkers import check, unsupported_ids
from cut.judges.text_units import word_spans

__all__ = ["RewardItem", "Reward", "RuleReward", "KeywordReward", "LengthReward", "JudgeReward",
           "WeightedReward", "make_reward", "REWARDS"]


@dataclass
class RewardItem:
    """What a reward knows about a prompt: its text and metadata (constraints, keywords)."""

    prompt: str
    metadata: dict[str, Any] = field(default_factory=dict)


Pair = tuple[RewardItem, str]


class Reward(Protocol):
    name: str  # the spec it was built from

    def score(self, pairs: Sequence[Pair]) -> list[float]:
        """One score in [0, 1] per (item, text) pair, in order: one call per batch."""
        ...

    def check(self, items: Sequence[RewardItem]) -> None:
        """Raise CutError when the reward cannot score texts for these items (before a
        long search starts, not in the middle of it)."""
        ...


def _constraints(item: RewardItem) -> list[tuple[str, dict]]:
    ids = item.metadata.get("instruction_id_list")
    if not ids:
        raise CutError(f"reward 'rules' needs IFEval-style constraints ('instruction_id_list' and 'kwargs') "
                       f"in each prompt's metadata; the prompt {item.prompt[:60]!r} has none")
    kwargs = item.metadata.get("kwargs") or [{} for _ in ids]
    if len(kwargs) != len(ids):
        raise CutError(f"prompt {item.prompt[:60]!r}: 'kwargs' must have one object per instruction id")
    missing = unsupported_ids(ids)
    if missing:
        raise CutError(f"reward 'rules': no checker implements {', '.join(missing)}")
    return list(zip(ids, kwargs))


class RuleReward:
    """Fraction of the prompt's constraints the text satisfies, strictly (an empty text
    satisfies none, as IFEval's strict scoring)."""

    name = "rules"

    def check(self, items: Sequence[RewardItem]) -> None:
        for item in items:
            for instruction_id, kwargs in _constraints(item):
                check(instruction_id, "x", kwargs)  # validates the kwargs once, up front

    def score(self, pairs: Sequence[Pair]) -> list[float]:
        out = []
        for item, text in pairs:
            constraints = _constraints(item)
            held = sum(check(i, text, k).ok for i, k in constraints) if text.strip() else 0
            out.append(held / len(constraints))
        return out


def _required_keywords(item: RewardItem) -> list[str]:
    """Keywords of the item's keywords:existence constraints, else its "keywords" field."""
    ids = item.metadata.get("instruction_id_list") or []
    kwargs = item.metadata.get("kwargs") or []
    found = [k for i, kw in zip(ids, kwargs) if i == "keywords:existence" for k in (kw or {}).get("keywords", [])]
    if found:
        return found
    given = item.metadata.get("keywords") or []
    return [k.strip() for k in given.split(",")] if isinstance(given, str) else list(given)


class KeywordReward:
    """Fraction of the keywords the text contains (case-insensitive, literal substrings)."""

    def __init__(self, keywords: Sequence[str] = ()):
        self.keywords = [k for k in keywords if k.strip()]
        self.name = "keywords" + (":" + ",".join(self.keywords) if self.keywords else "")

    def _for(self, item: RewardItem) -> list[str]:
        return self.keywords or _required_keywords(item)

    def check(self, items: Sequence[RewardItem]) -> None:
        for item in items:
            if not self._for(item):
                raise CutError(f"reward 'keywords' without a list needs required keywords in each prompt "
                               f"(a keywords:existence constraint or a 'keywords' field); the prompt "
                               f"{item.prompt[:60]!r} has none. Give them as keywords:a,b")

    def score(self, pairs: Sequence[Pair]) -> list[float]:
        out = []
        for item, text in pairs:
            words = self._for(item)
            hits = sum(bool(re.search(re.escape(w.strip()), text, flags=re.IGNORECASE)) for w in words)
            out.append(hits / len(words) if words else 0.0)
        return out


class LengthReward:
    """1 inside [lo, hi] words; n/lo below (0 for an empty text), hi/n above."""

    def __init__(self, lo: int = 0, hi: int | None = None):
        if lo < 0 or (hi is not None and (hi < max(lo, 1))):
            raise CutError(f"length reward: need 0 <= lo <= hi and hi >= 1, got lo={lo}, hi={hi}")
        self.lo, self.hi = lo, hi
        self.name = f"length:{lo}-{'' if hi is None else hi}"

    def check(self, items: Sequence[RewardItem]) -> None:
        pass

    def value(self, n: int) -> float:
        if n < self.lo:
            return n / self.lo
        if self.hi is not None and n > self.hi:
            return self.hi / n
        return 1.0

    def score(self, pairs: Sequence[Pair]) -> list[float]:
        return [self.value(len(word_spans(text))) for _, text in pairs]


class JudgeReward:
    """1 when the judge finds the text acceptable (judgment None), else 0. A failed verdict
    (timeout, unparsable answer) scores 0 and is counted in ``failures``. Rerank only."""

    def __init__(self, judge, spec: str):
        self.judge, self.name, self.failures = judge, f"judge:{spec}", 0

    def check(self, items: Sequence[RewardItem]) -> None:
        pass

    def score(self, pairs: Sequence[Pair]) -> list[float]:
        from cut.judges.base import JudgeItem

        verdicts = self.judge.judge([JudgeItem(item.prompt, text, dict(item.metadata)) for item, text in pairs])
        self.failures += sum(v.failed for v in verdicts)
        return [0.0 if v.failed or v.judgment is not None else 1.0 for v in verdicts]


class WeightedReward:
    """Σ w_i · r_i with the weights normalised to sum to 1; each term scores the batch once."""

    def __init__(self, terms: Sequence[tuple[Any, float]], name: str = ""):
        total = sum(w for _, w in terms)
        if not terms or total <= 0:
            raise CutError("a weighted reward needs at least one term with a positive weight")
        self.terms = [(r, w / total) for r, w in terms]
        self.name = name or "+".join(f"{r.name}@{w:g}" for r, w in self.terms)

    def check(self, items: Sequence[RewardItem]) -> None:
        for reward, _ in self.terms:
            reward.check(items)

    def score(self, pairs: Sequence[Pair]) -> list[float]:
        total = [0.0] * len(pairs)
        for reward, weight in self.terms:
            for i, value in enumerate(reward.score(pairs)):
                total[i] += weight * value
        return total


def _rules(arg: str):
    if arg:
        raise CutError(f"reward 'rules' takes no argument, got 'rules:{arg}'")
    return RuleReward()


def _keywords(arg: str):
    words = [w.strip() for w in arg.split(",")] if arg else []
    if arg and not all(words):
        raise CutError(f"reward 'keywords:{arg}': empty keyword in the list (use keywords:a,b)")
    return KeywordReward(words)


def _bound(text: str, spec: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit():
        raise CutError(f"reward '{spec}': bounds must be whole numbers of words, as in length:20-80")
    return int(text)


def _length(arg: str):
    spec = f"length:{arg}"
    lo, sep, hi = arg.partition("-")
    if not sep or not (lo.strip() or hi.strip()):
        raise CutError(f"reward '{spec}': give a word range LO-HI, e.g. length:20-80, length:-80 or length:20-")
    return LengthReward(_bound(lo, spec) or 0, _bound(hi, spec))


def _judge(arg: str):
    if not arg:
        raise CutError("reward 'judge' needs a judge spec, e.g. judge:rules or judge:openai:gpt-4o-mini")
    from cut.judges import make_judge

    return JudgeReward(make_judge(arg), arg)


# spec name → factory taking the text after the first ":"
REWARDS: dict[str, Callable[[str], Any]] = {"rules": _rules, "keywords": _keywords, "length": _length,
                                             "judge": _judge}


def _term(text: str) -> tuple[Any, float]:
    body, at, weight_text = text.rpartition("@") if "@" in text else (text, "", "")
    weight = 1.0
    if at:
        try:
            weight = float(weight_text)
        except ValueError:
            raise CutError(f"reward term {text!r}: the weight after '@' must be a number, got {weight_text!r}") from None
        if not weight > 0:
            raise CutError(f"reward term {text!r}: the weight must be positive, got {weight_text}")
    name, _, arg = body.strip().partition(":")
    if name not in REWARDS:
        raise CutError(f"unknown reward {name!r} in {text!r}: use one of {', '.join(REWARDS)} "
                       f"(e.g. rules, keywords:a,b, length:20-80, judge:rules, rules@0.7+length:0-80@0.3)")
    return REWARDS[name](arg.strip()), weight


def make_reward(spec: str):
    """The reward a spec string names (syntax in the module docstring); CutError when malformed."""
    if not spec or not spec.strip():
        raise CutError("empty reward spec: use e.g. rules, keywords:a,b, length:20-80 or rules@0.7+length:0-80@0.3")
    parts = [p.strip() for p in spec.split("+")]
    if not all(parts):
        raise CutError(f"reward spec {spec!r} has an empty term (terms are joined by '+')")
    terms = [_term(p) for p in parts]
    if len(terms) == 1 and "@" not in parts[0]:
        return terms[0][0]
    return WeightedReward(terms, name=spec.strip())
