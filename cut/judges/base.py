"""The judge protocol: (instruction, response) items in, verdicts out.

Every judge — an OpenAI-compatible LLM, the rule checker for verifiable instructions, a
person at the terminal, a local Hugging Face model — implements ``Judge.judge``. A verdict
holds the judgment (None = acceptable, a string = critique), the character spans of the
response it criticises, the raw judge output (stored before parsing, so it can be re-parsed
without paying again), and cost/timing. A verdict with ``error`` set is a *failure*, not a
judgment: it is written to the errors file and retried, never trained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable


@dataclass
class JudgeItem:
    """What a judge sees. ``metadata`` carries data some judges need (e.g. the IFEval
    ``instruction_id_list`` and ``kwargs`` of a verifiable prompt, for the rule judge)."""

    instruction: str
    response: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    judgment: str | None = None
    spans: list[list[int]] | None = None
    revision: str | None = None  # a corrected response the judge proposes, when it has one
    raw: str | None = None
    error: str | None = None
    cost: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    cached: bool = False
    skipped: bool = False  # a person chose to skip: not written, offered again next run

    @property
    def failed(self) -> bool:
        return self.error is not None


@runtime_checkable
class Judge(Protocol):
    name: str  # the spec string, stored in each record's ``judge`` field

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item, in order. Must not raise for a single bad item: return a
        Verdict with ``error`` set instead."""
        ...


class AnnotatorControl(Exception):
    """Raised by an interactive judge to steer the collection loop instead of judging."""


class UndoRequest(AnnotatorControl):
    """Remove the last record written in this session and offer its item again."""


class QuitRequest(AnnotatorControl):
    """Stop now; everything judged so far is saved and a rerun resumes from here."""
