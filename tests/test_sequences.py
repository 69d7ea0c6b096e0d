"""Templates and sequence building: exact strings, identical response ids in both contexts,
downsampling, the length policy and the collated batch layout."""

from __future__ import annotations

import pytest

from cut.records import Record
from cut.sequences import Example, SequenceSettings, build_examples, collate, spans_to_token_mask
from cut.templates import (ALPACA_PLAIN, Template, choose_template, context_ids,
                           end_of_target_ids, judged_context, plain_context)

NEG = Record(instruction="List fruit.", response="apples, pears", judgment='Contains a comma: "apples, pears".',
             spans=[[6, 7]], id="n1")
POS = Record(instruction="Say hi.", response="hi", judgment=None, id="p1")


def test_alpaca_strings_are_the_papers(tiny_tokenizer):
    t = Template("alpaca")
    assert plain_context(t, tiny_tokenizer, "Do X") == ALPACA_PLAIN.format(instruction="Do X")
    assert judged_context(t, tiny_tokenizer, "Do X", "Bad.").endswith(
        "### Instruction:\nDo X\n\n### Judgment:\nBad.\n\n### Response:\n")
    assert ALPACA_PLAIN.startswith("Below is an instruction that describes a task. Write a response that appropriately")


def test_chat_contexts_use_the_models_template(tiny_tokenizer):
    t = choose_template("auto", tiny_tokenizer)
    assert t.kind == "chat"
    assert plain_context(t, tiny_tokenizer, "Do X") == "<|im_start|>user\nDo X<|im_end|>\n<|im_start|>assistant\n"
    judged = judged_context(t, tiny_tokenizer, "Do X", "Bad.")
    assert judged.startswith("<|im_start|>user\nDo X\n\n") and "Bad.<|im_end|>" in judged
    sys_judged = judged_context(Template("chat", "system"), tiny_tokenizer, "Do X", "Bad.")
    assert sys_judged.startswith("<|im_start|>system\n") and "<|im_start|>user\nDo X<|im_end|>" in sys_judged


def test_end_of_target(tiny_tokenizer):
    assert end_of_target_ids(Template("chat"), tiny_tokenizer) == [tiny_tokenizer.convert_tokens_to_ids("<|im_end|>")]
    assert end_of_target_ids(Template("alpaca"), tiny_tokenizer) == [tiny_tokenizer.eos_token_id]


@pytest.mark.parametrize("kind", ["alpaca", "chat"])
def test_response_ids_identical_in_both_contexts(tiny_tokenizer, kind):
    t = Template(kind)
    examples, report = build_examples([NEG, POS], tiny_tokenizer, t, SequenceSettings(positive_ratio=None))
    neg = next(e for e in examples if e.is_negative)
    eot = end_of_target_ids(t, tiny_tokenizer)
    ids = tiny_tokenizer("apples, pears", add_special_tokens=False)["input_ids"]
    assert neg.response_ids == ids + eot
    batch = collate(examples, tiny_tokenizer.pad_token_id)
    # the Misalign row and its Align-N row carry the very same response ids
    A = batch["input_ids"].shape[0] - 1
    mis, judged = batch["targets"][A], batch["targets"][batch["pair_index"][0]]
    assert mis.tolist() == judged.tolist()
    assert report.sequences == 3 and batch["input_ids"].shape[0] == 3  # no dummy rows
    # each target sits right after its context in input_ids, predicted one position earlier
    for r in range(3):
        k = int(batch["resp_mask"][r].sum())
        pos = batch["pred_pos"][r, :k] + 1
        assert batch["input_ids"][r, pos].tolist() == batch["targets"][r, :k].tolist()
    ctx = context_ids(t, tiny_tokenizer, plain_context(t, tiny_tokenizer, NEG.instruction))
    assert batch["input_ids"][A, : len(ctx)].tolist() == ctx


def test_span_mask_marks_overlapping_tokens():
    offsets = [(0, 6), (6, 7), (7, 13)]  # "apples" "," " pears"
    assert spans_to_token_mask([[6, 7]], offsets) == [False, True, False]
    assert spans_to_token_mask([[5, 8]], offsets) == [True, True, True]
    assert spans_to_token_mask([], offsets) == [False, False, False]


def test_rejected_are_counted_and_never_trained(tiny_tokenizer):
    bad = [Record("q", "r", "$ERROR$"), Record("q", "r", "  ")]
    examples, report = build_examples(bad + [NEG], tiny_tokenizer, Template("chat"), SequenceSettings())
    assert len(examples) == 1 and report.rejected == {"placeholder '$ERROR$'": 1, "empty judgment": 1}


