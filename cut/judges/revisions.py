"""Minimal revisions: the rule judge's corrected answer, for violations a program can repair.

A judgment says what is wrong; a revision shows the same answer without the violation. The
pair (original, revision) is the most contrastive signal there is (CLAIR, arXiv 2408.06266:
minimal revisions), and for CUT it is the positive that an omission critique lacks ("the
response is not wrapped in quotation marks" names no token to push down, but the revision
shows the opening mark that should have been written).

``revise(instruction, response, failed, check_all)`` applies one repair per violated constraint,
in a fixed order (cut to length, then edit content, then prepend, append, change case, wrap
in quotes), and returns the result only when it passes *every* check of the prompt — never a
revision that trades one violation for another. Constraints without a safe deterministic
repair (forbidden words, paragraphs, bullets, JSON, ...) give no revision: a wrong revision
would teach worse than none.

Answers cut off at the generation limit end mid-sentence; every revision first drops that
unfinished sentence (and an empty list item), so no revision teaches the model to stop
mid-sentence. An answer that hit the limit is itself a violation when the judge is told so
(``unfinished``): a small model's endless answer is mostly a loop, and its revision ends it
before the first repeated sentence.
"""

from __future__ import annotations

import re
from typing import Callable

from cut.judges.checker_base import LESS_THAN, quote
from cut.judges.checkers_format import count_highlights
from cut.judges.text_units import sentence_spans, word_spans

Repair = Callable[[str, dict, str], "str | None"]  # (response, kwargs, instruction) -> revised or None

_FINAL = re.compile(r"[.!?…)\]\"'”’*>:]\s*$")
_BARE_MARKER = re.compile(r"\n\s*(\d+[.)]|[-*•])\s*$")  # a list item with nothing after its number or bullet


def complete_sentences(text: str) -> str | None:
    """``text`` without a trailing unfinished sentence (no final punctuation) or empty list
    item; None if nothing is left."""
    text = _BARE_MARKER.sub("", text.rstrip()).rstrip()
    if not text or _FINAL.search(text):
        return text or None
    spans = sentence_spans(text)
    if len(spans) < 2:
        return None
    kept = _BARE_MARKER.sub("", text[: spans[-2][1]].rstrip()).rstrip()
    return kept if kept and _FINAL.search(kept) else None


def first_repeat(text: str) -> int | None:
    """Where ``text`` starts repeating itself: the offset of the first sentence (of three words
    or more) that already occurred, or None. A small model's answer that never ends is mostly
    such a loop."""
    seen = set()
    for a, b in sentence_spans(text):
        key = " ".join(text[a:b].lower().split())
        if len(key.split()) >= 3 and key in seen:
            return a
        seen.add(key)
    return None


def unfinished(response: str) -> tuple[str, list[list[int]]]:
    """The critique of an answer cut off at the token limit, and its spans (the repeated text
    when it loops)."""
    start = first_repeat(response)
    if start is None:
        return ("The response does not finish: it was cut off at the length limit, so it should have ended "
                "sooner.", [])
    return (f"The response does not finish: it repeats itself from {quote(response[start:])} on, "
            f"until it is cut off at the length limit.", [[start, len(response.rstrip())]])


def _first_sentences(text: str, keep: Callable[[list[str]], bool]) -> str | None:
    """The longest prefix of whole sentences for which ``keep(sentences)`` holds (at least one)."""
    spans = sentence_spans(text)
    best = None
    for k in range(1, len(spans) + 1):
        if not keep([text[a:b] for a, b in spans[:k]]):
            break
        best = text[: spans[k - 1][1]].rstrip()
    return best and complete_sentences(best)


def _fewer_sentences(response: str, kw: dict, instruction: str) -> str | None:
    if kw["relation"] != LESS_THAN or kw["num_sentences"] < 2:
        return None
    return _first_sentences(response, lambda s: len(s) < kw["num_sentences"])


def _fewer_words(response: str, kw: dict, instruction: str) -> str | None:
    if kw["relation"] != LESS_THAN:
        return None
    return _first_sentences(response, lambda s: len(word_spans(" ".join(s))) < kw["num_words"])


def _no_comma(response: str, kw: dict, instruction: str) -> str:
    # "apples, pears" -> "apples pears"; "1,000" -> "1000"
    return re.sub(r",", "", re.sub(r",(\s)", r"\1", response))


def _append(response: str, addition: str, separator: str = " ") -> str | None:
    body = complete_sentences(response)
    return None if body is None else body + separator + addition


