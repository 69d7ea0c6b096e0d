"""IFBench's word-play and repetition constraints (Pyatkin et al. 2025, arXiv 2507.02833).

Ids and kwargs are IFBench's; conventions follow its verification functions:
- ``words:vowel``: one line only, and at most three distinct vowels (a e i o u) in it;
- ``words:consonants``: every whitespace token has two consonants in a row;
- ``words:alphabet``: each word starts with the letter after the previous word's first letter,
  "z" looping to "a" (words are bare: ASCII punctuation removed);
- ``words:prime_lengths``: every bare word has a prime number of characters;
- ``words:last_first``: each sentence's last word is the next sentence's first (case-folded,
  punctuation at the edges ignored);
- ``words:paragraph_last_first``: each non-blank line starts and ends with the same word;
- ``words:keywords_specific_position``: word ``m`` of sentence ``n`` is ``keyword`` (word
  tokens as nltk's ``word_tokenize``, tokens without a letter or digit skipped);
- ``words:words_position``: the second token and the second-to-last (last when a final
  punctuation token follows) are ``keyword``;
- ``repeat:repeat_change``: the answer is the request with only its first word changed;
- ``repeat:repeat_span``: the answer is the request's characters ``n_start`` to ``n_end``
  (both included), case-folded and stripped;
- ``ratio:sentence_words``: exactly three sentences of the same length in characters;
- ``format:no_bullets_bullets``: at least two sentences, then at least two ``*`` bullets,
  nothing else after the bullets;
- ``sentence:alliteration_increment``: each sentence has a longer run of words sharing a
  first letter than the sentence before.

As in IFBench, ``ratio:sentence_words`` checks the lengths only, not the "all different
words" its instruction also asks for.

Spans: the first word or sentence that breaks the rule; a missing element has no span.
"""

from __future__ import annotations

import re
import string

from cut.judges.checker_base import CheckResult, Spec, failed, passed, plural, quote
from cut.judges.checkers_ifbench_count import bare_words
from cut.judges.text_units import line_spans, sentence_spans, treebank_spans

_CONSONANTS = set("bcdfghjklmnpqrstvwxyz")
_PRIMES = {n for n in range(2, 100) if all(n % d for d in range(2, n))}


def _first_bad(response: str, spans: list, why: str, asked: str) -> CheckResult:
    if not spans:
        return passed()
    a, b = spans[0]
    return failed(f"{quote(response[a:b])} {why}; the instruction asks {asked}.", [spans[0]])


def check_vowels(response: str, kwargs: dict) -> CheckResult:
    lines = response.strip().split("\n")
    used = sorted(set(response.lower()) & set("aeiou"))
    if len(lines) == 1 and len(used) <= 3:
        return passed()
    if len(lines) != 1:
        return failed(f"The response has {plural(len(lines), 'line')}; the instruction asks for one paragraph.")
    return failed(f"The response uses {len(used)} different vowels ({', '.join(used)}); the instruction allows "
                  "only three.")


def check_consonants(response: str, kwargs: dict) -> CheckResult:
    bad = [m.span() for m in re.finditer(r"\S+", response)
           if not any(a in _CONSONANTS and b in _CONSONANTS for a, b in zip(m.group(0).lower(), m.group(0).lower()[1:]))]
    return _first_bad(response, bad, "has no two consonants in a row",
                      "for a consonant cluster in every word")


def check_alphabet(response: str, kwargs: dict) -> CheckResult:
    words = bare_words(response)
    if not words or words[0][2][0] not in string.ascii_lowercase:
        return failed("The response does not start with a word beginning with a letter; the instruction asks each "
                      "word to start with the next letter of the alphabet.")
    bad, letter = [], words[0][2][0]
    for a, b, word in words[1:]:
        letter = chr((ord(letter) - ord("a") + 1) % 26 + ord("a")) if letter in string.ascii_lowercase else letter
        if word[0] != letter:
            bad.append((a, b))
            break
    return _first_bad(response, bad, f"does not start with {quote(letter, None)}",
                      "each word to start with the letter after the previous word's, looping from Z to A")


