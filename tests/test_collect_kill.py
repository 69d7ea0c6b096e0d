"""Kill-and-resume: SIGKILL a real `cut collect` process mid-run, rerun it, and check that
every item is in the output exactly once and every line is valid JSON.

Two places to be killed: while judging (the OpenAI judge against the local test server with
a delay per request, one request at a time, records written one by one), and while
generating (the tiny model, one prompt per batch, long responses).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.chat_server import ChatServer

REPO = Path(__file__).resolve().parents[1]
KEY_ENV = "CUT_TEST_KILL_KEY"


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cut", "collect", *args]


def environment() -> dict:
    # One thread: the tiny model gains nothing from more, and on a busy machine OpenMP workers
    # waiting for a core make every matrix product slow.
    return {**os.environ, KEY_ENV: "sk-test-kill", "COLUMNS": "200", "OMP_NUM_THREADS": "1"}


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def run_until(args: list[str], path: Path, at_least: int, timeout: float = 90.0) -> int:
    """Start a run, SIGKILL it once ``path`` has ``at_least`` lines; return the lines then."""
    proc = subprocess.Popen(args, cwd=REPO, env=environment(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while count_lines(path) < at_least:
            if proc.poll() is not None:
                pytest.fail(f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"{path} did not reach {at_least} lines in {timeout} s")
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return count_lines(path)


def finish(args: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=REPO, env=environment(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def keys_in(path: Path) -> Counter:
    lines = path.read_text().splitlines()
    objects = [json.loads(line) for line in lines]  # every line valid JSON
    return Counter(obj["id"] for obj in objects)


def test_kill_while_judging_then_resume(tmp_path):
    n = 20
    prompts, responses = tmp_path / "prompts.jsonl", tmp_path / "responses.jsonl"
    prompts.write_text("".join(json.dumps({"key": f"p{i}", "prompt": f"Question {i}?"}) + "\n" for i in range(n)))
    responses.write_text("".join(json.dumps({"key": f"p{i}", "response": f"Answer {i}."}) + "\n" for i in range(n)))
    out = tmp_path / "run" / "j.jsonl"
    with ChatServer(reply="perfect", delay=0.15) as server:
        args = command("--prompts", str(prompts), "--responses", str(responses), "-o", str(out),
                       "--judge", "openai:judge-model", "--base-url", server.base_url, "--api-key-env", KEY_ENV,
                       "--concurrency", "1", "--chunk-size", "1")
        killed_at = run_until(args, out, at_least=3)
        assert 3 <= killed_at < n  # really mid-way
        with open(out, "ab") as fh:  # and as if the kill had hit in the middle of a write
            fh.write(b'{"instruction": "Question 99?", "resp')
        server.delay = 0.0
        finish(args)
    keys = keys_in(out)
    assert keys == Counter({f"p{i}": 1 for i in range(n)})
    # the judge's reply cache means items judged before the kill were not asked again
    assert server.requests <= n + 1


def test_kill_while_generating_then_resume(tmp_path, tiny_model_dir):
    n = 8
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"key": f"g{i}", "prompt": f"Describe the ocean {i}.",
                                           "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}) + "\n"
                               for i in range(n)))
    out = tmp_path / "gen" / "j.jsonl"
    saved = tmp_path / "gen" / "j.responses.jsonl"
    args = command("--prompts", str(prompts), "-o", str(out), "--model", str(tiny_model_dir),
                   "--batch-size", "1", "--max-new-tokens", "300", "--temperature", "0")
    killed_at = run_until(args, saved, at_least=2)
    assert killed_at < n and not out.exists()  # killed before judging started
    first_responses = {json.loads(line)["key"]: json.loads(line)["response"] for line in saved.read_text().splitlines()}
    finish(args)
    assert keys_in(out) == Counter({f"g{i}": 1 for i in range(n)})
    saved_keys = Counter(json.loads(line)["key"] for line in saved.read_text().splitlines())
    assert saved_keys == Counter({f"g{i}": 1 for i in range(n)})  # nothing generated twice
    records = {json.loads(line)["id"]: json.loads(line) for line in out.read_text().splitlines()}
    for key, response in first_responses.items():  # responses saved before the kill were reused
        assert records[key]["response"] == response
