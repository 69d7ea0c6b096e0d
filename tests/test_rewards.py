"""Rewards for DeAL and best-of-N (cut.rewards): hand-computed scores and the spec parser."""

from __future__ import annotations

import pytest

from cut.errors import CutError
from cut.rewards import (JudgeReward, KeywordReward, LengthReward, RewardItem, RuleReward, WeightedReward,
                         make_reward)

NO_COMMA_SHORT = RewardItem("Write about owls. No commas, fewer than 5 words.",
                            {"instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
                             "kwargs": [{}, {"relation": "less than", "num_words": 5}]})


def test_rule_reward_is_the_fraction_of_constraints_held():
    texts = ["owls hoot", "owls, hoot", "owls hoot at night in woods", "owls, hoot at night in woods", "  "]
    # 2/2 held; comma → 1/2; 6 words (not < 5) → 1/2; both broken → 0; empty text holds nothing → 0
    assert RuleReward().score([(NO_COMMA_SHORT, t) for t in texts]) == [1.0, 0.5, 0.5, 0.0, 0.0]


def test_rule_reward_refuses_items_it_cannot_check():
    with pytest.raises(CutError, match="needs IFEval-style constraints"):
        RuleReward().check([RewardItem("Say hi.")])
    with pytest.raises(CutError, match="no checker implements custom:no_such_check"):
        RuleReward().check([RewardItem("x", {"instruction_id_list": ["custom:no_such_check"],
                                             "kwargs": [{}]})])
    with pytest.raises(CutError, match="missing kwarg 'num_words'"):
        RuleReward().check([RewardItem("x", {"instruction_id_list": ["length_constraints:number_words"],
                                             "kwargs": [{"relation": "less than"}]})])
    RuleReward().check([NO_COMMA_SHORT])  # a good item passes


def test_keyword_coverage():
    reward = KeywordReward(["sun", "moon"])
    item = RewardItem("x")
    # case-insensitive substrings, as IFEval's keywords:existence: "Sunny" holds "sun"
    assert reward.score([(item, "The Sun is up."), (item, "Sunny moonlight"), (item, "rain")]) == [0.5, 1.0, 0.0]


def test_keywords_from_the_prompt():
    existence = RewardItem("x", {"instruction_id_list": ["keywords:existence", "punctuation:no_comma"],
                                 "kwargs": [{"keywords": ["hive", "honey", "bees"]}, {}]})
    field = RewardItem("x", {"keywords": "red, blue"})
    reward = KeywordReward()
    reward.check([existence, field])
    # 1 of 3 (honey) and 1 of 2 (blue)
    assert reward.score([(existence, "Honey is sweet."), (field, "a blue sky")]) == [pytest.approx(1 / 3), 0.5]
    with pytest.raises(CutError, match="keywords:a,b"):
        reward.check([RewardItem("Say hi.")])


def test_length_reward():
    reward = LengthReward(2, 4)
    texts = ["", "one", "one two three", "a b c d e f g h"]
    # 0 words → 0/2; 1 → 1/2; 3 → inside → 1; 8 → 4/8
    assert reward.score([(RewardItem("x"), t) for t in texts]) == [0.0, 0.5, 1.0, 0.5]
    assert LengthReward(0, 80).value(100) == 0.8 and LengthReward(20).value(1000) == 1.0
    # words are IFEval's \w+ runs: "don't stop" is 3 words, over a limit of 2 → 2/3
    assert LengthReward(0, 2).score([(RewardItem("x"), "don't stop")]) == [pytest.approx(2 / 3)]


def test_judge_reward_wraps_any_judge():
    from cut.judges import make_judge

    reward = JudgeReward(make_judge("rules"), "rules")
    scores = reward.score([(NO_COMMA_SHORT, "owls hoot"), (NO_COMMA_SHORT, "owls, hoot"),
                           (RewardItem("no constraints"), "text")])
    assert scores == [1.0, 0.0, 0.0] and reward.failures == 1  # the last is a judge failure, not a pass


class Counting:
    def __init__(self, name, value):
        self.name, self.value, self.calls = name, value, 0

    def check(self, items):
        pass

    def score(self, pairs):
        self.calls += 1
        return [self.value] * len(pairs)


def test_weighted_sum_normalises_weights_and_calls_each_term_once_per_batch():
    a, b = Counting("a", 1.0), Counting("b", 0.2)
    reward = WeightedReward([(a, 3.0), (b, 1.0)])
    # weights 3/4 and 1/4: 0.75 · 1 + 0.25 · 0.2 = 0.8
    assert reward.score([(RewardItem("x"), "t")] * 5) == [pytest.approx(0.8)] * 5
    assert a.calls == b.calls == 1


def test_spec_parser_builds_each_reward():
    assert isinstance(make_reward("rules"), RuleReward)
    kw = make_reward("keywords:sun, moon")
    assert isinstance(kw, KeywordReward) and kw.keywords == ["sun", "moon"]
    assert isinstance(make_reward("keywords"), KeywordReward) and make_reward("keywords").keywords == []
    length = make_reward("length:-80")
    assert (length.lo, length.hi) == (0, 80) and (make_reward("length:20-").lo, make_reward("length:20-").hi) == (20, None)
    assert isinstance(make_reward("judge:rules"), JudgeReward)
    mixed = make_reward("rules@0.7+length:0-80@0.3")
    assert isinstance(mixed, WeightedReward) and mixed.name == "rules@0.7+length:0-80@0.3"
    assert [type(r) for r, _ in mixed.terms] == [RuleReward, LengthReward]
    assert [w for _, w in mixed.terms] == pytest.approx([0.7, 0.3])
    # weights default to 1, then normalise: keywords:sun + length:2-4@3 → 1/4 and 3/4
    text = "sun"  # keywords 1.0, length 1/2 → 0.25 · 1 + 0.75 · 0.5 = 0.625
    assert make_reward("keywords:sun+length:2-4@3").score([(RewardItem("x"), text)]) == [pytest.approx(0.625)]


@pytest.mark.parametrize("spec,message", [
    ("", "empty reward spec"),
    ("bogus", "unknown reward 'bogus'"),
    ("rules:strict", "takes no argument"),
    ("keywords:a,,b", "empty keyword"),
    ("length:abc", "give a word range"),
    ("length:ten-20", "whole numbers"),
    ("length:80-20", "lo <= hi"),
    ("length:-", "give a word range"),
    ("rules@heavy", "must be a number"),
    ("rules@0", "must be positive"),
    ("rules+", "empty term"),
    ("judge:", "needs a judge spec"),
    ("judge:nope", "unknown judge"),
])
def test_spec_errors_are_clear(spec, message):
    with pytest.raises(CutError, match=message):
        make_reward(spec)
