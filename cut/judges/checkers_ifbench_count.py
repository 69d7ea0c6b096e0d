"""IFBench's counting constraints (Pyatkin et al. 2025, arXiv 2507.02833): words, numbers,
pronouns, conjunctions, keywords, sentences.

Ids and kwargs are IFBench's, so ``cut eval --verifiable IFBench_test.jsonl`` scores it.
Conventions follow IFBench's verification functions, stated per checker; "bare words" are
the whitespace-separated tokens with ASCII punctuation removed (tokens left empty dropped),
the unit most of IFBench's checkers count. Sentences are ``cut.judges.text_units``'s (nltk's
Punkt conventions, as IFBench counts them).

Departures, where IFBench's function does something its instruction does not say:
- ``count:conjunctions`` counts distinct conjunctions case-folded; IFBench counts distinct
  spellings, so "And" and "and" would be two.
- ``count:unique_word_count`` does not count a token of punctuation only ("-") as a word;
  IFBench counts it once, as the empty word.

Spans mark what is counted too often (the extra numbers, the repeats of a word, the
sentence that breaks a progression, the word that repeats a first letter); a shortfall is
an absence and has no span.
"""

from __future__ import annotations

import re
import string
from collections import Counter

from cut.judges.checker_base import (
    CheckResult,
    Spec,
    examples,
    failed,
    passed,
    plural,
    quote,
)
from cut.judges.text_units import sentence_spans, treebank_spans, word_spans

_PUNCTUATION = str.maketrans("", "", string.punctuation)
_CONJUNCTIONS = {"and", "but", "for", "nor", "or", "so", "yet"}
_PRONOUNS = set("""i me we us you he him she her it they them my mine our ours your yours his hers its their
theirs myself ourselves yourself yourselves himself herself itself themselves this that these those who whom
whose which what whoever whomever whatever whichever anybody anyone anything everybody everyone everything
nobody nothing somebody someone something each either neither both all some any none""".split())
_MULTIPLE_COUNTS = (1, 2, 3, 5, 7)  # keyword1 .. keyword5 of count:keywords_multiple


def bare_words(text: str) -> list[tuple[int, int, str]]:
    """(start, end, word) per whitespace token, lowercased, ASCII punctuation removed; tokens
    left empty are dropped."""
    out = []
    for m in re.finditer(r"\S+", text):
        word = m.group(0).translate(_PUNCTUATION).lower()
        if word:
            out.append((m.start(), m.end(), word))
    return out


def check_word_range(response: str, kwargs: dict) -> CheckResult:
    low, high, words = kwargs["min_words"], kwargs["max_words"], word_spans(response)
    if low <= len(words) <= high:
        return passed()
    found = f"The response has {plural(len(words), 'word')}; the instruction asks for between {low} and {high}"
    if len(words) < low:
        return failed(found + ".")
    span = (words[high][0], words[-1][1])
    return failed(f"{found}, so the text from word {high + 1} on is over the limit, starting at "
                  f"{quote(response[span[0]:span[1]])}.", [span])


def check_unique_words(response: str, kwargs: dict) -> CheckResult:
    unique = {m.group(0).lower().strip(string.punctuation) for m in re.finditer(r"\S+", response)} - {""}
    if len(unique) >= kwargs["N"]:
        return passed()
    return failed(f"The response uses {plural(len(unique), 'distinct word')}; the instruction asks for at least "
                  f"{kwargs['N']}.")


def check_sentence_keyword(response: str, kwargs: dict) -> CheckResult:
    word, n, sentences = kwargs["word"], kwargs["N"], sentence_spans(response)
    if len(sentences) < n:
        return failed(f"The response has only {plural(len(sentences), 'sentence')}, so there is no sentence {n} "
                      f"to hold the keyword {quote(word, None)}.")
    a, b = sentences[n - 1]
    if re.search(rf"\b{re.escape(word)}\b", response[a:b], flags=re.IGNORECASE):
        return passed()
    return failed(f"Sentence {n} ({quote(response[a:b])}) does not contain the keyword {quote(word, None)}; "
                  "the instruction asks for it there.", [(a, b)])


def check_numbers(response: str, kwargs: dict) -> CheckResult:
    """IFBench: ASCII punctuation removed first, so "3.5" and "1,000" are one number each."""
    want = kwargs["N"]
    numbers = [(a, b) for a, b, word in bare_words(response) for _ in re.findall(r"\d+", word)]
    if len(numbers) == want:
        return passed()
    found = f"The response has {plural(len(numbers), 'number')}; the instruction asks for exactly {want}"
    if len(numbers) < want:
        return failed(found + ".")
    return failed(f"{found}, e.g. the extra {examples(response, numbers[want:])}.", numbers[want:])


def check_pronouns(response: str, kwargs: dict) -> CheckResult:
    """IFBench: nltk's word tokens of the lowercased text ("/" read as a space) found in its
    list of personal, possessive, reflexive, demonstrative, interrogative and indefinite pronouns."""
    text = response.replace("/", " ").lower()
    n = sum(text[a:b] in _PRONOUNS for a, b in treebank_spans(text))
    if n >= kwargs["N"]:
        return passed()
    return failed(f"The response uses {plural(n, 'pronoun')}; the instruction asks for at least {kwargs['N']}.")


