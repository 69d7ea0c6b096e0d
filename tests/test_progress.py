"""Progress off a terminal: plain lines at a steady rate, with done/total, rate, elapsed and ETA."""

from __future__ import annotations

import io

from rich.console import Console

from cut.generation import progress_bar
from cut.progress import LineProgress


def test_line_progress_prints_at_its_rate_and_once_at_the_end():
    now = [0.0]
    out = io.StringIO()
    with LineProgress("generating", 100, stream=out, every=10, clock=lambda: now[0]) as bar:
        for _ in range(10):
            now[0] += 4
            bar.advance(10)
    lines = out.getvalue().splitlines()
    # at 12 s, 24 s, 36 s (10 s apart at least) and the final line at 100/100
    assert lines[0] == "generating: 30/100 (30%) · 2.50/s · elapsed 0:00:12 · eta 0:00:28"
    assert lines[-1] == "generating: 100/100 (100%) · 2.50/s · elapsed 0:00:40 · eta 0:00:00"
    assert len(lines) == 4


def test_progress_bar_draws_lines_in_a_log_and_a_bar_on_a_terminal():
    log = io.StringIO()
    bar = progress_bar(True, "judging", 3, console=Console(file=log, force_terminal=False))
    assert isinstance(bar, LineProgress)
    with bar:
        bar.advance(3)
    assert log.getvalue().startswith("judging: 3/3 (100%)")
    tty = progress_bar(True, "judging", 3, console=Console(file=io.StringIO(), force_terminal=True))
    assert not isinstance(tty, LineProgress)
