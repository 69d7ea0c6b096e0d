"""The local-model judge on the tiny conftest model: it runs end to end, and its replies are
read by the judge rules (checked by replacing generation with scripted replies)."""

from __future__ import annotations

import pytest

from cut import generation
from cut.errors import CutError
from cut.generation import Completion
from cut.judges import make_judge
from cut.judges.base import JudgeItem
from cut.judges.local import LocalJudge, parse_self_reply
from cut.judges.prompt import load_prompt, render_messages

ITEMS = [JudgeItem("Add 2 and 2.", "4"), JudgeItem("Name a fruit.", "A carrot, clearly."),
         JudgeItem("Say hi.", "hi")]


# The packaged prompt is ~650 tokens for the tiny tokenizer, past the tiny model's 512
# positions (that case is tested below), so most tests use this short one.
TERSE = "name: terse\nversion: v1\n\n[system]\nJudge it.\n\n[user]\nI: {instruction} R: {response}\n"


@pytest.fixture(scope="module")
def terse_prompt(tmp_path_factory):
    path = tmp_path_factory.mktemp("prompt") / "terse.txt"
    path.write_text(TERSE)
    return str(path)


@pytest.fixture(scope="module")
def judge(tiny_model_dir, terse_prompt):
    return make_judge(f"hf:{tiny_model_dir}", prompt=terse_prompt, max_new_tokens=6, batch_size=2, progress=False)


def script(monkeypatch, tokenizer, replies: list[tuple[str, bool]]):
    """Make generation return ``replies`` ((text, finished) per prompt, in order)."""
    seen = []

    def fake(model, tok, prompts, settings, stop_ids, **kwargs):
        seen.append((prompts, settings, stop_ids))
        return [[Completion(tokenizer(text, add_special_tokens=False)["input_ids"], finished)]
                for text, finished in replies[:len(prompts)]]

    monkeypatch.setattr(generation, "generate_ids", fake)
    return seen


def test_runs_on_the_tiny_model_with_one_verdict_per_item(judge):
    verdicts = judge.judge(ITEMS)
    assert len(verdicts) == 3 and judge.name.startswith("hf:")
    for v in verdicts:
        # garbage from a random model: whatever it is, it was parsed (a failure or a critique),
        # the raw reply is kept and the tokens were counted
        assert v.failed or v.judgment is None or isinstance(v.judgment, str)
        assert v.raw is not None and v.prompt_tokens > 0
        assert v.completion_tokens <= 6
    assert sum(v.completion_tokens for v in verdicts) > 0  # the model really generated
    assert judge.summary()["items"] == 3


def test_prompt_is_the_openai_judges_prompt_in_the_chat_template(judge, terse_prompt, monkeypatch):
    seen = script(monkeypatch, judge.tokenizer, [("Perfect.", True)])
    judge.judge(ITEMS[:1])
    prompts, settings, stop_ids = seen[0]
    messages = render_messages(load_prompt(terse_prompt), "Add 2 and 2.", "4")
    assert messages[0] == {"role": "system", "content": "Judge it."}
    text = judge.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert prompts == [judge.tokenizer(text, add_special_tokens=False)["input_ids"]]
    assert settings.greedy and settings.max_new_tokens == 6 and settings.batch_size == 2
    assert stop_ids == [judge.tokenizer.convert_tokens_to_ids("<|im_end|>")]


def test_replies_follow_the_judge_rules(judge, monkeypatch):
    script(monkeypatch, judge.tokenizer, [("Perfect.", True), ('The answer is wrong: "A carrot" is no fruit.', True),
                                          ("", True)])
    ok, critique, empty = judge.judge(ITEMS)
    assert ok.judgment is None and not ok.failed
    assert critique.judgment == 'The answer is wrong: "A carrot" is no fruit.'
    assert critique.spans == [[0, 8]]  # "A carrot" located in "A carrot, clearly."
    assert empty.failed and "empty" in empty.error
    assert judge.summary()["failures"] >= 1


def test_a_reply_cut_off_at_the_token_limit_is_a_failure(judge, monkeypatch):
    script(monkeypatch, judge.tokenizer, [("The answer is wrong because", False)])
    [verdict] = judge.judge(ITEMS[:1])
    assert verdict.failed and "cut off" in verdict.error and verdict.raw == "The answer is wrong because"


def test_too_long_prompt_is_a_failure_not_an_exception(tiny_model_dir):
    # the packaged default prompt alone is ~650 tokens here, beyond the tiny model's 512 positions
    judge = make_judge(f"hf:{tiny_model_dir}", max_new_tokens=6, progress=False)
    assert judge.prompt.name == "cut-default"
    verdicts = judge.judge(ITEMS[:2])
    assert len(verdicts) == 2
    assert all(v.failed and "exceeds the judge model's context of 512" in v.error for v in verdicts)


@pytest.mark.parametrize("reply, judgment, error", [
    ("The response answers correctly. Yes.", None, None),
    ("Yes.", None, None),
    ("The response contains a comma. No.", "The response contains a comma.", None),
    ("No. It ignores the instruction.", "It ignores the instruction.", None),
    ("It is too long. Is the response perfect? No", "It is too long.", None),
    ("No.", None, "without a judgment"),
    ("I know the eyes", None, "no Yes./No. verdict"),
    ("", None, "empty"),
])
def test_self_judge_replies(reply, judgment, error):
    verdict = parse_self_reply(reply, "a, b")
    assert verdict.judgment == judgment
    assert (verdict.error is None) if error is None else (error in verdict.error)


def test_self_judge_template_renders_alpaca_text(tiny_model_dir, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    judge = LocalJudge(AutoModelForCausalLM.from_pretrained(tiny_model_dir), tok, template="cut-self",
                       max_new_tokens=4, progress=False)
    seen = script(monkeypatch, tok, [('It has a comma: "a, b". No.', True)])
    [verdict] = judge.judge([JudgeItem("List two letters without commas.", "a, b")])
    assert verdict.judgment == 'It has a comma: "a, b".' and verdict.spans == [[0, 4]]
    text = tok.decode(seen[0][0][0])
    assert text.startswith("Below is an instruction") and "### Response:\na, b\n\n### Judgment:\n" in text
    assert seen[0][2] == [tok.eos_token_id]


def test_bad_options_are_errors(tiny_model_dir):
    with pytest.raises(CutError, match="base_url"):
        make_judge(f"hf:{tiny_model_dir}", base_url="http://x")
    with pytest.raises(CutError, match="model is required"):
        make_judge("hf:")
    with pytest.raises(CutError, match="unknown template"):
        make_judge(f"hf:{tiny_model_dir}", template="nope")
