"""cut.judges.checkers: every IFEval-family checker on a passing and a failing response,
with the violation spans computed by hand (offsets written next to each case)."""

from __future__ import annotations

import pytest

from cut.errors import CutError
from cut.judges.checkers import IFBENCH_IDS, SPECS, check, describe, unsupported_ids, validate_kwargs
from cut.judges.quotes import extract_quotes, locate
from cut.judges.text_units import sentence_spans, word_spans

LT, AL = "less than", "at least"

# (id, kwargs, passing response, failing response, spans of the failure, text the critique quotes)
CASES = [
    # commas at 6 and 13: "apples" is 0-5, "," 6; " pears" 7-12, "," 13
    ("punctuation:no_comma", {}, "apples and pears", "apples, pears, plums", [[6, 7], [13, 14]], '"apples, pears"'),
    # words: one 0-3, two 4-7, three 8-13, four 14-18; "fewer than 3" → words 3.. are excess → [8, 18]
    ("length_constraints:number_words", {"num_words": 3, "relation": LT}, "one two", "one two three four",
     [[8, 18]], '"three four"'),
    # "It rains." 0-9, "We stay in." 10-21, "Dr. Lee reads!" 22-36 ("Dr." does not end a sentence)
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": LT}, "It rains. We stay in.",
     "It rains. We stay in. Dr. Lee reads!", [[22, 36]], '"Dr. Lee reads!"'),
    # "First part." 0-11, "\n***\n" 11-16, "Second part." 16-28, "\n***\n" 28-33, "Third part." 33-44
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2}, "First part.\n***\nSecond part.",
     "First part.\n***\nSecond part.\n***\nThird part.", [[33, 44]], '"Third part."'),
    # "Hello there." 0-12, "\n\n" 12-14, "After" 14-19
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "then"},
     "Hello there.\n\nThen, we left.", "Hello there.\n\nAfter that, we left.", [[14, 19]], '"After"'),
    # "Hello" 0-5, "I" 13-14 (a one-character excerpt gets curly quotes, see checker_base.quote)
    ("change_case:english_lowercase", {}, "hello world, i am here", "Hello world, I am here", [[0, 5], [13, 14]],
     '"Hello" and “I”'),
    # "World" 6-11
    ("change_case:english_capital", {}, "THIS IS MY ANSWER!", "THIS IS MY Answer!", [[11, 17]], '"Answer"'),
    # capital words NASA 4-8, ESA 13-16, UK 21-23; fewer than 2 allowed → 2nd and 3rd are excess
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": LT}, "The NASA team",
     "The NASA and ESA and UK teams", [[13, 16], [21, 23]], '"and ESA and"'),
    # "pizza": z at 2 and 3; fewer than 2 → the 2nd z (3-4) is excess
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 2, "let_relation": LT}, "zebra", "pizza",
     [[3, 4]], '"pizza"'),
    # the whole answer is in the wrong language: no span
    ("language:response_language", {"language": "fr"}, "Bonjour, je suis ici et je parle français avec vous.",
     "Hello, I am here and I speak English with you.", [], "English (en)"),
    ("keywords:existence", {"keywords": ["ocean", "Waves"]}, "WAVES roll over the ocean.", "The Ocean is calm.",
     [], '"Waves"'),
    # whole words only: "sea" 4-7 and "Sea" 13-16, not "seaside"
    ("keywords:forbidden_words", {"forbidden_words": ["sea"]}, "seaside walks", "The sea, the Sea and seaside",
     [[4, 7], [13, 16]], '"sea" 2 times'),
    # IFEval counts substrings: "sea and seaside" has 2; fewer than 2 → the 2nd ("sea" in seaside, 8-11) is
    # excess, quoted with one word of context each side
    ("keywords:frequency", {"keyword": "sea", "frequency": 2, "relation": LT}, "the sea", "sea and seaside",
     [[8, 11]], '"and seaside"'),
    ("detectable_content:number_placeholders", {"num_placeholders": 2}, "Dear [name], at [address].",
     "Dear [name].", [], "1 placeholder"),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi.\n\np. s. see you", "Hi.\n\nPS see you",
     [], '"P.S."'),
    # "* a" 0-3, "* b" 4-7, "- c" 8-11: the 3rd bullet is extra
    ("detectable_format:number_bullet_lists", {"num_bullets": 2}, "* a\n* b", "* a\n* b\n- c", [[8, 11]], '"- c"'),
    # parsing fails at offset 0; the span runs to the end of that (only) line
    ("detectable_format:json_format", {}, '```json\n{"a": 1}\n```', 'Here: {"a": 1}', [[0, 14]], 'Here: {"a": 1}'),
    ("detectable_format:title", {}, "<<My Poem>>\nRoses.", "<< >>\nRoses.", [], "<<my title>>"),
    # "*one*" counts once as single, "**two**" once as double
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2}, "*one* and **two**", "*one* and two",
     [], "1 highlighted section"),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "Section 1\nIntro\nSection 2\nBody", "Section 1\nIntro and body", [], '"Section X"'),
    ("detectable_format:constrained_response", {}, "I think so. My answer is yes.", "Yes.", [],
     '"My answer is maybe."'),
    # "Same.\n" 0-6, "******" 6-12, "\nSame." 12-18 → second answer stripped is 13-18
    ("combination:two_responses", {}, "Answer A.\n******\nAnswer B.", "Same.\n******\nSame.", [[13, 18]], '"Same."'),
    # "That is all." 0-12, "Bye." 13-17: the last sentence is flagged
    ("startend:end_checker", {"end_phrase": "That is all."}, '"Fine. THAT IS ALL."', "That is all. Bye.",
     [[13, 17]], '"Bye."'),
    # "Owls hoot." 0-10
    ("startend:start_checker", {"start_phrase": "Sure thing!"}, "sure thing! Owls hoot.", "Owls hoot. Sure thing!",
     [[0, 10]], '"Owls hoot."'),
    ("startend:quotation", {}, '"Hi there"', 'Hi "there"', [], 'Hi "there"'),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "write a poem. Roses are red.",
     "Roses are red.", [[0, 14]], '"Roses are red."'),
]