def check_conjunctions(response: str, kwargs: dict) -> CheckResult:
    used = {m.group(0).strip(string.punctuation).lower() for m in re.finditer(r"\S+", response)} & _CONJUNCTIONS
    if len(used) >= kwargs["small_n"]:
        return passed()
    listed = f" ({', '.join(sorted(used))})" if used else ""
    return failed(f"The response uses {plural(len(used), 'different coordinating conjunction')}{listed}; the "
                  f"instruction asks for at least {kwargs['small_n']} of and, but, for, nor, or, so, yet.")


def check_keywords_multiple(response: str, kwargs: dict) -> CheckResult:
    """IFBench: case-insensitive substring counts; keyword1..5 exactly 1, 2, 3, 5 and 7 times."""
    wrong = []
    for n, want in enumerate(_MULTIPLE_COUNTS, 1):
        word = kwargs[f"keyword{n}"]
        got = response.lower().count(word.lower())
        if got != want:
            wrong.append(f"{quote(word, None)} {plural(got, 'time')} instead of {want}")
    if not wrong:
        return passed()
    return failed(f"The response uses {'; '.join(wrong)}.")


def check_increment(response: str, kwargs: dict) -> CheckResult:
    step, sentences = kwargs["small_n"], sentence_spans(response)
    counts = [len(bare_words(response[a:b])) for a, b in sentences]
    for i in range(1, len(counts)):
        if counts[i] != counts[i - 1] + step:
            a, b = sentences[i]
            return failed(f"Sentence {i + 1} ({quote(response[a:b])}) has {plural(counts[i], 'word')} after "
                          f"{counts[i - 1]} in the one before; the instruction asks each sentence to have {step} "
                          "more words than the previous one.", [(a, b)])
    return passed()


def check_repeats(response: str, kwargs: dict) -> CheckResult:
    limit, words = kwargs["small_n"], bare_words(response)
    counts = Counter(w for _, _, w in words)
    over = [w for w, c in counts.items() if c > limit]
    if not over:
        return passed()
    spans = [(a, b) for a, b, w in words if w in over]
    extra = [s for w in over for s in [(a, b) for a, b, x in words if x == w][limit:]]
    return failed(f"The response repeats {', '.join(f'{quote(w, None)} {counts[w]} times' for w in over[:3])}; "
                  f"the instruction allows each word at most {plural(limit, 'time')}.", sorted(extra or spans))


def check_palindromes(response: str, kwargs: dict) -> CheckResult:
    found = [w for _, _, w in bare_words(response) if len(w) >= 5 and w == w[::-1]]
    if len(found) >= 10:
        return passed()
    return failed(f"The response has {plural(len(found), 'palindrome')} of five or more letters; the instruction "
                  "asks for at least 10.")


def check_no_consecutive(response: str, kwargs: dict) -> CheckResult:
    words = bare_words(response)
    clashes = [(a, b) for (_, _, w1), (a, b, w2) in zip(words, words[1:]) if w1[0] == w2[0]]
    if not clashes:
        return passed()
    return failed(f"The response has {plural(len(clashes), 'word')} starting with the same letter as the word "
                  f"before, e.g. {examples(response, clashes)}; the instruction forbids that.", clashes)


SPECS = [
    Spec("count:word_count_range", {"min_words": "count", "max_words": "count"}, check_word_range,
         lambda kw: f"The response must contain between {kw['min_words']} and {kw['max_words']} words."),
    Spec("count:unique_word_count", {"N": "count"}, check_unique_words,
         lambda kw: f"Use at least {kw['N']} unique words in the response."),
    Spec("sentence:keyword", {"word": "text", "N": "count"}, check_sentence_keyword,
         lambda kw: f"The response must include the keyword {quote(kw['word'], None)} in sentence {kw['N']}."),
    Spec("count:numbers", {"N": "count"}, check_numbers,
         lambda kw: f"Include exactly {plural(kw['N'], 'number')} in the response."),
    Spec("count:pronouns", {"N": "count"}, check_pronouns,
         lambda kw: f"The response should include at least {plural(kw['N'], 'pronoun')}."),
    Spec("count:conjunctions", {"small_n": "count"}, check_conjunctions,
         lambda kw: f"Use at least {kw['small_n']} different coordinating conjunctions in the response."),
    Spec("count:keywords_multiple", {f"keyword{n}": "text" for n in range(1, 6)}, check_keywords_multiple,
         lambda kw: "Include " + ", ".join(f"{quote(kw[f'keyword{n}'], None)} {plural(c, 'time')}"
                                          for n, c in enumerate(_MULTIPLE_COUNTS, 1)) + " in your response."),
    Spec("sentence:increment", {"small_n": "count"}, check_increment,
         lambda kw: f"Each sentence must have exactly {kw['small_n']} more words than the previous one."),
    Spec("words:repeats", {"small_n": "count"}, check_repeats,
         lambda kw: f"Do not use any word more than {plural(kw['small_n'], 'time')} in the response."),
    Spec("words:palindrome", {}, check_palindromes,
         lambda kw: "Include at least 10 single-word palindromes, each at least 5 characters long."),
    Spec("words:no_consecutive", {}, check_no_consecutive,
         lambda kw: "No two consecutive words may start with the same letter."),
]
