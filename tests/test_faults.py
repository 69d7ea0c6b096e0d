"""The fault table of issue 19: one row per bad or unusual input, run through ``cut.cli.main``
in process (no model loads: every refusal happens before one).

A row builds its files under a temporary directory and gives the argv, the exit code it
expects, words its one stderr line must hold, and the inputs whose bytes must not change.
``outcome`` sorts what a run did into clear / unclear / traceback / silent (the columns of
docs/fault-table.md; ``bench/fault_table.py`` prints the counts per command).
"""

from __future__ import annotations

import contextlib
import json
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from tests.chat_server import ChatServer

SECRET = "sk-fault-table-DO-NOT-LEAK-7"
PROMPT = {"key": "k1", "prompt": "Do not use any commas.", "instruction_id_list": ["punctuation:no_comma"],
          "kwargs": [{}]}
RECORD = {"instruction": "Say hi.", "response": "Hi there.", "judgment": None}
ANNOTATION = {"instruction": "q", "output_1": "a", "output_2": "b", "generator_1": "ref", "generator_2": "m",
              "preference": 2.0}


class Ctx:
    """A row's working area: files under ``tmp``, the tiny model, servers and patches."""

    def __init__(self, tmp: Path, model: Path, monkeypatch, stack: contextlib.ExitStack):
        self.tmp, self.model, self.monkeypatch, self.stack = tmp, model, monkeypatch, stack

    def file(self, name: str, content: str | bytes | list | dict = "") -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, list):
            content = "".join(json.dumps(o) + "\n" for o in content)
        elif isinstance(content, dict):
            content = json.dumps(content)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    def loop(self, name: str) -> Path:
        path = self.tmp / name
        os.symlink(path, path)  # points at itself: ELOOP
        return path

    def unreadable(self, name: str, content) -> Path:
        """A file that cannot be opened. Root reads any file, so there the open is refused by a
        patch of the one place readers open files (cut.paths), as a permission bit would."""
        path = self.file(name, content)
        path.chmod(0)
        if os.geteuid() == 0:
            import builtins
            import io

            real_open = builtins.open

            def guarded(file, *args, **kwargs):
                if str(file) == str(path):
                    raise PermissionError(13, "Permission denied", str(file))
                return real_open(file, *args, **kwargs)

            self.monkeypatch.setattr(builtins, "open", guarded)
            self.monkeypatch.setattr(io, "open", guarded)  # pathlib opens through io.open
        return path

    def server(self, reply: str) -> ChatServer:
        return self.stack.enter_context(ChatServer(reply=reply))

    def openai_env(self, base_url: str) -> None:
        self.monkeypatch.setenv("OPENAI_BASE_URL", base_url)
        self.monkeypatch.setenv("OPENAI_API_KEY", SECRET)
        import cut.judges.openai_client as client

        self.monkeypatch.setattr(client.ChatClient, "_delay", lambda *a: 0.0)  # retries without waiting


@dataclass
class Row:
    id: str
    command: str
    build: Callable[[Ctx], tuple[list, list[Path]]]  # → (argv, inputs that must stay unchanged)
    code: int = 2
    words: tuple[str, ...] = ()
    check: Callable[[Ctx, str], str | None] | None = None  # → what went wrong, or None
    tags: set = field(default_factory=set)


def _records(ctx: Ctx, name="j.jsonl", recs=None) -> Path:
    return ctx.file(name, recs or [RECORD])


def _run_dir(ctx: Ctx, **files) -> Path:
    run = ctx.tmp / "run"
    ctx.file("run/online_config.json", {"method": "cut", "detector": "spans"})
    ctx.file("run/round-0/metrics.json", {"round": 0, "eval": {"prompt_level_strict": 0.5,
                                                               "prompt_level_strict_ci": [0.4, 0.6]}})
    for name, content in files.items():
        ctx.file(f"run/{name.replace('__', '/')}", content)
    return run


