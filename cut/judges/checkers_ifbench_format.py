"""IFBench's format constraints (Pyatkin et al. 2025, arXiv 2507.02833): nesting, lists,
layout, fixed answers.

Ids and kwargs are IFBench's. Conventions follow its verification functions:
- ``format:parentheses``: brackets ``( [ {`` nest at least 5 deep inside one matched group
  (a mismatched closer starts the count again);
- ``format:quotes``: quotes nest at least 3 deep, each level closed by the mark that opened
  it (straight ``"`` and ``'`` only — so an apostrophe counts as a quote, as in IFBench);
- ``format:list``: the separator ``sep`` occurs at least twice;
- ``format:thesis``: an HTML ``<i>`` or ``<em>`` element with text, and text after it;
- ``format:sub-bullets``: after every ``*`` a ``-`` follows before the next ``*``;
- ``format:line_indent``: every non-blank line is indented by more spaces than the one before;
- ``format:newline``: once ASCII punctuation is removed, each non-blank line is one word;
- ``format:no_whitespace``: no whitespace character at all;
- ``format:options``: the answer, stripped of punctuation and case-folded, is one of the
  options (split on "/", else on "or", else on ","); letter options ("a), b), c)") must match
  exactly;
- ``count:punctuation``: ". , ! ? ; :" each used, and an interrobang ("?!", "!?" or "‽");
- ``format:title_case``: every word token starting with a letter is capitalised (one-letter
  words upper case; "iPhone"-like mixed case passes), tokens as nltk's ``word_tokenize``;
- ``repeat:repeat_simple``: the answer is IFBench's sentence "Only output this sentence here,
  ignore all other requests." (case-folded, stripped).

Departures: ``format:thesis`` reads ``<em>`` elements whole (IFBench cuts three characters
into them); ``format:sub-bullets`` needs at least one ``*`` (IFBench accepts an answer
without any bullet).

Spans: the line that breaks the stairs, the words sharing a line, the first whitespace, the
bullet without a sub-bullet, the lowercase words; a missing element has no span.
"""

from __future__ import annotations

import re
import string

from cut.judges.checker_base import (
    CheckResult,
    Spec,
    examples,
    failed,
    passed,
    plural,
    quote,
    quote_list,
)
from cut.judges.text_units import line_spans, strip_span, treebank_spans

_PAIRS = {")": "(", "]": "[", "}": "{"}
_MARKS = set(".,!?;:")
REPEAT_SENTENCE = "Only output this sentence here, ignore all other requests."


def _depth_reached(response: str) -> bool:
    stack, deepest = [], 0
    for char in response:
        if char in "([{":
            stack.append(char)
            deepest = max(deepest, len(stack))
        elif char in _PAIRS:
            if not stack or stack[-1] != _PAIRS[char]:
                stack, deepest = [], 0
                continue
            stack.pop()
            if deepest >= 5:
                return True
    return False


def check_parentheses(response: str, kwargs: dict) -> CheckResult:
    if _depth_reached(response):
        return passed()
    return failed("The response does not nest brackets 5 levels deep (such as ( [ { ( [ ... ] ) } ] )); "
                  "the instruction asks for at least 5 levels.")


def check_quotes(response: str, kwargs: dict) -> CheckResult:
    stack, deepest = [], 0
    for char in response:
        if stack and char == stack[-1]:
            stack.pop()
            if deepest - len(stack) >= 3:
                return passed()
        elif char in "\"'":
            stack.append(char)
            deepest = max(deepest, len(stack))
    return failed("The response does not nest quotations 3 levels deep; the instruction asks for quotes within "
                  "quotes within quotes, alternating double and single quotation marks.")


def check_list(response: str, kwargs: dict) -> CheckResult:
    sep = kwargs["sep"]
    n = response.count(sep)
    if n >= 2:
        return passed()
    return failed(f"The response uses the separator {quote(sep, None)} {plural(n, 'time')}; the instruction asks "
                  "for a list of items separated by it instead of bullet points.")


def check_thesis(response: str, kwargs: dict) -> CheckResult:
    match = re.search(r"<(i|em)>(.*?)</\1>", response, flags=re.DOTALL)
    if match and match.group(2).strip() and response[match.end():].strip():
        return passed()
    if not match:
        return failed("The response has no thesis statement in HTML italics (<i>...</i> or <em>...</em>); the "
                      "instruction asks for one at the start of each section.")
    return failed(f"The italic element {quote(match.group(0))} is empty or nothing follows it; the instruction "
                  "asks for a thesis statement in italics followed by the section.", [match.span()])


def check_sub_bullets(response: str, kwargs: dict) -> CheckResult:
    stars = [m.start() for m in re.finditer(r"\*", response)] + [len(response)]
    if len(stars) == 1:
        return failed("The response has no bullet points marked with *; the instruction asks for bullets, each "
                      "with at least one sub-bullet marked with -.")
    for a, b in zip(stars, stars[1:]):
        if "-" not in response[a:b]:
            span = strip_span(response, a, response.find("\n", a) if "\n" in response[a:b] else b)
            return failed(f"The bullet {quote(response[slice(*span)])} has no sub-bullet marked with -; the "
                          "instruction asks for at least one under each bullet.", [span])
    return passed()


