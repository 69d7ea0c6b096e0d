"""The rule judge: judgments for verifiable instructions, computed instead of asked for.

Each item carries its constraints as data — ``metadata["instruction_id_list"]`` and
``metadata["kwargs"]`` in IFEval's shape — and the judge runs the checker of each
(``cut.judges.checkers``). The judgment is None when every constraint holds; otherwise it
is the critiques of the violated constraints joined into one paragraph, the verdict's
spans are the merged character spans of all violations, and its revision is the minimal
corrected answer where every violation has a safe repair (``cut.judges.revisions``). The paper (arXiv 2312.14591 §4)
obtains judgments from GPT-4 or people; for constraints a program can verify, a rule judge
gives exact, free and reproducible judgments with exact spans.

An empty response is judged as violating every constraint, as IFEval's strict scoring
does. A response the generator cut off at its token limit (``metadata["truncated"]``, set by
``cut collect``) is not acceptable either: it never finished (for a 135M model it is mostly
a loop), which the judgment says, with the repeated text as its span. Items without constraints, with ids no checker implements, or with bad kwargs get a
failure verdict (``error`` set), never a silent pass.
"""

from __future__ import annotations

import json
import time
from typing import Any, Sequence

from cut.errors import CutError
from cut.judges.base import JudgeItem, Verdict
from cut.judges.checkers import check, unsupported_ids
from cut.judges.quotes import merge_spans
from cut.judges.revisions import revise, unfinished


class RuleJudge:
    """Implements ``cut.judges.base.Judge`` for IFEval-style verifiable instructions."""

    name = "rules"

    def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        return [self._judge_one(item) for item in items]

    def _judge_one(self, item: JudgeItem) -> Verdict:
        started = time.perf_counter()
        try:
            ids, kwargs = _constraints(item.metadata)
            verdict = _verdict(item.response, ids, kwargs, item.instruction,
                               cut_off=bool(item.metadata.get("truncated")))
        except CutError as err:
            verdict = Verdict(error=str(err))
        verdict.seconds = time.perf_counter() - started
        return verdict


def _constraints(metadata: dict[str, Any]) -> tuple[list[str], list[dict]]:
    """The (ids, kwargs) of an item; CutError when absent, malformed or unsupported."""
    ids = metadata.get("instruction_id_list")
    if not ids:
        raise CutError("no constraints: the item's metadata has no 'instruction_id_list' (the rule judge "
                       "needs IFEval-style 'instruction_id_list' and 'kwargs' for each prompt)")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise CutError(f"metadata 'instruction_id_list' must be a list of strings, got {ids!r}")
    kwargs = metadata.get("kwargs")
    if kwargs is None:
        kwargs = [{} for _ in ids]
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        raise CutError(f"metadata 'kwargs' must be a list with one object per instruction id "
                       f"({len(ids)}), got {kwargs!r}")
    missing = unsupported_ids(ids)
    if missing:
        raise CutError(f"unsupported instruction ids: {', '.join(missing)} (no rule checker implements "
                       f"{'it' if len(missing) == 1 else 'them'}; see cut.judges.checkers)")
    return ids, kwargs


def _verdict(response: str, ids: list[str], kwargs: list[dict], instruction: str = "",
             cut_off: bool = False) -> Verdict:
    if not response.strip():
        results = [{"instruction_id": i, "kwargs": k, "ok": False, "critique": None, "spans": []}
                   for i, k in zip(ids, kwargs)]
        return Verdict(judgment="The response is empty, so it follows none of the instructions.", spans=[],
                       raw=json.dumps({"results": results}, ensure_ascii=False))
    results = []
    for instruction_id, kw in zip(ids, kwargs):
        result = check(instruction_id, response, kw)
        results.append({"instruction_id": instruction_id, "kwargs": kw, "ok": result.ok,
                        "critique": result.critique, "spans": result.spans})
    failures = [r for r in results if not r["ok"]]
    raw = json.dumps({"results": results, **({"cut_off": True} if cut_off else {})}, ensure_ascii=False)
    if not failures and not cut_off:
        return Verdict(judgment=None, spans=None, raw=raw)
    critiques = [r["critique"] for r in failures]
    spans = [list(s) for r in failures for s in r["spans"]]
    if cut_off:  # an answer that never ends is not acceptable, whatever the checks say
        critique, loop = unfinished(response)
        critiques.append(critique)
        spans += loop
    revision = revise(instruction, response, [(r["instruction_id"], r["kwargs"]) for r in failures],
                      lambda text: all(check(i, text, k).ok for i, k in zip(ids, kwargs)), cut_off=cut_off)
    return Verdict(judgment=" ".join(critiques), spans=merge_spans(spans), revision=revision, raw=raw)


def from_spec(arg: str, **options: Any) -> RuleJudge:
    """``make_judge("rules")``. The rule judge takes no argument; options meant for other
    judges (concurrency, caching) are accepted and ignored, since checking is instant."""
    if arg:
        raise CutError(f"the rules judge takes no argument, got 'rules:{arg}'")
    return RuleJudge()
