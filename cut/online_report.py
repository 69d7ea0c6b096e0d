"""Per-round results of online runs: a terminal table, a CSV and a PNG plot.

``write_report([run_dir, ...], stem)`` writes ``stem.csv`` and ``stem.png`` with the held-out
prompt-level pass rate (strict, with its 95% interval) per round, one line per run, so
methods run into sibling directories can be seen side by side (``cut report DIR``), and
``stem-per-type.csv``: the strict pass rate of each constraint type per round, which shows
what a total hides — the types a run learns and the ones it breaks.
"""

from __future__ import annotations

import csv
from pathlib import Path

from rich.table import Table

CSV_COLUMNS = ["run", "method", "detector", "round", "prompt_strict", "prompt_lo", "prompt_hi",
               "instruction_strict", "instruction_lo", "instruction_hi", "prompt_loose",
               "train_acceptable", "train_revisions", "train_truncated", "eval_truncated",
               "flagged_frac", "ratio_precision", "ratio_recall"]


def round_files(run_dir: Path, name: str) -> list[tuple[int, dict]]:
    """(round, JSON object) of ``round-<number>/name`` in round order; only round-<number>
    folders are rounds (a user's round-old or round-x is not)."""
    from cut.paths import read_json_object

    numbered = [p for p in run_dir.glob(f"round-*/{name}") if p.parent.name[6:].isdigit()]
    return [(int(p.parent.name[6:]), read_json_object(p)) for p in sorted(numbered, key=lambda p: int(p.parent.name[6:]))]


def round_metrics(run_dir: Path) -> list[tuple[int, dict]]:
    """(round, metrics.json) of each round, in order."""
    return round_files(run_dir, "metrics.json")


def rows_for(run_dir: Path) -> list[dict]:
    from cut.paths import read_json_object

    cfg_path = run_dir / "online_config.json"
    cfg = read_json_object(cfg_path) if cfg_path.exists() else {}
    rows = []
    for number, m in round_metrics(run_dir):
        ev, det = m.get("eval", {}), m.get("detector") or {}
        rows.append({
            "run": run_dir.name, "method": cfg.get("method", ""), "detector": cfg.get("detector", ""),
            "round": m.get("round", number),
            "prompt_strict": ev.get("prompt_level_strict"), "prompt_lo": (ev.get("prompt_level_strict_ci") or [None, None])[0],
            "prompt_hi": (ev.get("prompt_level_strict_ci") or [None, None])[1],
            "instruction_strict": ev.get("instruction_level_strict"),
            "instruction_lo": (ev.get("instruction_level_strict_ci") or [None, None])[0],
            "instruction_hi": (ev.get("instruction_level_strict_ci") or [None, None])[1],
            "prompt_loose": ev.get("prompt_level_loose"),
            "train_acceptable": m.get("train_acceptable"), "train_revisions": m.get("train_revisions"),
            "train_truncated": m.get("train_truncated"), "eval_truncated": ev.get("truncated"),
            "flagged_frac": det.get("flagged_frac"),
            "ratio_precision": det.get("ratio_precision"), "ratio_recall": det.get("ratio_recall"),
        })
    return rows


def round_table(metrics_or_rows, title: str = "online rounds") -> Table:
    rows = metrics_or_rows if metrics_or_rows and "prompt_strict" in metrics_or_rows[0] else None
    if rows is None:
        raise TypeError("round_table takes rows from rows_for()")
    table = Table(title=title)
    for col in ("run", "round", "prompt-level (95% CI)", "instruction-level (95% CI)", "train acceptable",
                "revisions", "cut off: samples / eval", "flagged", "ratio P / R vs spans"):
        table.add_column(col, justify="right" if col != "run" else "left")
    for r in rows:
        table.add_row(r["run"], str(r["round"]), _rate(r["prompt_strict"], r["prompt_lo"], r["prompt_hi"]),
                      _rate(r["instruction_strict"], r["instruction_lo"], r["instruction_hi"]),
                      _pct(r["train_acceptable"]), "–" if r.get("train_revisions") is None else str(r["train_revisions"]),
                      f"{_pct(r.get('train_truncated'))} / {_pct(r.get('eval_truncated'))}", _pct(r["flagged_frac"]),
                      "–" if r["ratio_precision"] is None and r["ratio_recall"] is None
                      else f"{_pct(r['ratio_precision'])} / {_pct(r['ratio_recall'])}")
    return table


