"""Generate answers to a verifiable-instruction set with a model and score them.

Used by the online loop's evaluation step (and ``cut eval --verifiable``). Greedy decoding by
default, so a model's score does not depend on a sampling seed; with a ``DecoderConfig`` the
answers come from ``cut.decoders.decode`` instead (beam search, DeAL with the rule reward,
best-of-N, ...), each prompt's constraints handed to the reward. The responses are written
next to the scores (``eval.jsonl``: key, prompt, response, per-instruction results) so any
number can be checked by reading the file.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from cut.errors import CutError
from cut.evaluation.verifiable import (
    left_out_note,
    score,
    score_response,
    split_supported,
)
from cut.judges.checkers import missing_extras
from cut.records import write_jsonl
from cut.verifiable import read_ifeval


def evaluate_verifiable(model: str, prompts_path: str, out_path: str | Path, limit: int | None = None,
                        max_new_tokens: int = 128, template: str = "auto", batch_size: int = 32,
                        decoder=None) -> dict:
    """Score ``model`` on an IFEval-format file; returns cut.evaluation.verifiable.score's dict.
    Prompts using an instruction id no checker implements are neither answered nor scored;
    ``unsupported`` ({n_prompts, ids}) says how many and which ids.

    ``decoder`` (a ``cut.decoders.DecoderConfig``; None = greedy, as always) chooses how the
    answers are decoded; its ``max_new_tokens`` is replaced by this function's. With a
    decoder, the result also holds ``decoder`` (its settings) and ``model_tokens`` (total).
    """
    import torch

    from cut.generation import GenerationSettings, generate
    from cut.models import load_model
    from cut.templates import choose_template

    prompts = read_ifeval(prompts_path)[:limit] if limit else read_ifeval(prompts_path)
    if not prompts:  # a score over nothing would read as 0% (or 100%)
        raise CutError(f"{prompts_path}: no prompts in the file")
    prompts, left_out = split_supported(prompts)  # never answered, never scored: reported
    if not prompts:
        raise CutError(f"{prompts_path}: no prompt can be scored: every one uses an instruction id no checker "
                       f"implements ({', '.join(left_out_note(left_out)['ids'])})")
    extras = missing_extras(i for p in prompts for i in p.instruction_id_list)
    if extras:  # before any model loads: a score must not stop after the answers are generated
        raise CutError(f"{prompts_path}: checking these prompts needs {', '.join(extras)}: pip install 'cut[ifbench]'")
    policy, tokenizer = load_model(model)
    policy.eval()
    chosen = choose_template(template, tokenizer)
    extra: dict = {"unsupported": left_out_note(left_out)} if left_out else {}
    if decoder is None:
        settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=0.0, batch_size=batch_size)
        with torch.inference_mode():
            samples = generate(policy, tokenizer, [p.prompt for p in prompts], chosen, settings, progress=True)
        responses = [s[0] for s in samples]
    else:
        from cut.decoders import decode
        from cut.rewards import RewardItem

        config = replace(decoder, max_new_tokens=max_new_tokens)
        items = [RewardItem(p.prompt, p.as_metadata()) for p in prompts]
        decoded = decode(policy, tokenizer, [p.prompt for p in prompts], chosen, config, items)
        responses = decoded.responses
        extra = {"decoder": config.settings(), "model_tokens": sum(decoded.model_tokens)}
    # cut off at max_new_tokens (greedy decoding says; other decoders leave it unknown)
    cut_off = [getattr(r, "finished", True) is False for r in responses]
    write_jsonl(out_path, [{"key": p.key, "prompt": p.prompt, "response": str(r), "truncated": t,
                            **score_response(p, r)} for p, r, t in zip(prompts, responses, cut_off)])
    if decoder is None:
        extra["truncated"] = sum(cut_off) / len(cut_off) if cut_off else 0.0
    return {**score(prompts, responses), **extra}
