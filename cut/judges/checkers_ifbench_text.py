"""IFBench's sentence-type ratios, overlap, templates and scripts (Pyatkin et al. 2025,
arXiv 2507.02833), and the two checkers that need an optional package.

Ids and kwargs are IFBench's; conventions follow its verification functions:
- ``ratio:sentence_type``: sentences ending in "." are twice those ending in "?";
- ``ratio:sentence_balance``: as many sentences end in "." as in "?" and in "!";
- ``ratio:overlap``: the share of the response's distinct character trigrams that occur in
  ``reference_text`` is ``percentage`` ± 2 points;
- ``format:output_template``: "My Answer:", "My Conclusion:" and "Future Outlook:" all appear;
- ``format:quote_unquote``: with whitespace removed (and curly double quotes read as
  straight), no quotation is directly followed by another quote mark, and the answer does
  not end on a quotation (trailing digits and punctuation ignored);
- ``count:words_japanese``: every ``N``-th whitespace word (punctuation stripped; numbers
  skipped) contains kana or kanji;
- ``format:emoji``: every sentence ends with an emoji (its last or second-to-last character
  once ASCII punctuation is removed, or the first of the next sentence) — needs ``emoji``;
- ``words:odd_even_syllables``: bare words alternate odd and even syllable counts, as
  ``syllapy`` counts them — needs ``syllapy``.

The last two are an optional extra (``pip install 'cut[ifbench]'``); without it they raise
a CutError saying so, never a silent pass.

Spans: the first sentence or word that breaks the rule; counts and ratios have none.
"""

from __future__ import annotations

import re
import string

from cut.judges.checker_base import (
    CheckResult,
    Spec,
    failed,
    ordinal,
    passed,
    plural,
    quote,
)
from cut.judges.checkers_ifbench_count import bare_words
from cut.judges.text_units import sentence_spans

TEMPLATE = ("My Answer:", "My Conclusion:", "Future Outlook:")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
_EXTRA = "pip install 'cut[ifbench]'"


def _optional(module: str):
    try:
        return __import__(module)
    except ImportError:
        from cut.errors import CutError

        raise CutError(f"this IFBench checker needs the optional package {module!r}: {_EXTRA}") from None


def _endings(response: str) -> dict[str, int]:
    ends = [response[b - 1] for _, b in sentence_spans(response)]
    return {mark: ends.count(mark) for mark in ".?!"}


def check_sentence_type(response: str, kwargs: dict) -> CheckResult:
    n = _endings(response)
    if n["."] == 2 * n["?"]:
        return passed()
    return failed(f"The response has {plural(n['.'], 'declarative sentence')} and {plural(n['?'], 'question')}; "
                  "the instruction asks for twice as many declarative sentences as questions.")


def check_sentence_balance(response: str, kwargs: dict) -> CheckResult:
    n = _endings(response)
    if n["."] == n["?"] == n["!"]:
        return passed()
    return failed(f"The response has {n['.']} sentences ending in a period, {n['?']} in a question mark and "
                  f"{n['!']} in an exclamation mark; the instruction asks for as many of each kind.")


def _trigrams(text: str) -> set[str]:
    return {text[i:i + 3] for i in range(len(text) - 2)}


def check_overlap(response: str, kwargs: dict) -> CheckResult:
    mine, want = _trigrams(response), kwargs["percentage"]
    share = 100 * len(mine & _trigrams(kwargs["reference_text"])) / len(mine) if mine else None
    if share is not None and want - 2 <= share <= want + 2:
        return passed()
    got = "no trigrams" if share is None else f"{share:.1f}% of its character trigrams"
    return failed(f"The response shares {got} with the reference text; the instruction asks for {want}% "
                  "(within 2 points).")


def check_output_template(response: str, kwargs: dict) -> CheckResult:
    missing = [part for part in TEMPLATE if part not in response]
    if not missing:
        return passed()
    return failed(f"The response lacks {', '.join(quote(m, None) for m in missing)}; the instruction asks for "
                  "the template My Answer: ... My Conclusion: ... Future Outlook: ...")