def _adapter(ctx: Ctx, config="default") -> Path:
    cfg = {"model": str(ctx.model)} if config == "default" else config
    ctx.file("runs/x/cut_config.json", cfg if isinstance(cfg, (str, bytes)) else json.dumps(cfg))
    return ctx.tmp / "runs" / "x"


def _train(ctx: Ctx, *extra) -> tuple[list, list[Path]]:
    data = _records(ctx)
    return ["train", "--data", data, "--model", ctx.model, "-o", ctx.tmp / "out", *extra], [data]


def _collect(ctx: Ctx, *extra, judge="rules") -> tuple[list, list[Path]]:
    prompts = ctx.file("p.jsonl", [PROMPT])
    responses = ctx.file("r.jsonl", [{"key": "k1", "response": "no commas here"}])
    return ["collect", "--prompts", prompts, "--responses", responses, "--judge", judge, *extra], [prompts, responses]


def _openai_collect(reply: str | None, flag: bool = False) -> Callable[[Ctx], tuple[list, list[Path]]]:
    """Collect with the OpenAI judge; the endpoint from OPENAI_BASE_URL, or from --base-url
    when ``flag`` (then the environment points at a closed port, which must not be used)."""
    def build(ctx: Ctx):
        url = ctx.server(reply).base_url if reply is not None else "http://127.0.0.1:9/v1"
        ctx.openai_env("http://127.0.0.1:9/v1" if flag else url)
        extra = ["--base-url", url] if flag else []
        return _collect(ctx, "-o", ctx.tmp / "out.jsonl", *extra, judge="openai:judge-model")
    return build


def _no_records(ctx: Ctx, _err: str) -> str | None:
    out, errors = ctx.tmp / "out.jsonl", ctx.tmp / "out.errors.jsonl"
    if out.exists() and out.read_text().strip():
        return f"a record was stored: {out.read_text()[:120]}"
    return None if errors.exists() else "no failure was recorded"


def _errors_name_url(ctx: Ctx, _err: str) -> str | None:
    errors = ctx.tmp / "out.errors.jsonl"
    text = errors.read_text() if errors.exists() else ""
    return None if "127.0.0.1:9" in text else f"the failure does not name the URL: {text[:160]!r}"


def _server_was_asked(ctx: Ctx, _err: str) -> str | None:
    out = ctx.tmp / "out.jsonl"
    return None if out.exists() and out.read_text().strip() else "the local server was not asked"


def _annotate_polarity(ctx: Ctx, _err: str) -> str | None:
    from cut.records import read_jsonl

    records = read_jsonl(ctx.tmp / "out.jsonl")
    return None if [r.polarity for r in records] == ["negative"] else f"read back as {records}"


def _stats_polarity(ctx: Ctx, _err: str) -> str | None:
    out = ctx.tmp / "stdout.txt"
    report = json.loads(out.read_text()) if out.exists() else {}
    total = report.get("total", {})
    return None if total.get("negative") == 1 and total.get("positive") == 0 else f"counted as {total}"


def _report_written(ctx: Ctx, _err: str) -> str | None:
    return None if (ctx.tmp / "r.html").is_file() else "no report written"


