"""Input and output paths, checked before any work starts (issue 19).

Two rules every command follows:

- ``read_text``: readers open their file through here, so a missing file, a dangling
  symlink, a symlink loop, a directory, a FIFO or device (reading one would block or never
  end), a file without read permission and non-UTF-8 bytes each give one line naming the
  file (and, for bad bytes, the line) instead of a traceback or a hang.
- ``refuse_clobber``: an output that is one of the command's inputs, or a directory output
  that holds one, is refused; an existing output is replaced only with ``--force`` or when
  the command itself wrote it (a predicate the caller passes); an output that appends or
  resumes (``cut collect -o``) may exist. Nothing here deletes anything.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from cut.errors import CutError

PathLike = str | os.PathLike


def _mode(path: Path) -> int:
    """``st_mode`` of what ``path`` leads to, or a CutError naming why there is nothing."""
    try:
        return os.stat(path).st_mode
    except OSError as err:
        raise CutError(f"{path}: {_stat_problem(path, err)}") from None


def check_readable_file(path: PathLike) -> Path:
    """``path`` as a Path when it names a regular file; else a CutError saying what it is."""
    path = Path(path)
    mode = _mode(path)
    if stat.S_ISDIR(mode):
        raise CutError(f"{path}: is a directory, expected a file")
    if not stat.S_ISREG(mode):
        raise CutError(f"{path}: not a regular file (a FIFO, socket or device); expected a file")
    return path


def _stat_problem(path: Path, err: OSError) -> str:
    if err.errno == errno.ELOOP:
        return "symlink loop (the link points back at itself)"
    if err.errno == errno.ENOENT:
        return "dangling symlink (its target does not exist)" if os.path.islink(path) else "no such file"
    if err.errno == errno.EACCES:
        return "permission denied"
    return err.strerror or str(err)


def read_bytes(path: PathLike) -> bytes:
    """The bytes of a regular file, or a one-line CutError (see the module docstring)."""
    path = check_readable_file(path)
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except PermissionError:
        raise CutError(f"{path}: permission denied (cannot read it)") from None
    except OSError as err:
        raise CutError(f"{path}: cannot read: {err.strerror or err}") from None


def read_text(path: PathLike, encoding: str = "utf-8") -> str:
    """A text file decoded with ``encoding``; bad bytes are a RecordError naming the line."""
    from cut.records import RecordError

    data = read_bytes(path)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise RecordError(path, line, None, f"not UTF-8 text (byte {err.start})") from None


def read_json(path: PathLike) -> Any:
    """One JSON document (configs, metrics, state files); bad JSON or a key given twice is a
    RecordError naming the file and line."""
    import json

    from cut.records import DuplicateKey, RecordError, strict_decoder

    text = read_text(path)
    try:
        return strict_decoder().decode(text)
    except json.JSONDecodeError as err:
        raise RecordError(path, err.lineno, None, f"invalid JSON ({err.msg} at column {err.colno})") from None
    except DuplicateKey as err:
        raise RecordError(path, None, err.key, "duplicate key in one JSON object") from None


def read_json_object(path: PathLike) -> dict:
    """``read_json`` of a file that must hold one JSON object (a config, a metrics file)."""
    from cut.records import RecordError

    data = read_json(path)
    if not isinstance(data, dict):
        raise RecordError(path, 1, None, f"expected a JSON object, got {type(data).__name__}")
    return data


def check_directory(path: PathLike) -> Path:
    """``path`` as a Path when it names a directory; else a one-line CutError saying what it is."""
    path = Path(path)
    if not stat.S_ISDIR(_mode(path)):
        raise CutError(f"{path}: not a directory")
    return path


def starts_with(prefix: bytes) -> Callable[[Path], bool]:
    """An ``Output.ours`` test: the existing file starts with ``prefix`` (an HTML report)."""
    def test(path: Path) -> bool:
        try:
            with open(path, "rb") as fh:
                return fh.read(len(prefix)) == prefix
        except OSError:
            return False
    return test


def first_line_has(key: str) -> Callable[[Path], bool]:
    """An ``Output.ours`` test: the existing JSONL file's first line is an object with ``key``
    (a field only this command's output has, e.g. ``prompt_strict`` in eval results)."""
    import json

    def test(path: Path) -> bool:
        try:
            with open(path, "rb") as fh:
                first = json.loads(fh.readline() or b"null")
        except (OSError, ValueError):
            return False
        return isinstance(first, dict) and key in first
    return test


@dataclass
class Output:
    """A path a command writes. ``kind``: "file" or "dir". ``exists_ok``: the command appends
    to it, writes into it or resumes from it, so an existing one is expected (and a directory
    may hold inputs: nothing in it is replaced wholesale). ``ours(path)``: True when an
    existing one was written by this command before, so replacing it loses nothing the
    user made."""

    flag: str
    path: PathLike | None
    kind: str = "file"
    exists_ok: bool = False
    ours: Callable[[Path], bool] | None = None


def refuse_clobber(outputs: Iterable[Output], inputs: Iterable[tuple[str, PathLike | None]],
                   force: bool = False) -> None:
    """Raise a one-line CutError when an output would destroy an input or a file the user
    did not make with this command (the rules of the module docstring)."""
    inputs = [(flag, Path(p)) for flag, p in inputs if p is not None]
    for out in outputs:
        if out.path is None:
            continue
        path = Path(out.path)
        for flag, source in inputs:
            if _same(path, source):
                raise CutError(f"{out.flag} {path} is also the input {flag}; write the output elsewhere")
            if out.kind == "dir" and not out.exists_ok and _inside(source, path):
                raise CutError(f"{out.flag} {path} holds the input {flag} {source}; write the output elsewhere")
        _check_existing(out, path, force)


def _check_existing(out: Output, path: Path, force: bool) -> None:
    if not os.path.lexists(path):
        return
    is_dir = path.is_dir()
    if out.kind == "file" and is_dir:
        raise CutError(f"{out.flag} {path} is a directory; name a file")
    if out.kind == "dir" and path.exists() and not is_dir:
        raise CutError(f"{out.flag} {path} is a file; name a directory")
    if out.exists_ok or (out.ours is not None and out.ours(path)):
        return
    if is_dir and not any(path.iterdir()):
        return  # an empty directory holds nothing to lose
    if not force:
        raise CutError(f"{out.flag} {path} exists; pass --force to replace it")


def _same(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, bind mounts
    except OSError:
        return False


def _inside(child: Path, parent: Path) -> bool:
    child_real, parent_real = Path(os.path.realpath(child)), Path(os.path.realpath(parent))
    return parent_real in child_real.parents
