"""Per-step profile: seconds and the step's own peak memory; the arithmetic floor by hand."""

from __future__ import annotations

import sys

import pytest

from cut.profile import floor_tokens_per_second, measure


def test_floor_by_hand():
    # 2 cores × 100 GFLOP/s / (4 × 135M) = 2e11 / 5.4e8 = 370.37 tokens/s
    assert floor_tokens_per_second(135_000_000, 2) == pytest.approx(370.370, abs=1e-3)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-step peaks need /proc (Linux)")
def test_each_step_reports_its_own_peak():
    big = measure(lambda: bytearray(300 * 1024 * 1024)[::4096].count(0))  # touches 300 MB
    small = measure(lambda: sum(range(1000)))
    assert big["peak_scope"] == small["peak_scope"] == "step"
    assert big["peak_rss_mb"] - small["peak_rss_mb"] > 200  # the second step does not inherit the first's peak
    assert big["seconds"] >= 0 and small["seconds"] >= 0
