"""DeAL search (cut.deal) on two tiny Llamas (see tests/deal_helpers.py): the keyword case of
the issue, the exact special cases (λ = 0 is beam search, k = 1 / l = 0 is greedy), agreement
with a slow reference search, batching across prompts, reward calls and model-token counts."""

from __future__ import annotations

import math

import pytest
import torch

from cut.deal import DealSettings, deal_search, normalised
from cut.decoders import DecoderConfig, decode
from cut.generation import GenerationSettings, generate_ids, stop_token_ids
from cut.rewards import KeywordReward, RewardItem
from cut.templates import choose_template, context_ids, plain_context
from tests.deal_helpers import (PROMPTS, CountingReward, TextHash, peaky_model, prompt_ids, reference_search,
                                table_model)


@pytest.fixture(scope="module")
def tok(tiny_tokenizer):
    return tiny_tokenizer


@pytest.fixture(scope="module")
def template(tok):
    return choose_template("auto", tok)


@pytest.fixture(scope="module")
def chain(tok, template):
    """Token ids of the keyword scenario: after the prompt (ending in S), greedy goes
    A X Y <eos>; the second choice B leads to the keyword only three tokens later:
    B C D KW <eos>."""
    ids = {name: tok(" " + word, add_special_tokens=False)["input_ids"] for name, word in
           [("A", "the"), ("X", "and"), ("B", "The"), ("C", "is"), ("D", "of"), ("KW", "response")]}
    assert all(len(v) == 1 for v in ids.values()), ids
    ids = {name: v[0] for name, v in ids.items()}
    ids["Y"] = tok.convert_tokens_to_ids("Ġcom")
    prompt = context_ids(template, tok, plain_context(template, tok, "Write about it."))
    ids["S"], ids["EOS"] = prompt[-1], tok.eos_token_id
    return ids


@pytest.fixture(scope="module")
def keyword_model(tok, chain):
    vocab = len(tok)
    table = torch.zeros(vocab, vocab)
    table[:, chain["EOS"]] = 5.0  # every undesigned token ends the response
    table[chain["S"]] = 0.0
    table[chain["S"], chain["A"]], table[chain["S"], chain["B"]] = 3.0, 2.5
    for a, b in [("A", "X"), ("X", "Y"), ("Y", "EOS"), ("B", "C"), ("C", "D"), ("D", "KW"), ("KW", "EOS")]:
        table[chain[a]] = 0.0
        table[chain[a], chain[b]] = 5.0
    return table_model(table)


@pytest.fixture(scope="module")
def peaky(tiny_model_dir):
    return peaky_model(tiny_model_dir)


@pytest.fixture(scope="module")
def stops(peaky, tok, template):
    """EOS/end-of-turn plus two tokens the peaky model writes mid-answer (the 7th and 8th
    tokens of its greedy answers to the second and fourth prompts), so that some searches stop
    early and some run to the limit (the random model itself never says EOS)."""
    base = stop_token_ids(template, tok)
    greedy = generate_ids(peaky, tok, prompt_ids(tok, template),
                          GenerationSettings(max_new_tokens=10, temperature=0), base, progress=False)
    return base + [greedy[1][0].token_ids[6], greedy[3][0].token_ids[7]]


# --- the keyword scenario (the required case) ------------------------------------------


def _keyword_config(**changes):
    base = dict(decoder="deal", top_k=2, lookahead=3, beam=1, lam=1.0, reward="keywords:response",
                max_new_tokens=8)
    return DecoderConfig(**{**base, **changes})


def test_greedy_never_says_the_keyword_but_a_three_token_lookahead_finds_it(keyword_model, tok, template):
    instructions = ["Write about it."]
    greedy = decode(keyword_model, tok, instructions, template, DecoderConfig(max_new_tokens=8), progress=False)
    assert greedy.responses == ["the and com"]  # S → A X Y <eos>
    found = decode(keyword_model, tok, instructions, template, _keyword_config(), progress=False)
    assert found.responses == ["The is of response"]  # S → B C D KW <eos>
    assert found.rewards == [1.0]
    # Too short a lookahead never sees the keyword: step 1 compares "the and com" with "The is of",
    # both reward 0, and A's higher probability wins.
    short = decode(keyword_model, tok, instructions, template, _keyword_config(lookahead=2), progress=False)
    assert short.responses == ["the and com"] and short.rewards == [0.0]