def test_downsampling_is_seeded_and_proportional(tiny_tokenizer):
    pos = [Record(f"q{i}", "hi", None, id=str(i)) for i in range(40)]
    negs = [Record(f"n{i}", "apples, pears", "bad", id=f"n{i}") for i in range(8)]
    s = SequenceSettings(positive_ratio=0.25, seed=3)
    ex1, r1 = build_examples(pos + negs, tiny_tokenizer, Template("chat"), s)
    ex2, _ = build_examples(pos + negs, tiny_tokenizer, Template("chat"), s)
    assert r1.positives_dropped == 38  # keep round(0.25 × 8) = 2
    assert sum(not e.is_negative for e in ex1) == 2
    assert [e.record_id for e in ex1] == [e.record_id for e in ex2]


def test_length_policy_never_cuts_context(tiny_tokenizer):
    t = Template("chat")
    long = Record("q", "apples pears plums " * 20, "too long", id="L")
    judged_len = len(context_ids(t, tiny_tokenizer, judged_context(t, tiny_tokenizer, "q", "too long")))
    limit = judged_len + 5
    ex, rep = build_examples([long], tiny_tokenizer, t, SequenceSettings(max_length=limit, positive_ratio=None))
    assert rep.truncated == 1 and len(ex[0].response_ids) == 5
    assert len(ex[0].judged_ids) == judged_len  # the judgment stays whole
    ex, rep = build_examples([long], tiny_tokenizer, t,
                             SequenceSettings(max_length=limit, length_policy="skip", positive_ratio=None))
    assert ex == [] and rep.skipped_too_long == 1
    ex, rep = build_examples([long], tiny_tokenizer, t, SequenceSettings(max_length=judged_len, positive_ratio=None))
    assert ex == [] and rep.skipped_too_long == 1  # no room at all for the response


def test_collate_span_masks():
    ex = [Example(plain_ids=[1, 2], response_ids=[5, 6, 7], judged_ids=[1, 3, 4], span_mask=[False, True, False]),
          Example(plain_ids=[1], response_ids=[8]),
          Example(plain_ids=[1, 2], response_ids=[9, 9], judged_ids=[3])]
    b = collate(ex, pad_id=0)
    assert b["input_ids"].shape == (5, 6)
    assert b["pair_index"].tolist() == [0, 2]
    assert b["span_mask"].tolist() == [[False, True, False], [False, False, False]]
    assert b["has_spans"].tolist() == [True, False]
    assert b["attention_mask"][1].tolist() == [1, 1, 0, 0, 0, 0]


def test_sft_keeps_only_positives_as_plain_likelihood(tiny_tokenizer):
    examples, report = build_examples([NEG, POS, POS], tiny_tokenizer, Template("chat"),
                                      SequenceSettings(method="sft", positive_ratio=0.25))
    assert len(examples) == 2 and not any(e.is_negative for e in examples)  # no downsampling, no negatives
    assert report.sequences == 2


def test_hindsight_puts_every_response_after_its_judgment(tiny_tokenizer):
    t = Template("chat")
    examples, report = build_examples([NEG, POS], tiny_tokenizer, t, SequenceSettings(method="hindsight"))
    assert report.sequences == 2 and not any(e.is_negative for e in examples)
    contexts = {tiny_tokenizer.decode(e.plain_ids) for e in examples}
    assert contexts == {judged_context(t, tiny_tokenizer, NEG.instruction, NEG.judgment),
                        judged_context(t, tiny_tokenizer, POS.instruction, "Perfect.")}


# ---------------------------------------------------------------- revisions

T, F = True, False
REV = Record(instruction="List fruit.", response="apples, pears", judgment='Contains a comma: "apples, pears".',
             spans=[[6, 7]], revision="apples pears", id="r1")


def _ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def test_revision_is_an_align_p_row_beside_the_misalign_row_of_the_original(tiny_tokenizer):
    t = Template("chat")
    eot = end_of_target_ids(t, tiny_tokenizer)
    plain = context_ids(t, tiny_tokenizer, plain_context(t, tiny_tokenizer, "List fruit."))
    [ex], report = build_examples([REV], tiny_tokenizer, t, SequenceSettings(positive_ratio=None))
    assert ex.revision_ids == _ids(tiny_tokenizer, "apples pears") + eot
    assert ex.response_ids == _ids(tiny_tokenizer, "apples, pears") + eot
    assert report.revisions == 1 and report.sequences == 3 == ex.rows
    batch = collate([ex], tiny_tokenizer.pad_token_id)
    # rows: revision (Align-P, plain context), Align-N (judged context), Misalign (plain context)
    assert batch["input_ids"].shape[0] == 3 and batch["pair_index"].tolist() == [1]
    k = len(ex.revision_ids)
    assert batch["targets"][0, :k].tolist() == ex.revision_ids and int(batch["resp_mask"][0].sum()) == k
    assert batch["input_ids"][0, :len(plain)].tolist() == plain
    n = len(ex.response_ids)
    assert batch["targets"][2, :n].tolist() == ex.response_ids
    assert batch["input_ids"][2, :len(plain)].tolist() == plain
    assert batch["targets"][1, :n].tolist() == ex.response_ids  # Align-N: the same ids


