"""Rich tables of evaluation results, for the terminal (``cut eval`` prints them).

``metrics_table``: one model's AlpacaEval metrics (win rate ± SE, discrete, counts, dropped,
average length, LC with its label and interval); ``judge_line``: what the pairwise judge
cost; ``rounds_table``: one row per round of an online run (verifiable accuracies, win rates).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table


def metrics_table(name: str, m: dict, leaderboard: str | None = None) -> Table:
    """``m`` as from ``metrics.evaluate_annotations`` plus ``file`` and ``seconds``."""
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
    return table


def judge_line(metrics: dict) -> str:
    """One line: the annotator, requests, retries, cache hits, cost and time of this run, the files."""
    j = metrics["judge"]
    files = ", ".join(v for v in metrics["files"].values() if v)
    return (f"judge {j['annotator']}: {j['requests']} request(s) ({j['retries']} retries), "
            f"{j['cache_hits']} cache hit(s), {j['cost']:.4f} USD, {j['wall_seconds']:.1f} s; files: {files}")


def rounds_table(rows: list[dict[str, Any]], title: str = "online run, per round") -> Table:
    """A rich Table: verifiable prompt/instruction accuracy (strict, loose) and win rates per round."""
    table = Table(title=title)
    for col in ("round", "prompt strict", "prompt loose", "instr. strict", "instr. loose", "win rate ± SE",
                "LC", "n (dropped)"):
        table.add_column(col, justify="right")
    for row in rows:
        v, p = row.get("verifiable") or {}, row.get("pairwise")
        cells = [str(row["round"])] + [f"{100 * v[k]:.1f}%" if k in v else "–" for k in
                                       ("prompt_level_strict", "prompt_level_loose", "instruction_level_strict",
                                        "instruction_level_loose")]
        if p:
            cells += [f"{p['win_rate']:.2f} ± {p['standard_error']:.2f}", f"{p['length_controlled_winrate']:.2f}",
                      f"{p['n_total']} ({p['judge']['n_unusable']})"]
        else:
            cells += [row.get("pairwise_skipped", "–"), "–", "–"]
        table.add_row(*cells)
    return table
