"""Judgment records: the one data model every command reads and writes.

A record is (instruction [+ input], response, judgment) plus provenance. ``judgment=None``
means the judge found the response acceptable (a *positive*, Align-P in arXiv 2312.14591
§3); a critique string makes it a *negative* (Align-N + Misalign). Judge-failure
placeholders such as the literal ``$ERROR$`` that the paper's pipeline stored as if it were
a critique are *rejected*: counted, never trained.

On disk records are JSONL, one object per line, with the field names of ``Record``
(``datasets.load_dataset("json", ...)`` reads them). Appends are line-atomic and flushed,
so a killed writer loses at most the line in flight; ``read_jsonl`` tolerates a torn last
line only when asked to (resume), never silently.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Iterator

from cut.errors import CutError

POSITIVE, NEGATIVE, REJECTED = "positive", "negative", "rejected"

# Strings a judge pipeline writes when it failed to produce a judgment. Compared after
# strip() and lower(); the empty string is handled separately.
FAILURE_PLACEHOLDERS = {"$error$", "error", "none", "null", "nan", "n/a"}


class RecordError(CutError, ValueError):
    """Bad input, located: ``path:line: field 'x': message``."""

    def __init__(self, path: str | os.PathLike | None, line: int | None, field: str | None, message: str):
        self.path, self.line, self.field, self.message = str(path) if path else None, line, field, message
        where = f"{self.path}:{line}" if line is not None else (self.path or "<input>")
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{message}")


@dataclass
class Record:
    """One judged response. ``spans`` are [start, end) character offsets into ``response``.
    ``revision``: a corrected response the judge proposes (None when it has none); for a
    negative it is the minimal contrast CUT wants: the same answer without the violation."""

    instruction: str
    response: str
    judgment: str | None = None
    input: str = ""
    spans: list[list[int]] | None = None
    revision: str | None = None
    id: str | None = None
    source: str | None = None
    round: int | None = None
    judge: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """The instruction the model saw: an Alpaca ``input`` is appended after a newline."""
        return f"{self.instruction}\n{self.input}" if self.input else self.instruction

    @property
    def polarity(self) -> str:
        return classify_judgment(self.judgment)[0]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# The one-word verdict of the paper's GPT-4 protocol (arXiv 2312.14591, online setting):
# "perfect" alone or followed by punctuation ("Perfect.", "perfect!", "Perfect - no
# mistakes."), never a word that merely starts with it ("Perfectly awful.").
_PERFECT_VERDICT = re.compile(r"perfect\s*(?:$|[.!,;:)\-–—])", re.IGNORECASE)


def is_perfect_verdict(text: str) -> bool:
    """True when ``text`` (stripped) is the verdict "perfect" of the paper's protocol."""
    return _PERFECT_VERDICT.match(text.strip()) is not None


def classify_judgment(judgment: str | None) -> tuple[str, str | None]:
    """Return (polarity, reason). Reason is set only for rejected judgments.

    None → positive (the explicit verdict "acceptable"); judge-failure placeholders, empty
    strings and the bare verdict word "Perfect." → rejected (a verdict where a critique
    belongs: the format that uses it converts it to None on import, see
    ``cut.importers``); anything else → negative, even text that starts with "perfect".
    """
    if judgment is None:
        return POSITIVE, None
    text = judgment.strip()
    if not text:
        return REJECTED, "empty judgment"
    if text.lower() in FAILURE_PLACEHOLDERS:
        return REJECTED, f"placeholder {text!r}"
    if is_perfect_verdict(text):
        return REJECTED, "the verdict 'perfect' where a critique belongs (null means acceptable)"
    return NEGATIVE, None


_TYPES = {f.name: f for f in fields(Record)}


def record_from_dict(obj: Any, path: str | os.PathLike | None = None, line: int | None = None) -> Record:
    """Validate a native JSON object into a Record; errors name file, line and field."""
    if not isinstance(obj, dict):
        raise RecordError(path, line, None, f"expected a JSON object, got {type(obj).__name__}")
    unknown = set(obj) - set(_TYPES)
    if unknown:
        raise RecordError(path, line, sorted(unknown)[0], "unknown field (put extra data under 'metadata')")
    for name in ("instruction", "response"):
        if name not in obj:
            raise RecordError(path, line, name, "missing required field")
    _check_type(obj, "instruction", str, path, line)
    _check_type(obj, "response", str, path, line)
    _check_type(obj, "input", str, path, line)
    _check_type(obj, "judgment", (str, type(None)), path, line)
    _check_type(obj, "revision", (str, type(None)), path, line)
    _check_type(obj, "source", (str, type(None)), path, line)
    _check_type(obj, "judge", (str, type(None)), path, line)
    _check_type(obj, "round", (int, type(None)), path, line)
    _check_type(obj, "metadata", dict, path, line)
    rec_id = obj.get("id")
    if rec_id is not None and not isinstance(rec_id, (str, int)):
        raise RecordError(path, line, "id", f"expected string or integer, got {type(rec_id).__name__}")
    spans = validate_spans(obj.get("spans"), obj["response"], path, line)
    kwargs = {k: v for k, v in obj.items() if k not in ("spans", "id")}
    return Record(**kwargs, spans=spans, id=None if rec_id is None else str(rec_id))