def _keyword(response: str, kw: dict, instruction: str) -> str | None:
    missing = [k for k in kw["keywords"] if k.lower() not in response.lower()]
    return _append(response, f"It is also worth thinking about {' and '.join(missing)}.")


def _frequency(response: str, kw: dict, instruction: str) -> str | None:
    if kw["relation"] == LESS_THAN:
        return None
    short = kw["frequency"] - response.lower().count(kw["keyword"].lower())
    return _append(response, f"It is also worth thinking about {kw['keyword']}.") if short == 1 else None


_PLACEHOLDERS = ("Written by [name]", " on [date]", " in [place]", " for [reader]")


def _placeholders(response: str, kw: dict, instruction: str) -> str | None:
    n = kw["num_placeholders"] - len(re.findall(r"\[.*?\]", response))
    if not 1 <= n <= len(_PLACEHOLDERS):
        return None
    return _append(response, "".join(_PLACEHOLDERS[:n]) + ".", "\n\n")


def _highlights(response: str, kw: dict, instruction: str) -> str | None:
    """Wrap the first sentences that hold no asterisk or line break in *...*."""
    want, out = kw["num_highlights"] - count_highlights(response), response
    chosen = [(a, b) for a, b in sentence_spans(response) if "*" not in response[a:b] and "\n" not in response[a:b]]
    if len(chosen) < want:
        return None
    for a, b in reversed(chosen[:want]):
        out = out[:a] + "*" + out[a:b] + "*" + out[b:]
    return out


def _title(response: str, kw: dict, instruction: str) -> str:
    about = re.search(r"\babout (.+?)[.?!]", instruction)
    words = about.group(1).split() if about else re.findall(r"[\w'-]+", response)[:4]
    name = " ".join(w[:1].upper() + w[1:] for w in words) or "My Answer"
    return f"<<{name}>>\n\n{response.lstrip()}"


def _start(response: str, kw: dict, instruction: str) -> str:
    return f"{kw['start_phrase'].strip()} {response.lstrip()}"


def _end(response: str, kw: dict, instruction: str) -> str | None:
    return _append(response, kw["end_phrase"].strip())


def _postscript(response: str, kw: dict, instruction: str) -> str | None:
    marker = kw["postscript_marker"].strip()
    return _append(response, f"{marker}{'' if marker.endswith('.') else '.'} Thank you for reading.", "\n\n")


def _quotation(response: str, kw: dict, instruction: str) -> str | None:
    body = complete_sentences(response.strip().strip('"'))
    return None if body is None else f'"{body}"'


# In the order they are applied: what cuts text first, then edits, prepends, appends, case
# (after the appended phrases, which the end checker compares case-blind), quotes last.
REPAIRS: dict[str, Repair] = {
    "length_constraints:number_sentences": _fewer_sentences,
    "length_constraints:number_words": _fewer_words,
    "punctuation:no_comma": _no_comma,
    "keywords:existence": _keyword,
    "keywords:frequency": _frequency,
    "detectable_content:number_placeholders": _placeholders,
    "detectable_format:number_highlighted_sections": _highlights,
    "detectable_format:title": _title,
    "startend:start_checker": _start,
    "startend:end_checker": _end,
    "detectable_content:postscript": _postscript,
    "change_case:english_lowercase": lambda r, kw, i: r.lower(),
    "change_case:english_capital": lambda r, kw, i: r.upper(),
    "startend:quotation": _quotation,
}


def revise(instruction: str, response: str, failed: list[tuple[str, dict]],
           check_all: Callable[[str], bool], cut_off: bool = False) -> str | None:
    """A revision of ``response`` that repairs every ``(id, kwargs)`` in ``failed`` and passes
    ``check_all`` (every constraint of the prompt), or None. ``cut_off``: the answer hit the
    token limit; the revision ends it where it starts repeating itself."""
    if not response.strip() or not (failed or cut_off) or any(cid not in REPAIRS for cid, _ in failed):
        return None
    by_id = dict(failed)
    loop = first_repeat(response) if cut_off else None
    if loop is not None:
        response = response[:loop]
    text = complete_sentences(response)  # an answer cut off at the token limit ends mid-sentence
    for cid, repair in REPAIRS.items():
        if text is None:
            return None
        if cid in by_id:
            text = repair(text, by_id[cid], instruction)
    return text if text != response and check_all(text) else None
