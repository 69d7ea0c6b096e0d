"""cut.paths (checked reads, refuse_clobber), the merge target rules of cut.models and the
settings checks of cut.config: pure functions, no model."""

from __future__ import annotations

import math
import os

import pytest

from cut.config import check_setting
from cut.errors import CutError
from cut.models import MERGE_MARKER, _swap_in, check_merge_target
from cut.paths import Output, first_line_has, read_json, read_text, refuse_clobber, starts_with
from cut.records import RecordError


# --- reads ------------------------------------------------------------------------------------

def test_read_text_names_what_the_path_is(tmp_path):
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    dangling = tmp_path / "dangling"
    os.symlink(tmp_path / "absent", dangling)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, words in ((tmp_path / "absent", "no such file"), (loop, "symlink loop"), (tmp_path, "is a directory"),
                        (dangling, "dangling symlink"), (fifo, "not a regular file")):
        with pytest.raises(CutError, match=words) as info:
            read_text(path)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_non_utf8_names_the_line_and_byte(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"a": 1}\n{"a": "\xff"}\n')
    # the bad byte's offset: b'{"a": 1}\n' is 9 bytes (0-8), then '{"a": "' 7 more (9-15): 16
    with pytest.raises(RecordError, match=r"f.jsonl:2: not UTF-8 text \(byte 16\)"):
        read_text(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permission bits")
def test_unreadable_file_is_permission_denied(tmp_path):
    path = tmp_path / "secret.json"
    path.write_text("[]")
    path.chmod(0)
    with pytest.raises(CutError, match="secret.json: permission denied"):
        read_text(path)


def test_read_json_refuses_duplicate_keys_and_names_the_line(tmp_path):
    path = tmp_path / "c.json"
    path.write_text('{"model": "a",\n "model": "b"}')
    with pytest.raises(RecordError, match="field 'model': duplicate key"):
        read_json(path)
    path.write_text('{\n  "model": oops\n}')
    with pytest.raises(RecordError, match=r"c.json:2: invalid JSON"):
        read_json(path)


# --- outputs ------------------------------------------------------------------------------------

def test_an_output_that_is_an_input_is_refused_even_with_force(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_text("x\n")
    alias = tmp_path / "alias.jsonl"
    os.symlink(data, alias)
    for out in (data, alias, tmp_path / "." / "d.jsonl"):
        with pytest.raises(CutError, match=f"-o {out} is also the input --data"):
            refuse_clobber([Output("-o", out, exists_ok=True)], [("--data", data)], force=True)


def test_a_directory_output_that_holds_an_input_is_refused_unless_written_into(tmp_path):
    adapter = tmp_path / "runs" / "x"
    adapter.mkdir(parents=True)
    with pytest.raises(CutError, match="holds the input --adapter"):
        refuse_clobber([Output("-o", tmp_path / "runs", kind="dir")], [("--adapter", adapter)], force=True)
    # a run directory is written into, not replaced: holding its data is fine
    refuse_clobber([Output("-o", tmp_path / "runs", kind="dir", exists_ok=True)], [("--data", adapter)])


def test_existing_outputs_need_force_unless_ours_or_empty(tmp_path):
    existing = tmp_path / "r.jsonl"
    existing.write_text('{"instruction": "q"}\n')
    with pytest.raises(CutError, match="exists; pass --force"):
        refuse_clobber([Output("-o", existing)], [])
    refuse_clobber([Output("-o", existing)], [], force=True)
    refuse_clobber([Output("-o", existing, ours=first_line_has("instruction"))], [])
    with pytest.raises(CutError, match="exists"):
        refuse_clobber([Output("-o", existing, ours=first_line_has("prompt_strict"))], [])
    with pytest.raises(CutError, match="exists"):
        refuse_clobber([Output("-o", existing, ours=starts_with(b"<!DOCTYPE"))], [])
    empty = tmp_path / "empty"
    empty.mkdir()
    refuse_clobber([Output("-o", empty, kind="dir")], [])
    with pytest.raises(CutError, match="is a directory; name a file"):
        refuse_clobber([Output("-o", empty)], [], force=True)
    with pytest.raises(CutError, match="is a file; name a directory"):
        refuse_clobber([Output("-o", existing, kind="dir", exists_ok=True)], [])
    refuse_clobber([Output("-o", None), Output("-o", tmp_path / "new.jsonl")], [("--x", None)])


# --- cut merge's target ---------------------------------------------------------------------------

def test_merge_replaces_only_an_empty_folder_or_an_earlier_merge(tmp_path):
    check_merge_target(tmp_path / "new")
    mine = tmp_path / "mine"
    mine.mkdir()
    check_merge_target(mine)  # empty
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(CutError, match="exists; pass --force"):
        check_merge_target(mine)
    with pytest.raises(CutError, match="not a `cut merge` output"):
        check_merge_target(mine, force=True)
    (mine / MERGE_MARKER).write_text("")
    check_merge_target(mine)


def test_swap_in_removes_only_an_earlier_merge(tmp_path):
    out = tmp_path / "merged"
    out.mkdir()
    (out / MERGE_MARKER).write_text("")
    (out / "old.bin").write_text("old")
    new = tmp_path / ".new.tmp"
    new.mkdir()
    (new / MERGE_MARKER).write_text("")
    (new / "model.bin").write_text("new")
    _swap_in(new, out)
    assert sorted(p.name for p in out.iterdir()) == [MERGE_MARKER, "model.bin"] and not new.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["merged"]  # the old folder is gone, nothing else
    user = tmp_path / "user"
    user.mkdir()
    (user / "notes.txt").write_text("keep")
    again = tmp_path / ".again.tmp"
    again.mkdir()
    with pytest.raises(OSError):  # a folder that turned non-empty meanwhile: rmdir, never rmtree
        _swap_in(again, user)
    assert any(p.read_text() == "keep" for p in tmp_path.rglob("notes.txt"))


# --- settings ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, hint, words", [
    ("max_steps", 0, int, r"at least 1 \(or -1"),
    ("max_length", "abc", int, "expected an integer"),
    ("seed", 1.5, int, "expected an integer"),
    ("seed", True, int, "expected an integer"),
    ("cut_alpha", math.nan, float, "finite"),
    ("cut_alpha", "x", float, "expected a number"),
    ("per_device_train_batch_size", 0, int, "more than 0"),
    ("learning_rate", -1.0, float, "more than 0"),
    ("cut_beta", -0.5, float, "at least 0"),
    ("max_records", 0, int | None, "more than 0"),
    ("skip_invalid", "yes", bool, "true or false"),
])
def test_bad_settings_name_the_setting(key, value, hint, words):
    with pytest.raises(CutError, match=f"setting '{key}'.*{words}"):
        check_setting(key, value, hint)


@pytest.mark.parametrize("key, value, hint", [
    ("max_steps", -1, int), ("max_steps", 5, int), ("cut_alpha", 0.0, float), ("max_records", None, int | None),
    ("learning_rate", 3e-4, float), ("warmup_steps", 0.1, float), ("template", "chat", str),
])
def test_good_settings_pass(key, value, hint):
    check_setting(key, value, hint)
