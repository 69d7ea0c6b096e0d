"""`cut data stats` end to end (subprocess), and the cut.stats functions behind it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cut.importers import load_records
from cut.stats import file_stats, length_summary, nearest_rank, stats_table, total_stats

REPO = Path(__file__).resolve().parents[1]
# native "Perfect." is a verdict word where a critique belongs (issue 19): rejected, counted
PERFECT_REASON = "the verdict 'perfect' where a critique belongs (null means acceptable)"
FIXTURES = REPO / "tests" / "fixtures"
SHARED = REPO.parent / "shared" / "data"


def cut_data(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "cut", "data", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)


def word_tokenizer(folder: Path) -> Path:
    """A real transformers tokenizer, saved like any local one, whose token counts are easy to
    compute by hand: one token per run of word characters and per run of punctuation."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(WordLevel({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(folder)
    return folder


# Token counts under word_tokenizer, by hand:
#   prompt (instruction + "\n" + input)   response     judgment
#   "a b c"             → 3               "x y" → 2      None (not counted)
#   "a b\nc d"          → 4               "x y z w" → 4  "bad answer ." → 3
#   "a"                 → 1               "x" → 1        "$ERROR$" rejected (not counted)
#   "a b c d e"         → 5               "x y z" → 3    "Perfect ." rejected (a verdict word, issue 19)
TOKEN_RECORDS = [
    {"instruction": "a b c", "response": "x y"},
    {"instruction": "a b", "input": "c d", "response": "x y z w", "judgment": "bad answer ."},
    {"instruction": "a", "response": "x", "judgment": "$ERROR$"},
    {"instruction": "a b c d e", "response": "x y z", "judgment": "Perfect ."},
]
# Nearest rank over sorted lengths: rank = ceil(q/100 * n).
#   prompt   [1, 3, 4, 5]: p50 rank 2 → 3; p90 rank ceil(3.6)=4 → 5; p99 rank 4 → 5; max 5
#   response [1, 2, 3, 4]: p50 → 2; p90 → 4; p99 → 4; max 4
#   judgment [3]:          every rank is 1 → 3
EXPECTED_TOKENS = {
    "prompt": {"n": 4, "p50": 3, "p90": 5, "p99": 5, "max": 5},
    "response": {"n": 4, "p50": 2, "p90": 4, "p99": 4, "max": 4},
    "judgment": {"n": 1, "p50": 3, "p90": 3, "p99": 3, "max": 3},
}


# --- cut.stats ----------------------------------------------------------------------------------


def test_nearest_rank_by_hand():
    values = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    # ranks ceil(0.5*10)=5, ceil(0.9*10)=9, ceil(0.99*10)=10
    assert [nearest_rank(values, q) for q in (50, 90, 99, 100)] == [50, 90, 100, 100]
    assert nearest_rank([7], 50) == 7
    with pytest.raises(ValueError):
        nearest_rank([], 50)
    assert length_summary([]) == {"n": 0}
    assert length_summary([3, 1, 2]) == {"n": 3, "p50": 2, "p90": 3, "p99": 3, "max": 3}


def test_file_stats_counts_fixture():
    # native.jsonl: critique (spans), null (input), "Perfect.", "$ERROR$".
    stats = file_stats(load_records(FIXTURES / "native.jsonl"))
    assert {k: stats[k] for k in ("records", "positive", "negative", "rejected", "invalid", "with_spans", "with_input")} \
        == {"records": 4, "positive": 1, "negative": 1, "rejected": 2, "invalid": 0, "with_spans": 1, "with_input": 1}
    assert stats["rejected_reasons"] == {"placeholder '$ERROR$'": 1, PERFECT_REASON: 1}
    assert "tokens" not in stats


def test_file_stats_token_lengths(tmp_path):
    from transformers import AutoTokenizer

    path = tmp_path / "tok.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in TOKEN_RECORDS))
    tokenizer = AutoTokenizer.from_pretrained(word_tokenizer(tmp_path / "tok"))
    assert file_stats(load_records(path), tokenizer)["tokens"] == EXPECTED_TOKENS


