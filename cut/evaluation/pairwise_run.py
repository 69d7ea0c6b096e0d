"""One pairwise evaluation, top to bottom: outputs against references → judge → metrics → files.

``judge_outputs`` is what ``cut eval --outputs F --reference R`` and ``--model M --reference R``
run (the latter after ``outputs.generate_outputs``), and what ``cut eval --run`` runs per
round. It writes into one directory:

    annotations.json         AlpacaEval's annotation shape (usable verdicts only)
    annotations.errors.json  the unusable replies, with reasons (only when there are some)
    metrics.json             every metric, the judge summary (requests, cost, time), the files
    judge_cache/             the reply cache (unless another directory is given)

The instruction sets are compared before the judge is built or paid: a model-output file
for other instructions is refused with the first mismatches named.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable

from cut.errors import CutError
from cut.evaluation.alpaca_format import check_instructions_match, make_pairs, write_annotations
from cut.records import write_json_atomic

ANNOTATIONS, ERRORS, METRICS = "annotations.json", "annotations.errors.json", "metrics.json"


def first_rows(rows: list[dict], limit: int | None) -> list[dict]:
    if limit is not None and limit < 1:
        raise CutError(f"--limit must be at least 1, got {limit}")
    return rows[:limit] if limit else rows


def judge_outputs(model_rows: list[dict], reference_rows: list[dict], make_judge: Callable[[str], Any],
                  out_dir: str | os.PathLike, n_bootstrap: int = 200, seed: int = 0,
                  leaderboard: str | None = None, name: str | None = None, board_mode: str = "community",
                  report: str | None = None, on_step: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Judge ``model_rows`` against ``reference_rows`` and write the files of the module docstring.

    ``make_judge(default_cache_dir)`` builds the ``PairwiseJudge`` once the instruction sets
    are known to match. Returns the metrics (as in ``metrics.json``) with ``judge`` (the
    judge summary) and ``files``. Raises CutError when no reply at all was usable.
    """
    from cut.evaluation.metrics import evaluate_annotations

    start = time.perf_counter()
    check_instructions_match(model_rows, reference_rows)  # before any judge call
    out_dir = Path(out_dir)
    judge = make_judge(str(out_dir / "judge_cache"))
    result = judge.annotate(make_pairs(model_rows, reference_rows))
    out_dir.mkdir(parents=True, exist_ok=True)
    annotations_path, errors_path = out_dir / ANNOTATIONS, out_dir / ERRORS
    write_annotations(annotations_path, result.annotations)
    if result.failures:
        write_json_atomic(errors_path, result.failures)
    elif errors_path.exists():
        errors_path.unlink()  # a stale list from an earlier run would mislead
    if not result.annotations:
        raise CutError(f"none of the {len(model_rows)} judge replies was usable "
                       f"({_reasons(result.unusable)}); see {errors_path}")
    metrics = evaluate_annotations(result.annotations, n_bootstrap=n_bootstrap, seed=seed, on_step=on_step)
    metrics["judge"] = {k: v for k, v in result.summary.items()}
    metrics["judge"]["annotator"], metrics["judge"]["swap_seed"] = judge.annotator, judge.swap_seed
    metrics["files"] = {"annotations": str(annotations_path),
                        "errors": str(errors_path) if result.failures else None}
    name = name or metrics["model"] or "model"
    if leaderboard:
        from cut.evaluation.leaderboard import update_leaderboard

        update_leaderboard(leaderboard, name, metrics, mode=board_mode)
        metrics["files"]["leaderboard"] = str(leaderboard)
    if report:
        from cut.evaluation.report import write_report

        written = write_report(report, {name: metrics}, result.annotations, title=f"{name} vs {metrics['reference']}")
        metrics["files"]["report"] = str(written["html"])
    metrics["seconds"] = time.perf_counter() - start
    write_json_atomic(out_dir / METRICS, metrics)
    return metrics


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {why}" for why, n in counts.items()) or "none"


def describe_unusable(metrics: dict[str, Any]) -> str | None:
    """One line about dropped judge replies, or None when every reply was usable."""
    judge = metrics.get("judge") or {}
    if not judge.get("n_unusable"):
        return None
    return (f"{judge['n_unusable']} of {judge['pairs']} judge replies were unusable and dropped "
            f"({_reasons(judge['unusable'])}); listed in {metrics['files']['errors']}")
