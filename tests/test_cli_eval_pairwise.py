"""`cut eval` pairwise modes end to end: --outputs/--reference (a subprocess, as a user runs
it), --model/--reference, --generate and --run (in process, with the tiny model), against the
local chat server; exit codes, files, and the API key never written or printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cut.cli import main
from cut.evaluation.leaderboard import read_leaderboard
from tests.chat_server import ChatServer

REPO = Path(__file__).resolve().parents[1]
KEY_ENV = "CUT_TEST_EVAL_KEY"
SECRET = "sk-test-eval-DO-NOT-LEAK-93d2"
MARKER = "ZEBRA"
# alpaca_eval_swapped(f"Question {i}?", 0) for i = 0..3 (pinned in tests/test_pairwise.py)
SWAPPED = [False, True, True, True]


def prefer_marker(messages: list[dict]) -> str:
    return "A" if MARKER in messages[-1]["content"].split("=== Answer B ===")[0] else "B"


@pytest.fixture
def server():
    with ChatServer(reply=prefer_marker) as srv:
        yield srv


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)


def reference_file(tmp_path: Path, n: int = 4) -> Path:
    rows = [{"instruction": f"Question {i}?", "output": f"ref {i}", "generator": "ref",
             "dataset": "koala" if i % 2 else "oasst"} for i in range(n)]
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(rows))
    return path


def outputs_file(tmp_path: Path, rows: list[dict] | None = None) -> Path:
    # the model wins on 0 and 1 (marker), loses on 2, and copies the reference on 3 (a draw)
    rows = rows or [{"instruction": f"Question {i}?", "output": f"m {i} {MARKER}" if i < 2 else f"m {i}",
                     "generator": "tiny"} for i in range(3)] + [
        {"instruction": "Question 3?", "output": "ref 3", "generator": "tiny"}]
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(rows))
    return path


def judge_args(server: ChatServer, out_dir: Path, mode: str = "ranking") -> list[str]:
    return ["--judge", "openai:judge-model", "--judge-mode", mode, "--base-url", server.base_url,
            "--api-key-env", KEY_ENV, "--out-dir", str(out_dir), "--bootstrap", "10"]


def cut(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, KEY_ENV: SECRET, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "cut", "eval", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=env)


def files_text(folder: Path) -> list[str]:
    return [p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()]


def test_outputs_against_reference_end_to_end(server, tmp_path):
    out = tmp_path / "out"
    board, report = tmp_path / "board.csv", tmp_path / "report.html"
    args = ["--outputs", str(outputs_file(tmp_path)), "--reference", str(reference_file(tmp_path)),
            *judge_args(server, out), "--leaderboard", str(board), "--report", str(report)]
    res = cut(*args, "--json")
    assert res.returncode == 0, res.stderr
    m = json.loads(res.stdout)
    # q = 1, 1, 0, 0.5 (the copy is a draw without a request) → 62.5; 2 wins, 1 loss, 1 draw
    assert m["win_rate"] == pytest.approx(62.5) and (m["n_wins"], m["n_wins_base"], m["n_draws"]) == (2, 1, 1)
    assert m["judge"]["requests"] == 3 == server.requests and m["model"] == "tiny"
    assert {p.name for p in out.iterdir()} == {"annotations.json", "metrics.json", "judge_cache"}
    assert read_leaderboard(board)["tiny"]["win_rate"] == pytest.approx(62.5)
    html = report.read_text()
    assert "koala" in html and "oasst" in html and (tmp_path / "report-subsets.png").exists()

    again = cut(*args)  # the table this time; everything from the cache
    assert again.returncode == 0, again.stderr
    assert server.requests == 3 and "62.5000" in again.stdout and "0 request(s)" in again.stdout
    texts = [res.stdout, res.stderr, again.stdout, again.stderr, *files_text(tmp_path)]
    assert not any(SECRET in t for t in texts)
    assert all(h == f"Bearer {SECRET}" for h in server.auth_headers)  # the key was sent, and only sent


def test_mismatched_outputs_are_refused_before_any_judge_call(server, tmp_path):
    rows = [{"instruction": t, "output": "m", "generator": "tiny"}
            for t in ("Question 0?", "Question 1?", "Question two?", "Question 3?")]
    res = cut("--outputs", str(outputs_file(tmp_path, rows)), "--reference", str(reference_file(tmp_path)),
              *judge_args(server, tmp_path / "out"))
    assert res.returncode == 2
    assert "index 2: expected 'Question 2?', got 'Question two?'" in res.stderr
    assert server.requests == 0 and not (tmp_path / "out").exists()


def test_unusable_replies_exit_1_and_are_listed(server, tmp_path, capsys):
    server.reply = lambda m: "Hard to say." if "Question 2?" in m[-1]["content"] else prefer_marker(m)
    out = tmp_path / "out"
    code = main(["eval", "--outputs", str(outputs_file(tmp_path)), "--reference", str(reference_file(tmp_path)),
                 *judge_args(server, out)])
    err = capsys.readouterr().err
    assert code == 1 and "1 of 4 judge replies were unusable" in err and "no identifier in the reply" in err
    [failure] = json.loads((out / "annotations.errors.json").read_text())
    assert failure["instruction"] == "Question 2?" and failure["reason"] == "no identifier in the reply"
    # the dropped pair is not scored: q = 1, 1, 0.5 → 83.33
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_total"] == 3 and metrics["win_rate"] == pytest.approx(250 / 3)


def test_model_against_reference_generates_then_judges(server, tmp_path, tiny_model_dir, capsys):
    server.reply = "B"  # always the output shown second: the model unless swapped
    out = tmp_path / "out"
    code = main(["eval", "--reference", str(reference_file(tmp_path)), "--model", str(tiny_model_dir),
                 "--name", "tiny", "--max-new-tokens", "4", *judge_args(server, out), "--json"])
    assert code == 0
    m = json.loads(capsys.readouterr().out)
    # the model wins where it was shown second (not swapped): 1 of 4 → 25
    assert m["win_rate"] == pytest.approx(100 * SWAPPED.count(False) / 4) and server.requests == 4
    outputs = json.loads((out / "model_outputs.json").read_text())
    assert [(r["instruction"], r["generator"]) for r in outputs] == [(f"Question {i}?", "tiny") for i in range(4)]


def test_generate_outputs_only_for_the_verifiable_set(tmp_path, tiny_model_dir, capsys):
    target = tmp_path / "verifiable_outputs.json"
    code = main(["eval", "--generate", "eval/verifiable-heldout.jsonl", "--model", str(tiny_model_dir), "--limit", "2",
                 "--max-new-tokens", "3", "--name", "tiny", "-o", str(target)])
    assert code == 0 and "2 outputs of tiny" in capsys.readouterr().out
    rows = json.loads(target.read_text())
    assert [(r["generator"], r["dataset"]) for r in rows] == [("tiny", "verifiable-heldout")] * 2


def write_run(tmp_path: Path, model_dir: Path) -> Path:
    run = tmp_path / "run"
    prompts = tmp_path / "eval-prompts.jsonl"
    prompts.write_text("".join(json.dumps(p) + "\n" for p in [
        {"key": "k1", "prompt": "Describe rain. Do not use any commas.", "instruction_id_list": ["punctuation:no_comma"],
         "kwargs": [{}]},
        {"key": "k2", "prompt": "Describe snow in lowercase.", "instruction_id_list": ["change_case:english_lowercase"],
         "kwargs": [{}]}]))
    (run / "round-1").mkdir(parents=True)
    (run / "online_config.json").write_text(json.dumps({"model": str(model_dir), "eval_prompts": str(prompts)}))
    # round 0: k1 has no comma (passes), k2 has capitals (fails, also loosely: one line, no "*")
    (run / "round-0").mkdir()
    (run / "round-0" / "eval.jsonl").write_text(json.dumps({"key": "k1", "response": "rain falls"}) + "\n"
                                                + json.dumps({"key": "k2", "response": "Snow Is White"}) + "\n")
    (run / "round-1" / "eval.jsonl").write_text(json.dumps({"key": "k1", "response": "rain falls"}) + "\n"
                                                + json.dumps({"key": "k2", "response": "snow is white"}) + "\n")
    (run / "round-1" / "model").symlink_to(model_dir, target_is_directory=True)
    return run


def test_run_directory_rescored_and_judged_per_round(server, tmp_path, tiny_model_dir, capsys):
    run = write_run(tmp_path, tiny_model_dir)
    server.reply = "B"
    report = tmp_path / "rounds.html"
    code = main(["eval", "--run", str(run), "--reference", str(reference_file(tmp_path, 2)), "--max-new-tokens", "4",
                 *judge_args(server, tmp_path / "unused"), "--json", "--report", str(report)])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["round"] for r in rows] == [0, 1]
    # round 0: 1 of 2 prompts followed (strict and loose); round 1: both
    assert [(r["verifiable"]["prompt_level_strict"], r["verifiable"]["prompt_level_loose"]) for r in rows] == \
        [(0.5, 0.5), (1.0, 1.0)]
    # "B" wins: Question 0 not swapped → model; Question 1 swapped → reference → 50 in each round
    assert [r["pairwise"]["win_rate"] for r in rows] == [pytest.approx(50.0)] * 2
    # both rounds are the same tiny model with the same outputs: round 1 comes from the run's cache
    assert server.requests == 2 and rows[1]["pairwise"]["judge"]["cache_hits"] == 2
    assert (run / "round-1" / "pairwise" / "reference" / "annotations.json").exists()
    assert (run / "pairwise_cache" / "judge_cache.jsonl").exists()
    html = report.read_text()
    assert html.index("round-0") < html.index("round-1") and "koala" in html  # rounds in order
    assert main(["eval", "--run", str(run)]) == 0  # verifiable only, as a table
    table = capsys.readouterr().out
    assert "50.0%" in table and "100.0%" in table


@pytest.mark.parametrize("argv, message", [
    ([], "give exactly one of"),
    (["--annotations", "a.json", "--generate", "b.json"], "got --annotations, --generate"),
    (["--outputs", "o.json"], "--outputs needs --reference"),
    (["--reference", "r.json", "--model", "m"], "needs --judge openai:MODEL"),
    (["--reference", "r.json", "--model", "m", "--outputs", "o.json", "--judge", "openai:x"], "not both"),
    (["--reference", "r.json", "--outputs", "o.json", "--judge", "rules"], "use openai:MODEL"),
])
def test_bad_mode_combinations_exit_2(argv, message, capsys):
    assert main(["eval", *argv]) == 2
    assert message in capsys.readouterr().err


def test_missing_key_for_a_remote_judge_fails_before_generation(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(KEY_ENV)
    code = main(["eval", "--reference", str(reference_file(tmp_path)), "--model", "/no/such/model", "--judge",
                 "openai:gpt-4o-mini", "--base-url", "https://judge.example.com/v1", "--api-key-env", KEY_ENV])
    assert code == 2 and f"environment variable {KEY_ENV} is not set" in capsys.readouterr().err
