"""One entry point for every way of decoding a response: greedy | sample | beam | deal | best-of-n.

``decode`` renders each instruction as the template's plain context (as ``cut.generation``
does) and answers it with the decoder a ``DecoderConfig`` names:

- ``greedy`` and ``sample``: ``cut.generation.generate_ids``, unchanged;
- ``beam``: beam search over the top-k tokens of each state — DeAL with λ = 0 and no lookahead
  (``cut.deal``), so the two share one search;
- ``deal``: DeAL (arXiv 2402.06147) with the reward ``config.reward`` names (``cut.rewards``);
- ``best-of-n``: N samples per prompt (``generate_ids``, seeded, temperature/top-p as set),
  reranked by the same reward; ties go to the earlier sample. The paper's l = ∞, k = 1 corner.

Every decoder reports its compute as *model tokens*, the token positions fed through the
model without padding: for DeAL, every row of every forward, lookahead included; for the
samplers, each sample's prompt plus the tokens it fed back (a sample of L new tokens that
stopped by itself fed L, one cut at the limit L − 1). Batched ``generate`` also computes the
padded tail of rows that stopped early; that is not counted, which flatters the samplers
slightly, so a budget matched on this count never short-changes best-of-N.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Sequence

from cut.errors import CutError
from cut.generation import Completion, GenerationSettings, decode as decode_text, generate_ids, stop_token_ids
from cut.rewards import RewardItem, make_reward
from cut.templates import Template, context_ids, plain_context


@dataclass
class DecoderConfig:
    decoder: str = "greedy"  # greedy | sample | beam | deal | best-of-n
    max_new_tokens: int = 256
    batch_size: int = 16  # live sequences at once: generate's batch; beam/deal search batch_size // beam prompts
    seed: int = 0  # sample, best-of-n
    temperature: float = 0.7  # sample, best-of-n
    top_p: float = 0.9  # sample, best-of-n
    n: int = 8  # best-of-n: samples per prompt
    top_k: int = 5  # beam, deal: candidates per state
    lookahead: int = 8  # deal: greedy tokens after each candidate
    beam: int = 2  # beam, deal: states kept
    lam: float = 1.0  # deal: reward weight λ
    block: int = 1  # deal: tokens per candidate
    length_penalty: float = 1.0  # beam, deal: log P / length ** this
    reward: str = "rules"  # deal, best-of-n: a cut.rewards spec

    def __post_init__(self) -> None:
        if self.decoder not in DECODERS:
            raise CutError(f"unknown decoder {self.decoder!r}: use one of {', '.join(DECODERS)}")
        if self.n < 1:
            raise CutError(f"best-of-n needs n >= 1, got {self.n}")

    @property
    def uses_reward(self) -> bool:
        return self.decoder == "best-of-n" or (self.decoder == "deal" and self.lam != 0)

    def settings(self) -> dict:
        """The settings that matter for this decoder (stored beside every response)."""
        names = {"greedy": [], "sample": ["temperature", "top_p", "seed"], "beam": ["top_k", "beam", "length_penalty"],
                 "deal": ["top_k", "lookahead", "beam", "lam", "block", "length_penalty", "reward"],
                 "best-of-n": ["n", "temperature", "top_p", "seed", "reward"]}[self.decoder]
        values = asdict(self)
        return {"decoder": self.decoder, "max_new_tokens": self.max_new_tokens, **{k: values[k] for k in names}}

    def deal_settings(self):
        from cut.deal import DealSettings

        lam, ahead = (0.0, 0) if self.decoder == "beam" else (self.lam, self.lookahead)
        block = 1 if self.decoder == "beam" else self.block
        # batch_size counts live sequences, as generate's does: prompts × beam (× top_k in a rollout)
        prompts = max(1, self.batch_size // self.beam)
        return DealSettings(top_k=self.top_k, lookahead=ahead, beam=self.beam, lam=lam, block=block,
                            max_new_tokens=self.max_new_tokens, length_penalty=self.length_penalty,
                            batch_size=prompts)


@dataclass
class Decoded:
    responses: list[str]
    model_tokens: list[int]  # per prompt
    rewards: list[float] | None = None  # the chosen response's reward (deal, best-of-n)
    reward_calls: int = 0
    seconds: float = 0.0
    completions: list[Completion] | None = None


def decode(model, tokenizer, instructions: Sequence[str], template: Template, config: DecoderConfig,
           items: Sequence[RewardItem] | None = None, reward=None, progress: bool = True) -> Decoded:
    """Answer each instruction with ``config.decoder``. ``items[i]`` is what the reward knows
    about instruction i (default: its text, no metadata); ``reward`` overrides ``config.reward``."""
    items = list(items) if items is not None else [RewardItem(text) for text in instructions]
    if len(items) != len(instructions):
        raise CutError(f"{len(instructions)} instructions but {len(items)} reward items")
    if config.uses_reward and reward is None:
        reward = make_reward(config.reward)
    if config.uses_reward:
        reward.check(items)
    prompts = [context_ids(template, tokenizer, plain_context(template, tokenizer, t)) for t in instructions]
    stops = stop_token_ids(template, tokenizer)
    started = time.perf_counter()
    out = DECODERS[config.decoder](model, tokenizer, prompts, items, reward, config, stops, progress)
    out.seconds = time.perf_counter() - started
    out.responses = [decode_text(tokenizer, c) for c in out.completions]
    return out


def sample_tokens(prompt_length: int, completion: Completion) -> int:
    """Model tokens of one sample: its prompt, and each new token fed back (not the last one
    when it was cut off at the limit, since nothing was generated after it)."""
    return prompt_length + len(completion.token_ids) - (0 if completion.finished else 1)


def _generation(config: DecoderConfig, greedy: bool, samples: int = 1) -> GenerationSettings:
    return GenerationSettings(max_new_tokens=config.max_new_tokens, temperature=0.0 if greedy else config.temperature,
                              top_p=config.top_p, batch_size=max(config.batch_size, samples), seed=config.seed,
                              num_samples=samples)


def _sampled(greedy: bool):
    def run(model, tokenizer, prompts, items, reward, config, stops, progress) -> Decoded:
        settings = _generation(config, greedy)
        out = generate_ids(model, tokenizer, prompts, settings, stops, progress=progress,
                           description="greedy" if greedy else "sampling")
        completions = [samples[0] for samples in out]
        return Decoded([], [sample_tokens(len(p), c) for p, c in zip(prompts, completions)], completions=completions)

    return run


def _search(model, tokenizer, prompts, items, reward, config, stops, progress) -> Decoded:
    from cut.deal import deal_search

    settings = config.deal_settings()
    result = deal_search(model, tokenizer, prompts, items, reward, settings, stops, progress=progress,
                         description="beam search" if config.decoder == "beam" else "DeAL")
    rewards = result.rewards if config.decoder == "deal" and settings.lam != 0 else None
    return Decoded([], result.model_tokens, rewards, result.reward_calls, completions=result.completions)


def best_of_n(model, tokenizer, prompts, items, reward, config, stops, progress) -> Decoded:
    """N seeded samples per prompt, the one with the highest reward kept (the first on ties);
    the reward is called once for all samples."""
    settings = _generation(config, greedy=False, samples=config.n)  # CutError when n > 1 at temperature 0
    out = generate_ids(model, tokenizer, prompts, settings, stops, progress=progress, description=f"best-of-{config.n}")
    texts = [[decode_text(tokenizer, c) for c in samples] for samples in out]
    scores = reward.score([(item, t) for item, samples in zip(items, texts) for t in samples])
    chosen, rewards, tokens = [], [], []
    for i, (p, samples) in enumerate(zip(prompts, out)):
        mine = scores[i * config.n:(i + 1) * config.n]
        best = max(range(len(samples)), key=lambda j: (mine[j], -j))
        chosen.append(samples[best])
        rewards.append(float(mine[best]))
        tokens.append(sum(sample_tokens(len(p), c) for c in samples))
    return Decoded([], tokens, rewards, reward_calls=1, completions=chosen)


DECODERS = {"greedy": _sampled(greedy=True), "sample": _sampled(greedy=False), "beam": _search,
            "deal": _search, "best-of-n": best_of_n}


def decode_file(model: str, prompts_path: str, out_path: str, config: DecoderConfig, limit: int | None = None,
                template: str = "auto", progress: bool = True) -> dict:
    """``cut generate``: answer a prompt file (IFEval JSONL, records, CSV, .txt — as
    ``cut.prompt_sources.read_prompts``) with ``config``'s decoder and write JSONL rows (key,
    prompt, response, decoder, settings, model_tokens, reward; with the strict results when the
    prompts are verifiable). Returns a summary; ``verifiable`` holds the strict/loose scores of
    ``cut.evaluation.verifiable.score`` when every prompt has checkable constraints, else None.
    The reward spec is checked against the prompts before the model loads."""
    from cut.evaluation.verifiable import score, score_response
    from cut.judges.checkers import unsupported_ids
    from cut.models import load_model
    from cut.prompt_sources import read_prompts
    from cut.records import write_jsonl
    from cut.templates import choose_template
    from cut.verifiable import VerifiablePrompt

    if limit is not None and limit < 1:
        raise CutError(f"--limit must be at least 1, got {limit}")
    prompts = read_prompts(prompts_path)[:limit]
    items = [RewardItem(p.prompt, dict(p.metadata)) for p in prompts]
    reward = make_reward(config.reward) if config.uses_reward else None
    if reward is not None:
        reward.check(items)
    checkable = [VerifiablePrompt(p.key, p.prompt, list(p.metadata["instruction_id_list"]),
                                  list(p.metadata.get("kwargs") or [{} for _ in p.metadata["instruction_id_list"]]))
                 for p in prompts if p.metadata.get("instruction_id_list")]
    verifiable = len(checkable) == len(prompts) and not unsupported_ids(
        i for p in checkable for i in p.instruction_id_list)
    policy, tokenizer = load_model(model)
    decoded = decode(policy, tokenizer, [p.prompt for p in prompts], choose_template(template, tokenizer), config,
                     items, reward, progress=progress)
    rows = []
    for i, (p, response, tokens) in enumerate(zip(prompts, decoded.responses, decoded.model_tokens)):
        row = {"key": p.key, "prompt": p.prompt, "response": response, "decoder": config.decoder,
               "settings": config.settings(), "model_tokens": tokens}
        if decoded.rewards is not None:
            row["reward"] = decoded.rewards[i]
        if verifiable:
            row.update(score_response(checkable[i], response))
        rows.append(row)
    write_jsonl(out_path, rows)
    return {"n_prompts": len(prompts), "decoder": config.decoder, "settings": config.settings(),
            "seconds": decoded.seconds, "model_tokens": sum(decoded.model_tokens),
            "reward_calls": decoded.reward_calls, "output": str(out_path),
            "mean_reward": sum(decoded.rewards) / len(decoded.rewards) if decoded.rewards else None,
            "verifiable": score(checkable, decoded.responses) if verifiable else None}
