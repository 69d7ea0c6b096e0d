"""The pairwise judge's prompt: two answers to one instruction, labelled by two identifiers.

Our own wording. One prompt serves both judging modes of ``cut.evaluation.pairwise``: it asks
for nothing but the identifier of the better answer, so in ``ranking`` mode the reply text is
read, and in ``weighted`` mode (one token, with log-probabilities) the probabilities of the
two identifier tokens are. The identifiers are ``A`` (the answer shown first) and ``B`` (the
answer shown second), whichever output is shown where; ``pairwise`` decides the order.

A prompt has a name and a version; both enter the annotation cache key, so editing the text
means a new version and fresh judgments, never stale ones. Substitution is literal: braces in
an instruction or an answer are never interpreted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PLACEHOLDER_RE = re.compile(r"\{(instruction|first|second)\}")


@dataclass(frozen=True)
class PairwisePrompt:
    """``user_template`` holds ``{instruction}``, ``{first}`` and ``{second}``; ``system`` may be ""."""

    name: str
    version: str
    system: str
    user_template: str
    first_id: str = "A"  # the identifier of the answer shown first
    second_id: str = "B"

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"

    def render(self, instruction: str, first: str, second: str) -> list[dict]:
        """Chat messages showing ``first`` then ``second`` (one pass: no text is substituted twice)."""
        values = {"instruction": instruction, "first": first, "second": second}
        user = _PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], self.user_template)
        messages = [{"role": "system", "content": self.system}] if self.system else []
        return messages + [{"role": "user", "content": user}]


DEFAULT_PAIRWISE_PROMPT = PairwisePrompt(
    name="cut-pairwise",
    version="v1",
    system=(
        "You are grading two answers written for the same request. Decide which one would serve "
        "the person who asked better: first whether it does what was asked and is correct, then "
        "how useful, complete and clear it is. The order in which the answers appear says nothing "
        "about their quality, and a longer answer is not better for being longer.\n"
        "Reply with one character and nothing else: A if answer A is better, B if answer B is better."
    ),
    user_template=(
        "The request:\n{instruction}\n\n"
        "=== Answer A ===\n{first}\n=== End of answer A ===\n\n"
        "=== Answer B ===\n{second}\n=== End of answer B ===\n\n"
        "Which answer is better? Reply with A or B only."
    ),
)
