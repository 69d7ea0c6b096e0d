"""The terminal annotator, driven through io.StringIO as a person's keystrokes would drive it."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from cut.errors import CutError
from cut.judges import make_judge
from cut.judges.base import Judge, JudgeItem, QuitRequest, UndoRequest
from cut.judges.human import HumanJudge

RESPONSE = "The capital of France is Lyon. It is a large city."
ITEM = JudgeItem(instruction="What is the capital of France?", response=RESPONSE)


class FakeClock:
    """Returns the given times in order, so Verdict.seconds is exact."""

    def __init__(self, *times: float):
        self.times = list(times)

    def __call__(self) -> float:
        return self.times.pop(0)


def annotator(keys: str, clock=None) -> tuple[HumanJudge, io.StringIO]:
    screen = io.StringIO()
    judge = HumanJudge(input_stream=io.StringIO(keys), console=Console(file=screen, width=100),
                       clock=clock or FakeClock(*range(100)))
    return judge, screen


def test_acceptable_shows_item_and_times_the_answer():
    judge, screen = annotator("a\n", clock=FakeClock(100.0, 103.5))
    [verdict] = judge.judge([ITEM])
    assert verdict.judgment is None and verdict.spans is None and not verdict.skipped and not verdict.failed
    assert verdict.seconds == 3.5  # 103.5 - 100.0
    shown = screen.getvalue()
    assert "item 1" in shown and "What is the capital of France?" in shown and RESPONSE in shown
    assert "[a]cceptable" in shown and "[q]uit" in shown


def test_critique_quote_becomes_exact_span():
    critique = 'Wrong city: "Lyon" is not the capital.'
    judge, screen = annotator(f"c\n{critique}\n\n")
    [verdict] = judge.judge([ITEM])
    # "The capital of France is " is 3+1+7+1+2+1+6+1+2+1 = 25 characters, so Lyon is [25, 29).
    assert verdict.spans == [[25, 29]] and RESPONSE[25:29] == "Lyon"
    assert verdict.judgment == critique and verdict.raw == critique
    assert "marked [25, 29): 'Lyon'" in screen.getvalue()


def test_unmatched_quote_gives_no_span_and_a_notice():
    critique = 'It says "Paris is small" and "Lyon", both wrong.'
    judge, screen = annotator(f"c\n{critique}\n\n\n")  # the last Enter keeps the critique
    [verdict] = judge.judge([ITEM])
    assert verdict.judgment == critique
    assert verdict.spans == [[25, 29]]  # only "Lyon"; "Paris is small" is not in the response
    assert '"Paris is small" not found in the response, kept in the text' in screen.getvalue()


def test_only_unmatched_quote_keeps_text_with_empty_spans():
    judge, _ = annotator('c\nThe "Eiffel tower" is missing.\n\nk\n')
    [verdict] = judge.judge([ITEM])
    assert verdict.judgment == 'The "Eiffel tower" is missing.' and verdict.spans == []


def test_unmatched_quote_can_be_rewritten():
    judge, _ = annotator('c\nSays "Lyonn".\n\ne\nSays "lyon".\n\n')
    [verdict] = judge.judge([ITEM])
    assert verdict.judgment == 'Says "lyon".'
    assert verdict.spans == [[25, 29]]  # case-folded match (cut.judges.quotes.locate)


def test_multi_line_critique_ends_at_empty_line():
    keys = 'c\nTwo problems.\nFirst, "Lyon" is wrong.\n  Second, "a large city" is vague.\n\n'
    judge, _ = annotator(keys)
    [verdict] = judge.judge([ITEM])
    assert verdict.judgment == 'Two problems.\nFirst, "Lyon" is wrong.\n  Second, "a large city" is vague.'
    # "a large city" starts after "The capital of France is Lyon. It is " (25 + 4 + 2 + 6 = 37).
    assert verdict.spans == [[25, 29], [37, 49]] and RESPONSE[37:49] == "a large city"


def test_skip_gives_skipped_verdict():
    judge, _ = annotator("s\n")
    [verdict] = judge.judge([ITEM])
    assert verdict.skipped and verdict.judgment is None and not verdict.failed


def test_unknown_key_and_empty_critique_re_ask():
    judge, screen = annotator("x\n\nc\n\nACCEPTABLE\n")
    [verdict] = judge.judge([ITEM])
    assert verdict.judgment is None and not verdict.skipped
    shown = screen.getvalue()
    assert "unknown choice 'x': type a, c, s, u or q" in shown
    assert "unknown choice '': type a, c, s, u or q" in shown
    assert "empty critique: choose again" in shown
    assert shown.count("[a]cceptable") == 4  # x, Enter, c, ACCEPTABLE: asked four times


@pytest.mark.parametrize("keys, error", [
    ("u\n", UndoRequest),
    ("undo\n", UndoRequest),
    ("q\n", QuitRequest),
    ("", QuitRequest),            # end of input at the choice
    ("x\n", QuitRequest),         # end of input after re-asking
    ("c\n", QuitRequest),         # end of input before any critique text
])
def test_undo_quit_and_end_of_input_raise(keys, error):
    judge, _ = annotator(keys)
    with pytest.raises(error):
        judge.judge([ITEM])


def test_end_of_input_inside_critique_keeps_it_then_quits():
    judge, _ = annotator('c\nNot "Lyon".')  # no newline, no empty line: the stream just ends
    [verdict] = judge.judge([ITEM])
    assert verdict.judgment == 'Not "Lyon".' and verdict.spans == [[25, 29]]
    with pytest.raises(QuitRequest):
        judge.judge([ITEM])


def test_several_items_and_constraints_and_literal_markup():
    tricky = JudgeItem(instruction="Answer without commas.", response="Use [bold] tags, [red]x[/red].",
                       metadata={"id": "p7", "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
                                 "kwargs": [{}, {"relation": "less than", "num_words": 50, "unused": None}]})
    judge, screen = annotator("a\ns\n")
    verdicts = judge.judge([ITEM, tricky])
    assert [v.skipped for v in verdicts] == [False, True]
    shown = screen.getvalue()
    assert "item 2 (id p7)" in shown
    assert "Use [bold] tags, [red]x[/red]." in shown  # rich markup in a response is shown as typed
    assert "punctuation:no_comma" in shown and "relation='less than', num_words=50" in shown
    assert "unused" not in shown


def test_make_judge_builds_human_judge():
    judge = make_judge("human", input_stream=io.StringIO("a\n"), console=Console(file=io.StringIO()), concurrency=4)
    assert isinstance(judge, HumanJudge) and isinstance(judge, Judge)
    assert judge.name == "human" and judge.interactive and judge.chunk_size == 1
    assert judge.judge([ITEM])[0].judgment is None
    assert make_judge("human:alice").name == "human:alice"
    with pytest.raises(CutError, match="annotator name is empty"):
        make_judge("human: ")


def test_a_person_may_type_a_revision_after_the_critique():
    critique = 'Wrong city: "Lyon" is not the capital.'
    screen = io.StringIO()
    judge = HumanJudge(input_stream=io.StringIO(f"c\n{critique}\n\nThe capital of France is Paris.\n\nc\n{critique}\n\n\n"),
                       console=Console(file=screen, width=100), clock=FakeClock(*range(100)), revisions=True)
    first, second = judge.judge([ITEM, ITEM])
    assert first.judgment == critique and first.revision == "The capital of France is Paris."
    assert second.judgment == critique and second.revision is None  # an empty line: no revision
    assert "revision (optional)" in screen.getvalue()
    # without the option nothing is asked: the same keystrokes judge the next item
    judge, _ = annotator(f"c\n{critique}\n\na\n")
    first, second = judge.judge([ITEM, ITEM])
    assert first.revision is None and second.judgment is None
