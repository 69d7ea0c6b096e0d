"""How a response starts and ends: end phrase, start phrase, quotation marks, repeated prompt.

``startend:end_checker`` follows IFEval: strip whitespace, then double quotes, lowercase, and
test ``endswith``. ``startend:start_checker`` is ours (IFEval has none) and mirrors it with
``startswith``, kwarg ``start_phrase``. ``combination:repeat_prompt`` (IFEval) tests that the
stripped, lowercased response starts with the stripped, lowercased ``prompt_to_repeat``.

Spans: a wrong ending flags the last sentence of the response, a wrong start (or a prompt
not repeated) its first sentence — simple to state and what a reader looks at. Missing
quotation marks are an absence and have no span.
"""

from __future__ import annotations

from cut.judges.checker_base import CheckResult, Spec, failed, passed, quote
from cut.judges.text_units import sentence_spans


def _normalised(response: str) -> str:
    return response.strip().strip('"').lower()


def check_end(response: str, kwargs: dict) -> CheckResult:
    phrase = kwargs["end_phrase"].strip()
    if _normalised(response).endswith(phrase.lower()):
        return passed()
    sentences = sentence_spans(response)
    if not sentences:
        return failed(f"The response is empty, so it does not end with the phrase {quote(phrase, None)}.")
    last = sentences[-1]
    return failed(f"The response does not end with the exact phrase {quote(phrase, None)}; its last sentence is "
                  f"{quote(response[slice(*last)])}.", [last])


def check_start(response: str, kwargs: dict) -> CheckResult:
    phrase = kwargs["start_phrase"].strip()
    if _normalised(response).startswith(phrase.lower()):
        return passed()
    sentences = sentence_spans(response)
    if not sentences:
        return failed(f"The response is empty, so it does not start with the phrase {quote(phrase, None)}.")
    first = sentences[0]
    return failed(f"The response does not start with the exact phrase {quote(phrase, None)}; it starts with "
                  f"{quote(response[slice(*first)])}.", [first])


def check_quotation(response: str, kwargs: dict) -> CheckResult:
    text = response.strip()
    if len(text) > 1 and text[0] == '"' and text[-1] == '"':
        return passed()
    if not text:
        return failed("The response is empty; the instruction asks for it to be wrapped in double quotation marks.")
    head, tail = " ".join(text.split()[:3]), " ".join(text.split()[-3:])
    return failed(f"The response is not wrapped in double quotation marks: it starts with {quote(head)} "
                  f"and ends with {quote(tail)}.")


def check_repeat_prompt(response: str, kwargs: dict) -> CheckResult:
    request = kwargs["prompt_to_repeat"].strip()
    if response.strip().lower().startswith(request.lower()):
        return passed()
    sentences = sentence_spans(response)
    if not sentences:
        return failed("The response is empty, so it does not repeat the request.")
    first = sentences[0]
    return failed(f"The response does not begin by repeating the request word for word ({quote(request)}); "
                  f"it begins with {quote(response[slice(*first)])}.", [first])


SPECS = [
    Spec("startend:end_checker", {"end_phrase": "text"}, check_end,
         lambda kw: f"End your response with the exact phrase {quote(kw['end_phrase'].strip(), None)}; "
                    "no other words may follow it."),
    Spec("startend:start_checker", {"start_phrase": "text"}, check_start,
         lambda kw: f"Start your response with the exact phrase {quote(kw['start_phrase'].strip(), None)}."),
    Spec("startend:quotation", {}, check_quotation,
         lambda kw: "Wrap your entire response in double quotation marks."),
    Spec("combination:repeat_prompt", {"prompt_to_repeat": "text"}, check_repeat_prompt,
         lambda kw: "First repeat the request below word for word without any change, then give your answer; "
                    "do not write anything before the repeated request (and do not repeat this sentence)."),
]
