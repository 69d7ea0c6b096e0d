"""Batched generation on the tiny conftest model: left padding, seeds, samples, stopping."""

from __future__ import annotations

import pytest
import torch

from cut.errors import CutError
from cut.generation import (Completion, GenerationSettings, generate, generate_ids, left_pad,
                            stop_token_ids)
from cut.templates import Template, choose_template, context_ids, plain_context

# Different lengths on purpose: batched together, the shorter ones get left padding.
PROMPTS = ["Hi.", "Write a short paragraph about the ocean and the fish in it.", "Do not use any commas.",
           "The capital of France is Paris. Lithium has an atomic mass of about 6.94. Answer in lowercase."]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    return model, tokenizer, choose_template("auto", tokenizer)


def test_left_pad_layout():
    ids, mask = left_pad([[5, 6, 7], [9]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 9]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_greedy_output_does_not_depend_on_batch_neighbours(tiny):
    model, tok, template = tiny
    settings = GenerationSettings(max_new_tokens=12, temperature=0, batch_size=8)
    alone = [generate(model, tok, [p], template, settings, progress=False)[0] for p in PROMPTS]
    together = generate(model, tok, PROMPTS, template, settings, progress=False)
    assert together == alone
    assert all(len(samples) == 1 for samples in together)
    # the random tiny model writes *something* for most prompts, so the comparison has teeth
    assert sum(bool(s[0]) for s in together) >= 2
    # batch size 1 vs 3 (a different grouping of the length-sorted prompts): same again
    small = generate(model, tok, PROMPTS, template, GenerationSettings(max_new_tokens=12, temperature=0,
                                                                      batch_size=3), progress=False)
    assert small == alone


def test_sampling_is_deterministic_per_seed_and_varies_across_seeds(tiny):
    model, tok, template = tiny
    s0 = GenerationSettings(max_new_tokens=10, temperature=1.0, top_p=1.0, batch_size=4, seed=0)
    state = torch.random.get_rng_state()
    first = generate(model, tok, PROMPTS, template, s0, progress=False)
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched
    assert generate(model, tok, PROMPTS, template, s0, progress=False) == first
    other = generate(model, tok, PROMPTS, template, GenerationSettings(**{**s0.__dict__, "seed": 1}), progress=False)
    assert other != first


def test_num_samples_gives_k_different_samples_per_prompt(tiny):
    model, tok, template = tiny
    settings = GenerationSettings(max_new_tokens=10, temperature=1.0, top_p=1.0, batch_size=6, num_samples=3)
    out = generate(model, tok, PROMPTS, template, settings, progress=False)
    assert [len(s) for s in out] == [3, 3, 3, 3]
    # 10 tokens from a random 320-token vocabulary: three identical samples would be a bug
    assert all(len(set(samples)) > 1 for samples in out)


def test_on_batch_reports_every_prompt_once_with_original_indices(tiny):
    model, tok, template = tiny
    seen = {}
    out = generate(model, tok, PROMPTS, template, GenerationSettings(max_new_tokens=4, temperature=0, batch_size=2),
                   progress=False, on_batch=lambda idx, samples: seen.update(zip(idx, samples)))
    assert sorted(seen) == [0, 1, 2, 3]
    assert [seen[i] for i in range(4)] == out


def _constant_head(model, token_id: int):
    """Replace the LM head by one whose logits are constant: argmax is always ``token_id``."""
    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=True)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(-10.0)
        head.bias[token_id] = 10.0
    model.lm_head = head
    return model


def test_stops_at_end_of_turn_even_when_eos_is_another_token(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    tok.eos_token = "<|endoftext|>"  # EOS is no longer the chat template's <|im_end|>
    im_end = tok.convert_tokens_to_ids("<|im_end|>")
    template = Template("chat")
    assert stop_token_ids(template, tok) == [tok.eos_token_id, im_end]
    model = _constant_head(AutoModelForCausalLM.from_pretrained(tiny_model_dir), im_end)
    prompts = [context_ids(template, tok, plain_context(template, tok, p)) for p in PROMPTS[:2]]
    out = generate_ids(model, tok, prompts, GenerationSettings(max_new_tokens=8, temperature=0),
                       stop_token_ids(template, tok), progress=False)
    # the very first new token is <|im_end|>: nothing before it, and it counts as stopping
    assert out == [[Completion([], True)], [Completion([], True)]]
    # without the end-of-turn id the same model runs to the token limit
    cut_off = generate_ids(model, tok, prompts[:1], GenerationSettings(max_new_tokens=8, temperature=0),
                           [tok.eos_token_id], progress=False)
    assert cut_off == [[Completion([im_end] * 8, False)]]


def test_text_before_the_stop_is_decoded_without_special_tokens(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    template = Template("chat")
    token = tok.convert_tokens_to_ids(tok.tokenize("ocean")[0])
    model = _constant_head(model, token)
    out = generate(model, tok, ["Hi."], template, GenerationSettings(max_new_tokens=3, temperature=0), progress=False)
    assert out == [[tok.decode([token] * 3).strip()]]


def test_model_mode_is_restored(tiny):
    model, tok, template = tiny
    model.train()
    generate(model, tok, ["Hi."], template, GenerationSettings(max_new_tokens=2, temperature=0), progress=False)
    assert model.training
    model.eval()


@pytest.mark.parametrize("bad", [dict(temperature=-1), dict(top_p=0), dict(batch_size=0), dict(max_new_tokens=0),
                                 dict(num_samples=2, temperature=0)])
def test_bad_settings_are_errors(bad):
    with pytest.raises(CutError):
        GenerationSettings(**bad)
