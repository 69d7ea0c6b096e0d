"""How a generated prompt states its constraint, per split.

The train split states each constraint in the words ``cut.judges.checkers.describe`` gives;
the eval split states it in different words, written here. A model trained on the train
split and scored on the eval split has then never seen the sentence that states a held-out
constraint, so a gain means it follows the instruction, not a memorised sentence (issue 21:
"phrasing must not leak"). The checks are the same for both splits: only the wording differs.

Every eval phrasing shares no sentence with its train phrasing; ``tests/test_verifiable.py``
checks that no eval sentence occurs in any train prompt.
"""

from __future__ import annotations

from typing import Callable

from cut.judges.checker_base import LESS_THAN, plural, quote


def _limit(unit: str, key: str) -> Callable[[dict], str]:
    def say(kw: dict) -> str:
        n = kw[key]
        if kw["relation"] == LESS_THAN:
            return f"Keep the whole reply under {n} {unit}."
        return f"The reply needs {n} {unit} or more."
    return say


EVAL_PHRASINGS: dict[str, Callable[[dict], str]] = {
    "punctuation:no_comma": lambda kw: "Avoid commas entirely: not a single one may appear in what you write.",
    "length_constraints:number_words": _limit("words", "num_words"),
    "length_constraints:number_sentences": _limit("sentences", "num_sentences"),
    "length_constraints:number_paragraphs": lambda kw: f"Split the reply into exactly {plural(kw['num_paragraphs'], 'block')} "
                                                       "of text, with the markdown divider *** between blocks.",
    "change_case:english_lowercase": lambda kw: "Do not use any uppercase letters at all: every letter of the "
                                                "reply must be small.",
    "change_case:english_capital": lambda kw: "Every letter of the reply must be uppercase.",
    "keywords:existence": lambda kw: f"Make sure the word {' and the word '.join(quote(k, None) for k in kw['keywords'])} "
                                     "appears somewhere in the reply.",
    "keywords:forbidden_words": lambda kw: f"Never write {' or '.join(quote(k, None) for k in kw['forbidden_words'])}.",
    "keywords:frequency": lambda kw: (f"Mention {quote(kw['keyword'], None)} no fewer than {kw['frequency']} times."
                                      if kw["relation"] != LESS_THAN else
                                      f"Mention {quote(kw['keyword'], None)} under {kw['frequency']} times."),
    "startend:end_checker": lambda kw: f"The very last words of the reply must be {quote(kw['end_phrase'].strip(), None)}, "
                                       "with nothing after them.",
    "startend:start_checker": lambda kw: f"Begin the reply with the words {quote(kw['start_phrase'].strip(), None)}.",
    "startend:quotation": lambda kw: "Put the whole reply inside double quotes, from its first word to its last.",
    "detectable_content:postscript": lambda kw: f"Close the reply with a note that begins with "
                                                f"{quote(kw['postscript_marker'], None)}.",
    "detectable_content:number_placeholders": lambda kw: f"Leave {plural(kw['num_placeholders'], 'blank')} or more "
                                                         "in square brackets, like [place], for the reader to fill in.",
    "detectable_format:title": lambda kw: "Begin with a heading enclosed in double angle brackets, for example "
                                          "<<a heading>>.",
    "detectable_format:number_bullet_lists": lambda kw: f"Format the reply as a list of exactly "
                                                        f"{plural(kw['num_bullets'], 'point')} using markdown bullets "
                                                        "(* like this).",
    "detectable_format:number_highlighted_sections": lambda kw: f"Mark {plural(kw['num_highlights'], 'part')} or more of "
                                                                "the reply with asterisks, e.g. *important part*.",
    "detectable_format:json_format": lambda kw: "Reply with valid JSON only.",
}


def phrase(instruction_id: str, kwargs: dict, split: str) -> str:
    """The sentence that states the constraint in a prompt of ``split``."""
    if split == "eval":
        return EVAL_PHRASINGS[instruction_id](kwargs)
    from cut.judges.checkers import describe

    return describe(instruction_id, kwargs)
