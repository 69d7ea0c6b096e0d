"""Batched generation from a policy: the one home of sampling responses.

``cut collect``, the online loop, evaluation and decoding-time methods all call ``generate``
(or the lower-level ``generate_ids`` when they render their own prompts, as the local judge
does). Prompts are rendered through ``cut.templates`` — the same contexts training uses — and
batched with left padding, so a prompt's output does not depend on how long its neighbours
are. Generation stops at EOS or at the chat template's end-of-turn marker, whichever comes
first; only the new tokens are decoded.

Determinism: each batch is seeded from ``(settings.seed, batch index)`` inside a forked RNG
(the caller's global RNG state is untouched). With sampling, a prompt's output therefore
depends on which batch it lands in — on the batch size, on the other prompts, and on which
prompts a resumed run still had to generate. Greedy decoding (``temperature=0``) does not
depend on batching.

Not from the paper (arXiv 2312.14591 samples one response per instruction from the current
policy, §4.2); batching, length-sorting and the per-batch seeds are ours.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable, Sequence

from cut.errors import CutError
from cut.progress import progress_bar
from cut.templates import Template, context_ids, end_of_target_ids, plain_context


@dataclass
class GenerationSettings:
    max_new_tokens: int = 256  # new tokens per response, at most
    temperature: float = 0.7  # 0 → greedy decoding
    top_p: float = 0.9  # nucleus sampling (ignored when greedy)
    batch_size: int = 16  # sequences generated at once (prompts per batch = batch_size // num_samples)
    seed: int = 0  # base seed; each batch is seeded from (seed, batch index)
    num_samples: int = 1  # responses per prompt

    def __post_init__(self) -> None:
        checks = [("max_new_tokens", self.max_new_tokens >= 1), ("temperature", self.temperature >= 0),
                  ("top_p", 0 < self.top_p <= 1), ("batch_size", self.batch_size >= 1),
                  ("num_samples", self.num_samples >= 1)]
        for name, ok in checks:
            if not ok:
                raise CutError(f"generation setting {name}={getattr(self, name)!r} is out of range")
        if self.num_samples > 1 and self.temperature == 0:
            raise CutError("num_samples > 1 needs temperature > 0: greedy decoding gives the same "
                           "response every time")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass
class Completion:
    """The new tokens of one sample, without the stop token; ``finished`` is False when the
    sample was cut off at ``max_new_tokens`` instead of stopping by itself."""

    token_ids: list[int]
    finished: bool


class Sample(str):
    """A decoded response (a plain ``str`` to every caller) that also says whether it ended by
    itself: ``finished`` is False when it was cut off at ``max_new_tokens``. A cut-off answer
    cannot meet an end constraint, and training must not teach its end as a stopping point."""

    finished: bool

    def __new__(cls, text: str, finished: bool = True):
        obj = super().__new__(cls, text)
        obj.finished = finished
        return obj


# Called after each batch with the indices (into the prompt list) and their samples.
BatchCallback = Callable[[list[int], list[list[str]]], None]


def generate(model, tokenizer, instructions: Sequence[str], template: Template, settings: GenerationSettings,
             progress: bool = True, on_batch: BatchCallback | None = None) -> list[list[str]]:
    """Responses to ``instructions``: ``[[sample, ...] per instruction]``, in input order.

    Each instruction is rendered as the template's plain context (what the model sees at
    inference). ``on_batch(indices, samples)`` is called as each batch finishes, so callers
    can save work before the whole call ends.
    """
    prompts = [context_ids(template, tokenizer, plain_context(template, tokenizer, text)) for text in instructions]
    stops = stop_token_ids(template, tokenizer)
    results: list[list[str]] = [[] for _ in prompts]

    def decode_batch(indices: list[int], completions: list[list[Completion]]) -> None:
        texts = [[Sample(decode(tokenizer, c), c.finished) for c in samples] for samples in completions]
        for i, samples in zip(indices, texts):
            results[i] = samples
        if on_batch is not None:
            on_batch(indices, texts)

    generate_ids(model, tokenizer, prompts, settings, stops, progress=progress, on_batch=decode_batch)
    return results


def stop_token_ids(template: Template, tokenizer) -> list[int]:
    """EOS plus the template's end-of-turn token (``<|im_end|>`` for ChatML), without repeats.

    A multi-token end-of-turn marker cannot be a stop id; it is left out, and the response
    then ends at EOS (a chat model emits its end-of-turn marker as one token in practice).
    """
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    marker = end_of_target_ids(template, tokenizer)
    if len(marker) == 1:
        ids.append(marker[0])
    if not ids:
        raise CutError("the tokenizer has neither an EOS token nor a one-token end-of-turn marker to stop at")
    return list(dict.fromkeys(ids))


def decode(tokenizer, completion: Completion) -> str:
    return tokenizer.decode(completion.token_ids, skip_special_tokens=True).strip()


def generate_ids(model, tokenizer, prompts: Sequence[Sequence[int]], settings: GenerationSettings,
                 stop_ids: Sequence[int], progress: bool = True, description: str = "generating",
                 on_batch: Callable[[list[int], list[list[Completion]]], None] | None = None,
                 ) -> list[list[Completion]]:
    """Generate from already-tokenised prompts: ``[[Completion per sample] per prompt]``.

    Prompts are sorted by length (longest first, so a batch too large for memory fails at
    once) and batched; results come back in input order.
    """
    import torch

    per_batch = max(1, settings.batch_size // settings.num_samples)
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    batches = [order[start:start + per_batch] for start in range(0, len(order), per_batch)]
    results: list[list[Completion]] = [[] for _ in prompts]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[0]
    was_training = model.training
    model.eval()
    try:
        with progress_bar(progress, description, len(prompts)) as bar, torch.inference_mode():
            for number, indices in enumerate(batches):
                completions = _generate_batch(model, [prompts[i] for i in indices], settings, stop_ids,
                                              pad_id, _batch_seed(settings.seed, number))
                for i, samples in zip(indices, completions):
                    results[i] = samples
                if on_batch is not None:
                    on_batch(indices, completions)
                bar.advance(len(indices))
    finally:
        model.train(was_training)
    return results


def _batch_seed(seed: int, batch_index: int) -> int:
    """A 63-bit seed from (seed, batch index): nearby pairs give unrelated streams."""
    digest = hashlib.sha256(f"{seed}:{batch_index}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def _generate_batch(model, prompts: list[Sequence[int]], settings: GenerationSettings,
                    stop_ids: Sequence[int], pad_id: int, seed: int) -> list[list[Completion]]:
    import torch

    input_ids, attention_mask = left_pad(prompts, pad_id)  # (B, T) each
    kwargs = dict(max_new_tokens=settings.max_new_tokens, eos_token_id=list(stop_ids), pad_token_id=pad_id,
                  num_return_sequences=settings.num_samples)
    if settings.greedy:
        # Explicit Nones override sampling knobs a model's generation_config may carry.
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    else:
        # top_k=0: nucleus sampling alone, as configured (transformers would add top_k=50).
        kwargs.update(do_sample=True, temperature=settings.temperature, top_p=settings.top_p, top_k=0)
    device = next(model.parameters()).device
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):  # leave the caller's RNG streams alone
        torch.manual_seed(seed)
        output = model.generate(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), **kwargs)
    new = output[:, input_ids.shape[1]:].tolist()  # (B * num_samples, new tokens)
    k = settings.num_samples
    return [[_trim(row, stop_ids) for row in new[b * k:(b + 1) * k]] for b in range(len(prompts))]


def left_pad(prompts: Sequence[Sequence[int]], pad_id: int):
    """(input_ids, attention_mask), both (B, T) long tensors, padded on the left.

    Padding is done here rather than with ``tokenizer.pad`` so the tokenizer's own
    ``padding_side`` (right, for training) is never changed, even briefly.
    """
    import torch

    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        if len(prompt):
            ids[row, width - len(prompt):] = torch.tensor(list(prompt), dtype=torch.long)
            mask[row, width - len(prompt):] = 1
    return ids, mask


def _trim(row: list[int], stop_ids: Sequence[int]) -> Completion:
    """Cut a generated row at its first stop token (padding follows it in a batch)."""
    stops = set(stop_ids)
    for position, token in enumerate(row):
        if token in stops:
            return Completion(row[:position], finished=True)
    return Completion(row, finished=False)