def check_quote_unquote(response: str, kwargs: dict) -> CheckResult:
    text = "".join(response.replace("“", '"').replace("”", '"').replace("'\"'", "").split())
    if '""' in text:
        return failed("A quotation is directly followed by another quotation mark; the instruction asks for an "
                      "unquoted explanation after every quoted phrase.")
    if text.strip(string.digits + string.punctuation.replace('"', "")).endswith('"'):
        return failed("The response ends on a quotation; the instruction asks for an unquoted explanation after "
                      "every quoted phrase.")
    return passed()


def check_words_japanese(response: str, kwargs: dict) -> CheckResult:
    step = kwargs["N"]
    for i, m in enumerate(re.finditer(r"\S+", response), 1):
        word = m.group(0).strip(string.punctuation + " ")
        if i % step == 0 and word and not word.isdigit() and not _JAPANESE.search(word):
            return failed(f"Word {i} ({quote(m.group(0))}) is not in Japanese; the instruction asks for every "
                          f"{ordinal(step)} word in Japanese.", [m.span()])
    return passed()


def check_emoji(response: str, kwargs: dict) -> CheckResult:
    is_emoji = _optional("emoji").is_emoji
    spans = sentence_spans(response)
    bare = [response[a:b].translate(str.maketrans("", "", string.punctuation)).strip() for a, b in spans]
    for i, (text, span) in enumerate(zip(bare, spans)):
        ends = bool(text) and (is_emoji(text[-1]) or is_emoji(text[-2] if len(text) > 1 else text[-1]))
        carried = i + 1 < len(bare) and bool(bare[i + 1]) and is_emoji(bare[i + 1][0])
        if not ends and not carried:
            return failed(f"The sentence {quote(response[slice(*span)])} does not end with an emoji; the "
                          "instruction asks for one at the end of every sentence.", [span])
    return passed()


def check_syllables(response: str, kwargs: dict) -> CheckResult:
    count = _optional("syllapy").count
    words = bare_words(response)
    parity = [count(w) % 2 for _, _, w in words]
    for i in range(1, len(words)):
        if parity[i] == parity[i - 1]:
            a, b, _ = words[i]
            kind = "an odd" if parity[i] else "an even"
            return failed(f"{quote(response[a:b])} has {kind} number of syllables, like the word before it; the "
                          "instruction asks words to alternate odd and even syllable counts.", [(a, b)])
    return passed()


SPECS = [
    Spec("ratio:sentence_type", {}, check_sentence_type,
         lambda kw: "Maintain a 2:1 ratio of declarative to interrogative sentences."),
    Spec("ratio:sentence_balance", {}, check_sentence_balance,
         lambda kw: "Use as many declarative as interrogative and as exclamatory sentences."),
    Spec("ratio:overlap", {"reference_text": "text", "percentage": "count"}, check_overlap,
         lambda kw: f"Maintain a trigram overlap of {kw['percentage']}% (±2%) with the reference text."),
    Spec("format:output_template", {}, check_output_template,
         lambda kw: "Use this exact template for your response: My Answer: [answer] My Conclusion: [conclusion] "
                    "Future Outlook: [outlook]"),
    Spec("format:quote_unquote", {}, check_quote_unquote,
         lambda kw: "Every quoted phrase must be followed by an unquoted explanation."),
    Spec("count:words_japanese", {"N": "count"}, check_words_japanese,
         lambda kw: f"Every {ordinal(kw['N'])} word of your response must be in Japanese."),
    Spec("format:emoji", {}, check_emoji, lambda kw: "Use an emoji at the end of every sentence.", needs="emoji"),
    Spec("words:odd_even_syllables", {}, check_syllables,
         lambda kw: "Alternate between words with odd and even numbers of syllables.", needs="syllapy"),
]
