"""`cut eval`: evaluate a model AlpacaEval-style.

One mode per source of preferences, chosen by the flag that names the input:
- ``--annotations FILE``: recompute every metric from existing pairwise annotations (ours or
  AlpacaEval's own files, as they are) without calling a judge.
Further modes (``--model``: generate and judge pairwise; ``--verifiable``: rule-checked
instructions) plug in as one entry of ``MODES`` and one handler each.

Nothing heavy is imported at module level: sklearn and the metrics load inside the handler.
"""

from __future__ import annotations

import json
import time


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a model: win rates against a reference (AlpacaEval-compatible)",
                       description="Evaluate a model AlpacaEval-style. Give exactly one input mode.")
    modes = p.add_mutually_exclusive_group(required=True)
    modes.add_argument("--annotations", metavar="FILE",
                       help="recompute metrics from an annotation file (AlpacaEval JSON list); no judge call")
    modes.add_argument("--verifiable", metavar="FILE", nargs="?", const="eval/verifiable-heldout.jsonl",
                       help="answer a verifiable-instruction set (IFEval JSONL; default: the bundled held-out "
                            "set) with --model and score it strict and loose, no LLM judge")
    p.add_argument("--model", default="smollm2-135m-instruct", help="with --verifiable: the model (default: %(default)s)")
    p.add_argument("--limit", type=int, help="with --verifiable: only the first N prompts")
    p.add_argument("--max-new-tokens", type=int, default=256, help="with --verifiable (default: %(default)s)")
    p.add_argument("-o", "--output", help="with --verifiable: where to write responses and per-prompt results (JSONL)")
    p.add_argument("--leaderboard", metavar="CSV", help="add or replace this model's row in a leaderboard CSV")
    p.add_argument("--name", help="model name for the leaderboard (default: generator_2 of the annotations)")
    p.add_argument("--mode", default="community", help="leaderboard 'mode' column (default: community)")
    p.add_argument("--difficulty", metavar="FILE",
                   help="per-instruction difficulty, one value per annotation row in the same order "
                        "(CSV whose last column is the value, or a JSON list); selects the full GLM")
    p.add_argument("--bootstrap", type=int, default=200, metavar="N",
                   help="bootstrap resamples for the LC confidence interval (default 200; 0 = none)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    p.set_defaults(func=run)


def run(args) -> int:
    for flag, handler in MODES.items():
        if getattr(args, flag, None):
            return handler(args)
    raise AssertionError("argparse requires one mode")  # unreachable: the mode group is required


def run_annotations(args) -> int:
    from cut.evaluation.alpaca_format import read_annotations
    from cut.evaluation.metrics import evaluate_annotations

    from cut.errors import CutError

    if args.bootstrap < 0:
        raise CutError(f"--bootstrap must be 0 or more, got {args.bootstrap}")
    start = time.perf_counter()
    rows = read_annotations(args.annotations)
    difficulty = read_difficulty(args.difficulty) if args.difficulty else None
    with _BootstrapProgress(not args.json, args.bootstrap) as on_step:
        metrics = evaluate_annotations(rows, difficulty=difficulty, n_bootstrap=args.bootstrap,
                                       seed=args.seed, on_step=on_step)
    metrics["file"] = str(args.annotations)
    metrics["seconds"] = time.perf_counter() - start
    name = args.name or metrics["model"] or "model"
    if args.leaderboard:
        from cut.evaluation.leaderboard import update_leaderboard

        update_leaderboard(args.leaderboard, name, metrics, mode=args.mode)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        _print_table(name, metrics, args.leaderboard)
    return 0


def run_verifiable(args) -> int:
    from cut.config import resolve_data_path
    from cut.evaluation.verifiable import render_table
    from cut.evaluation.verifiable_run import evaluate_verifiable
    from cut.progress import console

    start = time.perf_counter()
    out = args.output or "verifiable-eval.jsonl"
    result = evaluate_verifiable(args.model, resolve_data_path(args.verifiable), out, limit=args.limit,
                                 max_new_tokens=args.max_new_tokens)
    result["seconds"] = time.perf_counter() - start
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        console.print(render_table(result))
        console.print(f"{result['n_prompts']} prompts in {result['seconds']:.0f} s; responses in {out}")
    return 0


MODES = {"annotations": run_annotations, "verifiable": run_verifiable}


def read_difficulty(path: str) -> list[float]:
    """Difficulty values from a JSON list or a CSV (header row, value in the last column)."""
    import csv

    from cut.errors import CutError

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            if path.endswith(".json"):
                values = json.load(fh)
                if not isinstance(values, list):
                    raise CutError(f"{path}: expected a JSON list of numbers")
                items = [(i, v) for i, v in enumerate(values)]
            else:
                reader = list(csv.reader(fh))
                items = [(line, cells[-1]) for line, cells in enumerate(reader[1:], start=2) if cells]
    except (OSError, json.JSONDecodeError) as err:
        raise CutError(f"{path}: cannot read difficulty values ({err})") from None
    out = []
    for where, value in items:
        try:
            out.append(float(value))
        except (TypeError, ValueError):
            raise CutError(f"{path}: {'item' if path.endswith('.json') else 'line'} {where}: "
                           f"difficulty is not a number: {value!r}") from None
    return out


class _BootstrapProgress:
    """A rich progress bar fed by ``on_step(done, total)``; silent when disabled or nothing to do."""

    def __init__(self, enabled: bool, total: int):
        self.enabled = enabled and total > 0
        self.total = total

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.bar.start()
        task = self.bar.add_task("LC bootstrap", total=self.total)
        return lambda done, total: self.bar.update(task, completed=done)

    def __exit__(self, *exc):
        if self.enabled:
            self.bar.stop()
        return False


def _print_table(name: str, m: dict, leaderboard: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{name} vs {m['reference']} ({m['annotator'] or 'unknown annotator'})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("win rate", f"{m['win_rate']:.4f} ± {m['standard_error']:.4f}")
    table.add_row("discrete win rate", f"{m['discrete_win_rate']:.4f}")
    table.add_row("wins / losses / draws", f"{m['n_wins']} / {m['n_wins_base']} / {m['n_draws']} of {m['n_total']}")
    dropped = ", ".join(f"{n} {why}" for why, n in m["dropped"].items()) or "none"
    table.add_row("dropped (unusable preferences)", dropped)
    table.add_row("average length (chars)", str(m["avg_length"]))
    lc = f"{m['length_controlled_winrate']:.4f}"
    if m["lc_ci95"]:
        lo, hi = m["lc_ci95"]
        lc += f" (95% CI {lo:.2f}–{hi:.2f})"
    table.add_row(m["lc_label"], lc)
    caption = f"{m['file']} · {m['seconds']:.2f} s"
    if leaderboard:
        caption += f" · leaderboard updated: {leaderboard}"
    table.caption = caption
    Console().print(table)
