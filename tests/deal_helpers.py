"""Tiny models and a reference search for the DeAL tests (test_deal.py, test_decoders.py).

- ``table_model``: a real LlamaForCausalLM whose next token depends only on the current one
  (hidden size = vocabulary, one-hot embeddings, attention o_proj and MLP down_proj zeroed, so
  the residual stream carries the embedding; lm_head = a bigram logit table scaled for the
  final RMSNorm). Its KV cache path is the real one, and every probability is hand-computable.
- ``peaky_model``: the conftest tiny Llama with its lm_head and attention scaled up, so its
  next token depends on the whole context (positions and masks included) and near-ties, where
  float noise could flip a choice, are rare.
- ``reference_search``: DeAL (and, at λ = 0, beam search) the slow, obvious way.
"""

from __future__ import annotations

import torch

from cut.generation import Completion
from cut.rewards import KeywordReward
from cut.templates import context_ids, plain_context

PROMPTS = ["Hi.", "Write a short paragraph about the ocean and the fish in it.", "Do not use any commas.",
           "The capital of France is Paris. Answer in lowercase."]


def table_model(table: torch.Tensor):
    """A Llama whose logits after token v are ``table[v]`` (up to the RMSNorm's eps)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    vocab = table.shape[0]
    config = LlamaConfig(vocab_size=vocab, hidden_size=vocab, intermediate_size=8, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=8, max_position_embeddings=256,
                         rms_norm_eps=1e-9, tie_word_embeddings=False)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        model.model.embed_tokens.weight.copy_(torch.eye(vocab))
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.norm.weight.fill_(1.0)
        # RMSNorm turns the one-hot e_v into sqrt(V)·e_v, so logits = W[:, v]·sqrt(V) = table[v]
        model.lm_head.weight.copy_(table.T / vocab ** 0.5)
    return model.eval()


def peaky_model(model_dir):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    with torch.no_grad():
        model.lm_head.weight.mul_(40.0)  # logit spread ~5 instead of ~0.1: no float-noise ties
        for layer in model.model.layers:  # sharp attention, so positions and masks matter
            layer.self_attn.q_proj.weight.mul_(8.0)
            layer.self_attn.k_proj.weight.mul_(8.0)
    return model.eval()


def prompt_ids(tok, template, texts=PROMPTS):
    return [context_ids(template, tok, plain_context(template, tok, t)) for t in texts]


def reference_search(model, tok, prompt, stops, k, lookahead, beam, lam, block, max_new, reward=None, item=None,
                     penalty=1.0):
    """DeAL as the module docstring states it, one prompt, a full forward pass per token and
    no cache; with lam = 0 it is plain beam search over the top-k tokens of each state."""

    def logits_after(tokens):
        with torch.no_grad():
            return model(torch.tensor([prompt + tokens])).logits[0, -1].float()

    states = [{"tokens": [], "lp": 0.0, "done": False, "stopped": False}]
    while not all(s["done"] for s in states):
        pool = []
        for s in states:
            if s["done"]:
                pool.append(s)
                continue
            used = len(s["tokens"])
            chunk, ahead = min(block, max_new - used), min(lookahead, max_new - used - min(block, max_new - used))
            logits = logits_after(s["tokens"])
            for first in logits.topk(k).indices.tolist():
                new, lp = [first], torch.log_softmax(logits, -1)[first].item()
                while len(new) < chunk and new[-1] not in stops:  # the rest of the chunk, greedily
                    nxt = logits_after(s["tokens"] + new)
                    new.append(int(nxt.argmax()))
                    lp += torch.log_softmax(nxt, -1)[new[-1]].item()
                stopped = new[-1] in stops
                seen = s["tokens"] + (new[:-1] if stopped else new)
                while not stopped and len(seen) < used + chunk + ahead:  # the lookahead, up to a stop
                    t = int(logits_after(seen).argmax())
                    if t in stops:
                        break
                    seen = seen + [t]
                text = tok.decode(seen, skip_special_tokens=True).strip()
                r = reward.score([(item, text)])[0] if lam else 0.0
                tokens = s["tokens"] + new
                pool.append({"tokens": tokens, "lp": s["lp"] + lp, "stopped": stopped,
                             "done": stopped or len(tokens) >= max_new,
                             "score": (s["lp"] + lp) / len(tokens) ** penalty + lam * r})
        ranked = sorted(range(len(pool)), key=lambda i: (-pool[i]["score"], i))
        states = [pool[i] for i in ranked[:beam]]
    best = states[0]
    return Completion(best["tokens"][:-1] if best["stopped"] else best["tokens"], best["stopped"])


class TextHash:
    """A reward that any change of the text moves: (Σ code points mod 97) / 96."""

    name = "text-hash"

    def check(self, items):
        pass

    def score(self, pairs):
        return [sum(map(ord, text)) % 97 / 96 for _, text in pairs]


class CountingReward(KeywordReward):
    def __init__(self, keywords):
        super().__init__(keywords)
        self.calls, self.sizes = 0, []

    def score(self, pairs):
        self.calls += 1
        self.sizes.append(len(pairs))
        return super().score(pairs)
