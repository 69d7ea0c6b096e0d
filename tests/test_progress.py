"""Progress off a terminal: plain lines at a steady rate, with done/total, rate, elapsed and ETA."""

from __future__ import annotations

import io

from rich.console import Console

from cut.progress import progress_bar
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


def test_resumed_progress_counts_only_this_runs_rate_and_carries_a_note():
    now = [0.0]
    out = io.StringIO()
    with LineProgress("train", 10, stream=out, every=0, clock=lambda: now[0], initial=4) as bar:
        now[0] += 20
        bar.note("loss=1.5")
        bar.advance(2)  # 2 steps in 20 s: 10 s each, 4 left
    assert out.getvalue().splitlines() == ["train: 6/10 (60%) · 10.0 s each · elapsed 0:00:20 · eta 0:00:40 · loss=1.5"]


def test_nothing_done_prints_nothing():
    out = io.StringIO()
    with LineProgress("train", 10, stream=out, initial=10):
        pass
    assert out.getvalue() == ""


def test_console_off_a_terminal_is_wide(monkeypatch):
    from cut.progress import LOG_WIDTH, make_console

    monkeypatch.delenv("COLUMNS", raising=False)
    assert make_console(file=io.StringIO()).width == LOG_WIDTH
    monkeypatch.setenv("COLUMNS", "150")
    assert make_console(file=io.StringIO()).width == 150
    assert make_console(file=io.StringIO(), width=60).width == 60
