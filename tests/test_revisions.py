"""The rule judge's minimal revisions: per constraint type, a failing answer gets a revision
that passes every check of its prompt (exact text where the repair is simple), and types
without a safe repair get none."""

from __future__ import annotations

import pytest

from cut.judges.base import JudgeItem
from cut.judges.checkers import check
from cut.judges.revisions import REPAIRS, complete_sentences
from cut.judges.rules import RuleJudge

LT, AL = "less than", "at least"
STORY = "The ocean is big, blue and deep. Fish swim in it. Waves roll onto the Beach."
CUT_OFF = "The ocean is big, blue and deep. Fish swim in it. Waves roll onto"

# (instruction id, kwargs, failing response, expected revision or None to only check validity)
CASES = [
    ("punctuation:no_comma", {}, STORY, "The ocean is big blue and deep. Fish swim in it. Waves roll onto the Beach."),
    ("change_case:english_lowercase", {}, STORY, STORY.lower()),
    ("change_case:english_capital", {}, STORY, STORY.upper()),
    ("startend:quotation", {}, STORY, f'"{STORY}"'),
    ("startend:end_checker", {"end_phrase": "That is all."}, STORY, STORY + " That is all."),
    ("startend:start_checker", {"start_phrase": "Sure thing!"}, STORY, "Sure thing! " + STORY),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, STORY,
     STORY + "\n\nP.S. Thank you for reading."),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, STORY,
     STORY + "\n\nP.P.S. Thank you for reading."),
    ("detectable_format:title", {}, STORY, "<<The Ocean>>\n\n" + STORY),
    ("keywords:existence", {"keywords": ["salt"]}, STORY, STORY + " It is also worth thinking about salt."),
    ("keywords:frequency", {"keyword": "fish", "frequency": 2, "relation": AL}, STORY,
     STORY + " It is also worth thinking about fish."),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, STORY,
     STORY + "\n\nWritten by [name] on [date]."),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, STORY,
     "*The ocean is big, blue and deep.* *Fish swim in it.* Waves roll onto the Beach."),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": LT}, STORY,
     "The ocean is big, blue and deep. Fish swim in it."),
    # 7 words, then 11 with the second sentence: fewer than 10 keeps one sentence
    ("length_constraints:number_words", {"num_words": 10, "relation": LT}, STORY, "The ocean is big, blue and deep."),
]


def judge(response: str, ids: list[str], kwargs: list[dict], instruction: str = "Write a short paragraph about "
          "the ocean. Follow the rule."):
    return RuleJudge().judge([JudgeItem(instruction, response, {"instruction_id_list": ids, "kwargs": kwargs})])[0]


@pytest.mark.parametrize("cid,kwargs,response,expected", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_revision_repairs_the_violation_and_passes_every_check(cid, kwargs, response, expected):
    assert not check(cid, response, kwargs).ok  # the case really fails
    verdict = judge(response, [cid], [kwargs])
    assert verdict.judgment is not None
    assert verdict.revision == expected
    assert check(cid, verdict.revision, kwargs).ok
    # and the judge itself accepts its revision
    assert judge(verdict.revision, [cid], [kwargs]).judgment is None


def test_every_repairable_type_is_tested():
    assert {c[0] for c in CASES} == set(REPAIRS)


@pytest.mark.parametrize("cid,kwargs", [
    ("keywords:forbidden_words", {"forbidden_words": ["fish"]}),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3}),
    ("detectable_format:json_format", {}),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}),
    ("length_constraints:number_words", {"num_words": 200, "relation": AL}),  # cannot invent text
])
def test_no_revision_without_a_safe_repair(cid, kwargs):
    verdict = judge(STORY, [cid], [kwargs])
    assert verdict.judgment is not None and verdict.revision is None


def test_acceptable_and_empty_answers_have_no_revision():
    assert judge("the ocean is big.", ["change_case:english_lowercase"], [{}]).revision is None
    assert judge("   ", ["change_case:english_lowercase"], [{}]).revision is None


def test_several_constraints_are_repaired_together_or_not_at_all():
    ids = ["change_case:english_lowercase", "startend:end_checker", "startend:quotation"]
    kwargs = [{}, {"end_phrase": "That is all."}, {}]
    verdict = judge(STORY, ids, kwargs)
    assert verdict.revision == '"' + STORY.lower() + ' that is all."'
    assert judge(verdict.revision, ids, kwargs).judgment is None
    # one violation without a repair: no revision at all, even though the others have one
    verdict = judge(STORY, ["change_case:english_lowercase", "keywords:forbidden_words"], [{}, {"forbidden_words": ["fish"]}])
    assert verdict.judgment is not None and verdict.revision is None


def test_a_cut_off_answer_loses_its_unfinished_sentence():
    assert complete_sentences(CUT_OFF) == "The ocean is big, blue and deep. Fish swim in it."
    assert complete_sentences("A list:\n1. One.\n2. Two.\n3.") == "A list:\n1. One.\n2. Two."
    assert complete_sentences("unfinished words") is None
    verdict = judge(CUT_OFF, ["startend:end_checker"], [{"end_phrase": "That is all."}])
    assert verdict.revision == "The ocean is big, blue and deep. Fish swim in it. That is all."
    verdict = judge(CUT_OFF, ["change_case:english_lowercase"], [{}])
    assert verdict.revision == "the ocean is big, blue and deep. fish swim in it."


def test_revision_that_would_break_another_check_is_dropped():
    # appending the end phrase pushes the answer over its word limit: no revision
    ids = ["startend:end_checker", "length_constraints:number_words"]
    kwargs = [{"end_phrase": "Is there anything else I can help with?"}, {"num_words": 16, "relation": LT}]
    response = "The ocean is big, blue and deep. Fish swim in it."
    assert check(ids[1], response, kwargs[1]).ok
    assert judge(response, ids, kwargs).revision is None


LOOP = ("Owls hunt at night. They have soft feathers. Owls hunt at night. They have soft feathers. "
        "Owls hunt at")


def test_an_answer_cut_off_at_the_limit_is_not_acceptable_and_its_loop_is_cut():
    item = JudgeItem("Write about owls. Include the word night.", LOOP,
                     {"instruction_id_list": ["keywords:existence"], "kwargs": [{"keywords": ["night"]}],
                      "truncated": True})
    verdict = RuleJudge().judge([item])[0]
    assert check("keywords:existence", LOOP, {"keywords": ["night"]}).ok  # the check alone passes
    assert verdict.judgment.startswith("The response does not finish: it repeats itself from")
    start = LOOP.index("Owls hunt at night.", 1)
    assert verdict.spans == [[start, len(LOOP)]]
    assert verdict.revision == "Owls hunt at night. They have soft feathers."
    # without the truncated flag the same text is judged by its checks alone
    item.metadata.pop("truncated")
    assert RuleJudge().judge([item])[0].judgment is None
    # cut off without a loop: the unfinished sentence goes, the critique says it should end sooner
    verdict = judge(CUT_OFF, ["keywords:existence"], [{"keywords": ["ocean"]}])
    assert verdict.judgment is None
    item = JudgeItem("Write.", CUT_OFF, {"instruction_id_list": ["keywords:existence"],
                                         "kwargs": [{"keywords": ["ocean"]}], "truncated": True})
    verdict = RuleJudge().judge([item])[0]
    assert "cut off at the length limit" in verdict.judgment and verdict.spans == []
    assert verdict.revision == "The ocean is big, blue and deep. Fish swim in it."
