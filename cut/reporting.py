"""Rich tables for results people compare (data reports, loss terms)."""

from __future__ import annotations

from rich.table import Table


def data_report_table(report: dict) -> Table:
    table = Table(title="training data", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [("records", report["records"]), ("positive", report["positive"]), ("negative", report["negative"]),
            ("positives dropped (downsampling)", report["positives_dropped"]),
            ("revisions trained", report.get("revisions", 0)),
            ("cut off at generation (no end-of-turn target)", report.get("cut_off", 0)),
            ("truncated to max_length (response end)", _truncated(report)), ("skipped (too long)", report["skipped_too_long"]),
            ("invalid (skipped)", report.get("invalid_skipped", 0)),
            ("examples → sequences", f"{report['examples']} → {report['sequences']}")]
    for reason, n in sorted(report["rejected"].items()):
        rows.insert(3, (f"rejected: {reason}", n))
    for what, n in rows:
        table.add_row(what, str(n))
    return table


def _truncated(report: dict) -> str:
    n, tokens = report["truncated"], report.get("truncated_tokens", 0)
    return f"{n} ({tokens} tokens cut)" if n else "0"


def length_note(report: dict, max_length: int) -> str | None:
    """One line saying what ``max_length`` cut or dropped, or None when it cut nothing."""
    cut, skipped = report["truncated"], report["skipped_too_long"]
    if not cut and not skipped:
        return None
    parts = [f"{cut} response(s) truncated ({report.get('truncated_tokens', 0)} tokens cut from their ends)"] if cut else []
    parts += [f"{skipped} record(s) skipped as too long"] if skipped else []
    return f"max_length={max_length}: {' and '.join(parts)}; raise max_length to train them whole"


def print_length_note(console, report: dict, max_length: int) -> None:
    note = length_note(report, max_length)
    if note:
        console.print(f"[yellow]{note}[/yellow]", highlight=False, soft_wrap=True)


def history_table(history: list[dict], keys=("loss", "loss_like", "loss_unlike", "flagged_frac",
                                               "log_ratio_mean", "ratio_precision", "ratio_recall")) -> Table:
    table = Table(title="training log")
    table.add_column("step", justify="right")
    present = [k for k in keys if any(k in h for h in history)]
    for k in present:
        table.add_column(k, justify="right")
    for h in history:
        if "loss" in h and "step" in h:
            table.add_row(str(h["step"]), *[f"{h[k]:.4f}" if k in h else "" for k in present])
    return table