def test_keyword_score_is_the_hand_computed_one(keyword_model, tok, template, chain):
    prompt = prompt_ids(tok, template, ["Write about it."])
    item = RewardItem("Write about it.")
    out = deal_search(keyword_model, tok, prompt, [item], KeywordReward(["response"]),
                      DealSettings(top_k=2, lookahead=3, beam=1, lam=1.0, max_new_tokens=8), [chain["EOS"]],
                      progress=False)
    assert out.completions[0].token_ids == [chain[n] for n in ("B", "C", "D", "KW")] and out.completions[0].finished
    # log p(B | S) = 2.5 - log(e^3 + e^2.5 + 318 · e^0); every later token (C, D, KW, <eos>) is the
    # one 5-logit entry of its row: 5 - log(e^5 + 319). Five tokens, mean log-prob, plus λ · 1.
    vocab = len(tok)
    lp_b = 2.5 - math.log(math.exp(3) + math.exp(2.5) + (vocab - 2))
    lp_rest = 5 - math.log(math.exp(5) + (vocab - 1))
    assert out.scores[0] == pytest.approx((lp_b + 4 * lp_rest) / 5 + 1.0, abs=1e-4)
    assert normalised(-6.0, 3, 1.0) == -2.0 and normalised(-6.0, 3, 0.0) == -6.0


# --- exact special cases ----------------------------------------------------------------------


def test_k1_l0_b1_is_greedy_token_for_token(peaky, keyword_model, tok, template, stops):
    for model in (peaky, keyword_model):
        prompts = prompt_ids(tok, template)
        greedy = generate_ids(model, tok, prompts, GenerationSettings(max_new_tokens=12, temperature=0, batch_size=4),
                              stops, progress=False)
        out = deal_search(model, tok, prompts, [RewardItem(t) for t in PROMPTS], None,
                          DealSettings(top_k=1, lookahead=0, beam=1, lam=0.0, max_new_tokens=12, batch_size=4),
                          stops, progress=False)
        assert out.completions == [g[0] for g in greedy]


def test_peaky_searches_both_stop_and_run_to_the_limit(peaky, tok, template, stops):
    """The comparisons below have teeth: some answers end at a stop token, some at the limit."""
    for k, beam in [(1, 1), (3, 2), (2, 3)]:
        out = deal_search(peaky, tok, prompt_ids(tok, template), [RewardItem(t) for t in PROMPTS], None,
                          DealSettings(top_k=k, lookahead=0, beam=beam, lam=0.0, max_new_tokens=10), stops,
                          progress=False)
        assert {c.finished for c in out.completions} == {True, False}


@pytest.mark.parametrize("k,lookahead,beam,block", [(3, 0, 2, 1), (3, 3, 2, 1), (2, 2, 3, 3)])
def test_lambda_zero_is_beam_search_token_for_token(peaky, tok, template, stops, k, lookahead, beam, block):
    prompts = prompt_ids(tok, template)
    settings = DealSettings(top_k=k, lookahead=lookahead, beam=beam, lam=0.0, block=block, max_new_tokens=10)
    out = deal_search(peaky, tok, prompts, [RewardItem(t) for t in PROMPTS], None, settings, stops, progress=False)
    for prompt, got in zip(prompts, out.completions):
        assert got == reference_search(peaky, tok, prompt, set(stops), k, lookahead, beam, 0.0, block, 10)
    assert out.reward_calls == 0  # λ = 0 never calls the reward


