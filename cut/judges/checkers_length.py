"""Length constraints of the IFEval family: words, sentences, paragraphs.

Counting follows IFEval: words are ``\\w+`` runs; paragraphs are pieces between ``***``
dividers (a blank first or last piece is ignored, a blank piece in between fails the check);
for ``nth_paragraph_first_word`` paragraphs are pieces between blank lines ("\\n\\n"). The
sentence splitter departs slightly from IFEval's (see ``cut.judges.text_units``).

Spans: for an upper limit ("less than N") the excess — one span from the start of the N-th
unit to the end of the last one; a lower limit that is not met is an absence and has no span.
"""

from __future__ import annotations

import re

from cut.judges.checker_base import (
    LESS_THAN,
    CheckResult,
    Spec,
    failed,
    holds,
    ordinal,
    passed,
    plural,
    quote,
    relation_words,
)
from cut.judges.text_units import divider_paragraphs, sentence_spans, strip_span, word_spans


def _limit(units: list, unit: str, response: str, kwargs: dict, count_key: str, relation_key: str) -> CheckResult:
    threshold, relation = kwargs[count_key], kwargs[relation_key]
    n = len(units)
    if holds(relation, n, threshold):
        return passed()
    found = f"The response has {plural(n, unit)}; the instruction asks for {relation_words(relation, threshold)}"
    if relation != LESS_THAN or not units:
        return failed(found + ".")
    first = units[max(threshold, 1) - 1]
    span = (first[0], units[-1][1])
    return failed(
        f"{found}, so the text from the {ordinal(max(threshold, 1))} {unit} on is over the limit, "
        f"starting at {quote(response[span[0]:span[1]])}.",
        [span],
    )


def check_words(response: str, kwargs: dict) -> CheckResult:
    return _limit(word_spans(response), "word", response, kwargs, "num_words", "relation")


def check_sentences(response: str, kwargs: dict) -> CheckResult:
    return _limit(sentence_spans(response), "sentence", response, kwargs, "num_sentences", "relation")


def check_paragraphs(response: str, kwargs: dict) -> CheckResult:
    want = kwargs["num_paragraphs"]
    pieces, dividers = divider_paragraphs(response)
    blank = [i for i, (a, b) in enumerate(pieces) if not response[a:b].strip()]
    inner = [i for i in blank if 0 < i < len(pieces) - 1]
    if inner:
        # piece i sits between dividers i-1 and i: flag both dividers and the gap
        span = strip_span(response, dividers[inner[0] - 1][0], dividers[inner[0]][1])
        return failed(
            "The response has an empty paragraph between two *** dividers; the instruction asks "
            f"for {plural(want, 'paragraph')} separated by single *** dividers.",
            [span] if span else [],
        )
    paragraphs = [strip_span(response, a, b) for i, (a, b) in enumerate(pieces) if i not in blank]
    if len(paragraphs) == want:
        return passed()
    found = (f"The response has {plural(len(paragraphs), 'paragraph')} separated by *** dividers; "
             f"the instruction asks for exactly {want}")
    if len(paragraphs) < want or want == 0:
        return failed(found + ".")
    span = (paragraphs[want][0], paragraphs[-1][1])
    return failed(
        f"{found}, so the text from paragraph {want + 1} on is extra, starting at "
        f"{quote(response[span[0]:span[1]])}.",
        [span],
    )


def _first_word(paragraph: str) -> str:
    """IFEval: the first whitespace token, leading quotes dropped, cut at the first
    punctuation mark among . , ? ! ' ", lowercased."""
    word = paragraph.split()[0].lstrip("'").lstrip('"')
    return re.split(r"[.,?!'\"]", word, maxsplit=1)[0].lower()


def check_nth_paragraph_first_word(response: str, kwargs: dict) -> CheckResult:
    want, nth, first = kwargs["num_paragraphs"], kwargs["nth_paragraph"], kwargs["first_word"].lower()
    pieces = response.split("\n\n")
    starts = [0]
    for piece in pieces[:-1]:
        starts.append(starts[-1] + len(piece) + 2)
    count = sum(1 for p in pieces if p.strip())
    problems, spans = [], []
    if count != want:
        problems.append(f"The response has {plural(count, 'paragraph')} separated by blank lines; "
                        f"the instruction asks for exactly {want}.")
    # IFEval indexes the raw pieces (blank ones included) once nth is within the count
    if nth > count:
        problems.append(f"There is no paragraph {nth}, so it cannot start with {quote(first, None)}.")
    elif not pieces[nth - 1].strip():
        problems.append(f"Paragraph {nth} is empty; the instruction asks for it to start with {quote(first, None)}.")
    else:
        piece_start = starts[nth - 1]
        token = re.search(r"\S+", pieces[nth - 1])
        got = _first_word(pieces[nth - 1])
        if got != first:
            problems.append(f"Paragraph {nth} starts with {quote(token.group(0))}; "
                            f"the instruction asks for it to start with the word {quote(first, None)}.")
            spans.append((piece_start + token.start(), piece_start + token.end()))
    return failed(" ".join(problems), spans) if problems else passed()


def _describe_limit(unit: str, key: str):
    return lambda kw: f"Answer with {relation_words(kw['relation'], kw[key])} {unit}."


SPECS = [
    Spec("length_constraints:number_words", {"num_words": "count", "relation": "relation"},
         check_words, _describe_limit("words", "num_words")),
    Spec("length_constraints:number_sentences", {"num_sentences": "count", "relation": "relation"},
         check_sentences, _describe_limit("sentences", "num_sentences")),
    Spec("length_constraints:number_paragraphs", {"num_paragraphs": "count"}, check_paragraphs,
         lambda kw: f"Write exactly {plural(kw['num_paragraphs'], 'paragraph')}, separated from each "
                    "other by the markdown divider ***."),
    Spec("length_constraints:nth_paragraph_first_word",
         {"num_paragraphs": "count", "nth_paragraph": "count", "first_word": "text"},
         check_nth_paragraph_first_word,
         lambda kw: f"Write exactly {plural(kw['num_paragraphs'], 'paragraph')}, separated by blank lines; "
                    f"paragraph {kw['nth_paragraph']} must start with the word {quote(kw['first_word'], None)}."),
]