def test_total_stats_and_table():
    results = [load_records(FIXTURES / "native.jsonl"), load_records(FIXTURES / "bad_json_line.jsonl", skip_invalid=True)]
    total = total_stats(results)
    # native 4 (1 pos, 1 neg, 2 rej) + bad_json_line 3 valid (A, D null → pos; B critique → neg), 1 invalid
    assert (total["records"], total["positive"], total["negative"], total["rejected"], total["invalid"]) == (7, 3, 2, 2, 1)
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(stats_table([file_stats(r) for r in results], total))
    text = console.export_text()
    assert "native.jsonl" in text and "bad_json_line.jsonl" in text
    assert "'$ERROR$': 1" in text
    assert ["total", "7", "3", "2", "2", "1", "1", "1", "0"] in [line.split() for line in text.splitlines()]  # no revisions


# --- the command ----------------------------------------------------------------------------------


def test_stats_json_on_fixtures():
    proc = cut_data("stats", str(FIXTURES / "native.jsonl"), str(FIXTURES / "alpaca.json"), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    native, alpaca = report["files"]
    assert (native["format"], native["records"], native["positive"], native["negative"], native["rejected"]) \
        == ("native", 4, 1, 1, 2)
    assert (alpaca["format"], alpaca["records"], alpaca["positive"], alpaca["negative"], alpaca["rejected"]) \
        == ("alpaca", 3, 1, 1, 1)
    total = report["total"]
    assert (total["records"], total["positive"], total["negative"], total["rejected"]) == (7, 2, 2, 3)
    assert total["rejected_reasons"] == {"placeholder '$ERROR$'": 2, PERFECT_REASON: 1}


def test_stats_table_on_fixtures():
    proc = cut_data("stats", str(FIXTURES / "shepherd.jsonl"), str(FIXTURES / "annotations.csv"))
    assert proc.returncode == 0, proc.stderr
    rows = [line.split() for line in proc.stdout.splitlines()]
    # file, format, records, pos, neg, rejected, invalid, input, spans, revisions
    assert ["shepherd.jsonl", "shepherd", "2", "0", "2", "0", "0", "0", "0", "0"] in rows
    assert ["annotations.csv", "csv", "4", "1", "1", "2", "0", "0", "1", "0"] in rows
    assert ["total", "6", "1", "3", "2", "0", "0", "1", "0"] in rows


def test_stats_malformed_file_exits_2_naming_file_line_field():
    path = FIXTURES / "bad_judgment_type.json"
    proc = cut_data("stats", str(path))
    assert proc.returncode == 2
    assert f"cut data: error: {path}:3: field 'judgment': expected string or null, got int (item 2)" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_stats_skip_invalid_counts_and_warns():
    path = FIXTURES / "bad_json_line.jsonl"
    proc = cut_data("stats", str(path), "--skip-invalid", "--json")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)["files"][0]
    assert (row["records"], row["invalid"], row["positive"], row["negative"]) == (3, 1, 2, 1)
    assert "skipped 1 invalid item" in proc.stderr and f"{path}:3: invalid JSON" in proc.stderr


def test_stats_forced_format_and_missing_file():
    proc = cut_data("stats", str(FIXTURES / "trl.jsonl"), "--format", "messages")
    assert proc.returncode == 2 and "trl.jsonl:1: field 'messages': missing required field" in proc.stderr
    proc = cut_data("stats", "no/such/file.jsonl")
    assert proc.returncode == 2 and "no/such/file.jsonl: no such file" in proc.stderr


def test_stats_with_tokenizer(tmp_path):
    path = tmp_path / "tok.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in TOKEN_RECORDS))
    folder = word_tokenizer(tmp_path / "tok")
    proc = cut_data("stats", str(path), "--tokenizer", str(folder), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["files"][0]["tokens"] == EXPECTED_TOKENS
    proc = cut_data("stats", str(path), "--tokenizer", str(tmp_path / "missing-tokenizer"))
    assert proc.returncode == 2 and "cannot load tokenizer" in proc.stderr


def test_data_without_action_prints_help():
    proc = cut_data()
    assert proc.returncode == 2 and "stats" in proc.stderr


def test_cli_module_imports_no_torch():
    code = "import sys, cut.cli.data; print('torch' in sys.modules, 'transformers' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert proc.stdout.split() == ["False", "False"], proc.stderr


def test_stats_on_cut_online_iter1():
    path = SHARED / "cut-online" / "train-alpaca-sample-iter1.json"
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    proc = cut_data("stats", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)["files"][0]
    assert (row["format"], row["records"], row["positive"], row["negative"], row["rejected"], row["with_input"]) \
        == ("alpaca", 1000, 713, 240, 47, 406)
    assert row["rejected_reasons"] == {"placeholder '$ERROR$'": 47}
