"""Generate → judge → append judgment records: the library behind ``cut collect``.

Each prompt (× ``num_samples``) is an *item* with a key (``key``, or ``key#s`` for sample
s). The output file is the truth about what is done: an item whose key is in it (record
``id`` and ``metadata["item_key"]``) is skipped on a rerun. Everything is written as soon
as it exists and never rewritten, except on an annotator's undo:

- responses are generated in batches and appended to ``<output stem>.responses.jsonl``
  after each batch, so a run killed while judging does not generate them again (entries
  are tagged with the model and sampling settings; a rerun with other settings ignores
  them);
- records are appended one by one (``cut.records.append_jsonl``: flush + fsync per line)
  as soon as their verdict is known, so killing the process loses at most the items being
  judged. A torn last line left by a kill is dropped on the next run, never a whole record;
- failed verdicts go to ``<output stem>.errors.jsonl`` (key, reason, time): a log, not a
  state — the items are simply not in the output, so the next run retries them.

Judging runs in chunks: ``judge.chunk_size`` when a judge sets it, 1 for an interactive
judge (``judge.interactive``, e.g. a person at the terminal), else 64, each chunk using the
judge's own concurrency. An interactive judge may raise ``UndoRequest`` (the last record of
this session is removed and its item offered again) or ``QuitRequest`` (stop; a rerun
resumes).

This is the generate + judge step of the paper's online alignment (arXiv 2312.14591 §4.2);
resumability, the error log and the rule judge are ours.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cut.errors import CutError
from cut.generation import GenerationSettings
from cut.progress import progress_bar
from cut.judges.base import JudgeItem, QuitRequest, UndoRequest, Verdict
from cut.prompt_sources import PromptItem, match_response, read_prompts, read_responses
from cut.records import (NEGATIVE, POSITIVE, Record, RecordError, append_jsonl, classify_judgment, iter_jsonl,
                         read_jsonl, repair_torn_tail, validate_spans, write_json_atomic, write_jsonl)

DEFAULT_CHUNK = 64
# Judges with a reply cache get one in the run directory unless told otherwise.
CACHED_JUDGES = {"openai"}
# Judges that draw their own progress bar per call; collect draws one over the whole run.
QUIET_JUDGES = {"openai", "hf"}


@dataclass
class CollectConfig:
    prompts: str  # prompt file (IFEval JSONL, records, CSV, .txt: see cut.prompt_sources)
    output: str  # judgment records, appended (JSONL)
    judge: str = "rules"  # judge spec: rules, openai:MODEL, human, hf:PATH
    model: str | None = None  # policy to generate with (needed unless responses is given)
    responses: str | None = None  # judge these responses instead of generating
    template: str = "auto"  # auto | chat | alpaca (how prompts are rendered for the policy)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    limit: int | None = None  # only the first N prompts of the file
    errors: str | None = None  # error log; None → <output stem>.errors.jsonl
    judge_options: dict[str, Any] = field(default_factory=dict)  # passed to make_judge
    round: int | None = None  # online round, stored in each record
    source: str = "collect"  # stored in each record's ``source``
    chunk_size: int | None = None  # items per judge call; None → the judge's own choice
    first_sample: int = 0  # skip samples numbered below this (more samples for prompts already sampled)

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise CutError(f"limit must be at least 1, got {self.limit}")
        if self.chunk_size is not None and self.chunk_size < 1:
            raise CutError(f"chunk_size must be at least 1, got {self.chunk_size}")

    @property
    def errors_path(self) -> Path:
        return Path(self.errors) if self.errors else _beside(self.output, "errors")

    @property
    def responses_cache_path(self) -> Path:
        return _beside(self.output, "responses")


def _beside(output: str, what: str) -> Path:
    out = Path(output)
    return out.with_name(f"{out.stem}.{what}.jsonl")


@dataclass
class CollectSummary:
    total: int = 0  # items (prompts × samples)
    already_done: int = 0  # items found in the output at the start
    generated: int = 0  # responses generated in this run
    judged: int = 0  # records written in this run
    positive: int = 0
    negative: int = 0
    failed: int = 0  # failed verdicts in this run (logged to the errors file)
    skipped: int = 0  # items a person skipped
    seconds: float = 0.0
    judge_summary: dict[str, Any] = field(default_factory=dict)
    remaining: int = 0  # items still missing from the output at the end
    in_output: int = 0  # records in the output file at the end
    in_output_positive: int = 0
    quit: bool = False  # an annotator stopped the run
    output: str = ""
    errors: str = ""

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (all done, or stopped/skipped by a person), 1 when failures remain."""
        return 1 if self.failed else 0

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "exit_code": self.exit_code}