def _check_type(obj: dict, name: str, types, path, line) -> None:
    if name not in obj:
        return
    value = obj[name]
    if not isinstance(value, types) or isinstance(value, bool):  # bool is an int subclass
        want = " or ".join(t.__name__.replace("NoneType", "null") for t in (types if isinstance(types, tuple) else (types,)))
        raise RecordError(path, line, name, f"expected {want}, got {type(value).__name__}")


def validate_spans(spans: Any, response: str, path=None, line=None) -> list[list[int]] | None:
    """Spans must be [start, end) pairs of ints with 0 <= start < end <= len(response)."""
    if spans is None:
        return None
    if not isinstance(spans, list):
        raise RecordError(path, line, "spans", f"expected a list of [start, end] pairs, got {type(spans).__name__}")
    out = []
    for i, span in enumerate(spans):
        ok = (isinstance(span, (list, tuple)) and len(span) == 2
              and all(isinstance(v, int) and not isinstance(v, bool) for v in span))
        if not ok:
            raise RecordError(path, line, "spans", f"item {i} is not a [start, end] pair of integers: {span!r}")
        start, end = span
        if start >= end:
            raise RecordError(path, line, "spans", f"item {i} [{start}, {end}]: start must be less than end")
        if not 0 <= start < end <= len(response):
            raise RecordError(path, line, "spans", f"item {i} [{start}, {end}] is outside the response (length {len(response)})")
        out.append([start, end])
    return out


def iter_jsonl(path: str | os.PathLike, allow_torn_tail: bool = False) -> Iterator[tuple[int, Any]]:
    """Yield (line number, parsed object) for each non-blank line.

    A line that is not JSON raises RecordError, except a final line without a newline when
    ``allow_torn_tail`` (a writer killed mid-line): it is skipped, since it was never
    completed.
    """
    from cut.paths import read_text

    # io.StringIO(newline=None): the line ends open() in text mode gives (\n, \r\n, \r), not
    # splitlines()' (which also breaks at U+2028, legal inside JSON strings).
    lines = io.StringIO(read_text(path), newline=None).readlines()
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield number, loads_strict(text, path, number)
        except json.JSONDecodeError as err:
            if allow_torn_tail and number == len(lines) and not text.endswith("\n"):
                return
            raise RecordError(path, number, None, f"invalid JSON: {err.msg} (column {err.colno})") from None


class DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        raise DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def strict_decoder() -> json.JSONDecoder:
    """A JSON decoder that refuses an object with a key twice (``json`` keeps the last one,
    silently dropping what the file said first); raises ``DuplicateKey``."""
    return json.JSONDecoder(object_pairs_hook=_no_duplicates)


def loads_strict(text: str, path=None, line: int | None = None) -> Any:
    """``json.loads`` with duplicate keys as a RecordError naming file, line and key."""
    try:
        return strict_decoder().decode(text)
    except DuplicateKey as err:
        raise RecordError(path, line, err.key, "duplicate key in one JSON object") from None


def read_jsonl(path: str | os.PathLike, allow_torn_tail: bool = False) -> list[Record]:
    """Read native-format records (use ``cut.importers.load_records`` for other formats)."""
    return [record_from_dict(obj, path, n) for n, obj in iter_jsonl(path, allow_torn_tail)]


def append_jsonl(path: str | os.PathLike, items: Iterable[Record | dict]) -> int:
    """Append items one line each, flushing and fsyncing after each, and return the count.

    If the file ends in a torn line (a writer was killed mid-write), ``repair_torn_tail``
    runs first: a partial line is cut off (it was never a complete record, and leaving it
    would put invalid JSON in the middle of the file); a complete one gets its newline.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    if path.exists():
        repair_torn_tail(path)
    with open(path, "ab") as fh:
        for item in items:
            obj = item.to_dict() if isinstance(item, Record) else item
            fh.write((json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
            n += 1
    return n


def repair_torn_tail(path: Path) -> bool:
    """Make ``path`` end with a newline. A last line that is complete JSON just gets its
    newline; a partial one (a writer killed mid-line) is cut off. True when cut."""
    with open(path, "rb+") as fh:
        data = fh.read()
        if not data or data.endswith(b"\n"):
            return False
        start = data.rfind(b"\n") + 1
        try:
            json.loads(data[start:])
        except ValueError:
            fh.truncate(start)  # one syscall: the file is either as before or repaired
            os.fsync(fh.fileno())
            return True
        fh.write(b"\n")
        os.fsync(fh.fileno())
        return False


def _atomic_write_text(path: Path, write) -> None:
    """Write through ``write(fh)`` into a temporary sibling, fsync, rename; no temp left on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_jsonl(path: str | os.PathLike, items: Iterable[Record | dict]) -> None:
    """Replace ``path`` atomically (write to a temporary file, then rename)."""

    def write(fh):
        for item in items:
            obj = item.to_dict() if isinstance(item, Record) else item
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")

    _atomic_write_text(Path(path), write)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Write one JSON document atomically (state files, metrics, configs)."""

    def write(fh):
        json.dump(obj, fh, indent=2, ensure_ascii=False)
        fh.write("\n")

    _atomic_write_text(Path(path), write)
