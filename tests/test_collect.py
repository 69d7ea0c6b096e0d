"""`cut collect` end to end: prompt files, the rule judge through the CLI, resume, the errors
file, the OpenAI judge against a local server, generation with the tiny model, and an
interactive judge's skip / undo / quit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cut.collect import CollectConfig, collect, repair_torn_tail
from cut.errors import CutError
from cut.generation import GenerationSettings
from cut.judges.base import QuitRequest, UndoRequest, Verdict
from cut.prompt_sources import read_prompts, read_responses, text_key
from cut.records import RecordError, read_jsonl
from tests.chat_server import ChatServer

REPO = Path(__file__).resolve().parents[1]

# IFEval-format prompts (key, prompt, instruction_id_list, kwargs). Key 3 has no constraints,
# so the rule judge cannot judge it: a failure, logged and retried.
PROMPTS = [
    {"key": 1, "prompt": "Describe the sea. Do not use any commas.", "instruction_id_list": ["punctuation:no_comma"],
     "kwargs": [{}]},
    {"key": 2, "prompt": "Say hello. Answer in lowercase letters only.",
     "instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]},
    {"key": 3, "prompt": "Tell me a story."},
]
# Matched by key (1, 3) and by exact prompt text (2).
RESPONSES = [
    {"key": 1, "response": "The sea is big and blue"},
    {"prompt": "Say hello. Answer in lowercase letters only.", "response": "Hello, World"},
    {"id": "3", "output": "Once upon a time."},
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "cut", "collect", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=120)


@pytest.fixture
def files(tmp_path):
    return write_jsonl(tmp_path / "prompts.jsonl", PROMPTS), write_jsonl(tmp_path / "responses.jsonl", RESPONSES)


def by_key(path: Path) -> dict:
    return {r.id: r for r in read_jsonl(path)}


# --- the CLI with the rule judge -----------------------------------------------------------

def test_cli_rules_judge_records_resume_and_retry(files, tmp_path):
    prompts, responses = files
    out = tmp_path / "out" / "judgments.jsonl"
    args = ["--prompts", str(prompts), "--responses", str(responses), "--judge", "rules", "-o", str(out)]
    first = cli(*args)
    assert first.returncode == 1, first.stderr  # key 3 failed
    records = by_key(out)
    assert sorted(records) == ["1", "2"]
    # 1: no comma in "The sea is big and blue" → acceptable
    assert records["1"].judgment is None and records["1"].judge == "rules" and records["1"].source == "collect"
    # 2: "Hello, World" has two capitalised words at [0, 5) and [7, 12)
    assert records["2"].spans == [[0, 5], [7, 12]] and "lowercase" in records["2"].judgment
    assert records["2"].metadata["item_key"] == "2" and records["2"].metadata["sample"] == 0
    assert records["2"].metadata["instruction_id_list"] == ["change_case:english_lowercase"]
    assert records["2"].response == "Hello, World"  # matched by prompt text
    errors_file = tmp_path / "out" / "judgments.errors.jsonl"
    [error] = [json.loads(line) for line in errors_file.read_text().splitlines()]
    assert error["key"] == "3" and "no constraints" in error["reason"] and error["time"]
    assert "1 item(s) failed" in first.stderr and str(errors_file) in first.stderr

    before = out.read_bytes()
    second = cli(*args)  # nothing new to judge; key 3 is tried again and fails again
    assert second.returncode == 1 and out.read_bytes() == before
    assert "already done" in second.stderr and len(errors_file.read_text().splitlines()) == 2

    fixed = [*PROMPTS[:2], {**PROMPTS[2], "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}]
    write_jsonl(prompts, fixed)
    third = cli(*args)
    assert third.returncode == 0, third.stderr
    assert sorted(by_key(out)) == ["1", "2", "3"]  # each key once
    assert out.read_bytes().startswith(before)  # appended, earlier records untouched
    assert len(errors_file.read_text().splitlines()) == 2  # a log: old failures stay, nothing new
    assert "done, 3 item(s)" in third.stderr and "1 judged now, 2 already done" in third.stderr


def test_cli_bad_prompt_file_names_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": 1, "prompt": "ok"}\n{"key": 2, "prompt": 5}\n')
    result = cli("--prompts", str(bad), "--responses", str(bad), "-o", str(tmp_path / "o.jsonl"))
    assert result.returncode == 2
    assert f"{bad}:2: field 'prompt'" in result.stderr and "Traceback" not in result.stderr


def test_missing_responses_are_an_input_error(files, tmp_path):
    prompts, responses = files
    write_jsonl(responses, RESPONSES[:2])
    with pytest.raises(CutError, match="no response for 1 of the prompts.*'3'"):
        collect(CollectConfig(str(prompts), str(tmp_path / "o.jsonl"), responses=str(responses)))


# --- the OpenAI judge against a local server: failures, retry, no key on disk ---------------

def test_openai_judge_failures_are_logged_retried_and_the_key_never_written(files, tmp_path, monkeypatch):
    secret = "sk-test-collect-DO-NOT-LEAK-41"
    monkeypatch.setenv("CUT_TEST_COLLECT_KEY", secret)
    prompts, responses = files
    out = tmp_path / "run" / "j.jsonl"
    with ChatServer(reply="perfect", default="500") as server:
        options = dict(base_url=server.base_url, api_key_env="CUT_TEST_COLLECT_KEY", max_retries=0, backoff=0.0)
        config = CollectConfig(str(prompts), str(out), judge="openai:judge-model", responses=str(responses),
                               judge_options=options)
        first = collect(config)
        assert (first.failed, first.judged, first.exit_code) == (3, 0, 1)
        errors = [json.loads(line) for line in config.errors_path.read_text().splitlines()]
        assert sorted(e["key"] for e in errors) == ["1", "2", "3"] and all("HTTP 500" in e["reason"] for e in errors)

        server.default = "ok"
        second = collect(config)
        assert (second.failed, second.judged, second.positive, second.exit_code) == (0, 3, 3, 0)
        assert second.judge_summary["requests"] == 3 and server.auth_headers[-1] == f"Bearer {secret}"
        third = collect(config)  # everything done: no request at all
        assert third.already_done == 3 and third.judged == 0 and server.requests == 6
    records = by_key(out)
    assert records["1"].judge == "openai:judge-model" and records["1"].metadata["judge_raw"] == "perfect"
    written = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert {p.name for p in written} >= {"j.jsonl", "j.errors.jsonl", "j.collect_config.json", "judge_cache.jsonl"}
    for path in written:
        assert secret not in path.read_text(), path


# --- generation with the tiny model ---------------------------------------------------------

def test_generated_responses_are_saved_and_not_generated_again(files, tmp_path, tiny_model_dir):
    prompts, _ = files
    out = tmp_path / "g" / "j.jsonl"
    settings = GenerationSettings(max_new_tokens=6, temperature=0, batch_size=2)
    config = CollectConfig(str(prompts), str(out), model=str(tiny_model_dir), generation=settings, limit=2)
    first = collect(config)
    assert (first.total, first.generated, first.judged, first.failed) == (2, 2, 2, 0)
    saved = [json.loads(line) for line in config.responses_cache_path.read_text().splitlines()]
    assert sorted(s["key"] for s in saved) == ["1", "2"]
    assert all(s["generator"]["model"] == str(tiny_model_dir) for s in saved)
    records = by_key(out)
    assert {k: r.response for k, r in records.items()} == {s["key"]: s["response"] for s in saved}

    out.unlink()  # as if killed after generating, before judging
    again = collect(config)
    assert again.generated == 0 and again.judged == 2
    assert {k: r.response for k, r in by_key(out).items()} == {s["key"]: s["response"] for s in saved}

    out.unlink()  # other sampling settings: the saved responses do not apply
    other = CollectConfig(str(prompts), str(out), model=str(tiny_model_dir), limit=2,
                          generation=GenerationSettings(max_new_tokens=6, temperature=1.0, batch_size=2))
    assert collect(other).generated == 2

    out.unlink()  # the prompt of key 1 was edited: only that one is generated again
    write_jsonl(prompts, [{**PROMPTS[0], "prompt": "Describe a lake. Do not use any commas."}, *PROMPTS[1:]])
    assert collect(config).generated == 1


def test_samples_get_their_own_keys(files, tmp_path):
    prompts, _ = files
    responses = write_jsonl(tmp_path / "r2.jsonl", [
        {"key": 1, "response": "calm sea"}, {"key": 1, "response": "rough, grey sea"}])
    config = CollectConfig(str(prompts), str(tmp_path / "s.jsonl"), responses=str(responses), limit=1,
                           generation=GenerationSettings(num_samples=2))
    summary = collect(config)
    records = by_key(tmp_path / "s.jsonl")
    assert summary.total == 2 and sorted(records) == ["1#0", "1#1"]
    assert records["1#0"].judgment is None  # "calm sea": no comma
    assert records["1#1"].spans == [[5, 6]]  # the comma in "rough, grey sea"
    assert records["1#1"].metadata["prompt_key"] == "1" and records["1#1"].metadata["sample"] == 1


def test_torn_last_line_is_dropped_and_complete_one_kept(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"a": 1}\n{"b": 2')
    assert repair_torn_tail(path) and path.read_text() == '{"a": 1}\n'
    path.write_text('{"a": 1}\n{"b": 2}')
    assert not repair_torn_tail(path) and path.read_text() == '{"a": 1}\n{"b": 2}\n'


# --- an interactive judge: skip, undo, quit -------------------------------------------------

class ScriptedJudge:
    """Plays a script, one entry per call: "ok" / "bad" (a verdict), "skip", "undo", "quit"."""

    name = "scripted"
    interactive = True
    script: list[str] = []
    seen: list[str] = []

    def judge(self, items):
        assert len(items) == 1  # interactive → chunks of one
        ScriptedJudge.seen.append(items[0].response)
        action = ScriptedJudge.script.pop(0)
        if action == "undo":
            raise UndoRequest()
        if action == "quit":
            raise QuitRequest()
        if action == "skip":
            return [Verdict(skipped=True)]
        return [Verdict(judgment=None if action == "ok" else "Too short.")]


def scripted_from_spec(arg, **options):
    return ScriptedJudge()


@pytest.fixture
def scripted(monkeypatch):
    import cut.judges

    monkeypatch.setitem(cut.judges.JUDGES, "scripted", ("tests.test_collect", "scripted_from_spec"))
    ScriptedJudge.seen = []
    return ScriptedJudge


def test_interactive_undo_skip_and_quit(files, tmp_path, scripted):
    prompts, responses = files
    out = tmp_path / "h.jsonl"
    config = CollectConfig(str(prompts), str(out), judge="scripted", responses=str(responses))
    # item 1 ok, item 2 bad, undo (on item 3) → item 2 offered again: ok; item 3: skip
    scripted.script = ["ok", "bad", "undo", "ok", "skip"]
    summary = collect(config)
    assert scripted.seen == ["The sea is big and blue", "Hello, World", "Once upon a time.", "Hello, World",
                             "Once upon a time."]
    records = by_key(out)
    assert sorted(records) == ["1", "2"] and records["2"].judgment is None  # the undone critique is gone
    assert (summary.judged, summary.positive, summary.negative, summary.skipped) == (2, 2, 0, 1)
    assert summary.remaining == 1 and summary.exit_code == 0
    # a rerun offers only the skipped item; quitting stops cleanly
    scripted.script, scripted.seen = ["quit"], []
    summary = collect(config)
    assert scripted.seen == ["Once upon a time."] and summary.quit and summary.exit_code == 0
    assert summary.already_done == 2 and summary.remaining == 1


def test_undo_only_removes_records_of_this_session(files, tmp_path, scripted):
    prompts, responses = files
    out = tmp_path / "h.jsonl"
    config = CollectConfig(str(prompts), str(out), judge="scripted", responses=str(responses))
    scripted.script = ["ok", "quit"]
    collect(config)
    scripted.script = ["undo", "bad", "ok"]  # nothing of this session to undo: item 2 comes again
    summary = collect(config)
    records = by_key(out)
    assert sorted(records) == ["1", "2", "3"] and records["1"].judgment is None
    assert records["2"].judgment == "Too short." and summary.judged == 2


# --- prompt files ---------------------------------------------------------------------------

def test_prompt_formats(tmp_path):
    csv_file = tmp_path / "p.csv"
    csv_file.write_text('id,instruction,input,topic\na1,"Sum, please",1 2,math\na2,Say hi,,\n')
    items = read_prompts(csv_file)
    assert [(i.key, i.instruction, i.input, i.metadata) for i in items] == [
        ("a1", "Sum, please", "1 2", {"topic": "math"}), ("a2", "Say hi", "", {})]
    assert items[0].prompt == "Sum, please\n1 2"

    txt = tmp_path / "p.txt"
    txt.write_text("First prompt\n\n  Second prompt  \n")
    assert [(i.key, i.instruction) for i in read_prompts(txt)] == [
        (text_key("First prompt"), "First prompt"), (text_key("Second prompt"), "Second prompt")]

    fixtures = REPO / "tests" / "fixtures"
    trl = read_prompts(fixtures / "trl.jsonl")
    assert [i.instruction for i in trl] == ["Name a primary color.", "Capital of Italy?", "What is 3 * 3?"]
    assert trl[0].key == "7" and trl[2].metadata == {"difficulty": "easy"}
    assert read_prompts(fixtures / "messages.jsonl")[0].instruction == "Define entropy."
    alpaca = read_prompts(fixtures / "alpaca.json")  # a JSON list
    assert alpaca[0].key == "0" and alpaca[0].instruction


def test_prompt_errors_name_file_line_and_field(tmp_path):
    dup = write_jsonl(tmp_path / "dup.jsonl", [{"key": "a", "prompt": "x"}, {"key": "b", "prompt": "y"},
                                               {"key": "a", "prompt": "z"}])
    with pytest.raises(RecordError, match=r"dup.jsonl:3: field 'key': duplicate prompt key 'a' \(first on line 1\)"):
        read_prompts(dup)
    same_text = write_jsonl(tmp_path / "same.jsonl", [{"instruction": "x"}, {"instruction": "x"}])
    with pytest.raises(RecordError, match=r"same.jsonl:2: field 'instruction': duplicate"):
        read_prompts(same_text)
    missing = write_jsonl(tmp_path / "missing.jsonl", [{"prompt": "x"}, {"text": "y"}])
    with pytest.raises(RecordError, match=r"missing.jsonl:2: field 'instruction': missing field"):
        read_prompts(missing)
    empty = write_jsonl(tmp_path / "empty.jsonl", [{"instruction": "  "}])
    with pytest.raises(RecordError, match=r"empty.jsonl:1: field 'instruction': empty prompt"):
        read_prompts(empty)
    no_response = write_jsonl(tmp_path / "nr.jsonl", [{"instruction": "x"}])
    with pytest.raises(RecordError, match=r"nr.jsonl:1: field 'response': missing field"):
        read_responses(no_response)


def test_alpaca_eval_outputs_as_responses(tmp_path):
    from tests.conftest import shared_data

    path = shared_data("alpaca_eval", "model_outputs", "alpaca-7b.json")
    found = read_responses(path)
    rows = json.loads(path.read_text())
    assert len(rows) == 805
    assert found[rows[0]["instruction"]] == [rows[0]["output"]]


def test_human_judge_through_collect(files, tmp_path):
    import io

    from rich.console import Console

    prompts, responses = files
    out = tmp_path / "human.jsonl"
    # item 1: acceptable; item 2: a critique quoting "Hello"; on item 3: undo → item 2 again,
    # now acceptable; item 3: a critique; then the input ends.
    typed = 'a\nc\nCapital "Hello" breaks the rule.\n\nu\na\nc\nToo "short".\n\n'
    config = CollectConfig(str(prompts), str(out), judge="human", responses=str(responses))
    summary = collect(config, console=Console(file=io.StringIO()), input_stream=io.StringIO(typed))
    records = by_key(out)
    assert records["1"].judgment is None and records["2"].judgment is None
    # "short" is not in the response: the person kept the critique (end of input = Enter), no span
    assert records["3"].judgment == 'Too "short".' and records["3"].spans == []
    assert records["3"].judge == "human" and summary.judged == 3 and summary.exit_code == 0
