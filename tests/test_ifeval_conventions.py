"""IFEval's conventions, pinned by hand-written cases: how the official checker counts
sentences (nltk's Punkt), capitalised words (nltk's word_tokenize), letters, keywords and
languages; the odd kwargs of IFEval's own file; and agreement with the official verdicts
recorded in the committed bench sample (bench/ifeval_agreement.py)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from cut.errors import CutError
from cut.judges.base import JudgeItem
from cut.judges.checkers import (
    IFBENCH_IDS,
    SPECS,
    check,
    unsupported_ids,
    validate_kwargs,
)
from cut.judges.rules import RuleJudge
from cut.judges.text_units import sentence_spans, treebank_spans
from cut.verifiable import read_ifeval
from tests.conftest import REPO, shared_data

LT, AL = "less than", "at least"
IFEVAL_IDS = set(SPECS) - IFBENCH_IDS - {"startend:start_checker"}  # start_checker is ours


def _bench():
    spec = importlib.util.spec_from_file_location("ifeval_agreement", REPO / "bench" / "ifeval_agreement.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


@pytest.mark.parametrize("text, expected", [
    # a known abbreviation, an initial or an ellipsis does not end a sentence ...
    ("Mr. Smith met J. Lee. They talked.", ["Mr. Smith met J. Lee.", "They talked."]),
    ("Wait... what now?", ["Wait... what now?"]),
    # ... unless a capitalised common opener follows
    ("It is 3 p.m. The sun set.", ["It is 3 p.m.", "The sun set."]),
    ("I see... The end.", ["I see...", "The end."]),
    # dotted forms Punkt never learned end a sentence, whatever follows
    ("See i.e. the rest.", ["See i.e.", "the rest."]),
    ("P.S. Bye now", ["P.S.", "Bye now"]),
    # a number ends one unless a lowercase word follows
    ("It cost 5. the price rose.", ["It cost 5. the price rose."]),
    ("It cost 5. The price rose.", ["It cost 5.", "The price rose."]),
    ("1. **open** it", ["1.", "**open** it"]),
    # "?" and "!" always end one; closers stay with it, also before a comma
    ("Is it? yes it is.", ["Is it?", "yes it is."]),
    ('He said "Go!", and left.', ['He said "Go!"', ", and left."]),
    ("Wow!?! Great", ["Wow!?!", "Great"]),
    # an end may be followed directly by "*" or "(" ...; a letter or a newline alone does not end one
    ("Done.* Next one.", ["Done.", "* Next one."]),
    ("x.Then y\nand z.", ["x.Then y\nand z."]),
    # a closing quote left alone after a space goes back to its sentence
    ('It is 8. " Next', ['It is 8. "', "Next"]),
])
def test_sentences_follow_punkt(text, expected):
    assert sentences(text) == expected


@pytest.mark.parametrize("text, capitals", [
    ("I DON'T know", ["I", "DO", "N'T"]),  # contractions split, both halves count
    ("The U.S. team AND/OR the crew", ["U.S.", "AND/OR"]),  # periods and slashes keep a token whole
    ("We CANNOT, it's NASA's AI-powered rover", ["CAN", "NOT", "NASA"]),  # "'s" apart; "AI-powered" is mixed
    ("'HELLO' Q&A TL;DR 1,000 (USA)", ["HELLO", "Q", "A", "TL", "DR", "USA"]),
    ("**BOLD** and *Mixed*", ["BOLD"]),
])
def test_capital_words_follow_word_tokenize(text, capitals):
    assert [text[a:b] for a, b in treebank_spans(text) if text[a:b].isupper()] == capitals
    kwargs = {"capital_frequency": len(capitals), "capital_relation": AL}
    assert check("change_case:capital_word_frequency", text, kwargs).ok
    assert not check("change_case:capital_word_frequency", text, {**kwargs, "capital_frequency": len(capitals) + 1}).ok


def test_letter_kwarg_takes_ifevals_marks():
    """IFEval's file asks for "#" (hashtags, key 1122) and "!" (key 1129); any one non-space character is counted."""
    hashtags = {"letter": "#", "let_frequency": 3, "let_relation": AL}
    assert check("keywords:letter_frequency", "spring #a #b #c", hashtags).ok
    result = check("keywords:letter_frequency", "spring #a", hashtags)
    assert not result.ok and 'character “#” 1 time' in result.critique
    bangs = {"letter": "!", "let_frequency": 2, "let_relation": LT}
    result = check("keywords:letter_frequency", "Hi! Yes! No!", bangs)
    assert not result.ok and result.spans == [[7, 8], [11, 12]]  # the 2nd "!" on are excess
    assert check("keywords:letter_frequency", "Tt", {"letter": "T", "let_frequency": 2, "let_relation": AL}).ok
    for bad in (" ", "ab", ""):
        with pytest.raises(CutError, match="kwarg 'letter' must be one character"):
            validate_kwargs("keywords:letter_frequency", {**hashtags, "letter": bad})


def test_keyword_frequency_counts_substrings_case_insensitively():
    """IFEval counts re matches of the keyword: "war" in "warm" and "War" count (3 here)."""
    kwargs = {"keyword": "war", "frequency": 3, "relation": AL}
    assert check("keywords:frequency", "War is bad. The warm war ended.", kwargs).ok
    assert not check("keywords:frequency", "War is bad. The war ended.", kwargs).ok
    # forbidden words are whole words: "Rocky" is not "rock"
    assert check("keywords:forbidden_words", "Rocky roads", {"forbidden_words": ["rock"]}).ok


