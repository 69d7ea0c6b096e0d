"""What a constraint checker returns, how one is declared, and how critiques quote text.

A checker is a pure function ``(response, kwargs) -> CheckResult``. Its critique names the
violated constraint and quotes the offending text; its spans are the [start, end) offsets of
every violation in the response, so a record can flag exactly those characters (arXiv
2312.14591 §4 trains on judgments; the spans say where the judgment points).

Quotes use straight double quotes ("…") — or curly ones when the excerpt is one character
or itself contains a straight double quote — so that ``cut.judges.quotes.extract_quotes``
finds them again. A long
excerpt is cut at a word boundary with the ellipsis *outside* the quotes, so every quoted
excerpt is a verbatim (whitespace-collapsed) piece of the response.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

LESS_THAN, AT_LEAST = "less than", "at least"
RELATIONS = (LESS_THAN, AT_LEAST)


@dataclass
class CheckResult:
    ok: bool
    critique: str | None = None  # None when ok
    spans: list[list[int]] = field(default_factory=list)  # [start, end) of each violation


@dataclass(frozen=True)
class Spec:
    """One instruction type: its IFEval id, the kwargs it takes, its checker and describer.

    ``params`` maps each kwarg to its kind: "count" (int >= 0), "relation" ("less than" or
    "at least"), "text" (non-empty string), "texts" (non-empty list of strings), "letter"
    (one non-space character) or "language" (a code of ``cut.judges.language.LANGUAGES``).
    """

    id: str
    params: dict[str, str]
    check: Callable[[str, dict], CheckResult]
    describe: Callable[[dict], str]
    needs: str = ""  # an optional package the checker imports (the "ifbench" extra), or ""


def passed() -> CheckResult:
    return CheckResult(True, None, [])


def failed(critique: str, spans=()) -> CheckResult:
    return CheckResult(False, critique, [[int(a), int(b)] for a, b in spans])


def holds(relation: str, count: int, threshold: int) -> bool:
    """IFEval's relations: "less than" is strict, "at least" inclusive."""
    return count < threshold if relation == LESS_THAN else count >= threshold


def relation_words(relation: str, threshold: int) -> str:
    """"fewer than 40" / "at least 40" — how critiques and descriptions state a limit."""
    return f"fewer than {threshold}" if relation == LESS_THAN else f"at least {threshold}"


def quote(text: str, limit: int | None = 60) -> str:
    """``text`` whitespace-collapsed in double quotes, cut to ``limit`` characters (None:
    never cut — for phrases the instruction itself states)."""
    flat = " ".join(text.split())
    cut = limit is not None and len(flat) > limit
    if cut:
        head = flat[:limit]
        flat = head[: head.rfind(" ")] if " " in head else head
    # curly marks when straight ones would mis-pair in ``extract_quotes``, which skips
    # one-character quotes and would pair an inner '"' with the next quote's mark
    marks = ("“", "”") if '"' in flat or len(flat) < 2 else ('"', '"')
    return f"{marks[0]}{flat}{marks[1]}" + ("..." if cut else "")


def quote_list(items: list[str], limit: int | None = 60) -> str:
    """'"a"', '"a" and "b"', '"a", "b" and "c"'."""
    quoted = [quote(x, limit) for x in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def context(text: str, start: int, end: int) -> str:
    """The span widened by one word on each side, within its line ("apples, pears" for the
    comma of "apples, pears, plums")."""
    left = start
    while left > 0 and text[left - 1] in " \t":
        left -= 1
    while left > 0 and re.match(r"[\w'’-]", text[left - 1]):
        left -= 1
    right = end
    while right < len(text) and text[right] in " \t":
        right += 1
    while right < len(text) and re.match(r"[\w'’-]", text[right]):
        right += 1
    return text[left:right]


def plural(n: int, word: str, many: str | None = None) -> str:
    """"1 comma", "2 commas", "1 bullet point"."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def examples(text: str, spans: list, limit: int = 3) -> str:
    """Up to ``limit`` quoted spans, for "e.g. ..." clauses."""
    return quote_list([text[a:b] for a, b in spans[:limit]])
