"""Judge prompt files (format, errors, rendering) and reading judge replies into verdicts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cut.errors import CutError
from cut.judges.prompt import (
    PROMPTS_DIR,
    JudgePrompt,
    is_perfect,
    is_refusal,
    load_prompt,
    parse_prompt,
    parse_reply,
    render_messages,
)
from cut.records import RecordError

CUSTOM = """\
# my judge
name: terse
version: v3

[system]

Judge it. # this hash stays, and {braces} too

[user]
I: {instruction}
R: {response}

"""


# --- loading --------------------------------------------------------------------------------

def test_default_prompt_is_the_packaged_v1_file():
    prompt = load_prompt()
    assert (prompt.name, prompt.version) == ("cut-default", "v1")
    assert Path(prompt.source) == PROMPTS_DIR / "cut-default-v1.txt"
    # the protocol: a single word for a perfect response, quotes for criticised parts
    assert "exactly one word: perfect" in prompt.system
    assert "double quotes" in prompt.system
    assert "{instruction}" in prompt.user_template and "{response}" in prompt.user_template
    assert not prompt.system.startswith("\n") and not prompt.user_template.endswith("\n")


def test_load_by_name_path_and_suffix_agree():
    by_default = load_prompt(None)
    assert load_prompt("cut-default-v1") == by_default
    assert load_prompt("cut-default-v1.txt") == by_default
    assert load_prompt(str(PROMPTS_DIR / "cut-default-v1.txt")) == by_default


def test_custom_file_sections_are_kept_verbatim(tmp_path):
    path = tmp_path / "terse.txt"
    path.write_text(CUSTOM)
    prompt = load_prompt(str(path))
    assert prompt == JudgePrompt("terse", "v3", "Judge it. # this hash stays, and {braces} too",
                                 "I: {instruction}\nR: {response}", str(path))


def test_unknown_prompt_name_lists_packaged_prompts():
    with pytest.raises(CutError, match=r"'nope' is neither a file nor a packaged prompt \(packaged: cut-default-v1"):
        load_prompt("nope")


@pytest.mark.parametrize("text, line, field, message", [
    ("name: a\n[user]\n{instruction} {response}\n", None, "version", "missing header line"),
    ("name: a\nversion: 1\nauthor: me\n[user]\n{instruction}{response}", 3, "author", "unknown header key"),
    ("name: a\nversion: 1\njust words\n", 3, None, "header lines are 'key: value'"),
    ("name: a\nversion: 1\n[assistant]\nx\n", 3, "assistant", "unknown section"),
    ("name: a\nversion: 1\n[user]\n{instruction}\n[user]\n{response}\n", 5, "user", "section appears twice"),
    ("name: a\nversion: 1\n[system]\nhi\n", None, "user", "missing or empty [user] section"),
    ("name: a\nversion: 1\n[user]\nonly {instruction}\n", None, "user", "must contain {response}"),
])
def test_bad_prompt_files_name_file_line_and_field(tmp_path, text, line, field, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(RecordError) as info:
        load_prompt(str(path))
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert message in str(err) and str(path) in str(err)


# --- rendering ------------------------------------------------------------------------------

def test_render_messages_exact_strings():
    prompt = parse_prompt(CUSTOM, "custom")
    assert render_messages(prompt, "Add 2 and 2.", "5") == [
        {"role": "system", "content": "Judge it. # this hash stays, and {braces} too"},
        {"role": "user", "content": "I: Add 2 and 2.\nR: 5"},
    ]


def test_render_is_literal_for_braces_and_placeholders_inside_values():
    prompt = parse_prompt(CUSTOM, "custom")
    # an instruction that itself contains "{response}" must not receive the response
    messages = render_messages(prompt, "print('{response}') and {x}", "def f(): return {}")
    assert messages[1]["content"] == "I: print('{response}') and {x}\nR: def f(): return {}"


def test_no_system_section_means_no_system_message():
    prompt = parse_prompt("name: a\nversion: 1\n[user]\n{instruction}|{response}\n")
    assert render_messages(prompt, "x", "y") == [{"role": "user", "content": "x|y"}]


# --- replies --------------------------------------------------------------------------------

@pytest.mark.parametrize("reply", ["perfect", "Perfect.", "  PERFECT!\n", "**Perfect**", '"perfect"',
                                   "> Perfect", "Perfect - no mistakes."])
def test_perfect_replies_accept_the_response(reply):
    verdict = parse_reply(reply, "any response")
    assert verdict.judgment is None and verdict.spans is None and verdict.error is None
    assert verdict.raw == reply  # stored as received


def test_not_perfect_when_perfect_is_not_first():
    assert not is_perfect("The answer is not perfect: 2 + 2 is 4.")
    verdict = parse_reply("The answer is not perfect: 2 + 2 is 4.", "5")
    assert verdict.judgment == "The answer is not perfect: 2 + 2 is 4."


def test_critique_quotes_become_spans_exact_and_normalised():
    response = "The capital of France is  Berlin. It has 3 million people."
    reply = ('\nWrong city: "The capital of France is  Berlin" is false, and "it HAS 3 million   people" '
             'understates it. Also "not in the text".\n')
    verdict = parse_reply(reply, response)
    # exact: "The capital of France is  Berlin" is response[0:32] (32 characters, double space kept)
    # normalised: "it HAS 3 million   people" matches "It has 3 million people." without the
    # dot after case folding and whitespace collapsing: it starts at 34 ("It"), ends after
    # "people" at 34 + len("It has 3 million people") = 34 + 23 = 57
    # unmatched: "not in the text" gives no span and stays in the critique
    assert verdict.spans == [[0, 32], [34, 57]]
    assert response[0:32] == "The capital of France is  Berlin" and response[34:57] == "It has 3 million people"
    assert verdict.judgment == reply.strip() and '"not in the text"' in verdict.judgment
    assert verdict.raw == reply and verdict.error is None


def test_critique_without_quotes_has_empty_spans():
    verdict = parse_reply("The arithmetic is wrong.", "2 + 2 = 5")
    assert verdict.judgment == "The arithmetic is wrong." and verdict.spans == []


@pytest.mark.parametrize("text, finish, error", [
    (None, "stop", "empty"),
    ("", "stop", "empty"),
    ("  \n ", "stop", "empty"),
    ("perfect", "length", "cut off"),  # even a "perfect" that was cut off is not trusted
    ('The response says "x" and then', "length", "cut off"),
    ("", "content_filter", "content filter"),
    ("I'm sorry, but I can't help with that.", "stop", "refused"),
    ("I’m sorry, but I can’t evaluate this.", "stop", "refused"),
    ("I am sorry, but I cannot comply.", "stop", "refused"),
    ("As an AI language model, I do not judge.", "stop", "refused"),
    ("I cannot assist with this request.", "stop", "refused"),
    ("Sorry, I can't do that.", "stop", "refused"),
])
def test_unusable_replies_are_failures_not_judgments(text, finish, error):
    verdict = parse_reply(text, "a response", finish)
    assert verdict.failed and error in verdict.error
    assert verdict.judgment is None and verdict.raw == text


@pytest.mark.parametrize("text, error", [
    ("perfectly bad: the answer is wrong", "not the verdict"),
    ("Perfect response overall, but the date is wrong.", "not the verdict"),
    ("Error: upstream request timeout", "server error"),
    ("error 502: bad gateway", "server error"),
    ("Upstream connect error or disconnect/reset before headers", "server error"),
    ("<!DOCTYPE html><html>", "server error"),
    ('{"error": {"message": "overloaded"}}', "server error"),
])
def test_replies_off_the_requested_format_are_failures(text, error):
    verdict = parse_reply(text, "a response")
    assert verdict.failed and error in verdict.error and verdict.judgment is None and verdict.raw == text


@pytest.mark.parametrize("text", ["Error: the capital is Madrid, not Berlin.", "The error is in line 2.",
                                  'The response says "perfect" twice.'])
def test_critiques_that_mention_errors_or_perfect_are_critiques(text):
    verdict = parse_reply(text, "a response")
    assert not verdict.failed and verdict.judgment == text


def test_a_critique_quoting_a_refusal_is_not_a_refusal():
    response = "As an AI, I cannot answer that."
    reply = '"As an AI, I cannot answer that" refuses a harmless question.'
    assert not is_refusal(reply)
    verdict = parse_reply(reply, response)
    assert not verdict.failed and verdict.spans == [[0, 30]]  # len("As an AI, I cannot answer that") = 30