@dataclass
class WorkItem:
    key: str  # item key: the prompt key, or key#sample
    prompt: PromptItem
    sample: int
    response: str | None = None
    finished: bool | None = None  # False: generation was cut off at max_new_tokens (None: unknown)

    def judge_item(self) -> JudgeItem:
        metadata = dict(self.prompt.metadata)
        if self.finished is False:  # judges that read it (rules) do not accept an answer that never ended
            metadata["truncated"] = True
        return JudgeItem(self.prompt.prompt, self.response or "", metadata)


def collect(config: CollectConfig, console=None, input_stream=None) -> CollectSummary:
    """Run generate → judge → append for every item not yet in ``config.output``.

    ``input_stream`` (and ``console``) are handed to an interactive judge (``human``).
    Raises CutError for bad input; judge failures are counted, not raised.
    """
    from cut.progress import console as stderr_console

    console = console or stderr_console
    started = time.monotonic()
    items = expand_items(read_prompts(config.prompts), config.generation.num_samples, config.limit)
    items = [w for w in items if w.sample >= config.first_sample]
    output = Path(config.output)
    done = done_keys(output, console)
    pending = [w for w in items if w.key not in done]
    summary = CollectSummary(total=len(items), already_done=len(items) - len(pending), output=str(output),
                             errors=str(config.errors_path))
    save_run_config(config)
    if pending:
        judge = build_judge(config, console, input_stream)  # a bad spec or key fails before generating
        summary.generated = fill_responses(pending, config, console)
        session = _Session(config, judge.name, summary)
        judge_items(judge, pending, session, config.chunk_size, console)
        summary.judge_summary = judge.summary() if callable(getattr(judge, "summary", None)) else {}
    _count_output(output, {w.key for w in items}, summary)
    summary.seconds = time.monotonic() - started
    console.print(summary_table(summary))
    return summary


def expand_items(prompts: list[PromptItem], num_samples: int, limit: int | None = None) -> list[WorkItem]:
    """Prompts × samples as work items; keys gain ``#s`` only when there are several samples."""
    prompts = prompts[:limit] if limit else prompts
    if num_samples == 1:
        return [WorkItem(p.key, p, 0) for p in prompts]
    return [WorkItem(f"{p.key}#{s}", p, s) for p in prompts for s in range(num_samples)]


# --- what is already done ------------------------------------------------------------------


def done_keys(output: Path, console=None) -> set[str]:
    """Item keys of the records in ``output`` (after repairing a torn last line)."""
    if not output.exists():
        return set()
    if repair_torn_tail(output) and console is not None:
        console.print(f"[yellow]dropped an incomplete last line of {output} (a killed run's record in flight)")
    return {_item_key(r) for r in read_jsonl(output, allow_torn_tail=True)}


def _item_key(record: Record) -> str | None:
    return record.metadata.get("item_key") or record.id


# --- responses -----------------------------------------------------------------------------


def fill_responses(pending: list[WorkItem], config: CollectConfig, console) -> int:
    """Set ``response`` on every pending item: from ``config.responses``, from earlier
    generations saved beside the output, or by generating now. Returns the count generated."""
    if config.responses:
        found = read_responses(config.responses)
        for w in pending:
            w.response = match_response(found, w.prompt, w.sample, w.key)
        missing = [w.key for w in pending if w.response is None]
        if missing:
            raise CutError(f"{config.responses}: no response for {len(missing)} of the prompts (first: key "
                           f"{missing[0]!r}); responses match prompts by key or by exact prompt text")
        return 0
    tag = generator_tag(config)
    cache = config.responses_cache_path
    saved = _saved_responses(cache, tag, console)
    for w in pending:
        prompt, response, finished = saved.get(w.key, (None, None, None))
        w.response = response if prompt == w.prompt.prompt else None  # an edited prompt is asked again
        w.finished = finished
    missing = [w for w in pending if w.response is None]
    if missing:
        _generate_missing(missing, config, tag, cache)
    return len(missing)


def generator_tag(config: CollectConfig) -> dict[str, Any]:
    """What determines a generated response (saved with each one)."""
    g = config.generation
    return {"model": config.model, "template": config.template, "temperature": g.temperature, "top_p": g.top_p,
            "max_new_tokens": g.max_new_tokens, "seed": g.seed}