ROWS = [
    # --- outputs never clobber inputs -------------------------------------------------------
    Row("prompts-replaces-existing-records", "prompts",
        lambda c: (["prompts", "-n", "2", "-o", _records(c)], [_records(c)]), words=("exists", "--force")),
    Row("prompts-o-directory", "prompts",
        lambda c: (["prompts", "-n", "2", "-o", c.tmp], []), words=("is a directory",)),
    Row("prompts-n-zero", "prompts", lambda c: (["prompts", "-n", "0", "-o", c.tmp / "p.jsonl"], []), words=("-n",)),
    Row("eval-verifiable-o-is-input", "eval",
        lambda c: (["eval", "--verifiable", c.file("p.jsonl", [PROMPT]), "--model", c.model, "--max-new-tokens", "2",
                    "-o", c.tmp / "p.jsonl"], [c.tmp / "p.jsonl"]), words=("also the input", "--verifiable")),
    Row("eval-verifiable-o-replaces-records", "eval",
        lambda c: (["eval", "--verifiable", c.file("p.jsonl", [PROMPT]), "--model", c.model, "--max-new-tokens", "2",
                    "-o", _records(c)], [_records(c)]), words=("exists", "--force")),
    Row("collect-o-is-prompts", "collect",
        lambda c: (lambda a, i: (a + ["-o", i[0]], i))(*_collect(c)), words=("also the input", "--prompts")),
    Row("collect-o-is-responses", "collect",
        lambda c: (lambda a, i: (a + ["-o", i[1]], i))(*_collect(c)), words=("also the input", "--responses")),
    Row("merge-o-holds-the-adapter", "merge",
        lambda c: (["merge", "--adapter", _adapter(c), "-o", c.tmp / "runs"], [_adapter(c) / "cut_config.json"]),
        words=("holds the input", "--adapter")),
    Row("merge-o-existing-directory", "merge",
        lambda c: (["merge", "--adapter", _adapter(c), "-o", c.file("mine/notes.txt", "keep me").parent],
                   [c.tmp / "mine" / "notes.txt"]), words=("exists", "--force")),
    Row("merge-force-on-a-directory-merge-did-not-write", "merge",
        lambda c: (["merge", "--adapter", _adapter(c), "-o", c.file("mine/notes.txt", "keep me").parent, "--force"],
                   [c.tmp / "mine" / "notes.txt"]), words=("not a `cut merge` output",)),
    Row("detect-html-is-data", "detect",
        lambda c: (["detect", "--model", c.model, "--data", _records(c), "--html", _records(c)], [_records(c)]),
        words=("also the input", "--data")),
    Row("generate-o-is-prompts", "generate",
        lambda c: (["generate", "--model", c.model, "--prompts", c.file("p.jsonl", [PROMPT]), "--max-new-tokens", "2",
                    "-o", c.tmp / "p.jsonl"], [c.tmp / "p.jsonl"]), words=("also the input", "--prompts")),
    Row("annotate-import-o-is-sheet-even-with-force", "annotate",
        lambda c: (["annotate", "import", c.file("s.csv", "instruction,response,acceptable,judgment\nq,r,yes,\n"),
                    "-o", c.tmp / "s.csv", "--force"], [c.tmp / "s.csv"]), words=("also the input",)),
    Row("eval-annotations-report-is-input", "eval",
        lambda c: (["eval", "--annotations", c.file("a.json", json.dumps([ANNOTATION])), "--bootstrap", "0",
                    "--report", c.tmp / "a.json"], [c.tmp / "a.json"]), words=("also the input", "--annotations")),
    Row("train-o-is-data", "train", lambda c: (lambda a, i: (a[:-2] + ["-o", i[0]], i))(*_train(c)),
        words=("also the input", "--data")),
    Row("train-o-existing-file", "train",
        lambda c: (lambda a, i: (a[:-2] + ["-o", c.file("notes.txt", "x")], i + [c.tmp / "notes.txt"]))(*_train(c)),
        words=("is a file",)),
    # --- endpoints and the key ---------------------------------------------------------------
    Row("collect-openai-base-url-from-env", "collect", _openai_collect("perfect"), code=0,
        check=_server_was_asked, tags={"openai"}),
    Row("collect-openai-unreachable-names-url", "collect", _openai_collect(None), code=1,
        check=_errors_name_url, tags={"openai"}),
    # --- polarity from an explicit verdict ----------------------------------------------------
    Row("collect-openai-error-reply-is-a-failure", "collect", _openai_collect("Error: upstream request timeout", flag=True),
        code=1, check=_no_records, tags={"openai"}),
    Row("collect-openai-perfectly-bad-is-a-failure", "collect", _openai_collect("perfectly bad: the answer is wrong", flag=True),
        code=1, check=_no_records, tags={"openai"}),
    Row("annotate-import-no-with-perfectly-awful", "annotate",
        lambda c: (["annotate", "import", c.file("s.csv", "instruction,response,acceptable,judgment\n"
                                                 "q,r,no,Perfectly awful.\n"), "-o", c.tmp / "out.jsonl"],
                   [c.tmp / "s.csv"]), code=0, check=_annotate_polarity),
    Row("data-stats-alpaca-perfectly-awful", "data",
        lambda c: (["data", "stats", "--json", c.file("a.json", json.dumps([
            {"instruction": "q", "input": "", "output": "r", "judgment": "Perfectly awful."}]))], [c.tmp / "a.json"]),
        code=0, check=_stats_polarity),
    # --- settings validated up front -----------------------------------------------------------
    Row("train-max-steps-0", "train", lambda c: _train(c, "--max-steps", "0"), words=("max_steps",)),
    Row("train-max-length-abc", "train", lambda c: _train(c, "max_length=abc"), words=("max_length",)),
    Row("train-cut-alpha-nan", "train", lambda c: _train(c, "cut_alpha=nan"), words=("cut_alpha",)),
    Row("train-batch-size-0", "train", lambda c: _train(c, "per_device_train_batch_size=0"),
        words=("per_device_train_batch_size",)),
    Row("train-seed-1.5", "train", lambda c: _train(c, "seed=1.5"), words=("seed",)),
    Row("train-learning-rate-negative", "train", lambda c: _train(c, "learning_rate=-1"), words=("learning_rate",)),
    Row("eval-verifiable-limit-0", "eval",
        lambda c: (["eval", "--verifiable", c.file("p.jsonl", [PROMPT]), "--model", c.model, "--max-new-tokens", "2",
                    "--limit", "0", "-o", c.tmp / "e.jsonl"], [c.tmp / "p.jsonl"]), words=("--limit",)),
    Row("eval-verifiable-limit-negative", "eval",
        lambda c: (["eval", "--verifiable", c.file("p.jsonl", [PROMPT]), "--model", c.model, "--max-new-tokens", "2",
                    "--limit", "-3", "-o", c.tmp / "e.jsonl"], [c.tmp / "p.jsonl"]), words=("--limit",)),
    Row("collect-limit-0", "collect", lambda c: _collect(c, "-o", c.tmp / "out.jsonl", "--limit", "0"),
        words=("--limit",)),
    Row("eval-verifiable-empty-file", "eval",
        lambda c: (["eval", "--verifiable", c.file("p.jsonl", ""), "--model", c.model, "--max-new-tokens", "2",
                    "-o", c.tmp / "e.jsonl"], [c.tmp / "p.jsonl"]), words=("no prompts",)),
    Row("collect-empty-prompt-file", "collect",
        lambda c: (["collect", "--prompts", c.file("p.jsonl", ""), "--responses",
                    c.file("r.jsonl", [{"key": "k1", "response": "x"}]), "-o", c.tmp / "out.jsonl"], [c.tmp / "p.jsonl"]),
        words=("no prompts",)),
    Row("eval-annotations-report-written", "eval",
        lambda c: (["eval", "--annotations", c.file("a.json", json.dumps([ANNOTATION] * 3)), "--bootstrap", "0",
                    "--report", c.tmp / "r.html"], [c.tmp / "a.json"]), code=0, check=_report_written),
    Row("annotate-export-xlsx", "annotate",
        lambda c: (["annotate", "export", _records(c), "-o", c.tmp / "sheet.xlsx"], [_records(c)]),
        words=(".xlsx",)),
    # --- one located line for every bad input ----------------------------------------------------
    Row("data-stats-unreadable", "data", lambda c: (["data", "stats", c.unreadable("j.jsonl", [RECORD])], []),
        words=("j.jsonl", "permission denied")),
    Row("data-stats-symlink-loop", "data", lambda c: (["data", "stats", c.loop("j.jsonl")], []),
        words=("j.jsonl", "symlink loop")),
    Row("data-stats-duplicate-key", "data",
        lambda c: (["data", "stats", c.file("j.jsonl", '{"instruction": "a", "instruction": "b", "response": "r"}\n')],
                   [c.tmp / "j.jsonl"]), words=("j.jsonl:1", "instruction", "duplicate key")),
    Row("data-stats-reversed-span", "data",
        lambda c: (["data", "stats", _records(c, recs=[{**RECORD, "judgment": "Bad.", "spans": [[3, 1]]}])],
                   [c.tmp / "j.jsonl"]), words=("j.jsonl:1", "spans", "start must be less than end")),
    Row("collect-prompts-unreadable", "collect",
        lambda c: (["collect", "--prompts", c.unreadable("p.jsonl", [PROMPT]), "--responses",
                    c.file("r.jsonl", [{"key": "k1", "response": "x"}]), "-o", c.tmp / "out.jsonl"], []),
        words=("p.jsonl", "permission denied")),
    Row("collect-prompts-symlink-loop", "collect",
        lambda c: (["collect", "--prompts", c.loop("p.jsonl"), "--responses",
                    c.file("r.jsonl", [{"key": "k1", "response": "x"}]), "-o", c.tmp / "out.jsonl"], []),
        words=("p.jsonl", "symlink loop")),
    *[Row(f"eval-{mode}-{kind}", "eval", build, words=words) for mode, flag in
      (("annotations", "--annotations"), ("verifiable", "--verifiable"))
      for kind, build, words in (
          ("directory", lambda c, flag=flag: (["eval", flag, c.tmp, "--model", c.model, "-o", c.tmp / "e.jsonl"], []),
           ("is a directory",)),
          ("symlink-loop", lambda c, flag=flag: (["eval", flag, c.loop("in.json"), "--model", c.model,
                                                  "-o", c.tmp / "e.jsonl"], []), ("in.json", "symlink loop")),
          ("non-utf8", lambda c, flag=flag: (["eval", flag, c.file("in.json", b'[{"a": "\xff"}]\n'), "--model", c.model,
                                              "-o", c.tmp / "e.jsonl"], [c.tmp / "in.json"]), ("in.json:1", "UTF-8")),
          ("unreadable", lambda c, flag=flag: (["eval", flag, c.unreadable("in.json", "[]"), "--model", c.model,
                                                "-o", c.tmp / "e.jsonl"], []), ("in.json", "permission denied")))],
    Row("report-directory-symlink-loop", "report", lambda c: (["report", c.loop("run")], []),
        words=("run", "symlink loop")),
    Row("report-metrics-corrupt", "report",
        lambda c: (["report", _run_dir(c, **{"round-1__metrics.json": "{not json"})],
                   [c.tmp / "run/round-1/metrics.json"]), words=("round-1/metrics.json", "JSON")),
    Row("report-metrics-non-utf8", "report",
        lambda c: (["report", _run_dir(c, **{"round-1__metrics.json": b'{"round": "\xff"}'})],
                   [c.tmp / "run/round-1/metrics.json"]), words=("round-1/metrics.json", "UTF-8")),
    Row("report-metrics-without-round", "report",
        lambda c: (["report", _run_dir(c, **{"round-1__metrics.json": "{}"})], []), code=0),
    Row("report-online-config-corrupt", "report",
        lambda c: (["report", _run_dir(c, **{"online_config.json": "[1, 2"})], [c.tmp / "run/online_config.json"]),
        words=("online_config.json", "JSON")),
    Row("report-round-x-folder-ignored", "report",
        lambda c: (["report", _run_dir(c, **{"round-x__metrics.json": {"round": 9}})], []), code=0),
    Row("report-round-old-folder-ignored", "report",
        lambda c: (["report", _run_dir(c, **{"round-old__metrics.json": {"round": 9}})], []), code=0),
    Row("report-a-file-not-a-directory", "report", lambda c: (["report", _records(c)], [_records(c)]),
        words=("j.jsonl", "not a directory")),
    Row("report-metrics-unreadable", "report",
        lambda c: (["report", _run_dir(c)], [])
        if c.unreadable("run/round-1/metrics.json", {"round": 1}) else None, words=("metrics.json", "permission denied")),
    Row("train-data-symlink-loop", "train",
        lambda c: (["train", "--data", c.loop("j.jsonl"), "--model", c.model, "-o", c.tmp / "out"], []),
        words=("j.jsonl", "symlink loop")),
    Row("annotate-import-non-utf8-sheet", "annotate",
        lambda c: (["annotate", "import", c.file("s.csv", b"instruction,response,acceptable,judgment\nq,\xff,no,bad\n"),
                    "-o", c.tmp / "out.jsonl"], [c.tmp / "s.csv"]), words=("s.csv:2", "UTF-8")),
    Row("merge-corrupt-cut-config", "merge",
        lambda c: (["merge", "--adapter", _adapter(c, "{oops"), "-o", c.tmp / "m"], [c.tmp / "runs/x/cut_config.json"]),
        words=("cut_config.json", "JSON")),
    Row("merge-cut-config-without-model", "merge",
        lambda c: (["merge", "--adapter", _adapter(c, {"lr": 1}), "-o", c.tmp / "m"], []),
        words=("cut_config.json", "model")),
    Row("prompts-o-existing-directory-with-force", "prompts",
        lambda c: (["prompts", "-n", "2", "-o", c.tmp, "--force"], []), words=("is a directory",)),
]


