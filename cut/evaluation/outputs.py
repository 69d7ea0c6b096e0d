"""A model's outputs for an evaluation set, in AlpacaEval's ``model_outputs.json`` shape.

The evaluation set is any prompt file ``cut.prompt_sources.read_prompts`` reads: an
AlpacaEval-format JSON list (``instruction``, ``output``, ``generator``, ``dataset``: the
reference outputs are ignored here, ``dataset`` is kept), the bundled verifiable set or
another IFEval-format file (no references, so outputs only; ``dataset`` is then the file's
stem). The result is a JSON list of ``{instruction, output, generator, dataset}`` in the
order of the set, as AlpacaEval writes it.

Decoding is greedy by default, so outputs do not depend on a seed or on batching. The file
is rewritten atomically after every batch with what is done so far; a rerun with the same
output path keeps the rows it finds (same generator, instructions of the set) and generates
only the rest. Rows are matched on instruction text, so a change of ``max_new_tokens``
between runs is not detected: use a new output path for new settings.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from cut.errors import CutError
from cut.evaluation.alpaca_format import read_model_outputs, write_model_outputs


def read_instructions(path: str | os.PathLike, limit: int | None = None) -> list[dict]:
    """``[{instruction, dataset}]`` of an evaluation set, in file order (the first ``limit``)."""
    from cut.prompt_sources import read_prompts

    items = read_prompts(path)
    if limit is not None:
        if limit < 1:
            raise CutError(f"--limit must be at least 1, got {limit}")
        items = items[:limit]
    stem = Path(path).stem
    rows, seen = [], set()
    for item in items:
        if item.prompt in seen:  # AlpacaEval matches rows on instruction text: it must be unique
            raise CutError(f"{path}: instruction {item.prompt[:60]!r} appears twice")
        seen.add(item.prompt)
        rows.append({"instruction": item.prompt, "dataset": item.metadata.get("dataset", stem)})
    return rows


def generator_name(model: str) -> str:
    """A model spec as a generator name: the directory or file stem for paths, else the spec."""
    path = Path(model)
    return path.stem if path.suffix == ".gguf" else path.name if path.exists() else model


def _resume(out_path: Path, wanted: set[str], generator: str) -> dict[str, dict]:
    """Rows already written by an earlier run of the same generator, by instruction."""
    if not out_path.exists():
        return {}
    rows = read_model_outputs(out_path)
    others = sorted({r["generator"] for r in rows} - {generator})
    if others:
        raise CutError(f"{out_path} holds outputs of {others[0]!r}, not {generator!r}: "
                       f"choose another output path (or remove the file)")
    return {r["instruction"]: r for r in rows if r["instruction"] in wanted}


def generate_outputs(model: str, instructions: list[dict], out_path: str | os.PathLike,
                     generator: str | None = None, max_new_tokens: int = 512, temperature: float = 0.0,
                     batch_size: int = 16, template: str = "auto", progress: bool = True) -> dict:
    """Answer ``instructions`` (``[{instruction, dataset?}]``, e.g. from ``read_instructions``
    or reference rows) with ``model``; write ``out_path``. The model is loaded only when some
    instruction has no output yet.

    Returns ``{"rows": [...], "generated": n, "reused": n, "seconds": s, "generator": name}``.
    """
    import torch

    from cut.generation import GenerationSettings, generate
    from cut.models import load_model
    from cut.templates import choose_template

    start = time.perf_counter()
    out_path = Path(out_path)
    generator = generator or generator_name(model)
    wanted = [{"instruction": row["instruction"], "dataset": row.get("dataset")} for row in instructions]
    done = _resume(out_path, {w["instruction"] for w in wanted}, generator)
    todo = [w for w in wanted if w["instruction"] not in done]

    def save() -> None:
        write_model_outputs(out_path, [done[w["instruction"]] for w in wanted if w["instruction"] in done])

    if todo:
        policy, tokenizer = load_model(model)
        settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=temperature,
                                      batch_size=batch_size)

        def on_batch(indices: list[int], samples: list[list[str]]) -> None:
            for i, texts in zip(indices, samples):
                done[todo[i]["instruction"]] = {"instruction": todo[i]["instruction"], "output": texts[0],
                                                "generator": generator, "dataset": todo[i]["dataset"]}
            save()  # atomic: a killed run leaves a valid file with every finished batch

        with torch.inference_mode():
            generate(policy, tokenizer, [w["instruction"] for w in todo], choose_template(template, tokenizer),
                     settings, progress=progress, on_batch=on_batch)
    save()
    rows = [done[w["instruction"]] for w in wanted]
    return {"rows": rows, "generated": len(todo), "reused": len(wanted) - len(todo),
            "seconds": time.perf_counter() - start, "generator": generator}