@pytest.mark.parametrize("k,lookahead,beam,block", [(3, 3, 2, 1), (2, 2, 2, 3)])
def test_deal_with_reward_matches_the_reference_search(peaky, tok, template, stops, k, lookahead, beam, block):
    prompts = prompt_ids(tok, template)
    reward = TextHash()
    items = [RewardItem(t) for t in PROMPTS]
    settings = DealSettings(top_k=k, lookahead=lookahead, beam=beam, lam=2.0, block=block, max_new_tokens=9,
                            batch_size=4)
    out = deal_search(peaky, tok, prompts, items, reward, settings, stops, progress=False)
    expected = [reference_search(peaky, tok, p, set(stops), k, lookahead, beam, 2.0, block, 9, reward, item)
                for p, item in zip(prompts, items)]
    assert out.completions == expected
    # and the λ = 0 search picks something else for at least one prompt: the reward matters here
    plain = deal_search(peaky, tok, prompts, items, None, DealSettings(**{**settings.__dict__, "lam": 0.0}), stops,
                        progress=False)
    assert plain.completions != out.completions


def test_batched_prompts_match_one_at_a_time(peaky, tok, template, stops):
    prompts, items, reward = prompt_ids(tok, template), [RewardItem(t) for t in PROMPTS], KeywordReward(["e", "o"])
    settings = DealSettings(top_k=3, lookahead=2, beam=2, lam=1.0, max_new_tokens=8, batch_size=4)
    together = deal_search(peaky, tok, prompts, items, reward, settings, stops, progress=False)
    alone = [deal_search(peaky, tok, [p], [i], reward, settings, stops, progress=False).completions[0]
             for p, i in zip(prompts, items)]
    assert together.completions == alone


# --- compute accounting, batching of reward calls, determinism ---------------------------------


def test_reward_is_called_once_per_step_and_tokens_are_counted(keyword_model, tok, template):
    prompt = prompt_ids(tok, template, ["Write about it."])
    reward = CountingReward(["response"])
    # no stop ids reachable (-1 is never generated): every state runs to the limit, so rows are known
    settings = DealSettings(top_k=2, lookahead=2, beam=2, lam=1.0, max_new_tokens=3)
    out = deal_search(keyword_model, tok, prompt, [RewardItem("x")], reward, settings, [-1], progress=False)
    # step 1: 1 state × 2 candidates, lookahead 2 → 2 feeds (candidate + 1 lookahead token) × 2 rows = 4
    # step 2: 2 states × 2 = 4 rows, lookahead min(2, 3-1-1) = 1 → 1 feed × 4 rows = 4
    # step 3: 4 rows, no lookahead and nothing after → no feed at all (scored from the last logits)
    assert reward.calls == out.reward_calls == out.steps == 3 and reward.sizes == [2, 4, 4]
    assert out.model_tokens == [len(prompt[0]) + 4 + 4]
    # block n = 2, k 2, l 1, b 1, limit 4: step 1: 2 rows × (2 + 1 − 1) feeds = 4; step 2: chunk 2, no
    # lookahead, last step → 2 rows × 1 feed = 2
    reward = CountingReward(["response"])
    out = deal_search(keyword_model, tok, prompt, [RewardItem("x")], reward,
                      DealSettings(top_k=2, lookahead=1, beam=1, lam=1.0, block=2, max_new_tokens=4), [-1],
                      progress=False)
    assert reward.calls == 2 and reward.sizes == [2, 2] and out.model_tokens == [len(prompt[0]) + 6]
    assert all(len(c.token_ids) == 4 and not c.finished for c in out.completions)


def test_one_reward_call_per_step_across_prompts(peaky, tok, template, stops):
    reward = CountingReward(["e"])
    out = deal_search(peaky, tok, prompt_ids(tok, template), [RewardItem(t) for t in PROMPTS], reward,
                      DealSettings(top_k=2, lookahead=2, beam=2, lam=1.0, max_new_tokens=6, batch_size=4),
                      stops, progress=False)
    assert reward.calls == out.steps <= 6  # all four prompts share each step's call
    assert reward.sizes[0] == 4 * 2  # step 1: 4 prompts × 1 state × 2 candidates