def check_prime_lengths(response: str, kwargs: dict) -> CheckResult:
    bad = [(a, b) for a, b, word in bare_words(response) if len(word) not in _PRIMES]
    return _first_bad(response, bad, "has a length that is not a prime number",
                      "for words whose lengths are all prime numbers")


def _edge_words(text: str) -> list[str]:
    return text.strip(string.punctuation + " ").lower().split()


def check_last_first(response: str, kwargs: dict) -> CheckResult:
    sentences = sentence_spans(response)
    for (a, b), (c, d) in zip(sentences, sentences[1:]):
        last, first = _edge_words(response[a:b]), _edge_words(response[c:d])
        if not last or not first or last[-1] != first[0]:
            return failed(f"The sentence {quote(response[c:d])} does not start with the last word of the sentence "
                          "before; the instruction asks each sentence to start with the previous one's last word.",
                          [(c, d)])
    return passed()


def check_paragraph_last_first(response: str, kwargs: dict) -> CheckResult:
    bad = [(a, b) for a, b in line_spans(response) if (w := _edge_words(response[a:b])) and w[0] != w[-1]]
    return _first_bad(response, bad, "does not end with the word it starts with",
                      "each paragraph to end with the word it starts with")


def _word_tokens(text: str) -> list[str]:
    return [t for t in (text[a:b] for a, b in treebank_spans(text)) if any(c.isalnum() for c in t)]


def check_keyword_position(response: str, kwargs: dict) -> CheckResult:
    keyword, n, m = kwargs["keyword"], kwargs["n"], kwargs["m"]
    sentences = sentence_spans(response)
    where = f"word {m} of sentence {n}"
    if len(sentences) < n:
        return failed(f"The response has only {plural(len(sentences), 'sentence')}, so there is no {where} to be "
                      f"{quote(keyword, None)}.")
    a, b = sentences[n - 1]
    words = _word_tokens(response[a:b])
    if len(words) >= m and words[m - 1].lower() == keyword.lower():
        return passed()
    got = f"is {quote(words[m - 1])}" if len(words) >= m else "does not exist"
    return failed(f"In sentence {n} ({quote(response[a:b])}) word {m} {got}; the instruction asks for "
                  f"{quote(keyword, None)} there.", [(a, b)])


def check_words_position(response: str, kwargs: dict) -> CheckResult:
    keyword = kwargs["keyword"].lower()
    tokens = [response[a:b] for a, b in treebank_spans(response)]
    tail = tokens[:-1] if tokens and tokens[-1] in string.punctuation else tokens
    if len(tail) >= 2 and tokens[1].lower() == tail[-2].lower() == keyword:
        return passed()
    return failed(f"The second word and the second-to-last word of the response are not both "
                  f"{quote(kwargs['keyword'], None)}; the instruction asks for that word in both places.")


def check_repeat_change(response: str, kwargs: dict) -> CheckResult:
    request = kwargs["prompt_to_repeat"]
    if response != request and request.split()[1:] == response.split()[1:]:
        return passed()
    if response == request:
        return failed("The response repeats the request unchanged; the instruction asks to change its first word.")
    return failed("The response is not the request with only its first word changed; the instruction asks to "
                  "repeat it that way, and not to answer it.")


def check_repeat_span(response: str, kwargs: dict) -> CheckResult:
    span = kwargs["prompt_to_repeat"][kwargs["n_start"]:kwargs["n_end"] + 1]
    if response.strip().lower() == span.strip().lower():
        return passed()
    return failed(f"The response is not the requested span of the request, {quote(span, None)}; the instruction "
                  "asks for exactly that text.")


def check_sentence_words(response: str, kwargs: dict) -> CheckResult:
    sentences = sentence_spans(response)
    if len(sentences) != 3:
        return failed(f"The response has {plural(len(sentences), 'sentence')}; the instruction asks for three.")
    lengths = [b - a for a, b in sentences]
    if len(set(lengths)) == 1:
        return passed()
    return failed(f"The sentences have {', '.join(map(str, lengths))} characters; the instruction asks for the "
                  "same number in each.")


