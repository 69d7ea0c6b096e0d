"""Format constraints of the IFEval family: bullets, JSON, title, highlights, sections,
fixed answers, two responses.

Semantics follow IFEval's checkers: a bullet is a line starting (after whitespace) with "*"
not followed by "*", or with "-"; a highlight is ``*text*`` or ``**text**`` on one line with
non-blank text (both forms counted, as IFEval does); JSON may sit inside a ```json fence; a
title is ``<<...>>`` on one line with non-blank text; sections are counted by splitting on
"<splitter> <number>" (the splitter matched literally; IFEval does not escape it).

Spans: the bullets past the required number; for invalid JSON, the rest of the line where
parsing failed; for two identical responses, the second one. Too few bullets, a missing
title or too few highlights or sections are absences without a span.
"""

from __future__ import annotations

import json
import re

from cut.judges.checker_base import (
    CheckResult,
    Spec,
    failed,
    ordinal,
    passed,
    plural,
    quote,
    quote_list,
)
from cut.judges.text_units import strip_span

# IFEval's two bullet patterns, counted separately and summed, as it does.
_BULLETS = (re.compile(r"^\s*\*[^*].*$", flags=re.MULTILINE), re.compile(r"^\s*-.*$", flags=re.MULTILINE))
_CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def _bullet_spans(response: str) -> list:
    """Each bullet line, stripped (IFEval's ``^\\s*`` may start the match on an earlier blank line)."""
    return sorted(strip_span(response, *m.span()) for pattern in _BULLETS for m in pattern.finditer(response))


def check_bullets(response: str, kwargs: dict) -> CheckResult:
    want = kwargs["num_bullets"]
    bullets = _bullet_spans(response)
    if len(bullets) == want:
        return passed()
    found = (f"The response has {plural(len(bullets), 'bullet point')}; "
             f"the instruction asks for exactly {want}")
    if len(bullets) < want:
        return failed(found + " (markdown lines starting with * or -).")
    extra = bullets[want:]
    return failed(f"{found}, so the bullets from the {ordinal(want + 1)} on are extra, starting with "
                  f"{quote(response[slice(*extra[0])])}.", extra)


def _json_body(response: str) -> tuple[str, int]:
    """IFEval's cleanup (strip; drop a leading ```json/```Json/```JSON then ```, a trailing
    ```; strip again) returning the body and its offset in ``response``."""
    body = response.strip()
    offset = len(response) - len(response.lstrip())
    for fence in ("```json", "```Json", "```JSON", "```"):
        if body.startswith(fence):
            body, offset = body[len(fence):], offset + len(fence)
    if body.endswith("```"):
        body = body[:-3]
    offset += len(body) - len(body.lstrip())
    return body.strip(), offset


def check_json(response: str, kwargs: dict) -> CheckResult:
    body, offset = _json_body(response)
    try:
        json.loads(body)
        return passed()
    except ValueError as err:
        pos = offset + getattr(err, "pos", 0)
        reason = getattr(err, "msg", str(err))
    asked = "the instruction asks for the entire response to be JSON."
    if not body:
        return failed(f"The response is empty, not JSON; {asked}")
    pos = min(pos, offset + len(body) - 1)
    line_end = response.find("\n", pos)
    span = strip_span(response, pos, line_end if line_end >= 0 else offset + len(body))
    if span is None:  # the error sits on whitespace at the end of a line: flag that line
        line_start = response.rfind("\n", 0, pos) + 1
        span = strip_span(response, line_start, pos + 1)
    return failed(f"The response is not valid JSON ({reason[0].lower() + reason[1:]} at "
                  f"{quote(response[slice(*span)])}); {asked}", [span] if span else [])


def check_title(response: str, kwargs: dict) -> CheckResult:
    if any(t.lstrip("<").rstrip(">").strip() for t in re.findall(r"<<[^\n]+>>", response)):
        return passed()
    return failed("The response has no title wrapped in double angular brackets, such as <<my title>>; "
                  "the instruction asks for one.")


