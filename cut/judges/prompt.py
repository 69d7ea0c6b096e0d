"""Judge prompts as versioned data files, rendering them to chat messages, and reading replies.

A prompt file (``cut/data/judge_prompts/*.txt``, or any path) looks like::

    # comments and blank lines are allowed in the header
    name: cut-default
    version: v1

    [system]
    ...system message...

    [user]
    ...user message with {instruction} and {response}...

The header holds ``key: value`` lines (``name`` and ``version`` are required, no other keys
exist). A line ``[system]`` or ``[user]`` opens a section that runs to the next section line;
blank lines around a section are trimmed, everything else in it is kept verbatim, including
``#`` and braces. ``[user]`` is required and must contain both ``{instruction}`` and
``{response}``; ``[system]`` may be left out for models without a system role.

Reading a reply follows the protocol of arXiv 2312.14591 (online setting): the verdict
"perfect" (the word alone, or followed by punctuation: "Perfect.", "**Perfect**") accepts the
response; a critique rejects it. Three departures: the judge is asked to quote what it
criticises, and the quotes are turned into character spans of the response; a reply that
cannot be used — empty, cut off at the token limit, or a refusal — is a *failure*
(``Verdict.error``), never stored as a critique; and so is a reply that does not follow the
requested format: one that starts with "perfect" but is not the verdict ("perfectly bad:
...", which the prompt forbids, so its polarity is a guess), or a transport error passed on
as text by a proxy ("Error: upstream request timeout", an HTML page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cut.errors import CutError
from cut.judges.base import Verdict
from cut.judges.quotes import spans_from_quotes
from cut.records import RecordError, is_perfect_verdict

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "data" / "judge_prompts"
DEFAULT_PROMPT = "cut-default-v1"
REVISE_PROMPT = "cut-revise-v1"  # the default plus a "Revision:" section (judge option revisions)
# the line that starts a judge's revision: "Revision:", "**Revision:**", "### Revision"
_REVISION_LINE = re.compile(r"^[\s#*_]*revision[\s*_]*:?[\s*_]*$", re.IGNORECASE | re.MULTILINE)

_HEADER_KEYS = ("name", "version")
_SECTIONS = ("system", "user")
_PLACEHOLDERS = ("{instruction}", "{response}")
_PLACEHOLDER_RE = re.compile(r"\{(instruction|response)\}")


@dataclass
class JudgePrompt:
    """A parsed prompt file. ``user_template`` holds ``{instruction}`` and ``{response}``;
    ``system`` is "" when the file has no ``[system]`` section."""

    name: str
    version: str
    system: str
    user_template: str
    source: str = ""  # the file it was read from, for error messages


def load_prompt(path_or_name: str | None = None) -> JudgePrompt:
    """Read a prompt file: None → the packaged default; an existing path → that file; otherwise
    the name of a packaged prompt (``cut-default-v1``, with or without ``.txt``)."""
    path = _resolve(path_or_name or DEFAULT_PROMPT)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CutError(f"cannot read judge prompt {path}: {err}") from None
    return parse_prompt(text, str(path))


def _resolve(path_or_name: str) -> Path:
    from cut.config import resolve_named

    return resolve_named(path_or_name, PROMPTS_DIR, ".txt", "judge prompt", "a packaged prompt", "packaged")


def parse_prompt(text: str, source: str = "<prompt>") -> JudgePrompt:
    """Parse the file format described in the module docstring; errors name file and line."""
    header: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.fullmatch(r"\[(\w+)\]\s*", line)
        if match:
            current = match.group(1).lower()
            if current not in _SECTIONS:
                raise RecordError(source, number, current, "unknown section (use [system] and [user])")
            if current in sections:
                raise RecordError(source, number, current, "section appears twice")
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
        elif line.strip() and not line.lstrip().startswith("#"):
            _read_header_line(line, number, source, header)
    for key in _HEADER_KEYS:
        if not header.get(key):
            raise RecordError(source, None, key, "missing header line (e.g. 'name: my-judge', 'version: v1')")
    system = "\n".join(sections.get("system", [])).strip("\n")
    user = "\n".join(sections.get("user", [])).strip("\n")
    if not user.strip():
        raise RecordError(source, None, "user", "missing or empty [user] section")
    for placeholder in _PLACEHOLDERS:
        if placeholder not in user:
            raise RecordError(source, None, "user", f"the [user] section must contain {placeholder}")
    return JudgePrompt(header["name"], header["version"], system, user, source)


def _read_header_line(line: str, number: int, source: str, header: dict[str, str]) -> None:
    key, sep, value = line.partition(":")
    key = key.strip().lower()
    if not sep:
        raise RecordError(source, number, None, "header lines are 'key: value' (or start a section with [system])")
    if key not in _HEADER_KEYS:
        raise RecordError(source, number, key, f"unknown header key (known: {', '.join(_HEADER_KEYS)})")
    header[key] = value.strip()


def render_messages(prompt: JudgePrompt, instruction: str, response: str) -> list[dict]:
    """Chat messages for one item. Substitution is literal (no ``str.format``), so braces in the
    instruction, the response or the template are never interpreted."""
    # One pass over the template, so an instruction that contains "{response}" stays as written.
    values = {"instruction": instruction, "response": response}
    user = _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], prompt.user_template)
    messages = [{"role": "system", "content": prompt.system}] if prompt.system else []
    return messages + [{"role": "user", "content": user}]


# Leading decoration a judge may wrap its verdict in: markdown emphasis, headings, quotes.
_DECORATION = " \t\r\n\"'`*_#>~“”‘’«»"

# Refusals are matched only at the very start of the reply: a critique may legitimately
# *quote* a refusal found in the response ('The response says "As an AI, I cannot..."').
_REFUSAL = re.compile(
    r"(i'?m sorry|i am sorry|sorry)[,.!]?\s+(but\s+)?i\s+(can(not|'t| not)|am unable|won'?t|am not able)"
    r"|as an ai\b"
    r"|i\s+(can(not|'t| not)|am unable to|won'?t|am not able to)\s+"
    r"(assist|help|comply|provide|evaluate|review|fulfil|do that|answer)",
    re.IGNORECASE,
)


# Text a proxy or server sends as a 200 reply when the model never answered. Matched at the
# very start only (a critique may quote an error message found in the response), and an
# "Error: ..." only with transport words, since "Error: the capital is Madrid." is a critique.
_TRANSPORT = r"(time-?out|timed out|upstream|gateway|connection|unavailable|rate.?limit|overloaded|" \
             r"internal server|server error|\b[45]\d\d\b)"
_NOT_A_REPLY = re.compile(
    rf"error\b[^\n]{{0,40}}?{_TRANSPORT}"
    r"|(upstream|bad gateway|gateway time-?out|service unavailable|internal server error|too many requests)\b"
    r"|<!doctype|<html|\{\s*\"error\"",
    re.IGNORECASE,
)


def is_perfect(text: str) -> bool:
    """True when the reply, after leading markdown/quotes, is the verdict "perfect" (alone or
    followed by punctuation), the rule of ``cut.records.is_perfect_verdict``."""
    return is_perfect_verdict(text.lstrip(_DECORATION).rstrip(_DECORATION))


def format_problem(text: str) -> str | None:
    """Why a non-empty reply does not follow the requested format, or None when it does."""
    bare = text.lstrip(_DECORATION)
    if bare.lower().startswith("perfect") and not is_perfect(text):
        return f"reply starts with 'perfect' but is not the verdict: {_first_line(text)}"
    if _NOT_A_REPLY.match(bare):
        return f"reply looks like a server error, not a judgment: {_first_line(text)}"
    return None


def is_refusal(text: str) -> bool:
    normalised = text.strip().replace("’", "'")
    return _REFUSAL.match(normalised) is not None


def split_revision(text: str) -> tuple[str, str | None]:
    """(critique, revision) of a reply whose critique is followed by a "Revision:" line; the
    revision is None when there is no such line or nothing after it."""
    m = _REVISION_LINE.search(text)
    if m is None:
        return text, None
    revision = text[m.end():].strip("\n").rstrip()
    return text[: m.start()].strip(), revision if revision.strip() else None


def parse_reply(text: str | None, response: str, finish_reason: str | None = None,
                revisions: bool = False) -> Verdict:
    """Turn a judge reply into a Verdict. ``raw`` is always the reply as received.

    - cut off (``finish_reason == "length"``), filtered, empty, or a refusal → ``Verdict(error=...)``;
    - the verdict "perfect" → ``judgment=None`` (acceptable);
    - not in the requested format (``format_problem``) → ``Verdict(error=...)``;
    - otherwise ``judgment`` = the stripped reply and ``spans`` = the quotes of the reply
      located in ``response`` (exact, then whitespace/case-normalised; unmatched quotes give
      no span and stay in the text); with ``revisions``, the text after a "Revision:" line
      is the verdict's ``revision`` and not part of the judgment.
    """
    if finish_reason == "length":
        return Verdict(raw=text, error="judge reply was cut off at max_tokens (finish_reason=length)")
    if finish_reason == "content_filter":
        return Verdict(raw=text, error="judge reply was withheld by a content filter")
    if text is None or not text.strip():
        return Verdict(raw=text, error="judge reply was empty")
    if is_refusal(text):
        return Verdict(raw=text, error=f"judge refused: {_first_line(text)}")
    if is_perfect(text):
        return Verdict(judgment=None, raw=text)
    problem = format_problem(text)
    if problem:
        return Verdict(raw=text, error=problem)
    critique, revision = split_revision(text.strip()) if revisions else (text.strip(), None)
    if not critique:
        return Verdict(raw=text, error="judge reply has a revision but no critique")
    return Verdict(judgment=critique, spans=spans_from_quotes(critique, response), revision=revision, raw=text)


def _first_line(text: str, limit: int = 80) -> str:
    line = text.strip().splitlines()[0]
    return line if len(line) <= limit else line[: limit - 1] + "…"
