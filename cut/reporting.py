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
            ("truncated to max_length (response end)", report["truncated"]), ("skipped (too long)", report["skipped_too_long"]),
            ("invalid (skipped)", report.get("invalid_skipped", 0)),
            ("examples → sequences", f"{report['examples']} → {report['sequences']}")]
    for reason, n in sorted(report["rejected"].items()):
        rows.insert(3, (f"rejected: {reason}", n))
    for what, n in rows:
        table.add_row(what, str(n))
    return table


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