def count_highlights(response: str) -> int:
    single = [h for h in re.findall(r"\*[^\n*]*\*", response) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n*]*\*\*", response) if h[2:-2].strip()]
    return len(single) + len(double)


def check_highlights(response: str, kwargs: dict) -> CheckResult:
    want, n = kwargs["num_highlights"], count_highlights(response)
    if n >= want:
        return passed()
    return failed(f"The response has {plural(n, 'highlighted section')} marked with markdown such as "
                  f"*highlighted*; the instruction asks for at least {want}.")


def check_sections(response: str, kwargs: dict) -> CheckResult:
    splitter, want = kwargs["section_spliter"].strip(), kwargs["num_sections"]
    n = len(re.split(r"\s?" + re.escape(splitter) + r"\s?\d+\s?", response)) - 1
    if n >= want:
        return passed()
    return failed(f"The response has {plural(n, 'section')} marked {quote(splitter + ' X', None)}; "
                  f"the instruction asks for at least {want}.")


def check_constrained(response: str, kwargs: dict) -> CheckResult:
    if any(option in response.strip() for option in _CONSTRAINED_OPTIONS):
        return passed()
    return failed(f"The response contains none of the allowed answers {quote_list(list(_CONSTRAINED_OPTIONS), None)}.")


def check_two_responses(response: str, kwargs: dict) -> CheckResult:
    pieces = response.split("******")
    starts = [0]
    for piece in pieces[:-1]:
        starts.append(starts[-1] + len(piece) + 6)
    if any(not p.strip() for p in pieces[1:-1]):
        return failed("The response has an empty answer between two ****** separators; the instruction "
                      "asks for exactly two different responses separated by ******.")
    answers = [(s, p) for s, p in zip(starts, pieces) if p.strip()]
    if len(answers) != 2:
        return failed(f"The response has {plural(len(answers), 'answer')} separated by ******; "
                      "the instruction asks for exactly two different responses.")
    if answers[0][1].strip() != answers[1][1].strip():
        return passed()
    start, text = answers[1]
    span = strip_span(response, start, start + len(text))
    return failed(f"The two answers separated by ****** are identical ({quote(text)}); the instruction asks "
                  "for two different responses.", [span])


SPECS = [
    Spec("detectable_format:number_bullet_lists", {"num_bullets": "count"}, check_bullets,
         lambda kw: f"Your answer must contain exactly {plural(kw['num_bullets'], 'bullet point')}, "
                    "each on its own line starting with \"* \"."),
    Spec("detectable_format:json_format", {}, check_json,
         lambda kw: "Wrap your entire response in JSON format; you may use markdown ticks such as ```."),
    Spec("detectable_format:title", {}, check_title,
         lambda kw: "Give your answer a title wrapped in double angular brackets, such as <<my title>>."),
    Spec("detectable_format:number_highlighted_sections", {"num_highlights": "count"}, check_highlights,
         lambda kw: f"Highlight at least {plural(kw['num_highlights'], 'section')} of your answer with "
                    "markdown, for example *highlighted section*."),
    Spec("detectable_format:multiple_sections", {"section_spliter": "text", "num_sections": "count"},
         check_sections,
         lambda kw: f"Divide your response into {plural(kw['num_sections'], 'section')}, starting each one with "
                    f"{quote(kw['section_spliter'] + ' X', None)} where X is its number, e.g. "
                    f"{quote(kw['section_spliter'] + ' 1', None)}."),
    Spec("detectable_format:constrained_response", {}, check_constrained,
         lambda kw: f"Answer with one of the following options: {quote_list(list(_CONSTRAINED_OPTIONS), None)}."),
    Spec("combination:two_responses", {}, check_two_responses,
         lambda kw: "Give two different responses, separated by six asterisks: ******."),
]
