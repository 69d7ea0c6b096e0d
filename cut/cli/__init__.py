"""The ``cut`` command: parses arguments and dispatches to one library function per command.

Each subcommand lives in its own module with ``register(subparsers)``; the modules import
nothing heavy at top level, so ``cut --help`` and every ``cut X --help`` stay fast and never
import torch. No algorithm lives here.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Module names under cut.cli, in the order they appear in `cut --help`.
COMMANDS = ["train", "collect", "generate", "eval", "report", "detect", "prompts", "annotate", "data", "merge", "env"]


def help_for(parser: argparse.ArgumentParser):
    """The ``func`` of a command group run without an action: print its help, exit 2."""

    def show(args) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def at_least_one(flag: str, value: int | None) -> None:
    """Refuse a count flag below 1 (``--limit 0`` would otherwise mean "no limit" and
    ``--limit -3`` "all but three", Python's slice rules)."""
    if value is not None and value < 1:
        from cut.errors import CutError

        raise CutError(f"{flag} must be at least 1, got {value}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cut",
        description="Align language models with natural-language judgments (CUT, arXiv 2312.14591).",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"cut.cli.{name}")
        except ModuleNotFoundError as err:  # a command not built yet
            if err.name == f"cut.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from cut import __version__

        print(__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from cut.errors import CutError

    try:
        return int(args.func(args) or 0)
    except CutError as err:  # expected, user-facing failures: one clear line, no traceback
        print(f"cut {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the filesystem refused a path no reader checked first: name it
        where = " -> ".join(str(p) for p in (err.filename, err.filename2) if p)
        print(f"cut {args.command}: error: {where + ': ' if where else ''}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cut {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
