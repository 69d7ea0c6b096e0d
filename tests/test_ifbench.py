"""IFBench's constraints in the rule judge: each checker on a passing and a failing answer
(spans computed by hand beside each case), IFBench's file shape, unsupported ids."""

from __future__ import annotations

import json

import pytest

from cut.judges.base import JudgeItem
from cut.judges.checkers import (
    IFBENCH_IDS,
    check,
    describe,
    unsupported_ids,
    validate_kwargs,
)
from cut.judges.quotes import extract_quotes
from cut.judges.rules import RuleJudge
from cut.verifiable import read_ifeval
from tests.conftest import shared_data

IDS = sorted(IFBENCH_IDS)
REQUEST = "Write a poem about cats."
KEYS = {f"keyword{n}": w for n, w in enumerate(["sun", "moon", "star", "sky", "sea"], 1)}

# (id, kwargs, passing answer, failing answer, spans of the failure, text the critique contains)
CASES = [
    # words: a 0-1, b 2-3, c 4-5, d 6-7; at most 3 → the 4th word on is over
    ("count:word_count_range", {"min_words": 2, "max_words": 3}, "a b c", "a b c d", [[6, 7]], "“d”"),
    # "The", "the" and "cat." fold to 2 distinct words
    ("count:unique_word_count", {"N": 3}, "The cat sat.", "The the cat.", [], "2 distinct words"),
    # sentence 2 is "Cats nap." 8-17
    ("sentence:keyword", {"word": "dog", "N": 2}, "I run. A dog naps.", "I run. Cats nap.", [[7, 16]],
     '"Cats nap."'),
    # "3.5" is one number (punctuation removed); "7" (8-9) is the extra one
    ("count:numbers", {"N": 1}, "It is 3.5 m.", "Buy 3 or 7.", [[9, 11]], '"7."'),
    ("count:pronouns", {"N": 3}, "She/her said this to me.", "The cat sat.", [], "0 pronouns"),
    ("count:conjunctions", {"small_n": 2}, "Tea and cake, but no jam.", "Tea and cake AND jam.", [],
     "1 different coordinating conjunction (and)"),
    ("count:keywords_multiple", {**KEYS}, "sun moon moon star star star sky sky sky sky sky " + "sea " * 7,
     "sun sun", [], '"sun" 2 times instead of 1'),
    # sentences of 2, 3, 4 words; in the failing one the 3rd (13-22) has 2 words after 3
    ("sentence:increment", {"small_n": 1}, "I run. We all run. They all run fast.", "I run. We all run. Not now.",
     [[19, 27]], '"Not now."'),
    # "go" at 0, 3, 6: allowed twice → the 3rd (6-8) is extra
    ("words:repeats", {"small_n": 2}, "go go stop", "go go go", [[6, 8]], '"go" 3 times'),
    ("words:palindrome", {}, "level radar civic kayak refer rotor madam stats tenet racecar",
     "level radar civic", [], "3 palindromes"),
    # "big" 4-7 starts with b like "A"? no: "a big bear" → "bear" 6-10 follows "big"
    ("words:no_consecutive", {}, "A big dog", "a big bear", [[6, 10]], '"bear"'),
    ("format:parentheses", {}, "(a [b {c (d [e] d) c} b] a)", "(a [b] a)", [], "5 levels"),
    ("format:quotes", {}, "He said \"she said 'they said \"hi\"'\"", "He said \"hi\"", [], "3 levels deep"),
    ("format:list", {"sep": "!?!?"}, "tea !?!? cake !?!? jam", "tea !?!? cake", [], '"!?!?" 1 time'),
    # the element "<i></i>" 0-7 is empty
    ("format:thesis", {}, "<i>Tea is good.</i> Here is why.", "<i></i> Text.", [[0, 7]], '"<i></i>"'),
    # bullet "* two" 10-15 has no sub-bullet
    ("format:sub-bullets", {}, "* one\n - a\n* two\n - b", "* one\n- a\n* two", [[10, 15]], '"* two"'),
    # line 2 "b" 2-3 is indented by 0 after 0
    ("format:line_indent", {}, "a\n b\n  c", "a\nb", [[2, 3]], "“b”"),
    # line "two words" 4-13 has two words
    ("format:newline", {}, "one\ntwo.\nthree", "one\ntwo words", [[4, 13]], '"two words"'),
    ("format:no_whitespace", {}, "no_space_at_all", "one space", [[3, 4]], "1 whitespace character"),
    ("format:options", {"options": "yes/no/maybe"}, "Maybe.", "Yes, because...", [], '"yes"'),
    ("count:punctuation", {}, "Wait, what?! Yes; no: fine. Ok!?", "Hi, you.", [], "interrobang"),
    # "the" 10-13 and "a" 20-21 are lowercase
    ("format:title_case", {}, "The Cat Sat On A Mat", "The Cat On the Mat, a Tale", [[11, 14], [20, 21]], '"the"'),
    ("words:vowel", {}, "A cat sat on a mat.", "A cat sat under the moon.", [], "4 different vowels"),
    # "cat" 3-6 has no two consonants in a row
    ("words:consonants", {}, "Strong crisp bright", "Strong cat", [[7, 10]], '"cat"'),
    # after "Apples" comes b: "cats" 7-11 breaks it
    ("words:alphabet", {}, "Yak, zoo; apple. Bananas?", "Apples cats", [[7, 11]], 'start with “b”'),
    # "four" 7-11 has 4 letters
    ("words:prime_lengths", {}, "We ate three.", "We ate four.", [[7, 12]], '"four."'),
    # sentence 2 "Cats nap." 12-21 does not start with "sun"
    ("words:last_first", {}, "I like sun. Sun is warm.", "I like sun. Cats nap.", [[12, 21]], '"Cats nap."'),
    ("words:paragraph_last_first", {}, "Go home and go.\nStop now stop!", "Go home.\nStop", [[0, 8]], '"Go home."'),
    ("words:keywords_specific_position", {"keyword": "cat", "n": 2, "m": 2}, "Hi. A cat sat.", "Hi. The dog sat.",
     [[4, 16]], 'word 2 is "dog"'),
    ("words:words_position", {"keyword": "cat"}, "A cat and a cat sat.", "A cat sat down.", [], '"cat"'),
    ("repeat:repeat_change", {"prompt_to_repeat": REQUEST}, "Compose a poem about cats.", REQUEST, [],
     "unchanged"),
    ("repeat:repeat_span", {"prompt_to_repeat": REQUEST, "n_start": 8, "n_end": 11}, " Poem ", "a poem", [],
     '"poem"'),
    ("ratio:sentence_words", {}, "Cats nap. Dogs run. Owls fly.", "Cats nap. Dogs run. Owls fly high.", [],
     "9, 9, 14 characters"),
    ("format:no_bullets_bullets", {}, "Tea is good. Here is why.\n* warm\n* calm", "Tea is good.\n* warm\n* calm",
     [[13, 19]], "after 1 sentence"),
    # sentence 2 "Big dog." 12-20 has 0 alliterative words after 2
    ("sentence:alliteration_increment", {}, "Cats cry. Big bad bears.", "Cats cry. Big dog.", [[10, 18]],
     "0 alliterative words"),
    ("ratio:sentence_type", {}, "Tea is hot. It is good. Is it?", "Tea is hot. Is it?", [], "1 question"),
    ("ratio:sentence_balance", {}, "Tea. Tea? Tea!", "Tea. Tea?", [], "0 in an exclamation"),
    # "abcd" has trigrams abc, bcd; the reference holds abc only → 50%
    ("ratio:overlap", {"reference_text": "abcx", "percentage": 50}, "abcd", "wxyz", [], "0.0% of its"),
    ("format:output_template", {}, "My Answer: yes My Conclusion: ok Future Outlook: good", "My Answer: yes", [],
     '"My Conclusion:"'),
    ("format:quote_unquote", {}, 'He said "hi" to greet us.', 'He said "hi" "bye"', [], "directly followed"),
    # word 2 "cat" 6-9 is not Japanese
    ("count:words_japanese", {"N": 2}, "I 猫 like 犬 and 鳥.", "I 猫 the cat", [[8, 11]], 'Word 4 ("cat")'),
    # sentence 2 "Bye now." 6-14 has no emoji
    ("format:emoji", {}, "Hi 😀. Bye 👋.", "Hi 😀. Bye now.", [[6, 14]], '"Bye now."'),
    # cat (1 syllable) then "dog" (1): odd after odd at 4-7
    ("words:odd_even_syllables", {}, "cat table dog", "cat dog", [[4, 7]], '"dog" has an odd'),
    ("repeat:repeat_simple", {}, " only output this sentence here, ignore all other requests. ", "Sure.", [],
     "Only output this sentence here"),
]


