"""DeAL: decoding-time alignment as a search scored by log-probability plus a reward.

DeAL (Huang et al., arXiv 2402.06147) decodes by heuristic search. Each step takes the
top-k next tokens of every state in the beam; each candidate is rolled out greedily for l
more tokens (the lookahead) so the reward sees (nearly) complete text; a candidate scores

    score = log P(prefix + candidate) / |prefix + candidate| ** length_penalty
            + λ · R(decoded prefix + candidate + lookahead)

and the best b states are kept. A state ends at a stop token (EOS or end-of-turn, as
``cut.generation.stop_token_ids``; the stop token counts in the log-probability and the
length, and is not part of the text) or at ``max_new_tokens``. Finished states stay in the
beam with their score and compete with the live ones, so a prompt's search ends when its
best b states have all finished; the answer is the best of them. **Final scoring rule**: the
same formula with an empty lookahead — and since a lookahead never runs past a stop token or
past ``max_new_tokens``, the score a finished state got at its last step *is* its final
score. Ties go to the earlier candidate (beam order, then top-k order).

Special cases, exactly: λ = 0 is beam search over the top-k candidates of each state (the
reward is then not called); k = 1, l = 0, b = 1 is greedy decoding. The block variant
(``block`` n > 1, ours) makes a candidate a chunk — each top-k first token continued greedily
to n tokens — so the search and the reward run every n tokens, at about 1/n of the reward
calls and fewer forward rows per token.

Efficiency (ours; the paper gives no implementation): prompts are searched together, left
padded as ``cut.generation.left_pad``, one row per (prompt, live state, candidate). The KV
cache of the live states is repeated k times for the candidates, all rollouts advance one
token per forward pass, and after scoring the cache is cropped back to prefix + candidate
and the kept rows selected — no prefix is ever recomputed (this needs a cache whose layers can
be cropped: full-attention decoders such as Llama, SmolLM2, Qwen2). One reward call per step
scores every row. No sampling anywhere: the search is deterministic.

Compute is counted as *model tokens*: the token positions fed through the model (prompt
tokens without padding, then every row of every forward, lookahead included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from cut.errors import CutError
from cut.generation import Completion, left_pad
from cut.progress import progress_bar


@dataclass
class DealSettings:
    top_k: int = 5  # k: candidate first tokens per live state
    lookahead: int = 8  # l: greedy tokens after each candidate, seen only by the reward
    beam: int = 2  # b: states kept after each step
    lam: float = 1.0  # λ: weight of the reward against the length-normalised log-probability
    block: int = 1  # n: tokens per candidate (1: token-level DeAL; n > 1: search every n tokens)
    max_new_tokens: int = 256  # tokens per response, at most
    length_penalty: float = 1.0  # log P / length ** this (0: raw sum; 1: mean log-prob per token)
    batch_size: int = 8  # prompts searched at once (forward rows ≈ prompts × beam × top_k)

    def __post_init__(self) -> None:
        checks = [("top_k", self.top_k >= 1), ("lookahead", self.lookahead >= 0), ("beam", self.beam >= 1),
                  ("lam", math.isfinite(self.lam)), ("block", self.block >= 1),
                  ("max_new_tokens", self.max_new_tokens >= 1), ("length_penalty", self.length_penalty >= 0),
                  ("batch_size", self.batch_size >= 1)]
        for name, ok in checks:
            if not ok:
                raise CutError(f"DeAL setting {name}={getattr(self, name)!r} is out of range")


@dataclass
class DealResult:
    completions: list[Completion]  # the best finished state of each prompt
    scores: list[float]  # its final score
    rewards: list[float]  # its reward (0 when λ = 0: the reward is not called)
    model_tokens: list[int]  # token positions fed through the model, per prompt
    reward_calls: int = 0
    steps: int = 0  # search steps, summed over batches


@dataclass
class _State:
    tokens: list[int]  # generated tokens; a final stop token included when it stopped
    logprob: float  # Σ log p of ``tokens``
    finished: bool = False
    stopped: bool = False  # ended at a stop token (vs the token limit)
    score: float = -math.inf
    reward: float = 0.0


def normalised(logprob: float, length: int, penalty: float) -> float:
    """log P / length ** penalty (the log-probability part of a DeAL score)."""
    return logprob / (max(length, 1) ** penalty)


def deal_search(model, tokenizer, prompts: Sequence[Sequence[int]], items: Sequence, reward,
                settings: DealSettings, stop_ids: Sequence[int], progress: bool = True,
                description: str = "DeAL") -> DealResult:
    """Search a response to each tokenised prompt; ``items[i]`` is what ``reward`` knows
    about prompt i (a ``cut.rewards.RewardItem``). ``reward`` may be None when λ = 0."""
    import torch

    if len(items) != len(prompts):
        raise CutError(f"{len(prompts)} prompts but {len(items)} reward items")
    if settings.lam != 0 and reward is None:
        raise CutError("DeAL with λ != 0 needs a reward")
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))  # similar lengths share a batch
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    result = DealResult([Completion([], False)] * len(prompts), [0.0] * len(prompts), [0.0] * len(prompts),
                        [0] * len(prompts))
    was_training = model.training
    model.eval()
    try:
        with progress_bar(progress, description, len(prompts)) as bar, torch.inference_mode():
            for start in range(0, len(order), settings.batch_size):
                indices = order[start:start + settings.batch_size]
                search = _BatchSearch(model, tokenizer, [prompts[i] for i in indices], [items[i] for i in indices],
                                      reward, settings, stop_ids, pad_id)
                beams = search.run()
                for i, beam, tokens in zip(indices, beams, search.model_tokens):
                    best = beam[0]
                    body = best.tokens[:-1] if best.stopped else best.tokens
                    result.completions[i] = Completion(list(body), finished=best.stopped)
                    result.scores[i], result.rewards[i], result.model_tokens[i] = best.score, best.reward, tokens
                result.reward_calls += search.reward_calls
                result.steps += search.steps
                bar.advance(len(indices))
    finally:
        model.train(was_training)
    return result


@dataclass
class _Rows:
    """The live rows of the batch: one per live state, aligned with the KV cache."""

    owner: list[int]  # prompt index of each row
    states: list[_State]
    mask: object  # (R, T) attention mask: prompt (left padded) + generated tokens
    positions: object  # (R,) position id of the next token fed
    logits: object  # (R, V) next-token logits after the state's last token
    cache: object = None  # the transformers DynamicCache of the rows


class _BatchSearch:
    """One batch of prompts searched together (see the module docstring)."""

    def __init__(self, model, tokenizer, prompts, items, reward, settings: DealSettings, stop_ids, pad_id):
        self.model, self.tokenizer, self.items, self.reward, self.s = model, tokenizer, items, reward, settings
        self.prompts, self.stops, self.pad_id = prompts, set(stop_ids), pad_id
        self.model_tokens = [len(p) for p in prompts]
        self.reward_calls = self.steps = 0

    def _forward(self, ids, mask, positions, cache, owners):
        """Next-token logits (R, V) after feeding ``ids`` (R, 1); the cache grows in place."""
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                         use_cache=True, logits_to_keep=1)
        for owner in owners:
            self.model_tokens[owner] += ids.shape[1]
        return out.logits[:, -1].float()

    def run(self) -> list[list[_State]]:
        ids, mask = left_pad(self.prompts, self.pad_id)  # (P, T)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        device = next(self.model.parameters()).device
        out = self.model(input_ids=ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                         use_cache=True, logits_to_keep=1)
        rows = _Rows(list(range(len(self.prompts))), [_State([], 0.0) for _ in self.prompts], mask.to(device),
                     mask.sum(-1).to(device), out.logits[:, -1].float(), out.past_key_values)
        beams: list[list[_State]] = [[state] for state in rows.states]
        while rows.states:
            rows, beams = self._step(rows, beams)
            self.steps += 1
        return beams

    def _step(self, rows: _Rows, beams: list[list[_State]]):
        import torch

        s = self.s
        used = len(rows.states[0].tokens)  # every live state has the same length
        chunk = min(s.block, s.max_new_tokens - used)
        ahead = min(s.lookahead, s.max_new_tokens - used - chunk)
        more = used + chunk < s.max_new_tokens  # may a state go on after this step?
        k = min(s.top_k, rows.logits.shape[-1])
        first = rows.logits.topk(k, dim=-1).indices  # (R, k): top-k on raw logits, as greedy's argmax
        first_lp = torch.log_softmax(rows.logits, -1).gather(1, first)  # (R, k)
        rows.cache.batch_repeat_interleave(k)
        owner = [o for o in rows.owner for _ in range(k)]
        mask, positions = rows.mask.repeat_interleave(k, 0), rows.positions.repeat_interleave(k, 0)
        tokens, chunk_lp, after, mask, feeds = self._rollout(rows.cache, mask, positions, first.reshape(-1),
                                                             first_lp.reshape(-1), chunk, ahead, more, owner)
        parents = [st for st in rows.states for _ in range(k)]
        candidates, texts = self._candidates(parents, tokens.tolist(), chunk_lp.tolist(), chunk, used + chunk)
        rewards = self._rewards(owner, texts)
        for state, value in zip(candidates, rewards):
            state.reward = value
            state.score = normalised(state.logprob, len(state.tokens), s.length_penalty) + s.lam * value
        beams, keep = self._select(beams, owner, candidates, k)
        if not keep:
            return _Rows([], [], None, None, None), beams
        if feeds > chunk:  # drop the lookahead from the cache: prefix + candidate stays
            rows.cache.crop(-(feeds - chunk))
            mask = mask[:, : mask.shape[1] - (feeds - chunk)]
        index = torch.tensor(keep, device=mask.device)
        rows.cache.batch_select_indices(index)
        return _Rows([owner[i] for i in keep], [candidates[i] for i in keep], mask[index],
                     positions[index] + chunk, after[index], rows.cache), beams

    def _rollout(self, cache, mask, positions, first, first_lp, chunk: int, ahead: int, more: bool, owner):
        """Feed each row's first token and continue greedily: (tokens (R, chunk + ahead),
        chunk log-probs (R, chunk), logits after the chunk (R, V) or None, mask, feeds)."""
        import torch

        total = chunk + ahead
        feeds = total - 1 if ahead else (chunk if more else chunk - 1)
        tokens, lps, after, current = [first], [first_lp], None, first
        ones = torch.ones((mask.shape[0], 1), dtype=mask.dtype, device=mask.device)
        for j in range(feeds):
            mask = torch.cat([mask, ones], dim=1)
            logits = self._forward(current[:, None], mask, (positions + j)[:, None], cache, owner)
            if j == chunk - 1:
                after = logits
            current = logits.argmax(-1)  # (R,)
            if j + 1 < chunk:
                lps.append(torch.log_softmax(logits, -1).gather(1, current[:, None])[:, 0])
            if j + 1 < total:
                tokens.append(current)
        # Without lookahead, the last step skips feeding the final chunk token: nothing follows it.
        return torch.stack(tokens, 1), torch.stack(lps, 1), after, mask, feeds

    def _candidates(self, parents, tokens, chunk_lp, chunk: int, length: int):
        """New states (finished at a stop in the chunk, or at the token limit) and the text
        the reward sees for each: prefix + chunk + lookahead, each cut at its first stop."""
        states, texts = [], []
        for parent, row, lps in zip(parents, tokens, chunk_lp):
            stop = next((j for j, t in enumerate(row) if t in self.stops), None)
            if stop is not None and stop < chunk:
                state = _State(parent.tokens + row[:stop + 1], parent.logprob + sum(lps[:stop + 1]), True, True)
                seen = parent.tokens + row[:stop]
            else:
                state = _State(parent.tokens + row[:chunk], parent.logprob + sum(lps[:chunk]),
                               finished=length >= self.s.max_new_tokens)
                seen = parent.tokens + row[:stop if stop is not None else len(row)]
            states.append(state)
            texts.append(self.tokenizer.decode(seen, skip_special_tokens=True).strip())
        return states, texts

    def _rewards(self, owner: list[int], texts: list[str]) -> list[float]:
        if self.s.lam == 0:
            return [0.0] * len(texts)
        self.reward_calls += 1
        values = self.reward.score([(self.items[o], t) for o, t in zip(owner, texts)])
        if len(values) != len(texts):
            raise CutError(f"reward {getattr(self.reward, 'name', '?')} returned {len(values)} scores "
                           f"for {len(texts)} texts")
        return [float(v) for v in values]

    def _select(self, beams, owner, candidates, k):
        """Per prompt, the best b of (finished states carried over + new candidates), in beam
        order then top-k order on ties; returns the new beams and the kept live rows."""
        new_of: dict[int, list[int]] = {}
        for row, o in enumerate(owner):
            new_of.setdefault(o, []).append(row)
        keep, out = [], []
        for p, beam in enumerate(beams):
            pool: list[tuple[_State, int | None]] = []
            rows_p = iter(new_of.get(p, []))
            for state in beam:  # a live state is replaced by its k candidates, in place
                if state.finished:
                    pool.append((state, None))
                else:
                    pool.extend((candidates[r], r) for r in (next(rows_p) for _ in range(k)))
            ranked = sorted(range(len(pool)), key=lambda i: (-pool[i][0].score, i))[: self.s.beam]
            out.append([pool[i][0] for i in ranked])
            # live rows in beam order, so the next step meets them in the order ``beam`` lists them
            keep.extend(pool[i][1] for i in ranked if not pool[i][0].finished)
        return out, keep
