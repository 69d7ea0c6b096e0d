"""Judges, chosen by a spec string: ``openai:MODEL``, ``rules``, ``human``, ``hf:PATH``.

``make_judge`` imports only the module the spec needs.
"""

from __future__ import annotations

from typing import Any

from cut.errors import CutError
from cut.judges.base import Judge, JudgeItem, Verdict

__all__ = ["Judge", "JudgeItem", "Verdict", "make_judge"]

# spec prefix → (module, factory function); the factory takes (argument, **options).
JUDGES = {
    "openai": ("cut.judges.openai_judge", "from_spec"),
    "rules": ("cut.judges.rules", "from_spec"),
    "human": ("cut.judges.human", "from_spec"),
    "hf": ("cut.judges.local", "from_spec"),
}


def make_judge(spec: str, **options: Any) -> Judge:
    kind, _, arg = spec.partition(":")
    if kind not in JUDGES:
        raise CutError(f"unknown judge {spec!r}: use one of openai:MODEL, rules, human, hf:PATH")
    import importlib

    module_name, factory = JUDGES[kind]
    module = importlib.import_module(module_name)
    return getattr(module, factory)(arg, **options)
