"""Pairwise judging over real HTTP against tests/chat_server.py: both modes, the order swap,
the cache, unusable replies, prices, and the instruction check before any request."""

from __future__ import annotations

import json
import math

import pytest

from cut.errors import CutError
from cut.evaluation.pairwise import (FAILED_REQUEST, NO_ID_LOGPROBS, NO_IDENTIFIER, NO_LOGPROBS, PairwiseJudge,
                                     identifier_logprobs, make_pairwise_judge, parse_ranking)
from cut.evaluation.pairwise_prompt import PairwisePrompt
from cut.evaluation.pairwise_run import judge_outputs
from cut.evaluation.weighted import alpaca_eval_swapped, preference_from_raw_completion
from cut.judges.cache import CACHE_FILE
from cut.judges.openai_judge import OpenAIJudgeConfig
from tests.chat_server import ChatServer

KEY_ENV = "CUT_TEST_PAIRWISE_KEY"
MARKER = "ZEBRA"  # the server prefers the answer containing it, wherever it is shown
# alpaca_eval_swapped(f"Question {i}?", seed=0) for i = 0..7, computed once and pinned here:
# the swap pattern is AlpacaEval's deterministic rule, so it must never change.
SWAPPED_SEED0 = [False, True, True, True, False, True, False, False]


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "sk-test-pairwise")


def shown_first(messages: list[dict]) -> str:
    return messages[-1]["content"].split("=== Answer B ===")[0]


def prefer_marker(messages: list[dict]) -> str:
    return "A" if MARKER in shown_first(messages) else "B"


def marker_logprobs(messages: list[dict]) -> list:
    """P(preferred identifier) = 0.8, P(other) = 0.2, plus an unrelated token."""
    best = prefer_marker(messages)
    other = "B" if best == "A" else "A"
    return [(best, math.log(0.8), {best: math.log(0.8), other: math.log(0.2), "The": -9.0})]


@pytest.fixture
def server():
    with ChatServer(reply=prefer_marker, logprobs=marker_logprobs) as srv:
        yield srv


def make(server, mode="weighted", tmp_path=None, **overrides) -> PairwiseJudge:
    options = dict(base_url=server.base_url, api_key_env=KEY_ENV, backoff=0.005, max_retries=1, timeout=5.0,
                   concurrency=4)
    if tmp_path is not None:
        options["cache_dir"] = str(tmp_path / "cache")
    options.update(overrides)
    return make_pairwise_judge("openai:judge-model", mode=mode, progress=False, **options)


def pairs(n: int = 8, marked: str = "model") -> list[dict]:
    """output_1 = reference, output_2 = model; the marker goes into the ``marked`` one."""
    rows = []
    for i in range(n):
        ref, model = f"reference answer {i}", f"model answer {i}"
        if marked == "model":
            model += f" {MARKER}"
        else:
            ref += f" {MARKER}"
        rows.append({"instruction": f"Question {i}?", "output_1": ref, "generator_1": "ref", "output_2": model,
                     "generator_2": "tiny", "dataset": "set-a" if i % 2 else "set-b", "preference": None})
    return rows


def test_swap_pattern_is_alpaca_evals_seeded_rule():
    assert [alpaca_eval_swapped(f"Question {i}?", 0) for i in range(8)] == SWAPPED_SEED0
    # another seed, another (still deterministic) pattern
    seed1 = [alpaca_eval_swapped(f"Question {i}?", 1) for i in range(8)]
    assert seed1 == [alpaca_eval_swapped(f"Question {i}?", 1) for i in range(8)] and seed1 != SWAPPED_SEED0


@pytest.mark.parametrize("marked, expected", [("model", 2.0), ("reference", 1.0)])
def test_ranking_maps_the_swapped_verdict_back(server, marked, expected):
    result = make(server, "ranking").annotate(pairs(8, marked))
    # The server names the marked answer whichever position it is in, so after mapping back
    # every preference says the marked side won: 2 (model) or 1 (reference), swapped or not.
    assert [a["preference"] for a in result.annotations] == [expected] * 8
    assert [a["swapped"] for a in result.annotations] == SWAPPED_SEED0  # both kinds are present
    for body, swapped in zip(sorted(server.bodies, key=lambda b: b["messages"][-1]["content"]), SWAPPED_SEED0):
        first = shown_first(body["messages"])
        assert ("model answer" in first) == swapped  # the model's output is shown first iff swapped
        assert body["max_tokens"] == 16 and body["temperature"] == 0.0 and "logprobs" not in body
    row = result.annotations[0]
    assert row["annotator"] == "cut-pairwise-v1_ranking:judge-model" and row["dataset"] == "set-b"
    assert row["raw_completion"]["message"]["content"] in ("A", "B")


