"""Consoles and progress for long work (the Trainer callback lives in cut.trainer: no transformers here).

The one home of how `cut` writes to a person: every module prints through a console from
``make_console`` (or the shared stderr ``console``) and shows progress through
``progress_bar``. A rich bar only draws on a terminal; when stderr goes to a log file (nohup,
tmux, a scheduler), ``LineProgress`` prints a plain line at a steady rate instead — done /
total, rate, elapsed, ETA — so a log shows how far a job is and how fast. Off a terminal,
tables are printed at full width rather than cut to rich's default 80 columns.
"""

from __future__ import annotations

import os
import sys
import time

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)

LOG_WIDTH = 200  # columns of a table in a file or pipe (a terminal keeps its own width); env COLUMNS wins


def make_console(stderr: bool = True, **kwargs) -> Console:
    """A rich console; off a terminal (a log file, a pipe) it is ``LOG_WIDTH`` wide, so a
    table keeps its longest instruction id and its headers on one line."""
    made = Console(stderr=stderr, **kwargs)
    if not made.is_terminal and "width" not in kwargs:
        made.width = int(os.environ.get("COLUMNS", 0)) or LOG_WIDTH
    return made


STDERR = make_console()
console = STDERR  # the shared console of messages and tables (stderr)


def make_progress(console: Console | None = None, **kwargs) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                    TextColumn("{task.fields[info]}"), console=console or STDERR, **kwargs)


def progress_bar(enabled: bool, description: str, total: int, console: Console | None = None, initial: int = 0):
    """A context manager with ``advance(n)`` and ``note(info)``: a rich bar on a terminal,
    plain progress lines when the console is a file or pipe (``LineProgress``), or nothing
    when disabled. ``initial``: steps already done before this run (a resumed training)."""
    if not enabled:
        return _NoBar()
    console = console or STDERR
    if console.is_terminal:
        return _Bar(description, total, console, initial)
    return LineProgress(description, total, stream=console.file, initial=initial)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _rate(per_second: float) -> str:
    # a slow job (a training step, a judged batch) reads better as seconds per item
    return f"{per_second:.2f}/s" if per_second >= 1 or per_second == 0 else f"{1 / per_second:.1f} s each"


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def advance(self, n: int) -> None:
        pass

    def note(self, info: str) -> None:
        pass


class _Bar(_NoBar):
    def __init__(self, description: str, total: int, console: Console, initial: int = 0):
        self._progress = make_progress(console)
        self._task = self._progress.add_task(description, total=total, completed=initial, info="")

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc):
        self._progress.stop()
        return False

    def advance(self, n: int) -> None:
        self._progress.advance(self._task, n)

    def note(self, info: str) -> None:
        self._progress.update(self._task, info=info)


class LineProgress:
    """``advance(n)`` prints ``description: done/total (pct) · rate · elapsed · eta[ · info]``
    at most every ``every`` seconds (env ``CUT_PROGRESS_SECONDS``, default 30), and once at
    the end. The rate counts only what this run did (``initial`` was done before)."""

    def __init__(self, description: str, total: int, stream=None, every: float | None = None,
                 clock=time.monotonic, initial: int = 0):
        self.description, self.total, self.done, self.initial = description, total, initial, initial
        self.shown = initial  # ``done`` as of the last line printed
        self.info = ""
        self.stream = stream or sys.stderr
        self.every = float(os.environ.get("CUT_PROGRESS_SECONDS", 30)) if every is None else every
        self.clock = clock
        self.start = self.last = clock()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None and self.done != self.shown:
            self._print()
        return False

    def note(self, info: str) -> None:
        self.info = info

    def advance(self, n: int) -> None:
        self.done += n
        now = self.clock()
        if now - self.last >= self.every or self.done >= self.total:
            self._print()
            self.last = now

    def line(self) -> str:
        elapsed = self.clock() - self.start
        rate = (self.done - self.initial) / elapsed if elapsed > 0 else 0.0
        pct = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        eta = _clock((self.total - self.done) / rate) if rate > 0 and self.total >= self.done else "?"
        info = f" · {self.info}" if self.info else ""
        return (f"{self.description}: {self.done}/{self.total}{pct} · {_rate(rate)} · elapsed {_clock(elapsed)} "
                f"· eta {eta}{info}")

    def _print(self) -> None:
        self.shown = self.done
        print(self.line(), file=self.stream, flush=True)