def test_every_checker_has_a_case():
    assert sorted(c[0] for c in CASES) == sorted(set(SPECS) - IFBENCH_IDS)  # IFBench's: tests/test_ifbench.py
    assert len(SPECS) >= 16


@pytest.mark.parametrize("instruction_id, kwargs, good, bad, spans, quoted", CASES, ids=[c[0] for c in CASES])
def test_checker_pass_and_fail(instruction_id, kwargs, good, bad, spans, quoted):
    ok = check(instruction_id, good, kwargs)
    assert ok.ok and ok.critique is None and ok.spans == []
    result = check(instruction_id, bad, kwargs)
    assert not result.ok
    assert result.spans == spans
    assert quoted in result.critique
    for start, end in result.spans:  # each span is a real piece of the response
        assert 0 <= start < end <= len(bad)


@pytest.mark.parametrize("instruction_id, kwargs, good, bad, spans, quoted", CASES, ids=[c[0] for c in CASES])
def test_quotes_are_found_again(instruction_id, kwargs, good, bad, spans, quoted):
    """What extract_quotes reads back from a critique is text of the response or of the instruction."""
    result = check(instruction_id, bad, kwargs)
    quotes = extract_quotes(result.critique)
    assert quotes or not result.spans  # a violation with a span always quotes it
    for q in quotes:
        from_instruction = q in describe(instruction_id, kwargs) or any(q in str(v) for v in kwargs.values())
        assert locate(q, bad) is not None or from_instruction, q


def test_relations_follow_ifeval():
    """'less than' is strict, 'at least' inclusive; a lower limit missed has no span."""
    three = "one two three"
    assert not check("length_constraints:number_words", three, {"num_words": 3, "relation": LT}).ok
    assert check("length_constraints:number_words", three, {"num_words": 4, "relation": LT}).ok
    assert check("length_constraints:number_words", three, {"num_words": 3, "relation": AL}).ok
    short = check("length_constraints:number_words", three, {"num_words": 4, "relation": AL})
    assert not short.ok and short.spans == []
    assert "has 3 words" in short.critique and "at least 4" in short.critique
    assert check("keywords:frequency", "sea and seaside", {"keyword": "sea", "frequency": 2, "relation": AL}).ok
    assert check("keywords:letter_frequency", "pizza", {"letter": "Z", "let_frequency": 2, "let_relation": AL}).ok