def test_weighted_preference_from_the_identifier_probabilities(server):
    judge = make(server, "weighted")
    result = judge.annotate(pairs(8, "model"))
    # P(marked answer) = 0.8 → P(reference wins) = 0.2 → preference = 2 − 0.2 = 1.8 for every
    # item, whether the model was shown as A (swapped) or as B.
    assert [a["preference"] for a in result.annotations] == pytest.approx([1.8] * 8, abs=1e-12)
    body = server.bodies[0]
    assert body["max_tokens"] == 1 and body["logprobs"] is True and body["top_logprobs"] == 5
    for row in result.annotations:  # the stored raw completion re-parses to the stored preference
        assert preference_from_raw_completion(row["raw_completion"], row["swapped"], "A", "B") == \
            pytest.approx(row["preference"], abs=1e-12)


def test_identifier_spellings_are_merged_and_ranking_replies_parsed():
    choice = {"logprobs": {"content": [{"token": "A", "logprob": math.log(0.1), "top_logprobs": [
        {"token": "A", "logprob": math.log(0.1)}, {"token": " A", "logprob": math.log(0.1)},
        {"token": "B", "logprob": math.log(0.6)}, {"token": "Both", "logprob": math.log(0.2)}]}]}}
    merged = identifier_logprobs(choice)
    assert set(merged) == {"A", "B"} and merged["A"] == pytest.approx(math.log(0.2))  # 0.1 + 0.1
    assert identifier_logprobs({"logprobs": None}) is None
    cases = {"A": 1.0, " B\n": 2.0, "**A**": 1.0, "Answer B.": 2.0, "(A)": 1.0, "output a": None,
             "A or B": None, "a": None, "": None, "Neither": None, "B is better": None}
    assert {text: parse_ranking(text) for text in cases} == cases


def test_identical_outputs_are_draws_without_a_request(server):
    rows = pairs(2)
    rows[0]["output_2"], rows[0]["preference"] = rows[0]["output_1"], 1.5  # as make_pairs sets it
    result = make(server, "ranking").annotate(rows)
    assert [a["preference"] for a in result.annotations] == [1.5, 2.0] and server.requests == 1
    assert result.annotations[0]["raw_completion"] is None and result.annotations[0]["price_per_example"] == 0.0


def test_rerun_with_the_cache_sends_nothing_and_gives_the_same_annotations(server, tmp_path):
    first = make(server, "weighted", tmp_path).annotate(pairs(6))
    assert server.requests == 6 and first.summary["cache_hits"] == 0
    server.reset()
    again = make(server, "weighted", tmp_path).annotate(pairs(6))  # a new judge reads the cache from disk
    assert server.requests == 0 and again.summary["cache_hits"] == 6 and again.summary["requests"] == 0
    assert again.annotations == first.annotations  # price and time kept from when they were paid
    server.reset()
    make(server, "ranking", tmp_path).annotate(pairs(6))  # another mode is another cache key
    assert server.requests == 6


def test_unusable_replies_are_counted_dropped_and_not_cached(tmp_path):
    def reply(messages):
        content = messages[-1]["content"]
        return "Both are fine." if "Question 1?" in content else prefer_marker(messages)

    with ChatServer(reply=reply, script=["500"]) as srv:  # the first pair asked (one at a time) fails
        result = make(srv, "ranking", tmp_path, concurrency=1, max_retries=0).annotate(pairs(4))
        assert result.unusable == {FAILED_REQUEST: 1, NO_IDENTIFIER: 1}
        assert len(result.annotations) == 2 and all(a["preference"] == 2.0 for a in result.annotations)
        failed = {f["instruction"]: f for f in result.failures}
        assert failed["Question 1?"]["raw_completion"]["message"]["content"] == "Both are fine."
        assert "HTTP 500" in failed["Question 0?"]["detail"] and "gave up after 1" in failed["Question 0?"]["detail"]
        cached = (tmp_path / "cache" / CACHE_FILE).read_text().splitlines()
        assert len(cached) == 2  # only the usable replies
        srv.reset()
        again = make(srv, "ranking", tmp_path).annotate(pairs(4))
        assert srv.requests == 2 and again.unusable == {NO_IDENTIFIER: 1}  # the failures are asked again


