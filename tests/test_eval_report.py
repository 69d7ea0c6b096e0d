"""The evaluation report: numbers per view computed by hand, and the files it writes."""

from __future__ import annotations

import json
import math

import pytest

from cut.evaluation.leaderboard import read_leaderboard, update_leaderboard
from cut.evaluation.report import length_bins, subset_rows, winrate_rows, write_report
from tests.conftest import shared_data

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def annotation(pref, dataset, len_ref, len_model):
    return {"instruction": f"q{len_ref}-{len_model}-{pref}", "output_1": "r" * len_ref, "output_2": "m" * len_model,
            "generator_1": "ref", "generator_2": "tiny", "dataset": dataset, "preference": pref}


ROWS = [annotation(2, "koala", 10, 30), annotation(1, "koala", 10, 5), annotation(1.5, "koala", 10, 10),
        annotation(2, "oasst", 10, 40), annotation(2, "oasst", 10, 20), annotation(None, "oasst", 10, 99)]


def test_subset_rows_by_hand():
    koala, oasst, total = subset_rows(ROWS)
    # koala: q = 1, 0, 0.5 → 50; sample std = 0.5 → SE = 100·0.5/√3 = 28.8675
    assert (koala["dataset"], koala["n"], koala["win_rate"]) == ("koala", 3, 50.0)
    assert koala["standard_error"] == pytest.approx(100 * 0.5 / math.sqrt(3))
    # oasst: the None preference is dropped → q = 1, 1 → 100 with SE 0
    assert (oasst["n"], oasst["win_rate"], oasst["standard_error"]) == (2, 100.0, 0.0)
    # all: q = 1, 0, 0.5, 1, 1 → 3.5/5 = 70
    assert (total["dataset"], total["n"], total["win_rate"]) == ("all", 5, pytest.approx(70.0))


def test_length_bins_by_hand():
    # usable Δ = model − reference: 20, −5, 0, 30, 10 with q 1, 0, 0.5, 1, 1
    # sorted: −5 (0), 0 (0.5), 10 (1) | 20 (1), 30 (1) — array_split gives sizes 3 and 2
    low, high = length_bins(ROWS, n_bins=2)
    assert (low["lo"], low["hi"], low["median"], low["n"]) == (-5.0, 10.0, 0.0, 3)
    assert low["p_model_wins"] == pytest.approx(50.0)  # (0 + 0.5 + 1)/3
    assert (high["lo"], high["hi"], high["median"], high["n"], high["p_model_wins"]) == (20.0, 30.0, 25.0, 2, 100.0)
    assert len(length_bins(ROWS, n_bins=50)) == 5  # never more bins than rows


def test_winrate_rows_from_a_leaderboard_csv(tmp_path):
    board = tmp_path / "board.csv"
    update_leaderboard(board, "small", {"win_rate": 20.0, "standard_error": 2.0, "n_total": 10})
    update_leaderboard(board, "big", {"win_rate": 60.0, "standard_error": 1.0, "length_controlled_winrate": 55.0})
    big, small = winrate_rows(read_leaderboard(board))
    # 95% interval = win rate ± 1.96·SE
    assert (big["name"], big["lo"], big["hi"], big["lc"]) == ("big", pytest.approx(58.04), pytest.approx(61.96), 55.0)
    assert (small["lo"], small["hi"], small["n_total"]) == (pytest.approx(16.08), pytest.approx(23.92), 10)


def test_report_files_are_self_contained_and_name_the_subsets(tmp_path):
    out = write_report(tmp_path / "rep" / "report.html", {"tiny": {"win_rate": 70.0, "standard_error": 9.0}},
                       ROWS, title="tiny <vs> ref")
    text = out["html"].read_text()
    assert text.count("data:image/png;base64,") == 3 and "src=\"http" not in text  # nothing to fetch
    assert "koala" in text and "oasst" in text and "tiny &lt;vs&gt; ref" in text
    assert [p.name for p in out["pngs"]] == ["report-winrates.png", "report-subsets.png", "report-length.png"]
    assert all(p.read_bytes().startswith(PNG_SIGNATURE) for p in out["pngs"])
    empty = write_report(tmp_path / "empty.html")
    assert "Nothing to report" in empty["html"].read_text() and empty["pngs"] == []


def test_report_on_the_shared_alpaca_eval_1_annotations(tmp_path):
    path = shared_data("alpaca_eval", "annotations", "alpaca-7b.alpaca_eval_gpt4.json")
    rows = json.loads(path.read_text())
    subsets = {s["dataset"]: s for s in subset_rows(rows)}
    # the evaluation set's five sources and their sizes; "all" is the published win rate
    assert {k: s["n"] for k, s in subsets.items()} == {"helpful_base": 129, "koala": 156, "oasst": 188,
                                                       "selfinstruct": 252, "vicuna": 80, "all": 805}
    assert subsets["all"]["win_rate"] == pytest.approx(26.4596, abs=1e-4)
    out = write_report(tmp_path / "ae1.html", annotations=rows)
    assert "selfinstruct" in out["html"].read_text() and sum(b["n"] for b in out["length"]) == 805
