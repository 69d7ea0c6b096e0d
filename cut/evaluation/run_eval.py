"""Evaluate every round of an online run directory (``cut eval --run DIR``).

The run's layout is ``cut.online``'s: ``online_config.json``, and per round ``round-r/eval.jsonl``
(held-out verifiable responses), ``round-r/model/`` (the policy after round r; round 0 is the
starting ``model`` of the config). For each round:

- the verifiable evaluation is re-scored from the stored responses with today's checkers
  (prompts, with their kwargs, from the config's ``eval_prompts``, matched on ``key``); no
  generation, so it takes seconds;
- with a reference set, the round's policy answers it (``outputs.generate_outputs``, greedy,
  resumable) and a pairwise judge compares the answers with the references
  (``pairwise_run.judge_outputs``), into ``round-r/pairwise/<reference stem>/``.

One row per round comes back (and is what ``cut eval --run`` prints as a table).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

from cut.errors import CutError


def round_numbers(run_dir: Path) -> list[int]:
    """Round numbers present in ``run_dir`` (``round-N`` folders), ascending."""
    numbers = []
    for path in run_dir.glob("round-*"):
        suffix = path.name.split("-", 1)[1]
        if path.is_dir() and suffix.isdigit():
            numbers.append(int(suffix))
    return sorted(numbers)


def read_run_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "online_config.json"
    if not path.is_file():
        raise CutError(f"{run_dir} is not an online run directory: {path.name} is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise CutError(f"{path}: invalid JSON ({err.msg} at line {err.lineno})") from None


def rescore_verifiable(eval_path: Path, prompts_by_key: dict) -> dict[str, Any]:
    """``cut.evaluation.verifiable.score`` of the responses stored in a round's ``eval.jsonl``."""
    from cut.evaluation.verifiable import score
    from cut.records import iter_jsonl

    prompts, responses = [], []
    for line, row in iter_jsonl(eval_path):
        key = str(row.get("key")) if isinstance(row, dict) else None
        if key not in prompts_by_key:
            raise CutError(f"{eval_path}:{line}: field 'key': {key!r} is not in the run's evaluation prompts")
        if not isinstance(row.get("response"), str):
            raise CutError(f"{eval_path}:{line}: field 'response': expected a string")
        prompts.append(prompts_by_key[key])
        responses.append(row["response"])
    return score(prompts, responses)


def policy_of_round(run_dir: Path, config: dict, r: int) -> str | None:
    """The model evaluated after round r (``cut.online.policy_for``), or None if it is absent."""
    if r == 0:
        return config.get("model")
    model = run_dir / f"round-{r}" / "model"
    return str(model) if model.is_dir() else None


def evaluate_run(run_dir: str | os.PathLike, reference_rows: list[dict] | None = None, reference_name: str = "",
                 make_judge: Callable[[str], Any] | None = None, limit: int | None = None,
                 max_new_tokens: int = 512, batch_size: int = 16, n_bootstrap: int = 200, seed: int = 0,
                 progress: bool = True) -> list[dict[str, Any]]:
    """One row per round: verifiable accuracies and, with ``reference_rows``, pairwise metrics.

    ``make_judge(default_cache_dir)`` builds the pairwise judge (one cache for the whole run by
    default: ``<run>/pairwise_cache``). ``reference_name`` names the output folder.
    """
    from cut.config import resolve_data_path
    from cut.evaluation.outputs import generate_outputs
    from cut.evaluation.pairwise_run import first_rows, judge_outputs
    from cut.verifiable import read_ifeval

    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    rounds = round_numbers(run_dir)
    if not rounds:
        raise CutError(f"{run_dir}: no round-N folders")
    prompts_path = resolve_data_path(config.get("eval_prompts") or "eval/verifiable-heldout.jsonl")
    prompts_by_key = {p.key: p for p in read_ifeval(prompts_path)} if Path(prompts_path).exists() else None
    reference = first_rows(reference_rows, limit) if reference_rows is not None else None
    rows = []
    for r in rounds:
        rd = run_dir / f"round-{r}"
        row: dict[str, Any] = {"round": r}
        if (rd / "eval.jsonl").exists():
            if prompts_by_key is None:
                raise CutError(f"cannot re-score {rd / 'eval.jsonl'}: the run's evaluation prompts "
                               f"{prompts_path} are missing")
            row["verifiable"] = rescore_verifiable(rd / "eval.jsonl", prompts_by_key)
        if reference is not None:
            model = policy_of_round(run_dir, config, r)
            if model is None:
                row["pairwise_skipped"] = f"no model in {rd / 'model'}"
            else:
                out_dir = rd / "pairwise" / reference_name
                outputs = generate_outputs(model, reference, out_dir / "model_outputs.json",
                                           generator=f"{run_dir.name}-round-{r}", max_new_tokens=max_new_tokens,
                                           batch_size=batch_size, progress=progress)
                shared_cache = str(run_dir / "pairwise_cache")
                row["pairwise"] = judge_outputs(outputs["rows"], reference, lambda _: make_judge(shared_cache),
                                                out_dir, n_bootstrap=n_bootstrap, seed=seed)
        rows.append(row)
    return rows
