"""Read judgment records from the formats people already have, into ``cut.records.Record``.

Formats (``format="auto"`` picks one from the file extension and the first object's keys):

- ``native``   JSONL with the fields of ``Record`` (what ``cut`` itself writes).
- ``alpaca``   the CUT paper's files (github wwxu21/CUT ``data/iter``): a JSON list, or JSONL,
  of ``{id, instruction, input, output, judgment}``; ``output`` becomes the response. The
  one format whose convention reads the judge's verdict "Perfect." (alone or followed by
  punctuation) as acceptable; it is imported as a null judgment. "Perfectly awful." is a
  critique.
- ``shepherd`` Shepherd's human critiques: ``{id, dataset, question, answer, feedback}``;
  ``feedback`` is the judgment, ``dataset`` goes to ``metadata``.
- ``trl``      TRL prompt-completion rows ``{prompt, completion}`` plus ``judgment`` (and
  optional ``spans``, ``id``). Prompt and completion are strings, or TRL's conversational
  lists of ``{role, content}``: the instruction is the last user message, the response the
  assistant message, a system message goes to ``metadata["system"]`` and earlier turns to
  ``metadata["history"]``.
- ``messages`` TRL's conversational rows ``{messages}`` plus ``judgment``: the last message
  is the assistant response, the last user message before it the instruction.
- ``csv``      a CSV (``.tsv``: tab-separated) with a header; see "CSV cells" below.

A corrected response, where a format carries one (``revision``, ``refinement`` or
``correction``), becomes the record's ``revision`` (alpaca, trl, messages, csv; native
records have the field itself).

Rules shared by every format:

- A missing or null judgment means "acceptable" (a positive), as in the native format. Every
  judgment string goes through ``cut.records.classify_judgment``, so a judge-failure
  placeholder such as ``$ERROR$`` (or, outside the alpaca format, the bare verdict
  "Perfect.") is *rejected* (counted, never trained), not a critique.
- A JSON object with the same key twice is an error naming the key (``json`` would keep the
  last value and drop the first without a word).
- Keys a foreign format does not name are kept under ``metadata``; ``source`` is the file
  stem (``train-alpaca-sample-iter1``), so records from several files stay traceable.
- Errors name the file, the line and the field as the file spells it (``output``, not
  ``response``). JSON lists report the line where the item starts and say "item N".
  With ``skip_invalid=True`` a bad item is collected in ``LoadResult.invalid`` and skipped;
  a JSON list with a syntax error cannot be resynchronised, so that error is always raised.

CSV cells (the sheet a person annotates):

- Columns ``instruction`` and ``response`` (or ``output``) are required; ``input``,
  ``judgment``, ``id``, ``spans`` (JSON text, e.g. ``[[0, 5]]``) and ``acceptable`` are
  optional; any other non-empty cell goes to ``metadata``.
- Without an ``acceptable`` column an empty judgment cell means positive (``None``); text
  is a judgment under the usual rules (``$ERROR$`` is rejected).
- With an ``acceptable`` column the person's verdict decides: ``yes/y/true/1`` → positive
  (the judgment cell must then be empty or the verdict "Perfect."); ``no/n/false/0`` →
  negative (the judgment cell must hold the critique, which may well start with
  "Perfectly"; the bare verdict "Perfect." there is an error); an empty verdict with
  an empty judgment means "not annotated yet" and is imported as the empty judgment ``""``,
  which the polarity rules reject, so it is counted but never trained as a positive.

Not from the paper: the paper ships only the Alpaca-style files; the other formats are the
ecosystem's (TRL, Shepherd) so users can bring their own judgments.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from cut.errors import CutError
from cut.records import (
    DuplicateKey, Record, RecordError, is_perfect_verdict, loads_strict,
    record_from_dict, strict_decoder, validate_spans,
)

FORMATS = ("native", "alpaca", "shepherd", "trl", "messages", "csv")
EMPTY_FORMAT = "empty"  # an auto-detected file with no records at all

_CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
_JSON_WS = re.compile(r"[ \t\n\r]*")  # the whitespace JSON allows between tokens


@dataclass
class LoadResult:
    """What one file gave: its records and (with ``skip_invalid``) the items it skipped."""

    records: list[Record]
    invalid: list[RecordError]
    path: str
    format: str


def load_records(path: str | os.PathLike, format: str = "auto", skip_invalid: bool = False) -> LoadResult:
    """Read one file of judgment records in any supported format.

    Raises RecordError (file, line, field) on the first bad item unless ``skip_invalid``,
    and CutError if the file is missing or its format cannot be told.
    """
    if format != "auto" and format not in FORMATS:
        raise CutError(f"unknown format {format!r}; choose one of: auto, {', '.join(FORMATS)}")
    path = Path(path)
    text = read_text(path)
    delimiter = _CSV_SUFFIXES.get(path.suffix.lower(), ",")
    if format == "csv" or (format == "auto" and path.suffix.lower() in _CSV_SUFFIXES):
        items, fmt = list(iter_csv_rows(text, path, delimiter)), "csv"
    else:
        items = list(iter_json_items(text, path))
        fmt = format if format != "auto" else _detect_format(items, path)
    records, invalid = [], []
    convert = _CONVERTERS.get(fmt)  # None only for EMPTY_FORMAT, which has no items
    for line, label, obj in items:
        try:
            if isinstance(obj, RecordError):
                raise obj
            records.append(convert(obj, path, line))
        except RecordError as err:
            if label:
                err = RecordError(err.path, err.line, err.field, f"{err.message} ({label})")
            if not skip_invalid:
                raise err from None
            invalid.append(err)
    return LoadResult(records=records, invalid=invalid, path=str(path), format=fmt)


def load_many(paths: Iterable[str | os.PathLike], format: str = "auto", skip_invalid: bool = False) -> list[LoadResult]:
    """``load_records`` for each path, in order."""
    return [load_records(p, format=format, skip_invalid=skip_invalid) for p in paths]


def _detect_format(items: list[tuple[int, str, Any]], path: Path) -> str:
    """Name the format from the keys of the first JSON object (``EMPTY_FORMAT`` if none)."""
    first = next(((line, obj) for line, _, obj in items if isinstance(obj, dict)), None)
    if first is None:
        if items and isinstance(items[0][2], RecordError):
            raise items[0][2]
        if items:
            raise RecordError(path, items[0][0], None, f"expected a JSON object, got {type(items[0][2]).__name__}")
        return EMPTY_FORMAT
    line, obj = first
    keys = set(obj)
    if "messages" in keys:
        return "messages"
    if {"prompt", "completion"} <= keys:
        return "trl"
    if {"question", "answer", "feedback"} <= keys:
        return "shepherd"
    if {"instruction", "output"} <= keys and "response" not in keys:
        return "alpaca"
    if {"instruction", "response"} <= keys:
        return "native"
    raise RecordError(path, line, None, f"cannot tell the format from the keys {sorted(keys)}; "
                      f"pass a format (one of {', '.join(FORMATS)})")


# --- containers: text → (line, label, object or RecordError) ---------------------------------


def read_text(path: Path) -> str:
    """The file's text; a missing, unreadable, non-UTF-8 or non-regular file is one line
    (``cut.paths.read_text``)."""
    from cut.paths import read_text as read_checked

    return read_checked(path, encoding="utf-8-sig")  # -sig: spreadsheets often write a BOM


def iter_json_items(text: str, path: Path) -> Iterator[tuple[int, str, Any]]:
    """A document starting with ``[`` is one JSON list; anything else is JSON Lines."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from _iter_json_list(text, path)
    elif stripped.startswith("{") and path.suffix.lower() == ".json" and _is_single_document(text):
        raise RecordError(path, 1, None, "expected a JSON list of records (or JSON Lines), got one JSON object")
    else:
        yield from _iter_json_lines(text, path)


def _is_single_document(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _iter_json_lines(text: str, path: Path) -> Iterator[tuple[int, str, Any]]:
    """Unlike ``cut.records.iter_jsonl``, a bad line is yielded as an error, so it can be skipped."""
    # split("\n"), not splitlines(): JSON strings may hold a raw U+2028 or form feed.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield number, "", loads_strict(line, path, number)
        except RecordError as err:  # a key twice in one object
            yield number, "", err
        except json.JSONDecodeError as err:
            yield number, "", RecordError(path, number, None, f"invalid JSON ({_json_msg(err)} at column {err.colno})")


def _json_msg(err: json.JSONDecodeError) -> str:
    # json's "Invalid control character at" would read "... at at column N".
    return err.msg.removesuffix(" at")


def _iter_json_list(text: str, path: Path) -> Iterator[tuple[int, str, Any]]:
    """Decode a JSON list item by item, so each item knows the line it starts on."""
    decoder = strict_decoder()
    pos = _JSON_WS.match(text, 0).end() + 1  # past the "["
    line, counted = 1, 0  # line number of text[counted]; advanced lazily, O(file) overall
    index = 0
    pos = _JSON_WS.match(text, pos).end()
    if text.startswith("]", pos):
        _check_trailing(text, pos + 1, path)
        return
    while True:
        line, counted = line + text.count("\n", counted, pos), pos
        try:
            obj, end = decoder.raw_decode(text, pos)
        except DuplicateKey as err:
            raise RecordError(path, line, err.key, f"duplicate key in one JSON object (item {index + 1})") from None
        except json.JSONDecodeError as err:
            raise RecordError(path, err.lineno, None, f"invalid JSON ({_json_msg(err)} at column {err.colno}, item {index + 1})") from None
        index += 1
        yield line, f"item {index}", obj
        pos = _JSON_WS.match(text, end).end()
        if text.startswith(",", pos):
            pos = _JSON_WS.match(text, pos + 1).end()
            continue
        if text.startswith("]", pos):
            _check_trailing(text, pos + 1, path)
            return
        bad_line = text.count("\n", 0, pos) + 1
        raise RecordError(path, bad_line, None, f"invalid JSON (expected ',' or ']' after item {index})")


def _check_trailing(text: str, pos: int, path: Path) -> None:
    rest = _JSON_WS.match(text, pos).end()
    if rest != len(text):
        raise RecordError(path, text.count("\n", 0, rest) + 1, None, "invalid JSON (extra data after the list)")


def iter_csv_rows(text: str, path: Path, delimiter: str) -> Iterator[tuple[int, str, Any]]:
    """Rows as {column: cell}; the line is where the row starts (quoted cells may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)  # lines end at \n only
    header = next(reader, None)
    if header is None:
        return
    header = [h.strip() for h in header]
    _check_csv_header(header, path)
    previous = reader.line_num
    for row in reader:
        start, previous = previous + 1, reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield start, "", RecordError(path, start, None, f"expected {len(header)} cells (as in the header), got {len(row)}")
        else:
            yield start, "", dict(zip(header, row))


def _check_csv_header(header: list[str], path: Path) -> None:
    if "instruction" not in header:
        raise RecordError(path, 1, "instruction", "missing column")
    if "response" not in header and "output" not in header:
        raise RecordError(path, 1, "response", "missing column (or 'output')")
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise RecordError(path, 1, duplicates[0], "column appears more than once")


# --- converters: one object → Record ---------------------------------------------------------


def _from_native(obj: Any, path: Path, line: int) -> Record:
    return record_from_dict(obj, path, line)


def _from_alpaca(obj: Any, path: Path, line: int) -> Record:
    _need_object(obj, path, line)
    return Record(
        instruction=_text(obj, "instruction", path, line),
        input=_text(obj, "input", path, line, default=""),
        response=_text(obj, "output", path, line),
        judgment=_perfect_as_null(_judgment(obj, "judgment", path, line)),
        id=_id(obj, path, line),
        source=path.stem,
        revision=_revision(obj, path, line),
        metadata=_extras(obj, {"id", "instruction", "input", "output", "judgment", *REVISION_KEYS}),
    )


def _from_shepherd(obj: Any, path: Path, line: int) -> Record:
    _need_object(obj, path, line)
    metadata = _extras(obj, {"id", "question", "answer", "feedback", "dataset"})
    if "dataset" in obj:
        metadata["dataset"] = _text(obj, "dataset", path, line)
    return Record(
        instruction=_text(obj, "question", path, line),
        response=_text(obj, "answer", path, line),
        judgment=_text(obj, "feedback", path, line),
        id=_id(obj, path, line),
        source=path.stem,
        metadata=metadata,
    )


def _from_trl(obj: Any, path: Path, line: int) -> Record:
    _need_object(obj, path, line)
    metadata = _extras(obj, {"id", "prompt", "completion", "judgment", "spans", *REVISION_KEYS})
    prompt = _field(obj, "prompt", path, line)
    if isinstance(prompt, str):
        instruction = prompt
    else:
        instruction = _split_conversation(_messages(prompt, "prompt", path, line), "prompt", path, line, metadata)
    completion = _field(obj, "completion", path, line)
    if isinstance(completion, str):
        response = completion
    else:
        turns = _messages(completion, "completion", path, line)
        if len(turns) != 1 or turns[0][0] != "assistant":
            raise RecordError(path, line, "completion", "expected one message with role 'assistant'")
        response = turns[0][1]
    return _judged(obj, instruction, response, path, line, metadata)


def _from_messages(obj: Any, path: Path, line: int) -> Record:
    _need_object(obj, path, line)
    metadata = _extras(obj, {"id", "messages", "judgment", "spans", *REVISION_KEYS})
    turns = _messages(_field(obj, "messages", path, line), "messages", path, line)
    if not turns or turns[-1][0] != "assistant":
        raise RecordError(path, line, "messages", "the last message must have role 'assistant' (the judged response)")
    instruction = _split_conversation(turns[:-1], "messages", path, line, metadata)
    return _judged(obj, instruction, turns[-1][1], path, line, metadata)


def record_from_csv_row(row: dict[str, str], path: Path, line: int) -> Record:
    response_column = "response" if "response" in row else "output"
    response = row[response_column]
    spans = None
    if row.get("spans", "").strip():
        try:
            spans = json.loads(row["spans"])
        except json.JSONDecodeError as err:
            raise RecordError(path, line, "spans", f"invalid JSON ({_json_msg(err)})") from None
    known = {"instruction", "input", response_column, "judgment", "id", "spans", "acceptable", *REVISION_KEYS}
    return Record(
        instruction=row["instruction"],
        input=row.get("input", ""),
        response=response,
        judgment=_csv_judgment(row, path, line),
        spans=validate_spans(spans, response, path, line),
        revision=_revision({k: v for k, v in row.items() if v.strip()}, path, line),
        id=row.get("id", "").strip() or None,
        source=path.stem,
        metadata={k: v for k, v in row.items() if k not in known and v.strip()},
    )


_CONVERTERS: dict[str, Callable[[Any, Path, int], Record]] = {
    "native": _from_native, "alpaca": _from_alpaca, "shepherd": _from_shepherd,
    "trl": _from_trl, "messages": _from_messages, "csv": record_from_csv_row,
}

_YES, _NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0"}


def _csv_judgment(row: dict[str, str], path: Path, line: int) -> str | None:
    """The CSV rule from the module docstring."""
    text = row.get("judgment", "")
    has_text = bool(text.strip())
    if "acceptable" not in row:
        return text if has_text else None
    verdict = row["acceptable"].strip().lower()
    if verdict in _YES:
        if has_text and not is_perfect_verdict(text):
            raise RecordError(path, line, "acceptable", "marked acceptable, but the judgment cell holds a critique")
        return None
    if verdict in _NO:
        if not has_text:
            raise RecordError(path, line, "judgment", "marked not acceptable, but no judgment was written")
        if is_perfect_verdict(text):
            raise RecordError(path, line, "judgment", f"marked not acceptable, but the judgment says {text.strip()!r}")
        return text  # the verdict decides: a critique that starts with "Perfectly" is still one
    if verdict:
        raise RecordError(path, line, "acceptable", f"expected yes/no (or true/false, 1/0), got {row['acceptable']!r}")
    return text if has_text else ""  # not annotated yet: "" is rejected by classify_judgment


# --- field helpers ---------------------------------------------------------------------------


def _perfect_as_null(judgment: str | None) -> str | None:
    """The CUT paper's convention (arXiv 2312.14591, online setting): the judge's verdict
    "perfect" means acceptable. Only the verdict itself ("Perfect.", "perfect - no
    mistakes"), never a critique that starts with the word ("Perfectly awful.")."""
    return None if judgment is not None and is_perfect_verdict(judgment) else judgment


def _need_object(obj: Any, path: Path, line: int) -> None:
    if not isinstance(obj, dict):
        raise RecordError(path, line, None, f"expected a JSON object, got {type(obj).__name__}")


def _field(obj: dict, name: str, path: Path, line: int) -> Any:
    if name not in obj:
        raise RecordError(path, line, name, "missing required field")
    return obj[name]


def _text(obj: dict, name: str, path: Path, line: int, default: str | None = None) -> str:
    value = obj.get(name, default) if default is not None else _field(obj, name, path, line)
    if not isinstance(value, str):
        raise RecordError(path, line, name, f"expected string, got {_type_name(value)}")
    return value


def _judgment(obj: dict, name: str, path: Path, line: int) -> str | None:
    value = obj.get(name)
    if value is not None and not isinstance(value, str):
        raise RecordError(path, line, name, f"expected string or null, got {_type_name(value)}")
    return value


def _id(obj: dict, path: Path, line: int) -> str | None:
    value = obj.get("id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RecordError(path, line, "id", f"expected string or integer, got {_type_name(value)}")
    return str(value)


def _extras(obj: dict, known: set[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in known}


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _judged(obj: dict, instruction: str, response: str, path: Path, line: int, metadata: dict) -> Record:
    """The part TRL and messages rows share: judgment, spans, id."""
    return Record(
        instruction=instruction,
        response=response,
        judgment=_judgment(obj, "judgment", path, line),
        spans=validate_spans(obj.get("spans"), response, path, line),
        revision=_revision(obj, path, line),
        id=_id(obj, path, line),
        source=path.stem,
        metadata=metadata,
    )


# Names formats give a judge's corrected response: ours, and "refinement" (critique-and-refine
# data) or "correction" (correction data). Any of them becomes the record's ``revision``.
REVISION_KEYS = ("revision", "refinement", "correction")


def _revision(obj: dict, path: Path, line: int) -> str | None:
    """The corrected response a row carries under one of ``REVISION_KEYS``, or None."""
    present = [k for k in REVISION_KEYS if obj.get(k) is not None]
    if len(present) > 1:
        raise RecordError(path, line, present[1], f"a revision is already given as {present[0]!r}")
    if not present:
        return None
    value = obj[present[0]]
    if not isinstance(value, str):
        raise RecordError(path, line, present[0], f"expected string, got {_type_name(value)}")
    return value


def _messages(value: Any, name: str, path: Path, line: int) -> list[tuple[str, str]]:
    """Validate a conversational list into (role, content) pairs."""
    if not isinstance(value, list):
        raise RecordError(path, line, name, f"expected a string or a list of messages, got {_type_name(value)}")
    turns = []
    for i, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str) \
                or not isinstance(message.get("content"), str):
            raise RecordError(path, line, name, f"message {i} is not {{\"role\": string, \"content\": string}}")
        turns.append((message["role"], message["content"]))
    return turns


def _split_conversation(turns: list[tuple[str, str]], name: str, path: Path, line: int, metadata: dict) -> str:
    """Return the last user message; put a system message and earlier turns in ``metadata``."""
    users = [i for i, (role, _) in enumerate(turns) if role == "user"]
    if not users:
        raise RecordError(path, line, name, "no message with role 'user' (the instruction)")
    last = users[-1]
    system = [content for role, content in turns[:last] if role == "system"]
    if system:
        metadata["system"] = "\n".join(system)
    history = [{"role": role, "content": content} for role, content in turns[:last] if role != "system"]
    if history:
        metadata["history"] = history
    return turns[last][1]
