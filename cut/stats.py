"""Counts and token lengths of judgment-record files, and the rich table that shows them.

Polarity follows ``cut.records.classify_judgment`` (arXiv 2312.14591 §3: a null judgment is
Align-P, a critique Align-N/Misalign); judge-failure placeholders such as ``$ERROR$`` are
counted as *rejected* with their reason. Note that the CUT authors' published table counts
"judgment set" records, which is negative + ``$ERROR$`` here.

Token lengths (optional, needs a tokenizer) are of the raw text without a chat template or
special tokens: ``prompt`` is ``Record.prompt`` (instruction + input), ``response`` the
response, ``judgment`` only the judgments that train (negative ones, and positive texts such
as "Perfect."), not null or rejected ones. Percentiles use the nearest-rank rule, so every
number reported is a length some record really has.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, Sequence

from cut.importers import LoadResult
from cut.records import NEGATIVE, POSITIVE, REJECTED, classify_judgment

PERCENTILES = (50, 90, 99)


def nearest_rank(sorted_values: Sequence[int], q: float) -> int:
    """The q-th percentile (0 < q <= 100) by nearest rank: the value at rank ceil(q/100 * n)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def length_summary(lengths: Sequence[int]) -> dict[str, int]:
    """{n, p50, p90, p99, max} of a list of lengths; only {n: 0} when empty."""
    values = sorted(lengths)
    if not values:
        return {"n": 0}
    summary = {"n": len(values)}
    summary.update({f"p{q}": nearest_rank(values, q) for q in PERCENTILES})
    summary["max"] = values[-1]
    return summary


def file_stats(result: LoadResult, tokenizer: Any = None) -> dict[str, Any]:
    """Counts for one loaded file; with a tokenizer also ``tokens`` (prompt/response/judgment)."""
    polarity = Counter()
    reasons = Counter()
    for record in result.records:
        kind, reason = classify_judgment(record.judgment)
        polarity[kind] += 1
        if reason:
            reasons[reason] += 1
    stats: dict[str, Any] = {
        "path": result.path,
        "format": result.format,
        "records": len(result.records),
        "positive": polarity[POSITIVE],
        "negative": polarity[NEGATIVE],
        "rejected": polarity[REJECTED],
        "rejected_reasons": dict(reasons.most_common()),
        "invalid": len(result.invalid),
        "invalid_examples": [str(err) for err in result.invalid[:5]],
        "with_spans": sum(1 for r in result.records if r.spans),
        "with_revision": sum(1 for r in result.records if r.revision is not None),
        "with_input": sum(1 for r in result.records if r.input),
    }
    if tokenizer is not None:
        stats["tokens"] = token_stats(result, tokenizer)
    return stats


def token_stats(result: LoadResult, tokenizer: Any) -> dict[str, dict[str, int]]:
    """Length summaries of prompt, response and (training) judgment, in tokens."""
    judged = [r.judgment for r in result.records if r.judgment is not None and classify_judgment(r.judgment)[0] != REJECTED]
    texts = {
        "prompt": [r.prompt for r in result.records],
        "response": [r.response for r in result.records],
        "judgment": judged,
    }
    return {name: length_summary(_token_lengths(tokenizer, values)) for name, values in texts.items()}


def _token_lengths(tokenizer: Any, texts: list[str]) -> list[int]:
    if not texts:
        return []
    ids = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [len(x) for x in ids]


def total_stats(results: Sequence[LoadResult], tokenizer: Any = None) -> dict[str, Any]:
    """Stats of all files together (token percentiles are over the pooled records)."""
    pooled = LoadResult(
        records=[r for res in results for r in res.records],
        invalid=[e for res in results for e in res.invalid],
        path="total",
        format="",
    )
    return file_stats(pooled, tokenizer)


def stats_table(rows: Sequence[dict[str, Any]], total: dict[str, Any] | None = None):
    """A rich Table of counts: a row per file (and a total row)."""
    from rich import box
    from rich.table import Table

    table = Table(title="judgment records", box=box.SIMPLE_HEAD, caption=(
        "pos/neg: positive/negative judgments; rejected: judge failures (never trained); "
        "invalid: items skipped; input/spans/revisions: records with an input / with flagged spans / "
        "with a judge's revision"))
    table.add_column("file", overflow="fold", ratio=1)
    table.add_column("format")
    for name in ("records", "pos", "neg", "rejected", "invalid", "input", "spans", "revisions"):
        table.add_column(name, justify="right", overflow="fold")
    names = _display_names([row["path"] for row in rows])
    for i, row in enumerate(rows):
        table.add_row(names[i], *_cells(row), end_section=i == len(rows) - 1)
    if total is not None:
        table.add_row("total", *_cells(total), style="bold")
    return table


def token_table(rows: Sequence[dict[str, Any]], total: dict[str, Any] | None = None):
    """A rich Table of token lengths: a row per file and text (prompt, response, judgment)."""
    from rich import box
    from rich.table import Table

    table = Table(title="token lengths (raw text, no template)", box=box.SIMPLE_HEAD)
    table.add_column("file", overflow="fold", ratio=1)
    table.add_column("text")
    for name in ("n", "p50", "p90", "p99", "max"):
        table.add_column(name, justify="right")
    names = _display_names([row["path"] for row in rows])
    labelled = [*zip(names, rows), *([("total", total)] if total is not None else [])]
    for i, (name, row) in enumerate(labelled):
        for j, text in enumerate(("prompt", "response", "judgment")):
            s = row["tokens"][text]
            values = [str(s.get(k, "-")) for k in ("n", "p50", "p90", "p99", "max")]
            table.add_row(name if j == 0 else "", text, *values, end_section=j == 2 and i < len(labelled) - 1)
    return table


def _display_names(paths: list[str]) -> list[str]:
    """File names when they are unique (the table stays narrow), else the paths as given."""
    from pathlib import Path

    from rich.markup import escape  # paths may contain "[...]"

    names = [Path(p).name for p in paths]
    return [escape(n) for n in (names if len(set(names)) == len(names) else paths)]


def _cells(row: dict[str, Any]) -> list[str]:
    from rich.markup import escape  # placeholder texts may contain "[...]"

    rejected = str(row["rejected"])
    for reason, n in row["rejected_reasons"].items():  # "placeholder '$ERROR$'" → "'$ERROR$'": narrow
        rejected += f"\n[dim]{escape(reason.removeprefix('placeholder '))}: {n}[/]"
    invalid = f"[yellow]{row['invalid']}[/]" if row["invalid"] else "0"
    return [row["format"], str(row["records"]), str(row["positive"]), str(row["negative"]),
            rejected, invalid, str(row["with_input"]), str(row["with_spans"]), str(row.get("with_revision", 0))]


def collect_stats(paths: Sequence[str], format: str = "auto", skip_invalid: bool = False,
                  tokenizer: Any = None, status=None) -> dict[str, Any]:
    """Load each file and return {"files": [file_stats...], "total": total_stats}.

    ``status`` is an optional callable taking a message, called before each slow step (the
    CLI passes a rich spinner's update).
    """
    from cut.importers import load_records

    results, rows = [], []
    for path in paths:
        if status:
            status(f"reading {path}")
        result = load_records(path, format=format, skip_invalid=skip_invalid)
        if status and tokenizer is not None:
            status(f"tokenizing {len(result.records)} records of {path}")
        results.append(result)
        rows.append(file_stats(result, tokenizer))
    return {"files": rows, "total": total_stats(results, tokenizer)}
