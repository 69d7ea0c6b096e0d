"""Locate quoted excerpts of a critique inside the response and turn them into spans.

Judges are asked to quote what they criticise. A quote is looked up in the response first
exactly, then with whitespace collapsed and case folded (judges re-flow and re-case text).
Quotes that cannot be found stay in the critique text and simply give no span.
"""

from __future__ import annotations

import re

# "..." or “...” or '...' (single quotes only when they wrap at least two words, so that
# apostrophes in "don't" are not taken for quotes).
_QUOTE_PATTERNS = [
    re.compile(r'"([^"\n]{2,}?)"'),
    re.compile(r"“([^”\n]{2,}?)”"),
    re.compile(r"(?<![\w])'([^'\n]+?\s[^'\n]*?)'(?![\w])"),
]


def extract_quotes(text: str) -> list[str]:
    """Quoted excerpts in a critique, in order of appearance, without duplicates."""
    found: list[tuple[int, str]] = []
    for pattern in _QUOTE_PATTERNS:
        found += [(m.start(), m.group(1).strip()) for m in pattern.finditer(text)]
    seen, out = set(), []
    for _, quote in sorted(found):
        if quote and quote not in seen:
            seen.add(quote)
            out.append(quote)
    return out


def _normalise(text: str) -> tuple[str, list[int]]:
    """Collapse whitespace runs to one space and lowercase; return the index map back."""
    chars, index = [], []
    prev_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            if prev_space:
                continue
            chars.append(" ")
            prev_space = True
        else:
            chars.append(ch.lower())
            prev_space = False
        index.append(i)
    return "".join(chars), index


def locate(quote: str, response: str) -> list[int] | None:
    """[start, end) of the first occurrence of ``quote`` in ``response``, or None."""
    quote = quote.strip()
    if not quote:
        return None
    start = response.find(quote)
    if start >= 0:
        return [start, start + len(quote)]
    norm_resp, index = _normalise(response)
    norm_quote, _ = _normalise(quote)
    pos = norm_resp.find(norm_quote.strip())
    if pos < 0:
        return None
    end = pos + len(norm_quote.strip()) - 1
    return [index[pos], index[end] + 1]


def spans_from_quotes(critique: str, response: str) -> list[list[int]]:
    """Spans of every quote of ``critique`` found in ``response``, sorted, merged if overlapping."""
    spans = [s for s in (locate(q, response) for q in extract_quotes(critique)) if s]
    return merge_spans(spans)


def merge_spans(spans: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return out
