"""cut.verifiable (prompt generator, IFEval files, bundled held-out set) and
cut.evaluation.verifiable (strict/loose, prompt/instruction-level scoring, Wilson intervals)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from cut.errors import CutError
from cut.evaluation.verifiable import (
    left_out_note,
    loose_variants,
    render_table,
    score,
    score_response,
    split_supported,
    wilson_interval,
)
from cut.judges.checkers import describe
from cut.records import RecordError
from cut.verifiable import (
    DEFAULT_CONSTRAINTS,
    VerifiablePrompt,
    compatible,
    generate_prompts,
    heldout_prompts,
    main,
    read_ifeval,
    write_ifeval,
)
from tests.test_checkers import CASES

HELDOUT = Path(__file__).resolve().parents[1] / "eval" / "verifiable-heldout.jsonl"


# ---------------------------------------------------------------- generator


def test_generator_is_deterministic_and_balanced():
    a = generate_prompts(45, "train", seed=1)
    assert a == generate_prompts(45, "train", seed=1)
    assert [p.prompt for p in a] != [p.prompt for p in generate_prompts(45, "train", seed=2)]
    # ids cycle, so 45 prompts over the 15 default ids give 3 each
    assert Counter(p.instruction_id_list[0] for p in a) == {i: 3 for i in DEFAULT_CONSTRAINTS}
    assert len({p.prompt for p in a}) == 45 and len({p.key for p in a}) == 45
    for p in a:  # the prompt states its constraint in the words describe() gives
        assert p.prompt.endswith(describe(p.instruction_id_list[0], p.kwargs[0]))
        assert p.topic and p.topic in p.prompt


def test_eval_split_states_constraints_in_words_train_never_uses():
    """Phrasing must not leak: no sentence that states a held-out constraint occurs in any
    train prompt (every option of every constraint the generator draws)."""
    from cut.phrasings import EVAL_PHRASINGS, phrase
    from cut.verifiable import _OPTIONS

    assert set(EVAL_PHRASINGS) == set(_OPTIONS)
    evals = generate_prompts(300, "eval", seed=0)
    for p in evals:
        assert p.prompt.endswith(phrase(p.instruction_id_list[0], p.kwargs[0], "eval"))
    train_text = "\n".join(p.prompt for p in generate_prompts(2000, "train", max_constraints=3,
                                                               constraint_ids=list(_OPTIONS)))
    for cid, options in _OPTIONS.items():
        for kw in options(["water", "waves", "fish"]):
            eval_sentence, train_sentence = phrase(cid, kw, "eval"), phrase(cid, kw, "train")
            assert eval_sentence != train_sentence
            assert eval_sentence not in train_text, cid
    # the bundled held-out file is the eval split as generated now
    assert [p.prompt for p in read_ifeval(HELDOUT)] == [p.prompt for p in heldout_prompts()]


def test_generator_is_prefix_stable():
    """The online loop's round r takes slice r of one pool, so a pool drawn for more rounds
    must start with the pool drawn for fewer (that is what lets a finished run continue)."""
    for k in (1, 2):
        short, long = generate_prompts(48, "train", seed=0, max_constraints=k), generate_prompts(144, "train", seed=0, max_constraints=k)
        assert long[:48] == short


def test_splits_are_disjoint():
    train = generate_prompts(2000, "train")
    evals = generate_prompts(300, "eval")
    assert not {p.topic for p in train} & {p.topic for p in evals}
    assert not {p.prompt for p in train} & {p.prompt for p in evals}


def test_multi_constraint_prompts_are_compatible():
    prompts = generate_prompts(300, "train", seed=5, max_constraints=3)
    sizes = Counter(len(p.instruction_id_list) for p in prompts)
    assert set(sizes) == {1, 2, 3}
    assert len({p.prompt for p in prompts}) == 300
    for p in prompts:
        ids = p.instruction_id_list
        assert len(set(ids)) == len(ids)
        assert all(compatible(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]), ids
        assert all(describe(c, k) in p.prompt for c, k in zip(ids, p.kwargs))


def test_generator_errors():
    # eval split: 20 subjects x 11 templates = 220 tasks; no_comma has one option → supply 220
    assert len(generate_prompts(220, "eval", constraint_ids=["punctuation:no_comma"])) == 220
    with pytest.raises(CutError, match="supplies only 220"):
        generate_prompts(221, "eval", constraint_ids=["punctuation:no_comma"])
    with pytest.raises(CutError, match="cannot draw language:response_language"):
        generate_prompts(3, constraint_ids=["language:response_language"])
    with pytest.raises(CutError, match="unknown split"):
        generate_prompts(3, "test")


# ---------------------------------------------------------------- IFEval files


def test_ifeval_round_trip(tmp_path):
    src = tmp_path / "ifeval.jsonl"
    rows = [
        {"key": 1001, "prompt": "Write a poem. Use no commas.", "instruction_id_list": ["punctuation:no_comma"],
         "kwargs": [{}]},
        # the Hugging Face copy stores unused kwargs as null
        {"key": 1002, "prompt": "Réponds en français, en moins de 50 mots.",
         "instruction_id_list": ["language:response_language", "length_constraints:number_words"],
         "kwargs": [{"language": "fr", "num_words": None},
                    {"language": None, "num_words": 50, "relation": "less than"}]},
    ]
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    prompts = read_ifeval(src)
    assert prompts[0] == VerifiablePrompt("1001", rows[0]["prompt"], ["punctuation:no_comma"], [{}])
    assert prompts[1].kwargs == [{"language": "fr"}, {"num_words": 50, "relation": "less than"}]
    out = tmp_path / "out.jsonl"
    write_ifeval(out, prompts)
    assert read_ifeval(out) == prompts
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first == rows[0]  # integer key kept, exactly IFEval's four fields


@pytest.mark.parametrize("line, field, message", [
    ("{not json", None, "invalid JSON"),
    ('{"key": 1, "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}', "prompt", "missing"),
    ('{"key": 1, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": []}', "kwargs", "list of 1"),
    ('{"key": 1, "prompt": "p", "instruction_id_list": ["length_constraints:number_words"], '
     '"kwargs": [{"num_words": "fifty", "relation": "less than"}]}', "kwargs", "non-negative integer"),
])
def test_bad_lines_name_file_line_and_field(tmp_path, line, field, message):
    path = tmp_path / "bad.jsonl"
    good = '{"key": 1, "prompt": "p", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}'
    path.write_text(good + "\n\n" + line + "\n")  # the bad line is line 3 (line 2 is blank)
    with pytest.raises(RecordError) as err:
        read_ifeval(path)
    assert err.value.line == 3 and err.value.field == field and message in str(err.value)
    assert str(err.value).startswith(f"{path}:3:")


# ---------------------------------------------------------------- held-out set


def test_heldout_file_is_reproducible(tmp_path):
    regenerated = tmp_path / "heldout.jsonl"
    assert main(["--write-heldout", str(regenerated)]) == 0
    assert regenerated.read_bytes() == HELDOUT.read_bytes()
    prompts = read_ifeval(HELDOUT)
    assert len(prompts) == 300 and all(len(p.instruction_id_list) == 1 for p in prompts)
    assert Counter(p.instruction_id_list[0] for p in prompts) == {i: 20 for i in DEFAULT_CONSTRAINTS}
    train = {p.prompt for p in generate_prompts(2000, "train")}
    assert not train & {p.prompt for p in prompts}


# ---------------------------------------------------------------- scoring


def one(instruction_id, kwargs):
    return VerifiablePrompt("k", "p", [instruction_id], [kwargs])


# Failing responses of CASES that pass loosely: dropping the first line leaves
# "***\nSecond part.\n***\nThird part." (a blank first piece is ignored → 2 paragraphs) and
# "* b\n- c" (2 bullets). Every other failing response fails all eight variants.
LOOSE_PASSES = {"length_constraints:number_paragraphs", "detectable_format:number_bullet_lists"}


@pytest.mark.parametrize("instruction_id, kwargs, good, bad, spans, quoted", CASES, ids=[c[0] for c in CASES])
def test_score_response_every_type(instruction_id, kwargs, good, bad, spans, quoted):
    prompt = one(instruction_id, kwargs)
    assert score_response(prompt, good)["strict"] == [True]
    assert score_response(prompt, good)["loose"] == [True]
    result = score_response(prompt, bad)
    assert result["strict"] == [False]
    assert result["loose"] == [instruction_id in LOOSE_PASSES]


@pytest.mark.parametrize("instruction_id, kwargs, response", [
    ("punctuation:no_comma", {}, "Sure, here it is:\napples and pears"),  # drop the first line
    ("change_case:english_lowercase", {}, "Here you go:\nall lower case"),
    ("length_constraints:number_words", {"num_words": 3, "relation": "less than"}, "My answer in short:\none two"),
    ("detectable_format:json_format", {}, 'Here is the JSON:\n{"a": 1}'),
    ("startend:start_checker", {"start_phrase": "Sure thing!"}, "Okay!\nSure thing! Owls hoot."),
    ("startend:end_checker", {"end_phrase": "That is all."}, "That is all.\nLet me know if you need more!"),  # last line
    ("startend:quotation", {}, '"Hi there"\n(written by a bot)'),
    ("startend:end_checker", {"end_phrase": "That is all."}, "Owls hoot. **That is all.**"),  # emphasis removed
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."}, "*Write a poem.* Roses are red."),
])
def test_loose_only_passes(instruction_id, kwargs, response):
    result = score_response(one(instruction_id, kwargs), response)
    assert result["strict"] == [False] and result["loose"] == [True]


def test_loose_variants():
    assert loose_variants("Sure:\n*a*\nbye") == ["Sure:\n*a*\nbye", "*a*\nbye", "Sure:\n*a*", "*a*",
                                                 "Sure:\na\nbye", "a\nbye", "Sure:\na", "a"]


def test_prompt_versus_instruction_level():
    prompts = [VerifiablePrompt("1", "p", ["punctuation:no_comma", "change_case:english_lowercase"], [{}, {}]),
               VerifiablePrompt("2", "p", ["punctuation:no_comma"], [{}])]
    # prompt 1: comma (strict and loose fail: one line), lowercase holds → prompt fails
    # prompt 2: the comma is on a first line that loose scoring drops → strict fail, loose pass
    result = score(prompts, ["i like apples, pears and plums", "Sure, here:\nno commas here"])
    assert result["n_prompts"] == 2 and result["n_instructions"] == 3
    assert result["prompt_level_strict"] == 0.0  # 0 of 2
    assert result["instruction_level_strict"] == pytest.approx(1 / 3)  # lowercase only
    assert result["prompt_level_loose"] == 0.5  # prompt 2
    assert result["instruction_level_loose"] == pytest.approx(2 / 3)
    assert result["per_type"] == {"change_case:english_lowercase": {"n": 1, "strict": 1.0, "loose": 1.0},
                                  "punctuation:no_comma": {"n": 2, "strict": 0.0, "loose": 0.5}}
    assert result["prompt_level_loose_ci"] == pytest.approx(list(wilson_interval(1, 2)))
    assert render_table(result).row_count == 2 + 2


def test_empty_response_fails_strict_and_loose():
    result = score([one("punctuation:no_comma", {})], ["   "])
    assert result["prompt_level_strict"] == 0.0 and result["prompt_level_loose"] == 0.0


def test_score_refuses_unsupported_ids_and_length_mismatch():
    with pytest.raises(CutError, match="custom:no_such_check"):
        score([one("custom:no_such_check", {})], ["Bonjour"])
    with pytest.raises(CutError, match="1 prompts but 2 responses"):
        score([one("punctuation:no_comma", {})], ["a", "b"])


def test_wilson_interval():
    """8 of 10, z = 1.96: p = 0.8, z^2/n = 0.38416, denominator 1.38416;
    centre = (0.8 + 3.8416/20) / 1.38416 = 0.99208 / 1.38416 = 0.716738;
    half = 1.96/1.38416 * sqrt(0.8*0.2/10 + 3.8416/400) = 1.416021 * sqrt(0.025604) = 0.226581;
    interval = (0.490157, 0.943319)."""
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.490157, abs=1e-5) and high == pytest.approx(0.943319, abs=1e-5)
    # 0 of 4: centre = (0 + 3.8416/8)/1.9604 = 0.244950, half the same → (0, 0.489900)
    assert wilson_interval(0, 4) == pytest.approx((0.0, 0.489900), abs=1e-5)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_split_supported_sets_unchecked_prompts_apart():
    ok, left = split_supported([one("punctuation:no_comma", {}), one("count:person_names", {"N": 2}),
                                VerifiablePrompt("m", "p", ["punctuation:no_comma", "custom:csv_city"], [{}, {}])])
    assert [p.instruction_id_list for p in ok] == [["punctuation:no_comma"]] and len(left) == 2
    note = left_out_note(left)
    assert note == {"n_prompts": 2, "ids": ["count:person_names", "custom:csv_city"]}
    result = {**score(ok, ["no commas here"]), "unsupported": note}
    assert "left out, not scored: 2 prompts using 2 instruction ids" in render_table(result).caption
