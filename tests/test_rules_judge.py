"""cut.judges.rules: the rule judge on passing, failing, unsupported and constraint-less items."""

from __future__ import annotations

import json

import pytest

from cut.errors import CutError
from cut.judges import make_judge
from cut.judges.base import Judge, JudgeItem
from cut.judges.rules import RuleJudge
from cut.records import validate_spans
from cut.verifiable import VerifiablePrompt


def item(response, ids, kwargs=None):
    meta = {"instruction_id_list": ids}
    if kwargs is not None:
        meta["kwargs"] = kwargs
    return JudgeItem(instruction="Write about fruit.", response=response, metadata=meta)


def test_pass_and_fail():
    items = [
        item("apples and pears", ["punctuation:no_comma", "change_case:english_lowercase"], [{}, {}]),
        # commas at 6 and 13; "Apples" 0-6 is capitalised; the two spans overlap and merge into [0, 7]
        item("Apples, pears, plums", ["punctuation:no_comma", "change_case:english_lowercase"], [{}, {}]),
    ]
    good, bad = RuleJudge().judge(items)
    assert not good.failed and good.judgment is None and good.spans is None
    assert [r["ok"] for r in json.loads(good.raw)["results"]] == [True, True]
    assert not bad.failed
    assert bad.judgment == (
        'The response contains 2 commas, e.g. in "Apples, pears"; the instruction forbids commas. '
        'The response contains 1 word with capital letters, e.g. "Apples"; the instruction asks for '
        "lowercase letters only."
    )
    assert bad.spans == [[0, 7], [13, 14]]
    assert validate_spans(bad.spans, items[1].response) == bad.spans
    raw = json.loads(bad.raw)["results"]
    assert raw[0]["spans"] == [[6, 7], [13, 14]] and raw[1]["spans"] == [[0, 6]]


def test_only_violated_constraints_are_criticised():
    # "fewer than 3 words": words one 0-3, two 4-7, three 8-13, four 14-18 → excess [8, 18]
    ids = ["punctuation:no_comma", "length_constraints:number_words"]
    verdict, = RuleJudge().judge([item("one two three four", ids, [{}, {"num_words": 3, "relation": "less than"}])])
    assert verdict.judgment.startswith("The response has 4 words; the instruction asks for fewer than 3")
    assert "comma" not in verdict.judgment
    assert verdict.spans == [[8, 18]]


def test_absence_gives_a_critique_without_spans():
    verdict, = RuleJudge().judge([item("A calm sea.", ["keywords:existence"], [{"keywords": ["waves"]}])])
    assert verdict.judgment == 'The response does not use the keyword "waves"; the instruction requires it.'
    assert verdict.spans == []


def test_failures_are_verdicts_not_exceptions():
    items = [
        item("Bonjour.", ["punctuation:no_comma", "custom:no_such_check"], [{}, {}]),
        JudgeItem(instruction="Say hi.", response="hi"),  # no constraints at all
        item("hi", ["length_constraints:number_words"], [{"relation": "less than"}]),  # kwarg missing
        item("hi", ["punctuation:no_comma"], [{}, {}]),  # kwargs length mismatch
    ]
    unsupported, empty, bad_kwargs, mismatch = RuleJudge().judge(items)
    assert unsupported.failed and "custom:no_such_check" in unsupported.error
    assert "unsupported" in unsupported.error and unsupported.judgment is None
    assert empty.failed and empty.error.startswith("no constraints")
    assert bad_kwargs.failed and "missing kwarg 'num_words'" in bad_kwargs.error
    assert mismatch.failed and "one object per instruction id" in mismatch.error


def test_empty_response_fails_everything():
    verdict, = RuleJudge().judge([item("  ", ["punctuation:no_comma"], [{}])])
    assert not verdict.failed and "empty" in verdict.judgment and verdict.spans == []


def test_judges_generated_prompts():
    prompt = VerifiablePrompt("k", "Write about owls. Do not use any commas in your response.",
                              ["punctuation:no_comma"], [{}])
    verdict, = RuleJudge().judge([JudgeItem(prompt.prompt, "Owls hoot, then fly.", prompt.as_metadata())])
    assert verdict.spans == [[9, 10]]  # "Owls hoot" is 0-9


def test_missing_kwargs_means_none_needed():
    verdict, = RuleJudge().judge([item("a, b", ["punctuation:no_comma"])])
    assert verdict.spans == [[1, 2]]


def test_make_judge():
    judge = make_judge("rules")
    assert isinstance(judge, RuleJudge) and isinstance(judge, Judge) and judge.name == "rules"
    with pytest.raises(CutError, match="takes no argument"):
        make_judge("rules:strict")
