"""`cut eval --annotations` end to end, through a subprocess as a user runs it."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from cut.evaluation.leaderboard import read_leaderboard

REPO = Path(__file__).resolve().parents[1]
AE = REPO.parent / "shared" / "data" / "alpaca_eval"


def cut(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cut", "eval", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def write_annotations(path: Path) -> Path:
    """The 4-annotation example of test_eval_metrics plus 36 more wins/losses for the LC fit.

    Preferences: 2, 0 (legacy draw), None (dropped), 1.25, then 18 × 2 and 18 × 1 → q of the
    39 usable ones sums to 1 + 0.5 + 0.25 + 18 = 19.75 → win_rate = 100·19.75/39 = 50.641…;
    wins 19, base wins 19, draws 1; discrete = 100·19.5/39 = 50.
    """
    prefs = [2, 0, None, 1.25] + [2] * 18 + [1] * 18
    rows = [{"instruction": f"q{i}", "output_1": "r" * (20 + i % 7), "output_2": "m" * (10 + 3 * (i % 5)),
             "generator_1": "ref", "generator_2": "tiny", "annotator": "hand", "preference": p}
            for i, p in enumerate(prefs)]
    path.write_text(json.dumps(rows))
    return path


def test_annotations_json_output_and_leaderboard(tmp_path):
    board = tmp_path / "board.csv"
    difficulty = tmp_path / "d.json"
    difficulty.write_text(json.dumps([(i % 3) - 1.0 for i in range(40)]))
    res = cut("--annotations", str(write_annotations(tmp_path / "a.json")), "--json", "--bootstrap", "20",
              "--leaderboard", str(board), "--difficulty", str(difficulty))
    assert res.returncode == 0, res.stderr
    m = json.loads(res.stdout)
    assert m["win_rate"] == pytest.approx(100 * 19.75 / 39, abs=1e-9)
    assert (m["n_wins"], m["n_wins_base"], m["n_draws"], m["n_total"], m["n_dropped"]) == (19, 19, 1, 39, 1)
    assert m["discrete_win_rate"] == pytest.approx(50.0, abs=1e-9)
    assert m["model"] == "tiny" and m["lc_form"] == "glm" and len(m["lc_ci95"]) == 2
    row = read_leaderboard(board)["tiny"]
    assert row["win_rate"] == pytest.approx(m["win_rate"], abs=1e-12) and row["lc_form"] == "glm"


def test_shared_alpaca_eval_2_file_as_it_is():
    if not AE.is_dir():
        pytest.skip(f"shared AlpacaEval data not found at {AE}")
    res = cut("--annotations", str(AE / "annotations" / "alpaca-7b.weighted_alpaca_eval_gpt4_turbo.json"),
              "--json", "--bootstrap", "10")
    assert res.returncode == 0, res.stderr
    m = json.loads(res.stdout)
    published = read_leaderboard(AE / "leaderboards" / "weighted_alpaca_eval_gpt4_turbo_leaderboard.csv")["alpaca-7b"]
    for key in ("win_rate", "standard_error", "discrete_win_rate", "n_wins", "n_wins_base", "n_draws", "n_total"):
        assert m[key] == pytest.approx(published[key], abs=1e-6), key
    assert m["lc_label"] == "LC (minimal, no difficulty)" and math.isfinite(m["length_controlled_winrate"])


def test_table_output_and_bad_input_exit_codes(tmp_path):
    res = cut("--annotations", str(write_annotations(tmp_path / "a.json")), "--bootstrap", "0")
    assert res.returncode == 0, res.stderr
    assert "50.6410" in res.stdout and "19 / 19 / 1 of 39" in res.stdout and "LC (minimal, no difficulty)" in res.stdout

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"instruction": "a", "output_1": "r", "output_2": "m", "preference": "2"}]))
    res = cut("--annotations", str(bad))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        f"cut eval: error: {bad}: field 'preference': item 0: expected number or null, got str"]


def test_cli_module_imports_nothing_heavy():
    code = "import sys, cut.cli.eval; print(sorted(m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]"
