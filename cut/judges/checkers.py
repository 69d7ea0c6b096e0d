"""Checkers for verifiable instructions (the IFEval family), by IFEval instruction id.

``check(instruction_id, response, kwargs)`` runs one constraint and returns a CheckResult:
whether it holds, a critique that names the constraint and quotes the offending text, and
the [start, end) spans of every violation. ``describe`` gives the instruction text the
prompt generator shows the model. Ids and kwargs names are IFEval's (Zhou et al. 2023), so
IFEval files and our prompt sets are interchangeable; ``startend:start_checker`` is our own.

Implemented: all 25 of IFEval's ids (``language:response_language`` with langdetect, as
IFEval does) plus ``startend:start_checker``. Kwargs are validated against what IFEval's own
file uses: ``letter`` is any one non-space character (IFEval asks for "#" and "!"),
``language`` a code langdetect can return. An id no checker implements is reported by the
rule judge as unsupported, never judged.

IFBench (Pyatkin et al. 2025): 44 of its 58 ids, in ``checkers_ifbench_count``,
``checkers_ifbench_format``, ``checkers_ifbench_words`` and ``checkers_ifbench_text`` (two
of them need the optional ``ifbench`` extra: ``missing_extras`` says which); the others are reported unsupported. Counts written as
integral floats (IFBench's file has ``"N": 5.0``) are read as integers.

The checkers live in four files by kind (length, content, format, start/end); this module
only assembles them and validates kwargs. Departures from IFEval are listed in each file.
"""

from __future__ import annotations

from typing import Any, Callable

from cut.errors import CutError
from cut.judges import (
    checkers_content,
    checkers_format,
    checkers_ifbench_count,
    checkers_ifbench_format,
    checkers_ifbench_text,
    checkers_ifbench_words,
    checkers_length,
    checkers_startend,
)
from cut.judges.checker_base import RELATIONS, CheckResult, Spec
from cut.judges.language import LANGUAGES

__all__ = ["CHECKERS", "IFBENCH_IDS", "SPECS", "CheckResult", "check", "describe", "missing_extras", "validate_kwargs",
           "unsupported_ids"]

SPECS: dict[str, Spec] = {
    spec.id: spec
    for module in (checkers_length, checkers_content, checkers_format, checkers_startend, checkers_ifbench_count,
                   checkers_ifbench_format, checkers_ifbench_words, checkers_ifbench_text)
    for spec in module.SPECS
}
# IFBench's ids among them (Pyatkin et al. 2025); the rest are IFEval's and ours.
IFBENCH_IDS = frozenset(spec.id for module in (checkers_ifbench_count, checkers_ifbench_format, checkers_ifbench_words,
                                               checkers_ifbench_text) for spec in module.SPECS)
CHECKERS: dict[str, Callable[[str, dict], CheckResult]] = {i: s.check for i, s in SPECS.items()}


def unsupported_ids(instruction_ids) -> list[str]:
    """The ids among ``instruction_ids`` that no checker implements, in order, without repeats."""
    return list(dict.fromkeys(i for i in instruction_ids if i not in SPECS))


def missing_extras(instruction_ids) -> list[str]:
    """The optional packages that checkers of ``instruction_ids`` need and that are not installed."""
    import importlib.util

    needs = {SPECS[i].needs for i in instruction_ids if i in SPECS and SPECS[i].needs}
    return sorted(n for n in needs if importlib.util.find_spec(n) is None)


def _spec(instruction_id: str) -> Spec:
    if instruction_id not in SPECS:
        raise CutError(f"unknown instruction id {instruction_id!r}: the rule checkers implement "
                       f"{', '.join(sorted(SPECS))}")
    return SPECS[instruction_id]


def _kind_error(kind: str, value: Any) -> str | None:
    """Why ``value`` is not of ``kind``, or None when it is."""
    if kind == "count":  # IFBench's file writes counts as floats ("N": 5.0)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 and value == int(value)
        return None if ok else "must be a non-negative integer"
    if kind == "relation":
        return None if value in RELATIONS else f"must be one of {', '.join(map(repr, RELATIONS))}"
    if kind == "text":
        return None if isinstance(value, str) and value.strip() else "must be a non-empty string"
    if kind == "letter":
        ok = isinstance(value, str) and len(value.strip()) == 1
        return None if ok else "must be one character (a letter, or a mark such as '#' or '!')"
    if kind == "language":
        return None if value in LANGUAGES else f"must be a language code langdetect knows ({', '.join(LANGUAGES)})"
    if kind == "texts":
        ok = isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value)
        return None if ok else "must be a non-empty list of non-empty strings"
    raise AssertionError(f"unknown parameter kind {kind!r}")


def validate_kwargs(instruction_id: str, kwargs: dict | None) -> dict:
    """The kwargs the checker needs, with None values dropped (the Hugging Face copy of
    IFEval stores every kwarg name on every row, unused ones as null). Missing, unknown or
    ill-typed kwargs raise CutError naming the instruction and the kwarg."""
    spec = _spec(instruction_id)
    if kwargs is not None and not isinstance(kwargs, dict):
        raise CutError(f"{instruction_id}: kwargs must be an object, got {type(kwargs).__name__}")
    given = {k: v for k, v in (kwargs or {}).items() if v is not None}
    unknown = sorted(set(given) - set(spec.params))
    if unknown:
        takes = ", ".join(spec.params) or "no kwargs"
        raise CutError(f"{instruction_id}: unknown kwarg {unknown[0]!r} (it takes {takes})")
    for name, kind in spec.params.items():
        if name not in given:
            raise CutError(f"{instruction_id}: missing kwarg {name!r}")
        problem = _kind_error(kind, given[name])
        if problem:
            raise CutError(f"{instruction_id}: kwarg {name!r} {problem}, got {given[name]!r}")
        if kind == "count":
            given[name] = int(given[name])
    return given


def check(instruction_id: str, response: str, kwargs: dict | None) -> CheckResult:
    """Run one constraint on ``response``. Unknown id or bad kwargs → CutError."""
    clean = validate_kwargs(instruction_id, kwargs)
    return SPECS[instruction_id].check(response, clean)


def describe(instruction_id: str, kwargs: dict | None) -> str:
    """The instruction as a sentence for the model, e.g. "Do not use any commas in your response."."""
    clean = validate_kwargs(instruction_id, kwargs)
    return SPECS[instruction_id].describe(clean)
