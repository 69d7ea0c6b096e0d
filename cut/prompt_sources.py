"""Prompt files of several formats → ``PromptItem``s, and existing responses to match them.

``read_prompts`` accepts:

- IFEval JSONL (``key``, ``prompt``, ``instruction_id_list``, ``kwargs``): the constraints
  go to ``metadata``, where the rule judge reads them;
- records in any JSON list / JSONL shape with ``instruction`` (+ ``input``) — native ``cut``
  records, the CUT paper's Alpaca files, AlpacaEval's instruction and output files — or with
  ``prompt`` (TRL; a string or a list of chat messages) or ``messages`` (the last user
  message is the instruction);
- CSV / TSV with a header and an ``instruction`` (or ``prompt``) column, optional ``input``
  and ``id``/``key``; other non-empty cells go to ``metadata``;
- ``.txt``: one prompt per non-blank line.

An item's key is its ``key`` or ``id`` when given, else a stable hash of its text, so a rerun
over the same file meets the same keys. Keys must be unique: a repeated key, or the same
text twice without keys, is an error naming both lines. Errors name file, line and field.

``read_responses`` reads responses to judge instead of generating them (``--responses``):
records with a response (``response``, ``output`` or ``completion``), matched to prompts by
key, or by the exact prompt text.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from cut.errors import CutError
from cut.records import RecordError

# Fields that hold the text to answer, the key, or an answer; everything else goes to metadata.
_TEXT_FIELDS = {"instruction", "input", "prompt", "messages"}
_KEY_FIELDS = ("key", "id")
_RESPONSE_FIELDS = ("response", "output", "completion")
_NOT_METADATA = _TEXT_FIELDS | set(_KEY_FIELDS) | set(_RESPONSE_FIELDS) | {"metadata", "judgment", "spans"}


@dataclass
class PromptItem:
    """One prompt to answer. ``metadata`` carries e.g. IFEval ``instruction_id_list`` and
    ``kwargs`` (read by the rule judge) and any extra fields of the source row."""

    key: str
    instruction: str
    input: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """What the model is asked: the instruction, with an Alpaca ``input`` after a newline
        (the same rule as ``cut.records.Record.prompt``)."""
        return f"{self.instruction}\n{self.input}" if self.input else self.instruction


def text_key(instruction: str, input: str = "") -> str:
    """A stable key for a prompt without one: 16 hex digits of SHA-256 of its text."""
    canonical = json.dumps([instruction, input], ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def read_prompts(path: str | os.PathLike) -> list[PromptItem]:
    """Every prompt of a file, in file order. RecordError on bad rows or repeated keys."""
    path = Path(path)
    items: list[PromptItem] = []
    first_line: dict[str, int] = {}
    for line, row in _rows(path):
        item = _prompt_from_row(row, path, line)
        if item.key in first_line:
            what = "key" if _given_key(row) is not None else "instruction"
            raise RecordError(path, line, what, f"duplicate prompt key {item.key!r} (first on line "
                              f"{first_line[item.key]}); each prompt must have its own key")
        first_line[item.key] = line
        items.append(item)
    if not items:
        raise CutError(f"{path}: no prompts in the file")
    return items


def read_responses(path: str | os.PathLike) -> dict[str, list[str]]:
    """Responses by key and by prompt text: ``{key or text: [response, ...]}`` in file order.

    A row with a key is listed under that key *and* under its text, so either can match (a row
    may also have a key and no text); a prompt with several samples finds them in order
    (sample s takes the s-th response).
    """
    path = Path(path)
    found: dict[str, list[str]] = {}
    for line, row in _rows(path):
        name = next((f for f in _RESPONSE_FIELDS if f in row), None)
        if name is None:
            raise RecordError(path, line, "response", "missing field (a responses file needs "
                              "'response', 'output' or 'completion' in each row)")
        response = _response_text(row[name], name, path, line)
        if _given_key(row) is not None and not _TEXT_FIELDS & set(row):
            lookups = [str(_given_key(row)).strip()]  # matched by key alone
        else:
            item = _prompt_from_row(row, path, line)
            lookups = list(dict.fromkeys([item.key, item.prompt]))
        for lookup in lookups:
            found.setdefault(lookup, []).append(response)
    if not found:
        raise CutError(f"{path}: no responses in the file")
    return found


def match_response(responses: dict[str, list[str]], item: PromptItem, sample: int, item_key: str) -> str | None:
    """The response for sample ``sample`` of ``item``: by its item key (``key#s``), else the
    s-th response under its prompt key, else the s-th under its exact text; None if absent."""
    if item_key != item.key and item_key in responses:
        return responses[item_key][0]
    for lookup in (item.key, item.prompt):
        listed = responses.get(lookup, [])
        if sample < len(listed):
            return listed[sample]
    return None


# --- rows ------------------------------------------------------------------------------------


def _rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line, row dict) from a JSON list, JSONL, CSV/TSV or text file."""
    text = _read(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        yield from _csv_rows(text, path, "\t" if suffix == ".tsv" else ",")
    elif suffix == ".txt":
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield number, {"instruction": line.strip()}
    else:
        from cut.importers import iter_json_items  # line-tracking JSON list / JSONL reader

        for line, label, obj in iter_json_items(text, path):
            if isinstance(obj, RecordError):
                raise obj
            if not isinstance(obj, dict):
                raise RecordError(path, line, None, f"expected a JSON object, got {type(obj).__name__}"
                                  + (f" ({label})" if label else ""))
            yield line, obj


def _read(path: Path) -> str:
    from cut.paths import read_text

    return read_text(path, encoding="utf-8-sig")  # -sig: spreadsheets often write a BOM


def _csv_rows(text: str, path: Path, delimiter: str) -> Iterator[tuple[int, dict]]:
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter)
    header = [h.strip() for h in next(reader, [])]
    if "instruction" not in header and "prompt" not in header:
        raise RecordError(path, 1, "instruction", "missing column (or 'prompt')")
    previous = reader.line_num
    for row in reader:
        start, previous = previous + 1, reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise RecordError(path, start, None, f"expected {len(header)} cells (as in the header), got {len(row)}")
        yield start, {k: v for k, v in zip(header, row) if k in _NOT_METADATA or v.strip()}


# --- one row → PromptItem --------------------------------------------------------------------


def _prompt_from_row(row: dict, path: Path, line: int) -> PromptItem:
    instruction, input_text = _instruction(row, path, line)
    if not instruction.strip():
        name = "instruction" if "instruction" in row else ("prompt" if "prompt" in row else "messages")
        raise RecordError(path, line, name, "empty prompt")
    metadata = row.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise RecordError(path, line, "metadata", f"expected an object, got {type(metadata).__name__}")
    metadata = {**metadata, **{k: v for k, v in row.items() if k not in _NOT_METADATA}}
    key = _given_key(row)
    if key is not None:
        if isinstance(key, bool) or not isinstance(key, (str, int)) or not str(key).strip():
            name = next(f for f in _KEY_FIELDS if f in row)
            raise RecordError(path, line, name, f"expected a non-empty string or an integer, got {key!r}")
        key = str(key).strip()
    return PromptItem(key or text_key(instruction, input_text), instruction, input_text, metadata)


def _given_key(row: dict) -> Any:
    return next((row[f] for f in _KEY_FIELDS if row.get(f) not in (None, "")), None)


def _instruction(row: dict, path: Path, line: int) -> tuple[str, str]:
    """(instruction, input) from ``instruction``/``input``, ``prompt`` or ``messages``."""
    if "instruction" in row:
        return _string(row, "instruction", path, line), _string(row, "input", path, line, default="")
    if "prompt" in row:
        prompt = row["prompt"]
        return (prompt if isinstance(prompt, str) else _last_user(prompt, "prompt", path, line)), ""
    if "messages" in row:
        return _last_user(row["messages"], "messages", path, line), ""
    raise RecordError(path, line, "instruction", "missing field (a prompt row needs 'instruction', "
                      "'prompt' or 'messages')")


def _string(row: dict, name: str, path: Path, line: int, default: str | None = None) -> str:
    value = row.get(name, default)
    if not isinstance(value, str):
        got = "null" if value is None else type(value).__name__
        raise RecordError(path, line, name, f"expected string, got {got}")
    return value


def _last_user(messages: Any, name: str, path: Path, line: int) -> str:
    if not isinstance(messages, list) or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages):
        raise RecordError(path, line, name, "expected a string or a list of {\"role\", \"content\"} messages")
    users = [m["content"] for m in messages if m["role"] == "user"]
    if not users:
        raise RecordError(path, line, name, "no message with role 'user' (the instruction)")
    return users[-1]


def _response_text(value: Any, name: str, path: Path, line: int) -> str:
    """A response cell: a string, or (TRL conversational) one assistant message in a list."""
    if isinstance(value, str):
        return value
    if (isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict)
            and value[0].get("role") == "assistant" and isinstance(value[0].get("content"), str)):
        return value[0]["content"]
    got = "null" if value is None else type(value).__name__
    raise RecordError(path, line, name, f"expected string (or one assistant message), got {got}")