def _saved_responses(cache: Path, tag: dict, console) -> dict[str, tuple[str, str, bool | None]]:
    """Item key → (prompt, response, finished) from earlier runs with the same generator (first wins)."""
    if not cache.exists():
        return {}
    repair_torn_tail(cache)
    saved: dict[str, tuple[str, str, bool | None]] = {}
    other = 0
    for _, entry in iter_jsonl(cache, allow_torn_tail=True):
        if entry.get("generator") != tag:
            other += 1
        else:
            saved.setdefault(entry["key"], (entry.get("prompt"), entry["response"], entry.get("finished")))
    if other:
        console.print(f"[yellow]ignoring {other} saved response(s) in {cache} made with another model or settings")
    return saved


def _generate_missing(missing: list[WorkItem], config: CollectConfig, tag: dict, cache: Path) -> None:
    from cut.generation import generate
    from cut.models import load_model
    from cut.templates import choose_template

    if not config.model:
        raise CutError("no model to generate responses with: pass --model (or --responses FILE)")
    prompts = list({w.prompt.key: w.prompt for w in missing}.values())
    wanted = {(w.prompt.key, w.sample): w for w in missing}
    model, tokenizer = load_model(config.model)
    template = choose_template(config.template, tokenizer)

    def save(indices: list[int], samples: list[list[str]]) -> None:
        rows = []
        for i, texts in zip(indices, samples):
            for s, text in enumerate(texts):
                w = wanted.get((prompts[i].key, s))
                if w is not None:
                    w.response, w.finished = str(text), text.finished
                    rows.append({"key": w.key, "prompt": w.prompt.prompt, "response": str(text),
                                 "finished": text.finished, "generator": tag})
        append_jsonl(cache, rows)

    generate(model, tokenizer, [p.prompt for p in prompts], template, config.generation, on_batch=save)


# --- judging -------------------------------------------------------------------------------


def build_judge(config: CollectConfig, console=None, input_stream=None):
    from cut.judges import make_judge

    kind = config.judge.partition(":")[0]
    options = dict(config.judge_options)
    if kind in CACHED_JUDGES:
        options.setdefault("cache_dir", str(Path(config.output).parent / ".judge-cache"))
    if kind in QUIET_JUDGES:
        options.setdefault("progress", False)
    if kind == "human":
        if input_stream is not None:
            options.setdefault("input_stream", input_stream)
        if console is not None:
            options.setdefault("console", console)
    return make_judge(config.judge, **options)


def chunk_size_for(judge, override: int | None = None) -> int:
    """Items per ``judge.judge`` call: the override, the judge's ``chunk_size``, 1 for an
    interactive judge, else ``DEFAULT_CHUNK``."""
    if override:
        return override
    own = getattr(judge, "chunk_size", None)
    if own:
        return int(own)
    return 1 if getattr(judge, "interactive", False) else DEFAULT_CHUNK


def judge_items(judge, pending: list[WorkItem], session: "_Session", chunk_override: int | None, console) -> None:
    """Judge every pending item in chunks, writing each verdict as it comes back."""
    chunk = chunk_size_for(judge, chunk_override)
    interactive = bool(getattr(judge, "interactive", False))
    queue = deque(pending)
    with progress_bar(not interactive, f"judging ({judge.name})", len(pending), console) as bar:
        while queue:
            batch = [queue.popleft() for _ in range(min(chunk, len(queue)))]
            try:
                verdicts = judge.judge([w.judge_item() for w in batch])
            except UndoRequest:
                queue.extendleft(reversed(batch))  # the item on screen comes back after the undone one
                undone = session.undo_last()
                if undone is not None:
                    queue.appendleft(undone)
                continue
            except QuitRequest:
                session.summary.quit = True
                return
            if len(verdicts) != len(batch):
                raise CutError(f"judge {judge.name} returned {len(verdicts)} verdicts for {len(batch)} items")
            for w, verdict in zip(batch, verdicts):
                session.write(w, verdict)
            bar.advance(len(batch))