def test_lowercase_without_letters_fails_without_spans():
    # str.islower() is False when there is no cased character at all (IFEval's rule)
    result = check("change_case:english_lowercase", "123 456", {})
    assert not result.ok and result.spans == [] and "no lowercase letters" in result.critique


def test_paragraph_dividers():
    # a blank first piece is ignored; a blank piece between dividers fails
    assert check("length_constraints:number_paragraphs", "***\nA\n***\nB", {"num_paragraphs": 2}).ok
    # "A" 0, "\n***\n" 1-6, "***\n" 6-10: the gap between the dividers, stripped, is "***\n***" = [2, 9]
    result = check("length_constraints:number_paragraphs", "A\n***\n***\nB", {"num_paragraphs": 2})
    assert not result.ok and result.spans == [[2, 9]] and "empty paragraph" in result.critique


def test_json_error_on_a_later_line():
    # '{"a": 1,\n"b": }': line 2 starts at 9; '"b": ' is 5 characters, so "}" is at 14
    result = check("detectable_format:json_format", '{"a": 1,\n"b": }', {})
    assert result.spans == [[14, 15]] and "expecting value" in result.critique


def test_bullets_too_few_and_bold_lines():
    result = check("detectable_format:number_bullet_lists", "* a\n**bold** line", {"num_bullets": 2})
    assert not result.ok and result.spans == [] and "1 bullet point" in result.critique


def test_postscript_pps_marker():
    assert check("detectable_content:postscript", "Bye.\nP.P.S one more", {"postscript_marker": "P.P.S"}).ok
    assert not check("detectable_content:postscript", "Bye.\nP.S. one more", {"postscript_marker": "P.P.S"}).ok


def test_long_excerpts_are_cut_outside_the_quotes():
    text = "word " * 60
    result = check("length_constraints:number_words", text, {"num_words": 2, "relation": LT})
    # the excerpt is cut at a word boundary and the ellipsis sits after the closing quote
    assert '"..." ' not in result.critique and 'word"...' in result.critique
    assert result.spans == [[5, 299]]  # word 2 starts at 5; the 60th word ends at 59*5+4 = 299


def test_text_units():
    assert word_spans("don't stop") == [(0, 3), (4, 5), (6, 10)]  # \w+ runs, as IFEval counts
    # Punkt's convention: "e.g." ends a sentence (it is not among its abbreviations), the
    # initial "J." does not, and a newline alone does not either
    assert sentence_spans("Use e.g. this. J. Smith came\nhome. End") == [(0, 8), (9, 14), (15, 34), (35, 38)]


def test_unknown_id_and_bad_kwargs():
    with pytest.raises(CutError, match="unknown instruction id 'custom:no_such_check'"):
        check("custom:no_such_check", "hi", {})
    with pytest.raises(CutError, match="missing kwarg 'num_words'"):
        check("length_constraints:number_words", "hi", {"relation": LT})
    with pytest.raises(CutError, match="kwarg 'relation' must be one of"):
        check("length_constraints:number_words", "hi", {"relation": "at most", "num_words": 3})
    with pytest.raises(CutError, match="unknown kwarg 'num_word'"):
        validate_kwargs("length_constraints:number_words", {"relation": LT, "num_words": 3, "num_word": 3})
    # the Hugging Face copy of IFEval stores unused kwargs as null: they are dropped
    assert validate_kwargs("punctuation:no_comma", {"num_words": None, "relation": None}) == {}
    assert unsupported_ids(["punctuation:no_comma", "custom:no_such_check", "custom:no_such_check"]) \
        == ["custom:no_such_check"]


def test_describe():
    assert describe("punctuation:no_comma", {}) == "Do not use any commas in your response."
    assert describe("length_constraints:number_words", {"num_words": 40, "relation": LT}) == \
        "Answer with fewer than 40 words."
    assert describe("startend:end_checker", {"end_phrase": "That is all."}) == \
        'End your response with the exact phrase "That is all."; no other words may follow it.'
    for instruction_id, kwargs, *_ in CASES:  # every id describes itself in a sentence
        text = describe(instruction_id, kwargs)
        assert text[0].isupper() and text.endswith((".", ":")), text
