"""`cut report`: per-round table, CSV and plot for online run directories."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("report", help="table + plot of held-out pass rate per round for online runs")
    p.add_argument("dirs", nargs="+", help="run directories, or a parent directory holding several")
    p.add_argument("-o", "--output", default=None, help="output stem (default: <first dir>/report)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from cut.errors import CutError
    from cut.online_report import per_type_table, profile_table, round_table, rows_for, write_report
    from cut.paths import check_directory
    from cut.progress import console

    runs = []
    for d in map(check_directory, args.dirs):
        if (d / "online_config.json").exists():
            runs.append(d)
        else:
            runs += sorted(p.parent for p in d.glob("*/online_config.json"))
    if not runs:
        raise CutError(f"no online run directories (with online_config.json) in {', '.join(args.dirs)}")
    stem = Path(args.output) if args.output else Path(args.dirs[0]) / "report"
    csv_path, png_path = write_report(runs, stem)
    console.print(round_table([r for d in runs for r in rows_for(d)], title="online runs"))
    for d in runs:
        console.print(per_type_table(d))
        profile = profile_table(d)
        if profile is not None:
            console.print(profile)
    console.print(f"wrote {csv_path} and {png_path}")
    return 0