class _Session:
    """Writes verdicts of one run: records to the output, failures to the errors log."""

    def __init__(self, config: CollectConfig, judge_name: str, summary: CollectSummary):
        self.config, self.judge_name, self.summary = config, judge_name, summary
        self.output, self.errors = Path(config.output), config.errors_path
        self.written: list[tuple[WorkItem, str]] = []  # (item, polarity) in write order

    def write(self, w: WorkItem, verdict: Verdict) -> None:
        if verdict.skipped:
            self.summary.skipped += 1
            return
        problem = verdict.error or _unusable(verdict, w.response or "")
        if problem:
            append_jsonl(self.errors, [{"key": w.key, "reason": problem, "judge": self.judge_name,
                                        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                        "raw": verdict.raw}])
            self.summary.failed += 1
            return
        record = self._record(w, verdict)
        append_jsonl(self.output, [record])
        polarity = record.polarity
        self.written.append((w, polarity))
        self.summary.judged += 1
        self.summary.positive += polarity == POSITIVE
        self.summary.negative += polarity == NEGATIVE

    def _record(self, w: WorkItem, v: Verdict) -> Record:
        generator = self.config.model if not self.config.responses else f"responses:{self.config.responses}"
        metadata = {**w.prompt.metadata, "item_key": w.key, "prompt_key": w.prompt.key, "sample": w.sample,
                    "generator": generator, "judge_raw": v.raw, "judge_cost": v.cost,
                    "judge_prompt_tokens": v.prompt_tokens, "judge_completion_tokens": v.completion_tokens,
                    "judge_cached": v.cached}
        if w.finished is False:  # cut off at max_new_tokens: training gives it no end-of-turn target
            metadata["truncated"] = True
        return Record(instruction=w.prompt.instruction, input=w.prompt.input, response=w.response or "",
                      judgment=v.judgment, spans=v.spans, revision=v.revision, id=w.key,
                      source=self.config.source, round=self.config.round, judge=self.judge_name,
                      metadata=metadata)

    def undo_last(self) -> WorkItem | None:
        """Remove the last record this session wrote (atomic rewrite); None if there is none."""
        if not self.written:
            return None
        w, polarity = self.written.pop()
        records = read_jsonl(self.output)
        last = max(i for i, r in enumerate(records) if _item_key(r) == w.key)
        write_jsonl(self.output, records[:last] + records[last + 1:])
        self.summary.judged -= 1
        self.summary.positive -= polarity == POSITIVE
        self.summary.negative -= polarity == NEGATIVE
        return w


def _unusable(verdict: Verdict, response: str) -> str | None:
    """Why a verdict without ``error`` still cannot become a record, or None."""
    polarity, reason = classify_judgment(verdict.judgment)
    if polarity not in (POSITIVE, NEGATIVE):
        return f"judge returned an unusable judgment ({reason})"
    try:
        validate_spans(verdict.spans, response)
    except RecordError as err:
        return f"judge returned bad spans: {err.message}"
    return None


# --- reporting -----------------------------------------------------------------------------


def _count_output(output: Path, keys: set[str], summary: CollectSummary) -> None:
    records = read_jsonl(output, allow_torn_tail=True) if output.exists() else []
    summary.in_output = len(records)
    summary.in_output_positive = sum(r.polarity == POSITIVE for r in records)
    present = {_item_key(r) for r in records}
    summary.remaining = len(keys - present)


def save_run_config(config: CollectConfig) -> None:
    """The resolved config beside the output (``<stem>.collect_config.json``), without secrets."""
    data = asdict(config)
    # Only scalar options, and nothing that looks like a key except the *name* of its variable.
    data["judge_options"] = {k: (v if isinstance(v, (str, int, float, bool, type(None))) else str(v))
                             for k, v in config.judge_options.items()
                             if k == "api_key_env" or "key" not in k.lower()}
    write_json_atomic(Path(config.output).with_name(f"{Path(config.output).stem}.collect_config.json"), data)


def summary_table(summary: CollectSummary):
    from rich.table import Table

    table = Table(title="cut collect")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows = [("items", summary.total), ("already done", summary.already_done), ("generated", summary.generated),
            ("judged now", summary.judged), ("  acceptable", summary.positive), ("  critiqued", summary.negative),
            ("failed", summary.failed), ("skipped", summary.skipped), ("remaining", summary.remaining)]
    for label, value in rows:
        table.add_row(label, str(value))
    share = summary.in_output_positive / summary.in_output if summary.in_output else 0.0
    table.add_row("records in output", f"{summary.in_output} ({share:.1%} acceptable)")
    for key, value in summary.judge_summary.items():
        table.add_row(f"judge {key}", f"{value:.4g}" if isinstance(value, float) else str(value))
    table.add_row("seconds", f"{summary.seconds:.1f}")
    return table
