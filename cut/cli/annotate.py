"""`cut annotate export|import`: judge responses in a spreadsheet instead of at the terminal.

``export FILE -o sheet.csv`` writes the records of FILE (any format ``cut.importers`` reads)
as a CSV with empty ``acceptable`` and ``judgment`` columns; ``import sheet.csv -o
records.jsonl`` reads the filled-in sheet back as records and prints the counts. Neither
overwrites an existing file (a sheet may hold hours of work) unless ``--force``. The rules
of the sheet are in ``cut.spreadsheet``; annotating at the terminal is
``cut collect --judge human``.
"""

from __future__ import annotations

from cut.cli import help_for

FORMAT_CHOICES = ["auto", "native", "alpaca", "shepherd", "trl", "messages", "csv"]  # cut.importers.FORMATS


def register(sub) -> None:
    p = sub.add_parser("annotate", help="export responses to a CSV for people to judge, import their judgments")
    actions = p.add_subparsers(dest="annotate_command", metavar="ACTION")
    e = actions.add_parser(
        "export", help="write a CSV sheet to annotate",
        description="Write FILE's records as a CSV with columns id, instruction, input, response, "
        "acceptable, judgment. Mark acceptable yes/no (or x); for a no, write what is wrong in "
        "judgment, quoting the parts you mean in \"double quotes\".")
    e.add_argument("file", metavar="FILE", help="records or prompts with responses (.jsonl, .json, .csv, .tsv)")
    e.add_argument("-o", "--output", required=True, metavar="SHEET", help="the CSV to write (.csv, or .tsv)")
    e.add_argument("--format", default="auto", choices=FORMAT_CHOICES, help="format of FILE (default: auto)")
    e.add_argument("--include-judgment", action="store_true",
                   help="prefill the judgment column with FILE's critiques, to review them")
    e.add_argument("--force", action="store_true", help="replace SHEET if it exists")
    e.set_defaults(func=run_export)
    i = actions.add_parser(
        "import", help="read an annotated sheet back as records",
        description="Read an annotated CSV into a records file (JSONL). Rows nobody has marked yet "
        "are counted and left out, so a half-done sheet can be imported and finished later.")
    i.add_argument("sheet", metavar="SHEET", help="the annotated CSV")
    i.add_argument("-o", "--output", required=True, metavar="FILE", help="the records file to write (JSONL)")
    i.add_argument("--annotator", metavar="NAME", help="store the judge as human:NAME (default: human)")
    i.add_argument("--skip-invalid", action="store_true", help="skip bad rows (counted and listed) instead of stopping")
    i.add_argument("--force", action="store_true", help="replace FILE if it exists")
    i.set_defaults(func=run_import)
    p.set_defaults(func=help_for(p))



def run_export(args) -> int:
    from cut.progress import make_console

    from cut.importers import load_records
    from cut.spreadsheet import check_sheet_name, export_for_annotation

    _refuse_existing(args.output, args.force, ("FILE", args.file))
    check_sheet_name(args.output)  # before reading FILE: a wrong name is found at once
    records = load_records(args.file, format=args.format).records
    rows = export_for_annotation(records, args.output, include_judgment=args.include_judgment)
    console = make_console(stderr=False, highlight=False)
    console.print(f"wrote {rows} row(s) to {args.output}", markup=False)
    console.print(f"next: fill in 'acceptable' (and 'judgment' for a no), then "
                  f"cut annotate import {args.output} -o records.jsonl", markup=False)
    return 0


def run_import(args) -> int:
    from rich.table import Table

    from cut.progress import make_console
    from cut.records import write_jsonl
    from cut.spreadsheet import import_annotations

    _refuse_existing(args.output, args.force, ("SHEET", args.sheet))
    judge = f"human:{args.annotator}" if args.annotator else "human"
    records, counts = import_annotations(args.sheet, skip_invalid=args.skip_invalid, judge=judge)
    write_jsonl(args.output, records)
    err = make_console(highlight=False)
    if counts["invalid"]:
        err.print(f"warning: {args.sheet}: skipped {counts['invalid']} invalid row(s)", markup=False)
        for message in counts["invalid_examples"]:
            err.print(f"  {message}", markup=False)
    table = Table(title=f"{args.sheet} → {args.output}")
    names = ["annotated", "positive", "negative", "unannotated", "invalid"]
    for name in names:
        table.add_column(name, justify="right")
    table.add_row(*(str(counts[name]) for name in names))
    make_console(stderr=False).print(table)
    return 0


def _refuse_existing(path: str, force: bool, source: tuple[str, str]) -> None:
    from cut.paths import Output, refuse_clobber

    refuse_clobber([Output("-o", path)], [source], force=force)  # the input never, even with --force
