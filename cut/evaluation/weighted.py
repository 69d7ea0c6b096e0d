"""AlpacaEval 2's weighted preference, re-parsed from the judge's stored log-probabilities.

The ``weighted_alpaca_eval_gpt4_turbo`` judge answers with a single token naming the better
of the two outputs *as shown to it*: ``m`` for the first, ``M`` for the second (established
from the 802 stored ``raw_completion``s in the shared AlpacaEval 2 annotation file, whose
first token is always one of the two). With la, lb the log-probabilities of the two tokens
(a token absent from the top log-probabilities counts as −inf):

    P(first wins) = exp(la − logsumexp(la, lb)),   preference = 2 − P(first wins)

so 1 means the first output wins and 2 the second. Both tokens absent → no preference (None).

AlpacaEval shows the two outputs swapped for a seeded half of the instructions and stores
``raw_completion`` in the order shown, then maps the preference back with 3 − x. Its rule,
reproduced here as ``alpaca_eval_swapped``, seeds Python's ``random.Random`` with the string
``"is_switched_outputs" + instruction + "0"`` and swaps when the first draw is ≥ ½; it agrees
with all 802 stored completions (tests/test_eval_metrics.py). With it, stored AlpacaEval
annotations can be re-parsed without paying the judge again.
"""

from __future__ import annotations

import math
import random
from typing import Any

FIRST_TOKEN, SECOND_TOKEN = "m", "M"  # AlpacaEval 2's identifiers for the first / second output shown


def preference_from_logprobs(top_logprobs: dict[str, float], token_ref: str = FIRST_TOKEN,
                             token_model: str = SECOND_TOKEN) -> float | None:
    """Preference ∈ [1, 2] from the log-probabilities of the two identifier tokens, or None.

    ``token_ref`` names the output in first position (the reference unless swapped),
    ``token_model`` the second.
    """
    la = top_logprobs.get(token_ref, -math.inf)
    lb = top_logprobs.get(token_model, -math.inf)
    if la == -math.inf and lb == -math.inf:
        return None
    top = max(la, lb)  # subtract the larger before exp: no overflow, and exp(0) = 1 stays exact
    p_ref = math.exp(la - top) / (math.exp(la - top) + math.exp(lb - top))
    return 2 - p_ref


def first_token_logprobs(raw: Any) -> dict[str, float] | None:
    """Token → log-probability of the first generated token's top alternatives, or None.

    Reads the chat-completions shape (``logprobs.content[0].top_logprobs`` as a list of
    ``{token, logprob}``) and the legacy completions shape (``logprobs.top_logprobs[0]`` as a
    ``{token: logprob}`` dict). The first entry of a repeated token wins.
    """
    logprobs = raw.get("logprobs") if isinstance(raw, dict) else None
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content")
    if isinstance(content, list) and content and isinstance(content[0], dict):
        out: dict[str, float] = {}
        for item in content[0].get("top_logprobs") or []:
            if isinstance(item, dict) and "token" in item and item.get("logprob") is not None:
                out.setdefault(item["token"], float(item["logprob"]))
        return out
    legacy = logprobs.get("top_logprobs")
    if isinstance(legacy, list) and legacy and isinstance(legacy[0], dict):
        return {str(k): float(v) for k, v in legacy[0].items() if v is not None}
    return None


def preference_from_raw_completion(raw: Any, swapped: bool = False, token_ref: str = FIRST_TOKEN,
                                   token_model: str = SECOND_TOKEN) -> float | None:
    """Preference (1 = reference wins, 2 = model wins) from a stored ``raw_completion``, or None.

    ``swapped``: the outputs were shown model first (see ``alpaca_eval_swapped``); the
    parsed preference is then mapped back with 3 − x. None when the completion has no
    log-probabilities or neither identifier token is among them: an unusable reply, to be
    counted and dropped, never scored.
    """
    top = first_token_logprobs(raw)
    if top is None:
        return None
    pref = preference_from_logprobs(top, token_ref, token_model)
    if pref is None:
        return None
    return 3 - pref if swapped else pref


def alpaca_eval_swapped(instruction: str, seed: int = 0) -> bool:
    """Whether AlpacaEval showed the model's output first for this instruction (its default seed is 0)."""
    # random.Random seeds deterministically from a str (SHA-512, seed version 2) on every platform.
    return random.Random(f"is_switched_outputs{instruction}{seed}").random() >= 0.5