def test_language_checks():
    french = "Le thé est une boisson chaude que beaucoup de gens aiment boire le matin."
    assert check("language:response_language", french, {"language": "fr"}).ok
    result = check("language:response_language", "Tea is a hot drink many people enjoy in the morning.",
                   {"language": "fr"})
    assert not result.ok and result.spans == [] and "English (en)" in result.critique and "French (fr)" in result.critique
    assert check("language:response_language", "12345 !!!", {"language": "kn"}).ok  # nothing to detect: passes, as IFEval
    with pytest.raises(CutError, match="kwarg 'language' must be a language code"):
        validate_kwargs("language:response_language", {"language": "klingon"})


def test_english_case_checks_require_english():
    """IFEval: islower()/isupper() and langdetect says "en" (short all-caps text often is not)."""
    assert check("change_case:english_capital", "THE WEATHER IS NICE TODAY, AND WE ARE GOING TO THE PARK.", {}).ok
    result = check("change_case:english_capital", "I LIKE YOU", {})  # detected as Italian
    assert not result.ok and "not in English" in result.critique
    result = check("change_case:english_lowercase", "je voudrais des pommes et des poires, s'il vous plaît.", {})
    assert not result.ok and "French" in result.critique


def test_ifeval_file_shape_with_every_id_loads_and_is_judged(tmp_path):
    """One line per IFEval id, kwargs as IFEval's file writes them (nulls included, "#" as a letter)."""
    kwargs = {
        "change_case:capital_word_frequency": {"capital_frequency": 2, "capital_relation": "less than"},
        "combination:repeat_prompt": {"prompt_to_repeat": "Say hi."},
        "detectable_content:number_placeholders": {"num_placeholders": 1},
        "detectable_content:postscript": {"postscript_marker": "P.P.S"},
        "detectable_format:multiple_sections": {"section_spliter": "SECTION", "num_sections": 2},
        "detectable_format:number_bullet_lists": {"num_bullets": 2},
        "detectable_format:number_highlighted_sections": {"num_highlights": 1},
        "keywords:existence": {"keywords": ["tea"]},
        "keywords:forbidden_words": {"forbidden_words": ["coffee"]},
        "keywords:frequency": {"keyword": "tea", "frequency": 1, "relation": "at least"},
        "keywords:letter_frequency": {"letter": "#", "let_frequency": 1, "let_relation": "at least"},
        "language:response_language": {"language": "kn"},
        "length_constraints:nth_paragraph_first_word": {"num_paragraphs": 2, "nth_paragraph": 1, "first_word": "tea"},
        "length_constraints:number_paragraphs": {"num_paragraphs": 2},
        "length_constraints:number_sentences": {"num_sentences": 3, "relation": "less than"},
        "length_constraints:number_words": {"num_words": 5, "relation": "at least"},
        "startend:end_checker": {"end_phrase": "Is there anything else I can help with?"},
    }
    ids = sorted(IFEVAL_IDS)
    assert len(ids) == 25
    path = tmp_path / "input_data.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for n, i in enumerate(ids):
            kw = {**kwargs.get(i, {}), "unused_kwarg_of_hf_copy": None}
            out.write(json.dumps({"key": 1000 + n, "prompt": f"Write about tea. ({i})", "instruction_id_list": [i],
                                  "kwargs": [kw]}) + "\n")
    prompts = read_ifeval(path)
    assert len(prompts) == 25 and unsupported_ids(i for p in prompts for i in p.instruction_id_list) == []
    verdicts = RuleJudge().judge([JudgeItem(instruction=p.prompt, response="Tea is warm. I like tea.",
                                            metadata=p.as_metadata()) for p in prompts])
    assert all(v.error is None for v in verdicts)


def test_an_unknown_id_is_unsupported_not_acceptable():
    item = JudgeItem(instruction="x", response="Fine.", metadata={"instruction_id_list": ["count:person_names"],
                                                                   "kwargs": [{}]})
    verdict = RuleJudge().judge([item])[0]
    assert verdict.failed and "unsupported" in verdict.error and verdict.judgment is None


def test_agreement_with_recorded_official_verdicts():
    """The committed sample: 46 hand-written answers over all 25 IFEval ids, with the verdicts the
    official checker (IFEval's code as shipped by allenai/IFBench) gave them."""
    bench = _bench()
    rows = bench.load_rows(None, None)
    assert {i for r in rows for i in r["instruction_id_list"]} == IFEVAL_IDS
    assert {v for r in rows for v in r["official"]} == {True, False}
    stats = bench.summary(bench.compare(rows, None))
    assert stats["disagreements"] == []
    assert stats["instructions"] == stats["instructions_agree"] == 44  # the "#" and "!" rows are left out
    assert sorted(r["kwargs"]["letter"] for r in stats["left_out"]) == ["!", "#"]
    assert all("replaces the non-letter" in r["note"] for r in stats["left_out"])


def test_agreement_with_the_installed_official_checker_on_gpt4_answers():
    """IFEval's 541 prompts with the GPT-4 answers released beside them: every compared
    instruction agrees (the two "#"/"!" letter-frequency instructions are left out)."""
    prompts = shared_data("ifeval", "input_data.jsonl")
    responses = shared_data("ifeval", "input_response_data_gpt4_20231107_145030.jsonl")
    bench = _bench()
    found = bench.official_checker()
    if found is None:
        pytest.skip("no official IFEval checker installed (lm-eval or ifbench)")
    try:
        found[1]("length_constraints:number_sentences", {"num_sentences": 2, "relation": "less than"}, "p", "One.")
    except LookupError as err:
        pytest.skip(f"the official checker lacks nltk data: {str(err).splitlines()[0]}")
    stats = bench.summary(bench.compare(bench.load_rows(Path(prompts), Path(responses)), found[1], found[2]))
    assert stats["disagreements"] == [] and stats["instructions"] >= 800