def per_type_rows(run_dir: Path) -> list[dict]:
    """Held-out strict pass rate per constraint type and round: [{run, type, n, round: rate...}]."""
    by_type: dict[str, dict] = {}
    for number, m in round_metrics(run_dir):
        for cid, v in (m.get("eval", {}).get("per_type") or {}).items():
            row = by_type.setdefault(cid, {"run": run_dir.name, "type": cid, "n": v["n"]})
            row[number] = v["strict"]
    return list(by_type.values())


def per_type_table(run_dir: Path) -> Table:
    """Which constraint types a run learns and which it breaks: strict pass rate per round."""
    rows = per_type_rows(run_dir)
    rounds = sorted({k for r in rows for k in r if isinstance(k, int)})
    table = Table(title=f"{run_dir.name}: held-out strict pass rate per constraint type")
    table.add_column("type")
    table.add_column("n", justify="right")
    for k in rounds:
        table.add_column(f"round {k}", justify="right")
    for r in rows:
        cells = [f"{100 * r[k]:.0f}%" if k in r else "–" for k in rounds]
        if len(rounds) > 1 and rounds[0] in r and rounds[-1] in r:
            delta = round(100 * (r[rounds[-1]] - r[rounds[0]]))
            cells[-1] += f" ({delta:+d})"
        table.add_row(r["type"].split(":")[-1], str(r["n"]), *cells)
    return table


def profile_table(run_dir: Path) -> Table | None:
    """Where the run spent: seconds and peak resident memory of each step of each round, and
    training tokens/s per core against the arithmetic floor (``round-r/profile.json``)."""
    found = round_files(run_dir, "profile.json")
    if not found:
        return None
    table = Table(title=f"{run_dir.name}: time and peak memory per step")
    for col in ("round", "step", "seconds", "peak RSS (MB)", "train tokens/s per core (floor)", "padding"):
        table.add_column(col, justify="right" if col != "step" else "left")
    for number, steps in found:
        for step, p in steps.items():
            speed = "–" if p.get("tokens_per_s_per_core") is None else \
                f"{p['tokens_per_s_per_core']:.0f} ({p.get('floor_tokens_per_s_per_core') or 0:.0f})"
            table.add_row(str(number), step, f"{p['seconds']:.0f}", f"{p['peak_rss_mb']:.0f}", speed,
                          _pct(p.get("padding_frac")))
    return table


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _rate(v, lo, hi) -> str:
    return "–" if v is None else f"{100 * v:.1f} ({100 * lo:.1f}–{100 * hi:.1f})"


def write_report(run_dirs: list[Path], stem: Path) -> tuple[Path, Path]:
    """CSV + PNG of pass rate per round for each run; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for d in run_dirs for row in rows_for(Path(d))]
    csv_path, png_path = stem.with_suffix(".csv"), stem.with_suffix(".png")
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    types = [row for d in run_dirs for row in per_type_rows(Path(d))]
    rounds = sorted({k for r in types for k in r if isinstance(k, int)})
    with open(stem.with_name(stem.name + "-per-type.csv"), "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["run", "type", "n", *rounds])
        writer.writeheader()
        writer.writerows(types)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for run in dict.fromkeys(r["run"] for r in rows):
        rr = [r for r in rows if r["run"] == run and r["prompt_strict"] is not None]
        x = [r["round"] for r in rr]
        y = [100 * r["prompt_strict"] for r in rr]
        lo = [100 * r["prompt_lo"] for r in rr]
        hi = [100 * r["prompt_hi"] for r in rr]
        label = f"{run} ({rr[0]['method']}{'/' + rr[0]['detector'] if rr and rr[0]['method'] == 'cut' else ''})" if rr else run
        ax.plot(x, y, marker="o", label=label)
        ax.fill_between(x, lo, hi, alpha=0.15)
    ax.set_xlabel("round (0 = starting model)")
    ax.set_ylabel("held-out prompt-level pass rate, strict (%)")
    ax.set_title("Online alignment on verifiable instructions (95% Wilson CI)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png_path, dpi=120)
    plt.close(fig)
    return csv_path, png_path
