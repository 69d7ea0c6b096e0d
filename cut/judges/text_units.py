"""Words, sentences, paragraphs and lines of a response, as [start, end) character spans.

The rule checkers count these units the way IFEval (Zhou et al. 2023) counts them, and need
their positions too, so that a critique can quote the offending text and a record can carry
its exact span. Every function here is pure: text in, sorted list of (start, end) out.

Sentences. IFEval counts them with nltk's pretrained Punkt model for English, which this
project cannot ship (its data is a separate download). ``sentence_spans`` follows Punkt's
conventions, stated here and pinned by tests:

- a candidate end is a run of ``.``, ``!`` or ``?`` (closing quotes and brackets after it
  belong to the sentence) followed by whitespace, the end of the text, or one of
  ``* : ; @ ( { [`` — so "Done.* Next" is two sentences; "x.Then" is one; a newline
  alone never ends a sentence;
- a run holding ``!`` or ``?`` always ends a sentence, whatever follows ("Is it? yes" is
  two);
- a single ``.`` ends one, except after a known abbreviation ("Mr.", "Dr.", "U.S.",
  "p.m.", "vs."), a single-letter initial ("J. Smith") or an ellipsis ("wait... what"),
  none of which ends a sentence unless the next word is a capitalised common sentence
  opener ("It is 3 p.m. The sun rose." is two); and except after a number when the next
  word starts in lowercase ("5. the" is one sentence, "5. The" two);
- dotted forms Punkt has not learned as abbreviations end a sentence: "i.e.", "e.g.",
  "P.S." ("See i.e. the rest" is two, as Punkt counts it).

Departure: Punkt decides abbreviations, initials and numbers from statistics learned on a
corpus (which words appear capitalised mid-sentence); the short lists here stand in for
them, so counts can still differ on rare abbreviations and on initials followed by a
capitalised word ("A. Introduction" is one sentence here, two for Punkt).

Capitalised words. IFEval tokenises with nltk's ``word_tokenize`` (Treebank rules) and
counts tokens ``str.isupper()`` accepts. ``treebank_spans`` keeps the rules that change
that count (and IFBench's word positions): tokens are split at whitespace and at
``, ; @ # $ % & ? ! " ( ) [ ] { } < > *`` (a comma or colon between digits stays);
contractions split off their suffix ("DON'T" is "DO" + "N'T", "IT'S" is "IT" + "'S",
"CANNOT" is "CAN" + "NOT"); periods, slashes and hyphens inside a token keep it whole
("U.S.", "AND/OR", "WELL-KNOWN" are one token each), except the period that ends a
sentence, which is a token of its own.
"""

from __future__ import annotations

import re

Span = tuple[int, int]

# IFEval counts words with nltk's RegexpTokenizer(r"\w+"): "don't" is two words.
_WORD = re.compile(r"\w+")
# Letter-only runs: the unit a case violation is reported on ("Hello" in "Hello, world").
_LETTER_RUN = re.compile(r"[^\W\d_]+")
# A run of terminators with the closing quotes and brackets that belong to its sentence.
_CLOSERS = "\"'”’)]}"
_TERMINATOR = re.compile(r"[.!?]+[\"'”’)\]}]*")
_STRAY_CLOSERS = re.compile(r"\s+[\"'”’)\]}]+(?=\s|$)")
# What may follow a sentence end directly, without whitespace (Punkt's rule).
_OPENERS_AFTER_END = set("*:;@({[")
# Lowercased tokens (without their final ".") after which a "." does not end a sentence.
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "prof", "jr", "sr", "inc", "ltd", "co", "corp", "vs",
                  "jan", "feb", "aug", "sept", "oct", "nov", "dec", "gen", "sen", "rep", "col", "lt", "ft",
                  "u.s", "a.m", "p.m", "ph.d", "d.c", "n.y", "l.a"}
# Capitalised, these words open a sentence even after an abbreviation, initial or ellipsis.
_SENTENCE_OPENERS = {"the", "a", "an", "this", "these", "that", "those", "there", "it", "i", "he", "she",
                     "we", "they", "you", "but", "and", "so", "if", "in", "when", "while", "however",
                     "although", "though", "thus", "yet", "since", "some", "many", "most", "both", "even",
                     "indeed", "instead", "meanwhile", "moreover", "nevertheless", "similarly", "despite",
                     "according", "among", "under", "nor", "my", "our", "his", "her", "their", "its"}