def test_weighted_replies_without_usable_logprobs_are_dropped():
    def logprobs(messages):
        content = messages[-1]["content"]
        if "Question 0?" in content:
            return [("Sure", -0.1, {"Sure": -0.1, "I": -3.0})]  # neither identifier
        return marker_logprobs(messages)

    with ChatServer(reply="A", logprobs=logprobs) as srv:
        result = make(srv, "weighted").annotate(pairs(3))
        assert result.unusable == {NO_ID_LOGPROBS: 1} and len(result.annotations) == 2
    with ChatServer(reply="A") as srv:  # a server that ignores the logprobs request
        result = make(srv, "weighted").annotate(pairs(2))
        assert result.unusable == {NO_LOGPROBS: 2} and result.annotations == []


def test_price_and_time_per_example(server):
    terse = PairwisePrompt(name="terse", version="v1", system="Pick one.", user_template="I: {instruction} "
                           "A: {first} B: {second}")
    config = OpenAIJudgeConfig(model="judge-model", base_url=server.base_url, api_key_env=KEY_ENV,
                               max_tokens=4, price_per_1k_prompt=1.0, price_per_1k_completion=2.0)
    server.reply = "A"
    rows = [{"instruction": "Add 2 and 2.", "output_1": "4", "output_2": "four", "preference": None}]
    [row] = PairwiseJudge(config, "ranking", prompt=terse, progress=False).annotate(rows).annotations
    # The server counts words: system "Pick one." = 2; user "I: Add 2 and 2. A: 4 B: four" = 9
    # (the order does not change the count) → 11 prompt tokens; reply "A" = 1 completion token.
    # price = 11/1000 × 1.0 + 1/1000 × 2.0 = 0.013 USD
    assert row["price_per_example"] == pytest.approx(0.013, abs=1e-12)
    assert 0 < row["time_per_example"] < 5


def test_mismatched_instructions_are_refused_before_any_request(server, tmp_path):
    reference = [{"instruction": f"Question {i}?", "output": f"ref {i}", "generator": "ref"} for i in range(3)]
    outputs = [{"instruction": "Question 0?", "output": "m", "generator": "tiny"},
               {"instruction": "Question 9?", "output": "m", "generator": "tiny"},
               {"instruction": "Question 2?", "output": "m", "generator": "tiny"}]
    with pytest.raises(CutError, match=r"1 reference instructions missing.*index 1: expected 'Question 1\?', "
                                       r"got 'Question 9\?'"):
        judge_outputs(outputs, reference, lambda cache: make(server, "ranking", cache_dir=cache), tmp_path / "out")
    assert server.requests == 0 and not (tmp_path / "out").exists()


def test_judge_outputs_writes_annotations_and_metrics(server, tmp_path):
    reference = [{"instruction": f"Question {i}?", "output": f"ref {i}", "generator": "ref", "dataset": "d"}
                 for i in range(4)]
    # the model wins where its output carries the marker (i = 0, 1) and loses elsewhere
    outputs = [{"instruction": f"Question {i}?", "output": f"m {i}" + (f" {MARKER}" if i < 2 else ""),
                "generator": "tiny"} for i in range(4)]
    outputs[3]["output"] = "ref 3"  # identical to the reference: a draw, not judged
    metrics = judge_outputs(list(reversed(outputs)), reference,
                            lambda cache: make(server, "ranking", cache_dir=cache), tmp_path / "out", n_bootstrap=0)
    # q = 1, 1, 0, 0.5 → win rate 62.5; wins 2, losses 1, draws 1; discrete (2 + 0.5)/4 = 62.5
    assert metrics["win_rate"] == pytest.approx(62.5) and server.requests == 3
    assert (metrics["n_wins"], metrics["n_wins_base"], metrics["n_draws"]) == (2, 1, 1)
    written = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert [a["instruction"] for a in written] == [f"Question {i}?" for i in range(4)]  # reference order
    keys = {"instruction", "output_1", "generator_1", "output_2", "generator_2", "annotator", "preference",
            "raw_completion", "price_per_example", "time_per_example", "dataset"}
    assert all(keys <= set(a) for a in written)
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["judge"]["requests"] == 3 and saved["judge"]["swap_seed"] == 0
    assert not (tmp_path / "out" / "annotations.errors.json").exists()
