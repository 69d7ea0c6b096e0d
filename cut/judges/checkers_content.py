"""Content constraints of the IFEval family: punctuation, case, keywords, letters,
placeholders, postscripts.

Semantics follow IFEval's checkers, conventions included:
- ``change_case:english_lowercase`` / ``english_capital``: ``str.islower()`` /
  ``str.isupper()`` of the whole response, and then langdetect must say English
  (``cut.judges.language``; a text it cannot classify passes, as in IFEval).
- ``language:response_language``: langdetect's code for the whole response equals the
  kwarg ``language``; an unclassifiable text passes. No span: the whole answer is at fault.
- ``change_case:capital_word_frequency`` counts the tokens of nltk's ``word_tokenize``
  (reproduced by ``cut.judges.text_units.treebank_spans``) that ``str.isupper()`` accepts:
  "I" counts, "DON'T" is two ("DO", "N'T"), "U.S." and "AND/OR" one each, "AI-powered" none.
- ``keywords:letter_frequency`` counts one character, case-folded, in the lowercased
  response. The kwarg ``letter`` may be any single non-space character: IFEval's own file
  asks for "#" and "!" (count hashtags, exclamation marks), and counting that character is
  what its prompts mean. (IFEval's checker replaces a non-letter with a random letter, so
  its verdicts on those two prompts are random; the agreement bench reports them apart.)
- ``keywords:frequency`` / ``existence``: case-insensitive substring matches ("war" counts
  in "warm"); ``forbidden_words``: whole words (``\\b...\\b``), as IFEval.

Departure: keywords and postscript markers are matched literally (``re.escape``); IFEval
passes them to ``re`` unescaped, which differs only for text with regex metacharacters.

Spans mark each offending occurrence (comma, miscased word, forbidden word, excess
occurrence); a missing keyword, postscript or placeholder is an absence and has no span.
"""

from __future__ import annotations

import re

from cut.judges.checker_base import (
    LESS_THAN,
    CheckResult,
    Spec,
    context,
    examples,
    failed,
    holds,
    ordinal,
    passed,
    plural,
    quote,
    quote_list,
    relation_words,
)
from cut.judges.language import detect_language, language_name
from cut.judges.text_units import letter_runs, treebank_spans


def check_no_comma(response: str, kwargs: dict) -> CheckResult:
    spans = [(m.start(), m.end()) for m in re.finditer(",", response)]
    if not spans:
        return passed()
    where = quote(context(response, *spans[0]))
    return failed(f"The response contains {plural(len(spans), 'comma')}, e.g. in {where}; "
                  "the instruction forbids commas.", spans)


def _case(response: str, want_lower: bool) -> CheckResult:
    ok = response.islower() if want_lower else response.isupper()
    if ok:
        return _in_english(response)
    bad_char = str.isupper if want_lower else str.islower
    spans = [(a, b) for a, b in letter_runs(response) if any(bad_char(c) for c in response[a:b])]
    asked = "lowercase letters only" if want_lower else "capital letters only"
    kind = "capital" if want_lower else "lowercase"
    if not spans:  # no cased letters at all: str.islower()/isupper() are False
        wanted = "lowercase" if want_lower else "capital"
        return failed(f"The response contains no {wanted} letters at all; the instruction asks for {asked}.")
    return failed(f"The response contains {plural(len(spans), 'word')} with {kind} letters, "
                  f"e.g. {examples(response, spans)}; the instruction asks for {asked}.", spans)


def _in_english(response: str) -> CheckResult:
    code = detect_language(response)
    if code in (None, "en"):
        return passed()
    return failed(f"The response is not in English: its language was detected as {language_name(code)} "
                  f"({code}); the instruction asks for an English response.")


def check_language(response: str, kwargs: dict) -> CheckResult:
    want = kwargs["language"]
    code = detect_language(response)
    if code in (None, want):
        return passed()
    return failed(f"The response is written in {language_name(code)} ({code}); the instruction asks for "
                  f"the whole response to be in {language_name(want)} ({want}).")


def check_lowercase(response: str, kwargs: dict) -> CheckResult:
    return _case(response, want_lower=True)


def check_capital(response: str, kwargs: dict) -> CheckResult:
    return _case(response, want_lower=False)


def _excess(response: str, spans: list, relation: str, threshold: int, found: str) -> CheckResult:
    """Shared by the frequency checkers: ``spans`` are the occurrences, ``found`` the clause
    stating their count ("The response uses the word "sea" 5 times")."""
    if holds(relation, len(spans), threshold):
        return passed()
    asked = f"{found}; the instruction asks for {relation_words(relation, threshold)}"
    if relation != LESS_THAN:
        return failed(asked + ".")
    extra = spans[max(threshold, 1) - 1:]
    return failed(f"{asked}, so the occurrences from the {ordinal(max(threshold, 1))} on are too many, "
                  f"e.g. in {quote(context(response, *extra[0]))}.", extra)


def check_capital_word_frequency(response: str, kwargs: dict) -> CheckResult:
    spans = [(a, b) for a, b in treebank_spans(response) if response[a:b].isupper()]
    return _excess(response, spans, kwargs["capital_relation"], kwargs["capital_frequency"],
                   f"The response has {plural(len(spans), 'word')} in all capital letters")


def check_letter_frequency(response: str, kwargs: dict) -> CheckResult:
    letter = kwargs["letter"].strip().lower()
    # per character of the original text, so offsets stay exact ("İ".lower() is two characters)
    spans = [(i, i + 1) for i, c in enumerate(response) if c.lower() == letter]
    return _excess(response, spans, kwargs["let_relation"], kwargs["let_frequency"],
                   f"The response uses the {_letter_noun(letter)} {quote(letter, None)} {plural(len(spans), 'time')}")


