"""Rich progress for long work (the Trainer callback lives in cut.trainer: no transformers here).

A rich bar only draws on a terminal; when stderr goes to a log file (nohup, tmux, a
scheduler), ``LineProgress`` prints a plain line at a steady rate instead — done / total,
rate, elapsed, ETA — so a log shows how far a job is and how fast.
"""

from __future__ import annotations

import os
import sys
import time

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

console = Console(stderr=True)
if not console.is_terminal:  # a log file: tables at full width, not cut to 80 columns
    console.width = int(os.environ.get("COLUMNS", 0)) or 200


def make_progress(**kwargs) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                    TextColumn("{task.fields[info]}"), console=console, **kwargs)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class LineProgress:
    """``advance(n)`` prints ``description: done/total (pct) · rate/s · elapsed · eta`` at most
    every ``every`` seconds (env ``CUT_PROGRESS_SECONDS``, default 30), and once at the end."""

    def __init__(self, description: str, total: int, stream=None, every: float | None = None, clock=time.monotonic):
        self.description, self.total, self.done = description, total, 0
        self.stream = stream or sys.stderr
        self.every = float(os.environ.get("CUT_PROGRESS_SECONDS", 30)) if every is None else every
        self.clock = clock
        self.start = self.last = clock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None and self.done and self.last != -1:
            self._print()
        return False

    def advance(self, n: int) -> None:
        self.done += n
        now = self.clock()
        if now - self.last >= self.every or self.done >= self.total:
            self._print()
            self.last = -1 if self.done >= self.total else now  # -1: the final line is out

    def line(self) -> str:
        elapsed = self.clock() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        eta = _clock((self.total - self.done) / rate) if rate > 0 and self.total >= self.done else "?"
        return (f"{self.description}: {self.done}/{self.total}{pct} · {rate:.2f}/s · elapsed {_clock(elapsed)} "
                f"· eta {eta}")

    def _print(self) -> None:
        print(self.line(), file=self.stream, flush=True)
