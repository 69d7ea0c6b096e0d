"""Generate answers to a verifiable-instruction set with a model and score them.

Used by the online loop's evaluation step (and ``cut eval --verifiable``). Greedy decoding,
so a model's score does not depend on a sampling seed; the responses are written next to the
scores (``eval.jsonl``: key, prompt, response, per-instruction results) so any number can be
checked by reading the file.
"""

from __future__ import annotations

from pathlib import Path

from cut.evaluation.verifiable import score, score_response
from cut.records import write_jsonl
from cut.verifiable import read_ifeval


def evaluate_verifiable(model: str, prompts_path: str, out_path: str | Path, limit: int | None = None,
                        max_new_tokens: int = 128, template: str = "auto", batch_size: int = 32) -> dict:
    """Score ``model`` on an IFEval-format file; returns cut.evaluation.verifiable.score's dict."""
    import torch

    from cut.generation import GenerationSettings, generate
    from cut.models import load_model
    from cut.templates import choose_template

    prompts = read_ifeval(prompts_path)[:limit] if limit else read_ifeval(prompts_path)
    policy, tokenizer = load_model(model)
    policy.eval()
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=0.0, batch_size=batch_size)
    with torch.inference_mode():
        samples = generate(policy, tokenizer, [p.prompt for p in prompts], choose_template(template, tokenizer),
                           settings, progress=True)
    responses = [s[0] for s in samples]
    write_jsonl(out_path, [{"key": p.key, "prompt": p.prompt, "response": r, **score_response(p, r)}
                           for p, r in zip(prompts, responses)])
    return score(prompts, responses)
