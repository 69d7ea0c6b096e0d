"""`cut data stats FILE...`: counts of judgment records per file, in any supported format.

Prints one rich table (a row per file and a total row) or, with ``--json``, the same numbers
as JSON. Bad input stops with the file, line and field (exit 2) unless ``--skip-invalid``,
which skips bad items, counts them and prints a warning with the first few.
"""

from __future__ import annotations

from cut.cli import help_for

from cut.importers import FORMATS  # light: json/csv only, no torch


def register(sub) -> None:
    p = sub.add_parser("data", help="inspect judgment-record files (counts, polarity, token lengths)")
    actions = p.add_subparsers(dest="data_command", metavar="ACTION")
    s = actions.add_parser(
        "stats",
        help="count records, positives, negatives, rejected and invalid items per file",
        description="Count judgment records per file. Formats: native JSONL, CUT/Alpaca JSON, "
        "Shepherd, TRL prompt-completion, TRL messages, CSV (auto-detected).",
    )
    s.add_argument("files", nargs="+", metavar="FILE", help="records files (.jsonl, .json, .csv, .tsv)")
    s.add_argument("--format", default="auto", choices=["auto", *FORMATS], help="force a format (default: auto)")
    s.add_argument("--skip-invalid", action="store_true", help="skip bad items (counted and warned about) instead of stopping")
    s.add_argument("--tokenizer", metavar="PATH_OR_ALIAS",
                   help="also report token lengths (p50/p90/p99/max) with this tokenizer: a local directory, "
                   "a Hub id already in the cache, or smollm2-135m-instruct")
    s.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    s.set_defaults(func=run_stats)
    p.set_defaults(func=help_for(p))



def run_stats(args) -> int:
    import json

    from cut.progress import make_console
    from cut.stats import collect_stats, stats_table, token_table

    err = make_console()
    tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else None
    with err.status("reading") as spinner:
        report = collect_stats(args.files, format=args.format, skip_invalid=args.skip_invalid,
                               tokenizer=tokenizer, status=spinner.update)
    for row in report["files"]:
        _warn_invalid(err, row)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        out = make_console(stderr=False)
        total = report["total"] if len(report["files"]) > 1 else None
        out.print(stats_table(report["files"], total))
        if tokenizer is not None:
            out.print(token_table(report["files"], total))
    return 0


def load_tokenizer(spec: str):
    """A transformers tokenizer from a local path / cached Hub id, or a cut model alias / GGUF."""
    from cut import models
    from cut.errors import CutError

    if spec in models.ALIASES or spec.endswith(".gguf"):  # cut.models knows where those live
        return models.load_tokenizer(spec)
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(spec)
    except (OSError, ValueError) as exc:  # not a directory, not cached, no network
        raise CutError(f"cannot load tokenizer {spec!r}: {str(exc).splitlines()[0]}") from None


def _warn_invalid(console, row: dict) -> None:
    if not row["invalid"]:
        return
    from rich.markup import escape

    console.print(f"[yellow]warning:[/] {escape(row['path'])}: skipped {row['invalid']} invalid item(s)")
    for message in row["invalid_examples"]:
        console.print(f"  {escape(message)}", highlight=False)
    if row["invalid"] > len(row["invalid_examples"]):
        console.print(f"  ... and {row['invalid'] - len(row['invalid_examples'])} more")