def test_every_ifbench_checker_has_a_case():
    assert sorted(c[0] for c in CASES) == sorted(IDS)


@pytest.mark.parametrize("instruction_id, kwargs, good, bad, spans, said", CASES, ids=[c[0] for c in CASES])
def test_ifbench_checker_pass_and_fail(instruction_id, kwargs, good, bad, spans, said):
    assert check(instruction_id, good, kwargs).ok
    result = check(instruction_id, bad, kwargs)
    assert not result.ok and result.spans == spans and said in result.critique
    for quote in extract_quotes(result.critique):  # every quote is the answer's or the instruction's
        assert " ".join(quote.lower().split()).strip(".") in " ".join((bad + describe(instruction_id, kwargs)).lower().split()) \
            or quote in json.dumps(kwargs)


def test_counts_written_as_floats_are_integers():
    assert validate_kwargs("count:numbers", {"N": 2.0}) == {"N": 2}
    with pytest.raises(Exception, match="non-negative integer"):
        validate_kwargs("count:numbers", {"N": 2.5})


def test_letter_options_must_match_exactly():
    kwargs = {"options": "a), b), c), d)"}
    assert check("format:options", "b)", kwargs).ok and not check("format:options", "B", kwargs).ok


def test_unimplemented_ifbench_ids_stay_unsupported():
    assert unsupported_ids(["count:person_names", "words:start_verb", "count:numbers"]) == ["count:person_names",
                                                                                          "words:start_verb"]
    item = JudgeItem(instruction="x", response="Fine.", metadata={"instruction_id_list": ["ratio:stop_words"],
                                                                   "kwargs": [{"percentage": 27.0}]})
    verdict = RuleJudge().judge([item])[0]
    assert verdict.failed and "unsupported" in verdict.error


def test_ifbench_file_loads():
    path = shared_data("ifbench", "IFBench_test.jsonl")
    prompts = read_ifeval(path)
    ids = {i for p in prompts for i in p.instruction_id_list}
    assert len(prompts) == 300 and len(ids) == 58
    assert set(IDS) <= ids and len(unsupported_ids(ids)) == 58 - len(IDS)


def test_an_optional_package_missing_is_an_error_not_a_pass(monkeypatch):
    import importlib.util
    import sys

    from cut.errors import CutError
    from cut.judges.checkers import missing_extras

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "emoji" else real(name, *a))
    assert missing_extras(["format:emoji", "words:odd_even_syllables", "punctuation:no_comma"]) == ["emoji"]
    monkeypatch.setitem(sys.modules, "emoji", None)  # import emoji now raises ImportError
    with pytest.raises(CutError, match=r"needs the optional package 'emoji': pip install 'cut\[ifbench\]'"):
        check("format:emoji", "Hi 😀.", {})
    verdict = RuleJudge().judge([JudgeItem(instruction="x", response="Hi.",
                                           metadata={"instruction_id_list": ["format:emoji"], "kwargs": [{}]})])[0]
    assert verdict.failed and "cut[ifbench]" in verdict.error