def _letter_noun(letter: str) -> str:
    return "letter" if letter.isalpha() else "character"


def _occurrences(word: str, response: str, whole_word: bool) -> list:
    pattern = re.escape(word.strip())
    if whole_word:
        pattern = rf"\b{pattern}\b"
    return [m.span() for m in re.finditer(pattern, response, flags=re.IGNORECASE)]


def check_frequency(response: str, kwargs: dict) -> CheckResult:
    spans = _occurrences(kwargs["keyword"], response, whole_word=False)
    return _excess(response, spans, kwargs["relation"], kwargs["frequency"],
                   f"The response uses the word {quote(kwargs['keyword'], None)} {plural(len(spans), 'time')}")


def check_existence(response: str, kwargs: dict) -> CheckResult:
    missing = [k for k in kwargs["keywords"] if not _occurrences(k, response, whole_word=False)]
    if not missing:
        return passed()
    noun = "keyword" if len(missing) == 1 else "keywords"
    return failed(f"The response does not use the {noun} {quote_list(missing, None)}; the instruction requires "
                  f"{'it' if len(missing) == 1 else 'them'}.")


def check_forbidden(response: str, kwargs: dict) -> CheckResult:
    hits = {w: _occurrences(w, response, whole_word=True) for w in kwargs["forbidden_words"]}
    hits = {w: s for w, s in hits.items() if s}
    if not hits:
        return passed()
    parts = [f"{quote(w, None)} {plural(len(s), 'time')} (e.g. in {quote(context(response, *s[0]))})"
             for w, s in hits.items()]
    noun = "word" if len(hits) == 1 else "words"
    return failed(f"The response uses the forbidden {noun} {', '.join(parts)}; the instruction forbids "
                  f"{'it' if len(hits) == 1 else 'them'}.", sorted(x for s in hits.values() for x in s))


def check_placeholders(response: str, kwargs: dict) -> CheckResult:
    want = kwargs["num_placeholders"]
    n = len(re.findall(r"\[.*?\]", response))
    if n >= want:
        return passed()
    return failed(f"The response has {plural(n, 'placeholder')} in square brackets such as [name]; "
                  f"the instruction asks for at least {want}.")


def _postscript_pattern(marker: str) -> str:
    """IFEval's patterns: P.S. and P.P.S tolerate a space after each dot; others are literal."""
    if marker == "P.P.S":
        return r"\s*p\.\s?p\.\s?s.*$"
    if marker == "P.S.":
        return r"\s*p\.\s?s\..*$"
    return r"\s*" + re.escape(marker.lower()) + r".*$"


def check_postscript(response: str, kwargs: dict) -> CheckResult:
    marker = kwargs["postscript_marker"].strip()
    if re.search(_postscript_pattern(marker), response.lower(), flags=re.MULTILINE):
        return passed()
    return failed(f"The response has no postscript starting with {quote(marker, None)}; the instruction asks "
                  "for one at the end.")


def _words(items: list[str]) -> str:
    return f"{'word' if len(items) == 1 else 'words'} {quote_list(items, None)}"


def _times(relation: str, threshold: int) -> str:
    return f"{relation_words(relation, threshold)} times"


SPECS = [
    Spec("punctuation:no_comma", {}, check_no_comma, lambda kw: "Do not use any commas in your response."),
    Spec("change_case:english_lowercase", {}, check_lowercase,
         lambda kw: "Write your whole response in English using lowercase letters only; no capital letters."),
    Spec("change_case:english_capital", {}, check_capital,
         lambda kw: "Write your whole response in English using capital letters only."),
    Spec("change_case:capital_word_frequency", {"capital_frequency": "count", "capital_relation": "relation"},
         check_capital_word_frequency,
         lambda kw: "Use words written in all capital letters "
                    f"{_times(kw['capital_relation'], kw['capital_frequency'])}."),
    Spec("keywords:letter_frequency", {"letter": "letter", "let_frequency": "count", "let_relation": "relation"},
         check_letter_frequency,
         lambda kw: f"Use the {_letter_noun(kw['letter'].strip())} {quote(kw['letter'].strip().lower(), None)} "
                    f"{_times(kw['let_relation'], kw['let_frequency'])}."),
    Spec("language:response_language", {"language": "language"}, check_language,
         lambda kw: f"Your entire response must be in {language_name(kw['language'])}; no other language "
                    "is allowed."),
    Spec("keywords:existence", {"keywords": "texts"}, check_existence,
         lambda kw: f"Include the {_words(kw['keywords'])} in your response."),
    Spec("keywords:forbidden_words", {"forbidden_words": "texts"}, check_forbidden,
         lambda kw: f"Do not use the {_words(kw['forbidden_words'])} anywhere in your response."),
    Spec("keywords:frequency", {"keyword": "text", "frequency": "count", "relation": "relation"}, check_frequency,
         lambda kw: f"Use the word {quote(kw['keyword'], None)} {_times(kw['relation'], kw['frequency'])}."),
    Spec("detectable_content:number_placeholders", {"num_placeholders": "count"}, check_placeholders,
         lambda kw: f"Include at least {plural(kw['num_placeholders'], 'placeholder')} in square brackets, "
                    "such as [name]."),
    Spec("detectable_content:postscript", {"postscript_marker": "text"}, check_postscript,
         lambda kw: "At the end of your response, add a postscript starting with "
                    f"{quote(kw['postscript_marker'], None)}."),
]