def test_without_align_n_the_misalign_row_pairs_with_itself(tiny_tokenizer):
    t = Template("chat")
    settings = SequenceSettings(positive_ratio=None, align_n=False, detector="spans")
    [ex], report = build_examples([REV], tiny_tokenizer, t, settings)
    batch = collate([ex], tiny_tokenizer.pad_token_id)
    assert report.sequences == 2 and batch["input_ids"].shape[0] == 2
    assert batch["pair_index"].tolist() == [1]  # row 1 is the Misalign row itself
    with pytest.raises(Exception, match="align_n false needs detector spans or revision"):
        build_examples([REV], tiny_tokenizer, t, SequenceSettings(align_n=False, detector="ratio"))


def test_revision_detector_flags_the_tokens_the_revision_changes(tiny_tokenizer):
    from cut.sequences import revision_flags

    # hand-made ids: a deletion, a replacement, an insertion (flags the token at its place)
    assert revision_flags([1, 2, 3, 4, 9], [1, 3, 4, 9]) == [F, T, F, F, F]
    assert revision_flags([1, 2, 3, 9], [1, 7, 3, 9]) == [F, T, F, F]
    assert revision_flags([1, 2, 3, 9], [1, 2, 3, 5, 6, 9]) == [F, F, F, T]  # a missing ending flags the end
    assert revision_flags([1, 2, 3, 9], [8, 1, 2, 3, 9]) == [T, F, F, F]  # a missing opening mark flags the first
    # a cut-off original (no end-of-turn): the loop the revision drops is flagged, up to its end
    assert revision_flags([1, 2, 3, 4, 3, 4], [1, 2, 3, 4, 9]) == [F, F, F, F, T, T]
    t = Template("chat")
    [ex], _ = build_examples([REV], tiny_tokenizer, t, SequenceSettings(positive_ratio=None, detector="revision"))
    expected = revision_flags(_ids(tiny_tokenizer, "apples, pears") + end_of_target_ids(t, tiny_tokenizer),
                              ex.revision_ids)
    assert ex.span_mask == expected and any(expected) and not all(expected)


def test_a_record_without_a_revision_trains_exactly_as_before(tiny_tokenizer):
    t = Template("chat")
    plain_settings = SequenceSettings(positive_ratio=None)
    a, ra = build_examples([NEG, POS], tiny_tokenizer, t, plain_settings)
    b, rb = build_examples([NEG, POS], tiny_tokenizer, t, SequenceSettings(positive_ratio=None, use_revisions=True,
                                                                           detector="revision"))
    assert [e.__dict__ for e in a] == [e.__dict__ for e in b] and ra.sequences == rb.sequences == 3
    for key, value in collate(a, 0).items():
        assert value.tolist() == collate(b, 0)[key].tolist(), key
    # use_revisions false: a record with a revision trains as if it had none
    [c], _ = build_examples([REV], tiny_tokenizer, t, SequenceSettings(positive_ratio=None, use_revisions=False))
    assert c.revision_ids is None and c.rows == 2


def test_sft_trains_revisions_as_positives_and_cut_off_answers_without_an_end(tiny_tokenizer):
    t = Template("chat")
    eot = end_of_target_ids(t, tiny_tokenizer)
    cut_off = Record(instruction="Say hi.", response="hi there and", judgment=None, id="p2",
                     metadata={"truncated": True})
    examples, report = build_examples([REV, POS, cut_off], tiny_tokenizer, t, SequenceSettings(method="sft"))
    responses = sorted(e.response_ids for e in examples)
    assert responses == sorted([_ids(tiny_tokenizer, "apples pears") + eot, _ids(tiny_tokenizer, "hi") + eot,
                                _ids(tiny_tokenizer, "hi there and")])  # no end-of-turn after a cut-off answer
    assert report.revisions == 1 and report.cut_off == 1 and not any(e.is_negative for e in examples)
    examples, _ = build_examples([REV, POS], tiny_tokenizer, t, SequenceSettings(method="sft", use_revisions=False))
    assert len(examples) == 1