_POSTSCRIPTS = {"p.s", "p.p.s"}
# Single letters and dotted initials: "J", "J.K", "U.S" (the final "." excluded).
_INITIALS = re.compile(r"^[^\W\d_]$|^[A-Z](?:\.[A-Z])+$")
_NUMBER = re.compile(r"^-?[.,]?\d[\d,.-]*$")
# IFEval's paragraph divider, with the optional single whitespace it also swallows.
_PARAGRAPH_DIVIDER = re.compile(r"\s?\*\*\*\s?")


def word_spans(text: str) -> list[Span]:
    """Each ``\\w+`` run (IFEval's word count is ``len(word_spans(text))``)."""
    return [m.span() for m in _WORD.finditer(text)]


def letter_runs(text: str) -> list[Span]:
    """Each maximal run of letters (digits and underscores excluded)."""
    return [m.span() for m in _LETTER_RUN.finditer(text)]


def _next_token(text: str, pos: int) -> str:
    """The whitespace-delimited token after ``pos`` ("" at the end of the text)."""
    match = re.compile(r"\s*(\S+)").match(text, pos)
    return match.group(1) if match else ""


def _opens_sentence(token: str) -> bool:
    word = re.match(r"\w*", token).group(0)
    return word[:1].isupper() and word.lower() in _SENTENCE_OPENERS


def _ends_sentence(text: str, run: str, start: int, end: int) -> bool:
    """Whether the terminator ``run`` at ``text[start:]`` (its closers end at ``end``) ends a
    sentence, by the rules in the module docstring."""
    if "!" in run or "?" in run:
        return True
    after = _next_token(text, end)
    if len(run) > 1:  # an ellipsis
        return _opens_sentence(after)
    token = re.search(r"(\S*)$", text[max(0, start - 30):start]).group(1).lstrip("\"'“‘([{*")
    if _NUMBER.match(token):
        return not after[:1].islower()
    if token.lower() in _POSTSCRIPTS:
        return True
    if _INITIALS.match(token) or token.lower() in _ABBREVIATIONS:
        return _opens_sentence(after)
    return True


def sentence_spans(text: str) -> list[Span]:
    """Sentences without their surrounding whitespace; trailing text without a final
    terminator is a sentence too. Segments of whitespace only are dropped."""
    bounds, start = [], 0
    for m in _TERMINATOR.finditer(text):
        if m.start() < start:  # swallowed by the previous end's closers
            continue
        run = m.group(0).rstrip(_CLOSERS)
        end = m.end()
        closed = end > m.start() + len(run)
        if end < len(text) and not (closed or text[end].isspace() or text[end] in _OPENERS_AFTER_END):
            continue
        if end < len(text) and not _ends_sentence(text, run, m.start(), end):
            continue
        stray = _STRAY_CLOSERS.match(text, end)  # closers opening the next sentence go back
        end = stray.end() if stray else end
        bounds.append((start, end))
        start = end
    bounds.append((start, len(text)))
    return [s for s in (strip_span(text, a, b) for a, b in bounds) if s]


# Treebank's splitting characters; a comma or colon between digits does not split ("1,000").
_TREEBANK_RUN = re.compile(r"(?:\d[,:](?=\d)|[^\s,;:@#$%&?!\"()\[\]{}<>*])+|\S")
_CONTRACTION = re.compile(r"(?i)^(.+?)(n't|'s|'m|'d|'ll|'re|'ve)$|^(can)not$|^(gon|got|wan)na$|^(gim|lem)me$")


def treebank_spans(text: str) -> list[Span]:
    """Tokens as nltk's ``word_tokenize`` splits them (see the module docstring): quotes
    around a token, contraction suffixes and a sentence's final period apart."""
    ends = {b for _, b in sentence_spans(text)}
    return [piece for span in _treebank_tokens(text) for piece in _final_period(text, span, ends)]


def _final_period(text: str, span: Span, ends: set[int]) -> list[Span]:
    a, b = span
    if b in ends and b - a > 1 and text[b - 1] == "." and text[b - 2] != ".":
        return [(a, b - 1), (b - 1, b)]
    return [span]


def _treebank_tokens(text: str) -> list[Span]:
    spans = []
    for m in _TREEBANK_RUN.finditer(text):
        a, b = m.span()
        while a < b - 1 and text[a] == "'":  # an opening single quote
            spans.append((a, a + 1))
            a += 1
        closing = []
        while b > a + 1 and text[b - 1] == "'" and text[b - 2] not in "sS":  # a closing one
            closing.insert(0, (b - 1, b))
            b -= 1
        split = _CONTRACTION.match(text[a:b])
        cut = split and next(split.end(g) for g in range(1, 6) if split.group(g))
        spans += [(a, a + cut), (a + cut, b)] if split else [(a, b)]
        spans += closing
    return spans


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