def check_line_indent(response: str, kwargs: dict) -> CheckResult:
    lines = [line for line in re.finditer(r"[^\n]*", response) if line.group(0).strip()]
    indent = [len(m.group(0)) - len(m.group(0).lstrip(" ")) for m in lines]
    for i in range(1, len(lines)):
        if indent[i] <= indent[i - 1]:
            span = strip_span(response, *lines[i].span())
            return failed(f"The line {quote(response[slice(*span)])} is indented by {plural(indent[i], 'space')}, "
                          f"no more than the line before ({indent[i - 1]}); the instruction asks each new line to "
                          "be indented further, like stairs.", [span])
    return passed()


def check_newline(response: str, kwargs: dict) -> CheckResult:
    crowded = [(a, b) for a, b in line_spans(response)
               if len(response[a:b].translate(str.maketrans("", "", string.punctuation)).split()) > 1]
    if not crowded:
        return passed()
    return failed(f"The response has {plural(len(crowded), 'line')} with more than one word, e.g. "
                  f"{examples(response, crowded, 1)}; the instruction asks for each word on its own line.", crowded)


def check_no_whitespace(response: str, kwargs: dict) -> CheckResult:
    spaces = [m.span() for m in re.finditer(r"\s", response)]
    if not spaces:
        return passed()
    return failed(f"The response contains {plural(len(spaces), 'whitespace character')}; the instruction "
                  "forbids any whitespace.", spaces[:1])


def _options(text: str) -> list[str]:
    separator = "/" if "/" in text else "or" if "or" in text else ","
    return [o.strip() for o in text.split(separator)]


def check_options(response: str, kwargs: dict) -> CheckResult:
    options = _options(kwargs["options"])
    if re.match(r"\W*[aA]\W*[bB]\W*[cC]\W*", kwargs["options"]):
        ok = response in options
    else:
        clean = response.strip(string.punctuation + " ").lower()
        ok = any(o.strip(string.punctuation + " ").lower() == clean for o in options)
    if ok:
        return passed()
    return failed(f"The response is {quote(response)}, not one of the options {quote_list(options, None)}; the "
                  "instruction asks for one of them and no explanation.")


def check_punctuation(response: str, kwargs: dict) -> CheckResult:
    interrobang = next((m for m in ("?!", "!?", "‽") if m in response), None)
    rest = response.replace(interrobang, "", 1) if interrobang in ("?!", "!?") else response
    missing = sorted(_MARKS - set(rest), key=".,!?;:".index)
    if interrobang and not missing:
        return passed()
    parts = ([f"the marks {' '.join(missing)}"] if missing else []) + ([] if interrobang else ["an interrobang (?!)"])
    return failed(f"The response lacks {' and '.join(parts)}; the instruction asks for every standard "
                  "punctuation mark, the interrobang included.")


def _lowercase_word(token: str) -> bool:
    if not token[:1].isalpha() or not token[0].islower():
        return False
    rest = token[1:]
    return not rest or rest.islower() or rest.isupper()


def check_title_case(response: str, kwargs: dict) -> CheckResult:
    spans = [(a, b) for a, b in treebank_spans(response) if _lowercase_word(response[a:b])]
    if not spans:
        return passed()
    return failed(f"The response has {plural(len(spans), 'word')} not capitalised, e.g. "
                  f"{examples(response, spans)}; the instruction asks for title case.", spans)


def check_repeat_simple(response: str, kwargs: dict) -> CheckResult:
    if response.strip().lower() == REPEAT_SENTENCE.lower():
        return passed()
    return failed(f"The response is not just the sentence {quote(REPEAT_SENTENCE, None)}; the instruction asks "
                  "for that sentence and nothing else.")


SPECS = [
    Spec("format:parentheses", {}, check_parentheses,
         lambda kw: "Nest parentheses (and [brackets {and braces}]) at least 5 levels deep."),
    Spec("format:quotes", {}, check_quotes,
         lambda kw: "Include quotes within quotes within quotes, at least 3 levels deep, alternating between "
                    "double quotes and single quotes."),
    Spec("format:list", {"sep": "text"}, check_list,
         lambda kw: f"Answer with a list of items; instead of bullet points use {quote(kw['sep'], None)}."),
    Spec("format:thesis", {}, check_thesis,
         lambda kw: "Each section must begin with a thesis statement in italics; use HTML (<i>...</i>) for them."),
    Spec("format:sub-bullets", {}, check_sub_bullets,
         lambda kw: "Use bullet points marked with * and at least one sub-bullet marked with - under each."),
    Spec("format:line_indent", {}, check_line_indent,
         lambda kw: "Create stairs by indenting each new line further than the one before."),
    Spec("format:newline", {}, check_newline, lambda kw: "Write each word on a new line."),
    Spec("format:no_whitespace", {}, check_no_whitespace,
         lambda kw: "Do not use any whitespace (spaces, tabs or line breaks) in your response."),
    Spec("format:options", {"options": "text"}, check_options,
         lambda kw: f"Answer with one of the following options: {kw['options']}. Do not give any explanation."),
    Spec("count:punctuation", {}, check_punctuation,
         lambda kw: "Use every standard punctuation mark at least once, including semicolons, colons and the "
                    "interrobang (?!)."),
    Spec("format:title_case", {}, check_title_case, lambda kw: "Write your entire response in title case."),
    Spec("repeat:repeat_simple", {}, check_repeat_simple, lambda kw: REPEAT_SENTENCE),
]
