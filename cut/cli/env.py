"""`cut env`: versions of the stack, for bug reports."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("env", help="print versions of the stack (for bug reports)")
    p.set_defaults(func=run)


def run(args) -> int:
    from cut.environment import stack_report

    for name, value in stack_report():
        print(f"{name:>14}: {value}")
    return 0
