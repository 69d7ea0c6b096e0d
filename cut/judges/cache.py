"""On-disk cache of judge replies, so that rerunning a judging job pays nothing.

The cache is one append-only JSONL file, ``judge_cache.jsonl``, in a directory the caller
chooses (the run's output directory — never inside the installed package, where parallel
runs would collide). Each line is ``{"key": ..., "raw": ..., "finish_reason": ...,
"prompt_tokens": ..., "completion_tokens": ...}``: the raw reply is stored, not the parsed
verdict, so replies can be re-parsed under new rules without asking the judge again.

The key is the SHA-256 of a canonical JSON of (judge settings, chat messages, response).
Settings must not contain secrets; the API key is never part of them, and only a hash of
them is written anyway.

Each line is written with a single ``write`` on a file opened in append mode, so writers
in several processes do not interleave. A line that does not parse — the torn tail of a
writer killed mid-line — is skipped on load and simply costs one request again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

CACHE_FILE = "judge_cache.jsonl"


class JudgeCache:
    """Successful judge replies by key. Failures must not be put: they are retried next run."""

    def __init__(self, path: str | os.PathLike):
        """``path`` is a directory; it is created on the first ``put``."""
        self.dir = Path(path)
        self.file = self.dir / CACHE_FILE
        self.skipped_lines = 0  # damaged lines ignored on load
        self._entries: dict[str, dict[str, Any]] = {}
        self._load()

    def _load(self) -> None:
        if not self.file.is_file():
            return
        with open(self.file, "rb") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                    key = entry.pop("key")
                except (ValueError, KeyError, AttributeError, TypeError):
                    self.skipped_lines += bool(line.strip())
                    continue
                if isinstance(key, str):
                    self._entries[key] = entry

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        return dict(entry) if entry is not None else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Append one entry (one ``write`` call, so the line lands whole or not at all)."""
        line = json.dumps({"key": key, **value}, ensure_ascii=False) + "\n"
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if _ends_torn(fd):  # a killed writer left half a line: start on a fresh one
                line = "\n" + line
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
        self._entries[key] = dict(value)

    @staticmethod
    def make_key(settings: dict, messages: list[dict], response: str) -> str:
        """SHA-256 hex digest of the canonical JSON (sorted keys, no spaces) of the three."""
        canonical = json.dumps({"settings": settings, "messages": messages, "response": response},
                               sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _ends_torn(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"
