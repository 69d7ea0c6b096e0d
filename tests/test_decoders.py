"""The decoders around DeAL (cut.decoders): best-of-N, beam, determinism, token counts."""

from __future__ import annotations

import pytest

from cut.deal import DealSettings, deal_search
from cut.decoders import DecoderConfig, decode, sample_tokens
from cut.generation import Completion, GenerationSettings, generate_ids, stop_token_ids
from cut.rewards import KeywordReward, RewardItem
from cut.templates import choose_template
from tests.deal_helpers import PROMPTS, peaky_model, prompt_ids, reference_search


@pytest.fixture(scope="module")
def tok(tiny_tokenizer):
    return tiny_tokenizer


@pytest.fixture(scope="module")
def template(tok):
    return choose_template("auto", tok)


@pytest.fixture(scope="module")
def peaky(tiny_model_dir):
    return peaky_model(tiny_model_dir)


def test_sample_token_count():
    assert sample_tokens(5, Completion([1, 2, 3], finished=True)) == 8  # prompt 5 + 3 tokens fed back
    assert sample_tokens(5, Completion([1, 2, 3], finished=False)) == 7  # the last token was never fed


def test_decoders_are_deterministic_under_a_seed(peaky, tok, template):
    items = [RewardItem(t) for t in PROMPTS]
    deal = DecoderConfig(decoder="deal", top_k=3, lookahead=2, beam=2, reward="keywords:e,a", max_new_tokens=8)
    first = decode(peaky, tok, PROMPTS, template, deal, items, progress=False)
    assert decode(peaky, tok, PROMPTS, template, deal, items, progress=False).responses == first.responses
    bon = DecoderConfig(decoder="best-of-n", n=4, temperature=1.0, top_p=1.0, seed=3, reward="keywords:e,a",
                        max_new_tokens=8)
    a = decode(peaky, tok, PROMPTS, template, bon, items, progress=False)
    assert decode(peaky, tok, PROMPTS, template, bon, items, progress=False).responses == a.responses
    other = decode(peaky, tok, PROMPTS, template, DecoderConfig(**{**bon.__dict__, "seed": 4}), items, progress=False)
    assert other.responses != a.responses
    assert a.reward_calls == 1 and len(a.model_tokens) == len(PROMPTS)


def test_best_of_n_keeps_the_best_sample_and_the_first_on_ties(peaky, tok, template):
    stops = stop_token_ids(template, tok)
    prompts = prompt_ids(tok, template)
    samples = generate_ids(peaky, tok, prompts, GenerationSettings(max_new_tokens=8, temperature=1.0, top_p=1.0,
                                                                   batch_size=16, seed=3, num_samples=4),
                           stops, progress=False)
    from cut.generation import decode as text_of

    reward = KeywordReward(["e", "a"])
    items = [RewardItem(t) for t in PROMPTS]
    config = DecoderConfig(decoder="best-of-n", n=4, temperature=1.0, top_p=1.0, seed=3, max_new_tokens=8)
    out = decode(peaky, tok, PROMPTS, template, config, items, reward=reward, progress=False)
    for item, options, chosen, value in zip(items, samples, out.responses, out.rewards):
        texts = [text_of(tok, c) for c in options]
        scores = reward.score([(item, t) for t in texts])
        assert value == max(scores) and chosen == texts[scores.index(max(scores))]  # index(): the first best
    assert out.model_tokens == [sum(sample_tokens(len(p), c) for c in s) for p, s in zip(prompts, samples)]


def test_beam_decoder_is_deal_without_reward(peaky, tok, template):
    stops = stop_token_ids(template, tok)  # what decode() stops at
    out = decode(peaky, tok, PROMPTS[:2], template, DecoderConfig(decoder="beam", top_k=3, beam=2, max_new_tokens=8),
                 progress=False)
    expected = [reference_search(peaky, tok, p, set(stops), 3, 0, 2, 0.0, 1, 8) for p in prompt_ids(tok, template)[:2]]
    assert out.completions == expected and out.rewards is None and out.reward_calls == 0


def test_settings_are_validated():
    from cut.errors import CutError

    with pytest.raises(CutError, match="top_k"):
        DealSettings(top_k=0)
    with pytest.raises(CutError, match="unknown decoder 'nucleus'"):
        DecoderConfig(decoder="nucleus")
    with pytest.raises(CutError, match="needs a reward"):
        deal_search(None, None, [[1]], [RewardItem("x")], None, DealSettings(lam=1.0), [0], progress=False)