def run_row(row: Row, ctx: Ctx, capsys) -> dict:
    """Run one row; never raises. ``snapshot`` is taken before, ``changed`` lists what moved."""
    from cut.cli import main

    argv, inputs = row.build(ctx)
    before = {p: p.read_bytes() for p in inputs if p.is_file()}
    capsys.readouterr()
    raised = None
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # noqa: BLE001 - the table counts tracebacks
        raised, code = traceback.format_exc(), None
    captured = capsys.readouterr()
    (ctx.tmp / "stdout.txt").write_text(captured.out)
    changed = [str(p) for p, data in before.items() if not p.is_file() or p.read_bytes() != data]
    return dict(code=code, err=captured.err, out=captured.out, raised=raised, changed=changed)


def outcome(row: Row, ctx: Ctx, result: dict) -> tuple[str, str]:
    """(clear | unclear | traceback | silent, why)."""
    if result["raised"]:
        return "traceback", result["raised"].strip().splitlines()[-1]
    if result["changed"]:
        return "silent", f"input changed: {result['changed']}"
    leaked = [where for where, text in (("stdout", result["out"]), ("stderr", result["err"])) if SECRET in text]
    leaked += [str(p) for p in ctx.tmp.rglob("*") if p.is_file() and not p.is_symlink() and _holds_secret(p)]
    if leaked:
        return "silent", f"the API key was written to {leaked}"
    if result["code"] != row.code:
        kind = "silent" if result["code"] in (0, 1) else "unclear"
        return kind, f"exit {result['code']} (expected {row.code}): {result['err'].strip()[-200:]}"
    if row.check is not None:
        problem = row.check(ctx, result["err"])
        if problem:
            return "silent", problem
    if row.code == 2:
        lines = [line for line in result["err"].splitlines() if line.strip()]
        missing = [w for w in row.words if w.lower() not in result["err"].lower()]
        if len(lines) != 1 or missing:
            return "unclear", f"missing {missing} in {result['err'].strip()[:200]!r}"
    return "clear", ""


def _holds_secret(path: Path) -> bool:
    try:
        return SECRET.encode() in path.read_bytes()
    except OSError:
        return False


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_fault(row: Row, tmp_path, tiny_model_dir, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with contextlib.ExitStack() as stack:
        ctx = Ctx(tmp_path / "w", tiny_model_dir, monkeypatch, stack)
        ctx.tmp.mkdir()
        result = run_row(row, ctx, capsys)
        kind, why = outcome(row, ctx, result)
    assert kind == "clear", f"{row.id}: {kind}: {why}"
