"""The OpenAI-compatible judge over real HTTP, against tests/chat_server.py on 127.0.0.1.

Every test talks to a fresh server through the real ``openai`` client. Backoff is a few
milliseconds so retry tests stay fast; the one timeout test waits 2 × 0.5 s.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from cut.errors import CutError
from cut.judges import make_judge
from cut.judges.base import JudgeItem
from cut.judges.cache import CACHE_FILE, JudgeCache
from cut.judges.openai_client import is_local_url, known_price
from cut.judges.openai_judge import OpenAIJudge, OpenAIJudgeConfig
from cut.judges.prompt import load_prompt, render_messages
from tests.chat_server import ChatServer

KEY_ENV = "CUT_TEST_JUDGE_KEY"
SECRET = "sk-test-DO-NOT-LEAK-7c1e9a"

TERSE = "name: terse\nversion: v1\n\n[system]\nJudge it.\n\n[user]\nI: {instruction} R: {response}\n"


@pytest.fixture
def server():
    with ChatServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SECRET)


def make(server: ChatServer, tmp_path: Path | None = None, **overrides) -> OpenAIJudge:
    options = dict(model="judge-model", base_url=server.base_url, api_key_env=KEY_ENV,
                   backoff=0.005, max_retries=2, timeout=5.0, concurrency=4)
    if tmp_path is not None:
        options["cache_dir"] = str(tmp_path / "cache")
    options.update(overrides)
    return OpenAIJudge(OpenAIJudgeConfig(**options), progress=False)


def items(n: int = 1) -> list[JudgeItem]:
    return [JudgeItem(f"Question {i}?", f"Answer {i}.") for i in range(n)]


# --- replies --------------------------------------------------------------------------------

def test_perfect_reply_is_acceptable_and_request_is_well_formed(server):
    server.reply = "Perfect."
    judge = make(server)
    [verdict] = judge.judge([JudgeItem("Add 2 and 2.", "4")])
    assert verdict.judgment is None and not verdict.failed and verdict.raw == "Perfect."
    assert server.requests == 1
    body = server.bodies[0]
    assert body["model"] == "judge-model" and body["temperature"] == 0.0 and body["max_tokens"] == 512
    assert body["messages"] == render_messages(load_prompt(), "Add 2 and 2.", "4")
    assert server.auth_headers == [f"Bearer {SECRET}"]  # the key was used (and only sent)


def test_critique_quotes_are_located_as_spans(server):
    response = "The capital of France is  Berlin. It has 3 million people."
    server.reply = 'Wrong: "The capital of France is  Berlin"; "it HAS 3 million   people"; "absent words".'
    [verdict] = make(server).judge([JudgeItem("Tell me about France's capital.", response)])
    # exact quote → [0, 32]; normalised (case, spaces) → "It has 3 million people" = [34, 57];
    # the unmatched quote stays in the text and gives no span
    assert verdict.spans == [[0, 32], [34, 57]]
    assert verdict.judgment == server.reply and '"absent words"' in verdict.judgment


def test_tokens_and_cost_are_accounted(server, tmp_path):
    prompt_file = tmp_path / "terse.txt"
    prompt_file.write_text(TERSE)
    server.reply = "perfect"
    judge = make(server, prompt=str(prompt_file), price_per_1k_prompt=1.0, price_per_1k_completion=2.0)
    [verdict] = judge.judge([JudgeItem("Add 2 and 2.", "5")])
    # the server counts words: system "Judge it." = 2, user "I: Add 2 and 2. R: 5" = 7 → 9 prompt
    # tokens; "perfect" = 1 completion token. cost = 9/1000 × 1.0 + 1/1000 × 2.0 = 0.011 USD
    assert (verdict.prompt_tokens, verdict.completion_tokens) == (9, 1)
    assert verdict.cost == pytest.approx(0.011)
    summary = judge.summary()
    assert summary["cost"] == pytest.approx(0.011)
    assert (summary["prompt_tokens"], summary["completion_tokens"], summary["requests"]) == (9, 1, 1)


# --- retries, timeouts, failures ------------------------------------------------------------

def test_429_twice_then_ok_succeeds_with_three_requests(server):
    server.reset(script=["429", "429"])
    judge = make(server)
    [verdict] = judge.judge(items())
    assert not verdict.failed and verdict.judgment is None
    assert server.requests == 3 and server.kinds["429"] == 2 and server.kinds["ok"] == 1
    assert judge.summary()["retries"] == 2


def test_5xx_is_retried(server):
    server.reset(script=["500", "503"])
    [verdict] = make(server).judge(items())
    assert not verdict.failed and server.requests == 3


def test_non_json_body_is_retried(server):
    server.reset(script=["html"])  # a proxy's HTML page with status 200, then a real answer
    [verdict] = make(server).judge(items())
    assert not verdict.failed and server.requests == 2


def test_garbage_until_retries_run_out_is_a_failure(server, tmp_path):
    server.default = "garbage"
    [verdict] = make(server, tmp_path, max_retries=2).judge(items())
    assert verdict.failed and "gave up after 3 attempt(s)" in verdict.error and "not JSON" in verdict.error
    assert verdict.judgment is None and server.requests == 3  # 1 + max_retries
    assert not (tmp_path / "cache" / CACHE_FILE).exists()  # failures are not cached


def test_hang_times_out_and_fails(server):
    server.default = "hang"
    start = time.monotonic()
    [verdict] = make(server, timeout=0.5, max_retries=1).judge(items())
    elapsed = time.monotonic() - start
    assert verdict.failed and "no answer within 0.5 s" in verdict.error
    assert server.requests == 2 and 1.0 <= elapsed < 4.0  # two attempts of 0.5 s each


def test_cut_off_reply_fails_without_retry(server, tmp_path):
    server.reset(script=["length"])
    server.reply = 'The response says "abc" and'
    [verdict] = make(server, tmp_path).judge(items())
    assert verdict.failed and "cut off" in verdict.error and verdict.raw == server.reply
    assert server.requests == 1 and verdict.completion_tokens == 5  # a paid reply still counts
    assert not (tmp_path / "cache" / CACHE_FILE).exists()


def test_refusal_is_a_failure(server):
    server.reply = "I'm sorry, but I can't help with that."
    [verdict] = make(server).judge(items())
    assert verdict.failed and "refused" in verdict.error and server.requests == 1


def test_400_fails_at_once(server):
    server.reset(script=["400"])
    [verdict] = make(server).judge(items())
    assert verdict.failed and "HTTP 400" in verdict.error and server.requests == 1


def test_401_stops_the_run_with_a_clear_error(server):
    server.default = "401"
    with pytest.raises(CutError, match="HTTP 401") as info:
        make(server).judge(items(3))
    assert SECRET not in str(info.value)
    assert server.requests <= 3  # not retried


def test_one_bad_item_does_not_spoil_the_batch(server):
    server.reply = lambda messages: "perfect" if "Answer 1." not in messages[-1]["content"] else ""
    verdicts = make(server, concurrency=1).judge(items(3))
    assert [v.failed for v in verdicts] == [False, True, False]
    assert "empty" in verdicts[1].error


# --- cache ----------------------------------------------------------------------------------

def test_second_run_sends_zero_requests_and_gives_identical_verdicts(server, tmp_path):
    server.reply = lambda messages: 'Bad: "Answer"' if "Answer 1." in messages[-1]["content"] else "perfect"
    first = make(server, tmp_path).judge(items(3))
    assert server.requests == 3
    server.reset()
    again = make(server, tmp_path)  # a new judge reads the cache from disk
    second = again.judge(items(3))
    assert server.requests == 0
    assert [(v.judgment, v.spans, v.raw) for v in second] == [(v.judgment, v.spans, v.raw) for v in first]
    assert first[1].spans == [[0, 6]] and first[1].judgment == 'Bad: "Answer"'
    assert all(v.cached and v.cost == 0 for v in second)
    assert again.summary()["cache_hits"] == 3 and again.summary()["requests"] == 0


def test_failures_are_retried_on_the_next_run(server, tmp_path):
    server.reset(script=["500"])
    [failed] = make(server, tmp_path, max_retries=0).judge(items())
    assert failed.failed
    server.reset()
    [ok] = make(server, tmp_path, max_retries=0).judge(items())
    assert not ok.failed and not ok.cached and server.requests == 1


def test_model_or_prompt_change_changes_the_key(server, tmp_path):
    prompt_file = tmp_path / "terse.txt"
    prompt_file.write_text(TERSE)
    make(server, tmp_path).judge(items())
    make(server, tmp_path, model="other-model").judge(items())
    make(server, tmp_path, prompt=str(prompt_file)).judge(items())
    assert server.requests == 3  # nothing shared between the three settings
    make(server, tmp_path, model="other-model").judge(items())
    assert server.requests == 3  # but each is cached
    messages = [{"role": "user", "content": "x"}]
    base = JudgeCache.make_key({"model": "a"}, messages, "r")
    assert base != JudgeCache.make_key({"model": "b"}, messages, "r")
    assert base != JudgeCache.make_key({"model": "a"}, [{"role": "user", "content": "y"}], "r")
    assert base == JudgeCache.make_key({"model": "a"}, [{"content": "x", "role": "user"}], "r")


def test_duplicate_items_are_asked_once(server):
    verdicts = make(server).judge(items(1) * 3)
    assert server.requests == 1 and [v.cached for v in verdicts] == [False, True, True]


def test_cache_survives_a_torn_last_line(tmp_path):
    cache = JudgeCache(tmp_path)
    cache.put("k1", {"raw": "perfect"})
    with open(tmp_path / CACHE_FILE, "a") as fh:
        fh.write('{"key": "k2", "raw": "perf')  # a writer killed mid-line
    reloaded = JudgeCache(tmp_path)
    assert reloaded.get("k1") == {"raw": "perfect"} and reloaded.get("k2") is None
    assert reloaded.skipped_lines == 1
    reloaded.put("k3", {"raw": "x"})  # starts on a fresh line
    assert JudgeCache(tmp_path).get("k3") == {"raw": "x"} and len(JudgeCache(tmp_path)) == 2


# --- secrets, keys, concurrency, construction -----------------------------------------------

def test_api_key_never_reaches_files_or_output(server, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    server.reset(script=["429", "500", "length"])
    server.reply = lambda messages: 'Bad: "Answer"'
    judge = OpenAIJudge(OpenAIJudgeConfig(model="m", base_url=server.base_url, api_key_env=KEY_ENV,
                                          cache_dir=str(tmp_path / "cache"), backoff=0.005, max_retries=0),
                        progress=True)  # progress bar and summary table printed too
    verdicts = judge.judge(items(4))
    assert any(v.failed for v in verdicts) and any(not v.failed for v in verdicts)
    assert all(h == f"Bearer {SECRET}" for h in server.auth_headers)
    out = capsys.readouterr()
    assert "requests sent" in out.err  # the summary table
    texts = [out.out, out.err, caplog.text, json.dumps(judge.summary()), json.dumps(judge.settings()),
             repr(judge.config), *(v.error or "" for v in verdicts)]
    texts += [p.read_text() for p in tmp_path.rglob("*") if p.is_file()]
    assert len(texts) > 7 and not any(SECRET in text for text in texts)


def test_missing_key_for_a_remote_endpoint_names_the_variable(monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    config = OpenAIJudgeConfig(model="m", base_url="https://judge.example.com/v1", api_key_env=KEY_ENV)
    with pytest.raises(CutError, match=f"environment variable {KEY_ENV} is not set"):
        OpenAIJudge(config, progress=False)


def test_missing_key_for_a_local_server_uses_a_dummy(server, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    [verdict] = make(server).judge(items())
    assert not verdict.failed and server.auth_headers == ["Bearer EMPTY"]


def test_concurrency_is_bounded(server):
    server.delay = 0.1  # long enough that three requests surely overlap on a loaded machine
    verdicts = make(server, concurrency=3).judge(items(12))
    assert len(verdicts) == 12 and not any(v.failed for v in verdicts)
    assert server.max_in_flight == 3  # bounded, and actually concurrent


def test_make_judge_spec_and_unknown_option(server):
    judge = make_judge("openai:judge-x", base_url=server.base_url, api_key_env=KEY_ENV, progress=False)
    assert isinstance(judge, OpenAIJudge) and judge.name == "openai:judge-x"
    assert judge.config.model == "judge-x" and judge.config.concurrency == 16
    with pytest.raises(CutError, match="unknown option 'api_key'"):
        make_judge("openai:judge-x", api_key="nope")
    with pytest.raises(CutError, match="model name is required"):
        make_judge("openai:", base_url=server.base_url)


def test_price_table_and_local_addresses():
    assert known_price("gpt-4o-mini-2024-07-18") == (0.00015, 0.0006)  # longest prefix, not gpt-4o
    assert known_price("gpt-4o") == (0.0025, 0.010)
    assert known_price("llama-3-8b") is None
    assert OpenAIJudgeConfig(model="llama").prices() == (0.0, 0.0)
    assert OpenAIJudgeConfig(model="gpt-4o", price_per_1k_prompt=0.5).prices() == (0.5, 0.0)
    local = ["http://127.0.0.1:8000/v1", "http://localhost:11434/v1", "http://192.168.1.5:8080/v1", "http://[::1]:8000/v1"]
    assert all(is_local_url(url) for url in local)
    assert not any(is_local_url(url) for url in [None, "https://api.openai.com/v1", "http://8.8.8.8/v1"])


def test_judge_works_inside_a_running_event_loop(server):
    import asyncio

    judge = make(server)

    async def caller():  # e.g. a notebook cell: judge() must not call asyncio.run on this loop
        return judge.judge(items(2)), judge.judge([])

    verdicts, empty = asyncio.run(caller())
    assert [v.judgment for v in verdicts] == [None, None] and empty == [] and server.requests == 2


def test_server_returns_logprobs_in_the_chat_completions_shape(server):
    """The pairwise evaluation judge reads token log-probabilities from this server."""
    import openai

    server.reply = "A"
    server.logprobs = lambda messages: [("A", -0.1, {"A": -0.1, "B": -2.4, "C": -5.0})]
    client = openai.OpenAI(base_url=server.base_url, api_key="x", max_retries=0)
    plain = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "A or B?"}])
    assert plain.choices[0].logprobs is None  # only when asked, like the real API
    asked = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "A or B?"}],
                                           logprobs=True, top_logprobs=2)
    [token] = asked.choices[0].logprobs.content
    assert (token.token, token.logprob) == ("A", -0.1)
    assert [(t.token, t.logprob) for t in token.top_logprobs] == [("A", -0.1), ("B", -2.4)]  # best 2
    client.close()


# --- the endpoint, as the official client chooses it (issue 19) ---------------------------

def test_openai_base_url_from_the_environment_unless_given(server, monkeypatch, capsys):
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    config = OpenAIJudgeConfig(model="judge-model", api_key_env=KEY_ENV, max_retries=0)
    assert config.base_url == server.base_url  # env over the default api.openai.com
    [verdict] = OpenAIJudge(config, progress=False).judge(items())
    assert not verdict.failed and server.requests == 1 and server.auth_headers == [f"Bearer {SECRET}"]
    given = OpenAIJudgeConfig(model="judge-model", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV)
    assert given.base_url == "http://127.0.0.1:9/v1"  # an explicit setting wins over the env
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert OpenAIJudgeConfig(model="m").url == "https://api.openai.com/v1"
    assert SECRET not in capsys.readouterr().out


def test_connection_failure_names_the_url_and_not_the_key(monkeypatch, capsys):
    url = "http://127.0.0.1:9/v1"  # the discard port: nothing listens
    monkeypatch.setenv("OPENAI_BASE_URL", url)
    config = OpenAIJudgeConfig(model="judge-model", api_key_env=KEY_ENV, max_retries=0)
    [verdict] = OpenAIJudge(config, progress=False).judge(items())
    assert verdict.failed and f"connection failed to {url}" in verdict.error and SECRET not in verdict.error
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err


@pytest.mark.parametrize("reply", ["Error: upstream request timeout", "perfectly bad: the answer is wrong",
                                   "<html><body>502 Bad Gateway</body></html>"])
def test_off_format_reply_is_a_failure_not_a_judgment(server, reply):
    server.reply = reply
    [verdict] = make(server).judge(items())
    assert verdict.failed and verdict.judgment is None and verdict.raw == reply


def test_revisions_are_asked_for_parsed_cached_and_absent_when_the_reply_has_none(server, tmp_path):
    response = "The capital of France is Berlin."
    server.reply = 'Wrong city: "Berlin".\n\n**Revision:**\nThe capital of France is Paris.'
    judge = make(server, tmp_path, revisions=True)
    [verdict] = judge.judge([JudgeItem("What is the capital of France?", response)])
    assert verdict.judgment == 'Wrong city: "Berlin".' and verdict.spans == [[25, 31]]
    assert verdict.revision == "The capital of France is Paris."
    assert "Revision:" in server.bodies[0]["messages"][0]["content"]  # the revise prompt was sent
    # from the cache: the same verdict, nothing sent
    [again] = make(server, tmp_path, revisions=True).judge([JudgeItem("What is the capital of France?", response)])
    assert server.requests == 1 and again.cached and again.revision == verdict.revision
    # a critique without a revision line: a judgment with no revision
    server.reply = 'Wrong city: "Berlin".'
    [plain] = make(server, revisions=True).judge([JudgeItem("Capital of France?", response)])
    assert plain.judgment == 'Wrong city: "Berlin".' and plain.revision is None
    # without the setting the default prompt is used and the reply is read whole
    server.reply = 'Wrong city: "Berlin".\nRevision:\nThe capital of France is Paris.'
    [whole] = make(server).judge([JudgeItem("Capital of France?", response)])
    assert whole.revision is None and whole.judgment == server.reply
    assert "Revision:" not in server.bodies[-1]["messages"][0]["content"]
