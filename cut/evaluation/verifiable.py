"""Verifiable-instruction scoring: IFEval's prompt- and instruction-level accuracy, strict and loose.

An instruction is followed *strictly* when its checker accepts the response as it is; it is
followed *loosely* when the checker accepts any of IFEval's eight variants of the response:
as is, without its first line, without its last line, without both, and each of these with
every "*" removed (markdown emphasis). An empty response (or variant) follows nothing.
Prompt-level accuracy counts prompts whose instructions all hold; instruction-level counts
instructions. Both come with 95% Wilson score intervals, which stay inside [0, 1] and
behave at small n and at rates near 0 or 1, where the normal approximation does not.

No LLM judge is involved: the checkers are those of ``cut.judges.checkers``. Prompts with
instruction ids no checker implements are refused with the ids named, rather than scored
as passes or failures; ``split_supported`` sets them apart first (IFBench has ids we do not
check), so a file's score is over the prompts whose every instruction is checked, and the
rest are reported as left out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Sequence

from cut.errors import CutError
from cut.judges.checkers import check, unsupported_ids
from cut.verifiable import VerifiablePrompt


def split_supported(prompts: Sequence[VerifiablePrompt]) -> tuple[list[VerifiablePrompt], list[VerifiablePrompt]]:
    """(prompts whose every instruction id has a checker, the others), each in file order."""
    ok = [p for p in prompts if not unsupported_ids(p.instruction_id_list)]
    return ok, [p for p in prompts if unsupported_ids(p.instruction_id_list)]


def left_out_note(left_out: Sequence[VerifiablePrompt]) -> dict[str, Any]:
    """{"n_prompts", "ids"}: what ``split_supported`` set apart, for reports."""
    return {"n_prompts": len(left_out), "ids": unsupported_ids(i for p in left_out for i in p.instruction_id_list)}


def loose_variants(response: str) -> list[str]:
    """IFEval's loose variants, in this order: the response, without its first line, without
    its last line, without both (each of those three stripped), then the same four with all
    "*" removed."""
    lines = response.split("\n")
    trimmed = [response, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(),
               "\n".join(lines[1:-1]).strip()]
    return trimmed + [t.replace("*", "") for t in trimmed]


def _follows(instruction_id: str, kwargs: dict, text: str) -> bool:
    return bool(text.strip()) and check(instruction_id, text, kwargs).ok


def score_response(prompt: VerifiablePrompt, response: str) -> dict[str, Any]:
    """{"instruction_id_list", "strict": [bool per instruction], "loose": [...],
    "prompt_strict": all(strict), "prompt_loose": all(loose)}."""
    missing = unsupported_ids(prompt.instruction_id_list)
    if missing:
        raise CutError(f"prompt {prompt.key}: unsupported instruction ids {', '.join(missing)}")
    variants = loose_variants(response)
    strict, loose = [], []
    for instruction_id, kwargs in zip(prompt.instruction_id_list, prompt.kwargs):
        strict.append(_follows(instruction_id, kwargs, response))
        loose.append(strict[-1] or any(_follows(instruction_id, kwargs, v) for v in variants[1:]))
    return {"instruction_id_list": list(prompt.instruction_id_list), "strict": strict, "loose": loose,
            "prompt_strict": all(strict), "prompt_loose": all(loose)}


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial rate; (0.0, 1.0) when n is 0 (nothing known)."""
    if n == 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be within [0, {n}], got {successes}")
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def score(prompts: Sequence[VerifiablePrompt], responses: Sequence[str]) -> dict[str, Any]:
    """Prompt- and instruction-level accuracy, strict and loose (fractions in [0, 1]), with
    95% Wilson intervals (``*_ci``), counts, and ``per_type`` {id: {n, strict, loose}}."""
    if len(prompts) != len(responses):
        raise CutError(f"{len(prompts)} prompts but {len(responses)} responses")
    missing = unsupported_ids(i for p in prompts for i in p.instruction_id_list)
    if missing:
        raise CutError(f"cannot score instruction ids no checker implements: {', '.join(missing)}")
    hits = {"prompt_level_strict": 0, "prompt_level_loose": 0, "instruction_level_strict": 0,
            "instruction_level_loose": 0}
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, strict, loose
    n_instructions = 0
    for prompt, response in zip(prompts, responses):
        result = score_response(prompt, response)
        hits["prompt_level_strict"] += result["prompt_strict"]
        hits["prompt_level_loose"] += result["prompt_loose"]
        hits["instruction_level_strict"] += sum(result["strict"])
        hits["instruction_level_loose"] += sum(result["loose"])
        n_instructions += len(result["strict"])
        for instruction_id, s, l in zip(result["instruction_id_list"], result["strict"], result["loose"]):
            counts = per_type[instruction_id]
            counts[0], counts[1], counts[2] = counts[0] + 1, counts[1] + s, counts[2] + l
    out: dict[str, Any] = {"n_prompts": len(prompts), "n_instructions": n_instructions}
    for name, k in hits.items():
        n = len(prompts) if name.startswith("prompt") else n_instructions
        out[name] = k / n if n else 0.0
        out[f"{name}_ci"] = list(wilson_interval(k, n))
    out["per_type"] = {i: {"n": n, "strict": s / n, "loose": l / n} for i, (n, s, l) in sorted(per_type.items())}
    return out


def _cell(rate: float, ci: list[float] | None = None) -> str:
    text = f"{100 * rate:.1f}%"
    return f"{text} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else text


def render_table(result: dict[str, Any]):
    """A rich Table: prompt- and instruction-level rows (with 95% CIs), then one row per type."""
    from rich.table import Table

    table = Table(title="Verifiable instructions (IFEval-style)")
    table.add_column("level / instruction id", overflow="fold")
    table.add_column("n", justify="right")
    table.add_column("strict", justify="right")
    table.add_column("loose", justify="right")
    for level, n in (("prompt_level", result["n_prompts"]), ("instruction_level", result["n_instructions"])):
        table.add_row(level.replace("_", "-"), str(n),
                      _cell(result[f"{level}_strict"], result[f"{level}_strict_ci"]),
                      _cell(result[f"{level}_loose"], result[f"{level}_loose_ci"]))
    table.add_section()
    for instruction_id, row in result["per_type"].items():
        table.add_row(instruction_id, str(row["n"]), _cell(row["strict"]), _cell(row["loose"]))
    left_out = result.get("unsupported")
    if left_out:
        ids = left_out["ids"]
        table.caption = (f"left out, not scored: {left_out['n_prompts']} prompts using {len(ids)} instruction ids no "
                         f"checker implements ({', '.join(ids[:6])}{', ...' if len(ids) > 6 else ''})")
    return table
