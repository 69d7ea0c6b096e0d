"""Words, sentences, paragraphs and lines of a response, as [start, end) character spans.

The rule checkers count these units the way IFEval (Zhou et al. 2023) counts them, and need
their positions too, so that a critique can quote the offending text and a record can carry
its exact span. Every function here is pure: text in, sorted list of (start, end) out.

Departure from IFEval: it counts sentences with nltk's pretrained Punkt model for English,
which cannot be shipped here (nltk data is a separate download). ``sentence_spans`` is a
rule-based splitter with Punkt's main rules for ordinary prose — a sentence ends at ``.``,
``!`` or ``?`` (plus closing quotes/brackets) followed by whitespace or the end of the text;
newlines alone do not end a sentence; "." after a common title ("Dr.", "Mr.") or a single
letter ("J.", "e.g.", "U.S.") does not end one — so counts can differ on abbreviations that
Punkt learned from data and this list lacks.
"""

from __future__ import annotations

import re

Span = tuple[int, int]

# IFEval counts words with nltk's RegexpTokenizer(r"\w+"): "don't" is two words.
_WORD = re.compile(r"\w+")
# Letter-only runs: the unit a case violation is reported on ("Hello" in "Hello, world").
_LETTER_RUN = re.compile(r"[^\W\d_]+")
_TERMINATOR = re.compile(r"[.!?]+[\"'”’)\]]*")
# Lowercased tokens after which a single "." does not end a sentence.
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "prof", "jr", "sr", "inc", "ltd", "co", "vs"}
# IFEval's paragraph divider, with the optional single whitespace it also swallows.
_PARAGRAPH_DIVIDER = re.compile(r"\s?\*\*\*\s?")


def word_spans(text: str) -> list[Span]:
    """Each ``\\w+`` run (IFEval's word count is ``len(word_spans(text))``)."""
    return [m.span() for m in _WORD.finditer(text)]


def letter_runs(text: str) -> list[Span]:
    """Each maximal run of letters (digits and underscores excluded)."""
    return [m.span() for m in _LETTER_RUN.finditer(text)]


def _is_abbreviation(text: str, dot: int) -> bool:
    """Whether the "." at index ``dot`` closes an abbreviation or an initial, not a sentence."""
    match = re.search(r"(\w+)$", text[max(0, dot - 20):dot])  # a short window: only short tokens matter
    if not match:
        return False
    token = match.group(1)
    if len(token) == 1 and token.isalpha():  # "J. Smith", "e.g. this", "U.S. law"
        return True
    return token.lower() in _ABBREVIATIONS


def sentence_spans(text: str) -> list[Span]:
    """Sentences without their surrounding whitespace; trailing text without a final
    terminator is a sentence too. Segments of whitespace only are dropped."""
    bounds, start = [], 0
    for m in _TERMINATOR.finditer(text):
        end = m.end()
        if end < len(text) and not text[end].isspace():
            continue
        if m.group(0) == "." and _is_abbreviation(text, m.start()):
            continue
        bounds.append((start, end))
        start = end
    bounds.append((start, len(text)))
    return [s for s in (strip_span(text, a, b) for a, b in bounds) if s]


def strip_span(text: str, start: int, end: int) -> Span | None:
    """Shrink [start, end) past surrounding whitespace; None when nothing is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def divider_paragraphs(text: str) -> tuple[list[Span], list[Span]]:
    """Split on IFEval's ``***`` divider: (raw pieces, divider spans). Pieces keep their
    whitespace (a piece that is blank is an empty paragraph) and there is always one more
    piece than dividers."""
    dividers = [m.span() for m in _PARAGRAPH_DIVIDER.finditer(text)]
    cuts = [0] + [x for span in dividers for x in span] + [len(text)]
    return [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts), 2)], dividers


def line_spans(text: str) -> list[Span]:
    """Each non-blank line, stripped."""
    out, pos = [], 0
    for line in text.split("\n"):
        span = strip_span(text, pos, pos + len(line))
        if span:
            out.append(span)
        pos += len(line) + 1
    return out