def check_no_bullets_bullets(response: str, kwargs: dict) -> CheckResult:
    sentences, bullets, pos = 0, 0, 0
    for line in response.split("\n"):
        span = (pos, pos + len(line))
        pos += len(line) + 1
        if line.strip().startswith("*"):
            if sentences < 2:
                return failed(f"The bullets start after {plural(sentences, 'sentence')}; the instruction asks for "
                              "at least two sentences before them.", [span])
            bullets += 1
        elif bullets and line.strip():
            return failed(f"The line {quote(line)} follows the bullets; the instruction asks for sentences, then "
                          "bullet points, and nothing after them.", [span])
        elif not bullets:
            sentences += len(sentence_spans(line))
    if bullets >= 2:
        return passed()
    return failed(f"The response has {plural(bullets, 'bullet point')} marked with *; the instruction asks for at "
                  "least two after the sentences.")


def _alliteration(sentence: str) -> int:
    """Words in runs sharing a first letter: 2 for the first pair of a run, 1 for each next word."""
    words = [w for w in (t.lstrip(string.punctuation + " ") for t in sentence.lower().split()) if w]
    total, running = 0, False
    for w1, w2 in zip(words, words[1:]):
        same = w1[0] == w2[0]
        total += (1 if running else 2) if same else 0
        running = same
    return total


def check_alliteration_increment(response: str, kwargs: dict) -> CheckResult:
    previous = -1
    for n, (a, b) in enumerate(sentence_spans(response), 1):
        count = _alliteration(response[a:b])
        if count <= previous:
            return failed(f"Sentence {n} ({quote(response[a:b])}) has {plural(count, 'alliterative word')}, not more "
                          f"than the {previous} of the sentence before; the instruction asks each sentence for a "
                          "longer run of alliteration.", [(a, b)])
        previous = count
    return passed()


SPECS = [
    Spec("words:vowel", {}, check_vowels,
         lambda kw: "Write one paragraph using words that contain only three types of vowels."),
    Spec("words:consonants", {}, check_consonants,
         lambda kw: "Ensure each word in your response has at least one consonant cluster (two or more consonants "
                    "together)."),
    Spec("words:alphabet", {}, check_alphabet,
         lambda kw: "Each word must start with the next letter of the alphabet, looping back to 'A' after 'Z'."),
    Spec("words:prime_lengths", {}, check_prime_lengths,
         lambda kw: "Use only words with lengths that are prime numbers."),
    Spec("words:last_first", {}, check_last_first,
         lambda kw: "The last word of each sentence must become the first word of the next sentence."),
    Spec("words:paragraph_last_first", {}, check_paragraph_last_first,
         lambda kw: "Each paragraph must end with the same word it started with; separate paragraphs with a newline."),
    Spec("words:keywords_specific_position", {"keyword": "text", "n": "count", "m": "count"}, check_keyword_position,
         lambda kw: f"Include the keyword {quote(kw['keyword'], None)} in sentence {kw['n']}, as word {kw['m']} of "
                    "that sentence."),
    Spec("words:words_position", {"keyword": "text"}, check_words_position,
         lambda kw: f"The second word and the second-to-last word of your response must be "
                    f"{quote(kw['keyword'], None)}."),
    Spec("repeat:repeat_change", {"prompt_to_repeat": "text"}, check_repeat_change,
         lambda kw: "Repeat the request below, changing only its first word, and do not answer it. Request: "
                    + kw["prompt_to_repeat"]),
    Spec("repeat:repeat_span", {"prompt_to_repeat": "text", "n_start": "count", "n_end": "count"},
         check_repeat_span,
         lambda kw: f"Copy the span of the request from character {kw['n_start']} to character {kw['n_end']} "
                    "(both included), and nothing else."),
    Spec("ratio:sentence_words", {}, check_sentence_words,
         lambda kw: "Respond with three sentences, all with the same number of characters but using all different "
                    "words."),
    Spec("format:no_bullets_bullets", {}, check_no_bullets_bullets,
         lambda kw: "Write at least two sentences ending in a period, followed by at least two bullet points "
                    "marked with *."),
    Spec("sentence:alliteration_increment", {}, check_alliteration_increment,
         lambda kw: "Each sentence must have a longer sequence of consecutive alliterative words than the previous "
                    "one."),
]
