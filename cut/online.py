"""The online loop (``cut train --online``): rounds of fresh prompts → generate → judge →
train → carry → evaluate, resumable at every step.

This is the procedure the CUT paper ran by hand (arXiv 2312.14591 §4.2, "online
alignment"): each round the current model answers instructions it has not seen, a judge
critiques the answers, and CUT trains on the judgments before the next round. Here it is one
command with a run directory that describes itself:

    run_dir/
      online_config.json        the full resolved config
      state.json                steps finished so far (atomic; the only state)
      round-0/metrics.json      evaluation of the starting model
      round-r/prompts.jsonl     this round's training prompts (never seen before, never eval)
      round-r/records.jsonl     judgment records (+ .responses/.errors files from collect)
      round-r/adapter/          the trained adapter, its logs and checkpoints
      round-r/model/            the merged policy for the next round
      round-r/eval.jsonl        held-out responses; round-r/metrics.json the scores
      report.csv, report.png    pass rate per round

The loop only sequences steps; each is a library call used elsewhere (collect, train_offline,
merge_adapter, generation + verifiable scoring). Killing the process loses only the step in
flight: collect and training resume on their own, and a step is marked done in the state file
only after its outputs are written. The number of rounds is not part of what makes a run
itself: the same command with more ``rounds`` continues a finished run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from cut.config import config_to_dict, resolve_data_path
from cut.errors import CutError, NothingToTrain, reject_unknown
from cut.profile import measure, record_profile
from cut.records import write_json_atomic

CARRY_MODES = ("merge", "adapter")
ROUND_STEPS = ("prompts", "collect", "train", "carry", "evaluate")


@dataclass
class OnlineConfig:
    """Settings of ``cut train --online``; recipes in ``training/online-*.yaml``."""

    run_dir: str = "runs/online-cpu"
    model: str = "smollm2-135m-instruct"  # the starting policy
    rounds: int = 3
    method: str = "cut"  # cut | sft | hindsight
    detector: str = "ratio"  # ratio | spans | union | intersection (method cut)
    judge: str = "rules"  # any judge spec of `cut collect`
    judge_options: dict[str, Any] = field(default_factory=dict)
    prompts: str = "verifiable"  # "verifiable" (generated train split) or a prompt file (a pool)
    constraints: list[str] | None = None  # constraint ids for generated prompts (None: defaults)
    max_constraints: int = 1
    prompts_per_round: int = 64
    samples_per_prompt: int = 4
    # more samples for prompts none of whose samples_per_prompt answers was acceptable (decided
    # from the round's own judgments): positives where they are scarce
    extra_samples: int = 0
    temperature: float = 0.8
    top_p: float = 0.95
    max_new_tokens: int = 96
    gen_batch_size: int = 32
    eval_prompts: str = "eval/verifiable-heldout.jsonl"  # IFEval-format held-out set
    eval_limit: int | None = None
    eval_max_new_tokens: int = 96
    # how the held-out answers are decoded: {} is greedy; else cut.decoders.DecoderConfig fields,
    # e.g. {decoder: deal, top_k: 5, lookahead: 8, lam: 1} (its max_new_tokens is eval_max_new_tokens)
    eval_decoder: dict[str, Any] = field(default_factory=dict)
    carry: str = "merge"  # merge: new LoRA on the merged model; adapter: keep training one adapter
    train_recipe: str = "cpu-default"  # a `cut train` recipe for the per-round training settings
    train: dict[str, Any] = field(default_factory=dict)  # overrides of that recipe
    template: str = "auto"
    seed: int = 0
    share_from: str | None = None  # a run whose round-0 evaluation and round-1 samples to reuse

    def __post_init__(self):
        from cut.sequences import METHODS

        if self.method not in METHODS:
            raise CutError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if self.carry not in CARRY_MODES:
            raise CutError(f"carry must be merge or adapter, got {self.carry!r}")
        if self.rounds < 1 or self.prompts_per_round < 1 or self.samples_per_prompt < 1:
            raise CutError("rounds, prompts_per_round and samples_per_prompt must be at least 1")
        if self.extra_samples < 0:
            raise CutError(f"extra_samples must be at least 0, got {self.extra_samples}")
        self.decoder()  # a bad eval_decoder fails before round 0

    def decoder(self):
        """The evaluation decoder (a ``cut.decoders.DecoderConfig``), or None for greedy."""
        if not self.eval_decoder:
            return None
        from cut.decoders import DecoderConfig

        reject_unknown(self.eval_decoder, DecoderConfig, "eval_decoder", noun="setting")
        return DecoderConfig(**self.eval_decoder)


class RunState:
    """``state.json``: the steps finished, written atomically after each step."""

    def __init__(self, run_dir: Path, fingerprint: str):
        self.path = run_dir / "state.json"
        self.fingerprint = fingerprint
        self.done: list[str] = []
        self.times: dict[str, float] = {}

    @classmethod
    def open(cls, run_dir: Path, fingerprint: str, also: tuple[str, ...] = ()) -> "RunState":
        """The run's state; ``also``: older fingerprints of the same settings (rewritten on the next step)."""
        state = cls(run_dir, fingerprint)
        if not state.path.exists():
            if any(run_dir.glob("round-*")):
                raise CutError(f"{state.path} is missing but {run_dir} holds rounds: refusing to start over "
                               f"silently; restore the state file or use a new run directory")
            return state
        try:
            data = json.loads(state.path.read_text())
            state.done, state.times = list(data["done"]), dict(data.get("times", {}))
            saved = data["fingerprint"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise CutError(f"{state.path} is corrupt ({err}); fix or remove it (removing restarts the run)") from None
        if saved != fingerprint and saved not in also:
            raise CutError(f"{run_dir} holds a run with different settings (see online_config.json); "
                           f"use another run directory or the same settings to resume")
        return state

    def mark(self, step: str, seconds: float) -> None:
        self.done.append(step)
        self.times[step] = round(seconds, 2)
        write_json_atomic(self.path, {"fingerprint": self.fingerprint, "done": self.done, "times": self.times})


def fingerprint(config: OnlineConfig, with_rounds: bool = False) -> str:
    """What makes two runs the same run: every setting but the directory and the number of
    rounds. Round r's prompts are slice r of a prefix-stable pool and its steps never look
    ahead, so a finished run continues with ``rounds=`` more. ``with_rounds``: the fingerprint
    of runs made before that, which still open."""
    skip = ("run_dir", "share_from") if with_rounds else ("run_dir", "share_from", "rounds")
    d = {k: v for k, v in config_to_dict(config).items() if k not in skip}
    for later in ("eval_decoder", "extra_samples"):  # added later: their defaults keep earlier fingerprints
        if not d[later]:
            del d[later]
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _legacy_fingerprint(config: OnlineConfig, run_dir: Path) -> str:
    """The fingerprint this run had when it was made with the rounds it recorded (before
    the number of rounds left the fingerprint)."""
    saved = run_dir / "online_config.json"
    try:
        rounds = json.loads(saved.read_text())["rounds"] if saved.exists() else config.rounds
    except (json.JSONDecodeError, KeyError, TypeError):
        rounds = config.rounds
    return fingerprint(dataclasses.replace(config, rounds=rounds), with_rounds=True)


def run_online(config: OnlineConfig, on_step: Callable[[str], None] | None = None) -> list[dict]:
    """Run (or resume) every round; return the per-round metrics."""
    from cut.progress import console

    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state = RunState.open(run_dir, fingerprint(config), also=(_legacy_fingerprint(config, run_dir),))
    write_json_atomic(run_dir / "online_config.json", config_to_dict(config))
    if config.share_from:
        share_steps(config, Path(config.share_from), run_dir, state)
    steps = [("round-0", "evaluate")] + [(f"round-{r}", s) for r in range(1, config.rounds + 1) for s in ROUND_STEPS]
    started = time.monotonic()
    for i, (round_name, step) in enumerate(steps):
        name = f"{round_name}/{step}"
        if name in state.done:
            continue
        remaining = _estimate_remaining(state, steps[i:])
        console.rule(f"[bold]{name}[/bold]  ·  step {i + 1}/{len(steps)}"
                     + (f"  ·  about {remaining / 60:.0f} min left" if remaining else ""))
        r = int(round_name.split("-")[1])
        profile = measure(lambda: STEPS[step](config, run_dir, r))
        state.mark(name, profile["seconds"])
        record_profile(run_dir / round_name, step, profile)
        if on_step:
            on_step(name)
    metrics = collect_metrics(run_dir, config.rounds)
    from cut.online_report import per_type_table, round_table, rows_for, write_report

    write_report([run_dir], run_dir / "report")
    console.print(round_table(rows_for(run_dir), title=f"{run_dir}  ·  method {config.method}"
                                             + (f" / {config.detector}" if config.method == "cut" else "")))
    console.print(per_type_table(run_dir))
    console.print(f"[green]done[/green] in {(time.monotonic() - started) / 60:.1f} min this session; "
                  f"report: {run_dir / 'report.png'}")
    return metrics


# Settings that decide round 0's evaluation and round 1's prompts and samples: two runs that
# agree on them differ only from round 1's training on, so the second can reuse the first's work.
SHARED_SETTINGS = ("model", "judge", "judge_options", "prompts", "constraints", "max_constraints",
                   "prompts_per_round", "samples_per_prompt", "extra_samples", "temperature", "top_p", "max_new_tokens",
                   "gen_batch_size", "eval_prompts", "eval_limit", "eval_max_new_tokens", "eval_decoder", "template",
                   "seed")
SHARED_FILES = {"round-0/evaluate": ("round-0", ("eval.jsonl", "metrics.json")),
                "round-1/prompts": ("round-1", ("prompts.jsonl",)),
                "round-1/collect": ("round-1", ("records.jsonl", "records.responses.jsonl", "prompts-more.jsonl",
                                                "records.collect_config.json", "records.errors.jsonl"))}


def share_steps(config: OnlineConfig, source: Path, run_dir: Path, state: RunState) -> None:
    """Copy the steps ``source`` finished that do not depend on the method (round-0 evaluation,
    round-1 prompts and judged samples), so methods are compared on the very same samples."""
    source_config = source / "online_config.json"
    if not source_config.exists():
        raise CutError(f"share_from: {source_config} not found (not an online run directory)")
    theirs = json.loads(source_config.read_text())
    mine = config_to_dict(config)
    theirs.setdefault("eval_decoder", {})  # runs from before the setting existed decoded greedily
    theirs.setdefault("extra_samples", 0)
    differ = [k for k in SHARED_SETTINGS if theirs.get(k) != mine.get(k)]
    if differ:
        raise CutError(f"share_from: {source} differs in {', '.join(differ)}; its samples are not this run's")
    source_done = json.loads((source / "state.json").read_text()) if (source / "state.json").exists() else {}
    for step, (round_name, names) in SHARED_FILES.items():
        if step in state.done:
            continue
        if step not in source_done.get("done", []):
            break  # later steps build on this one
        (run_dir / round_name).mkdir(parents=True, exist_ok=True)
        for name in names:
            if (source / round_name / name).exists():
                shutil.copy2(source / round_name / name, run_dir / round_name / name)
        state.mark(step, source_done.get("times", {}).get(step, 0.0))


def _estimate_remaining(state: RunState, todo: list[tuple[str, str]]) -> float | None:
    """Seconds left, from the mean time of finished steps of the same kind."""
    by_kind: dict[str, list[float]] = {}
    for name, secs in state.times.items():
        by_kind.setdefault(name.split("/")[1], []).append(secs)
    if not by_kind:
        return None
    known = [sum(v) / len(v) for v in by_kind.values()]
    fallback = sum(known) / len(known)
    return sum(sum(by_kind[s]) / len(by_kind[s]) if s in by_kind else fallback for _, s in todo)


# ---- the steps -------------------------------------------------------------------------

NOTHING_TRAINED = "nothing_to_train.txt"  # in round-r/adapter/: the round's data gave no example


def policy_for(run_dir: Path, r: int, config: OnlineConfig) -> str:
    """The model after round r (evaluated after it, answering in round r+1): round r's merged
    model, or the one before it when round r had nothing to train."""
    while r > 0 and (run_dir / f"round-{r}" / "adapter" / NOTHING_TRAINED).exists():
        r -= 1
    return config.model if r == 0 else str(run_dir / f"round-{r}" / "model")


def _last_adapter(run_dir: Path, r: int) -> str | None:
    """The adapter of the latest round before r that trained one (carry: adapter)."""
    for k in range(r - 1, 0, -1):
        if not (run_dir / f"round-{k}" / "adapter" / NOTHING_TRAINED).exists():
            return str(run_dir / f"round-{k}" / "adapter")
    return None


def step_prompts(config: OnlineConfig, run_dir: Path, r: int) -> None:
    """Round r's training prompts: slice r of one seeded pool, so rounds never overlap and
    (generated prompts) never meet the evaluation split."""
    from cut.verifiable import generate_prompts, write_ifeval

    n = config.prompts_per_round
    if config.prompts == "verifiable":
        pool = generate_prompts(n * config.rounds, "train", seed=config.seed, constraint_ids=config.constraints,
                                max_constraints=config.max_constraints)
        chosen = pool[(r - 1) * n: r * n]
        write_ifeval(run_dir / f"round-{r}" / "prompts.jsonl", chosen)
        return
    from cut.prompt_sources import read_prompts
    from cut.records import write_jsonl

    pool = read_prompts(resolve_data_path(config.prompts))
    eval_texts = {p.prompt for p in read_prompts(resolve_data_path(config.eval_prompts))}
    pool = [p for p in pool if p.prompt not in eval_texts]
    if len(pool) < n * config.rounds:
        raise CutError(f"{config.prompts} has {len(pool)} prompts outside the evaluation set; "
                       f"{config.rounds} rounds × {n} need {n * config.rounds}")
    chosen = pool[(r - 1) * n: r * n]
    write_jsonl(run_dir / f"round-{r}" / "prompts.jsonl",
                [{"key": p.key, "prompt": p.prompt, **p.metadata} for p in chosen])


def step_collect(config: OnlineConfig, run_dir: Path, r: int) -> None:
    """Sample and judge this round's prompts; then, with ``extra_samples``, sample more for
    the prompts whose first samples were all rejected."""
    rd = run_dir / f"round-{r}"
    _collect(config, run_dir, r, rd / "prompts.jsonl", config.samples_per_prompt)
    if config.extra_samples:
        scarce = scarce_prompts(rd / "records.jsonl", config.samples_per_prompt)
        lines = [line for line in (rd / "prompts.jsonl").read_text().splitlines()
                 if line.strip() and str(json.loads(line)["key"]) in scarce]
        if lines:
            (rd / "prompts-more.jsonl").write_text("\n".join(lines) + "\n")
            _collect(config, run_dir, r, rd / "prompts-more.jsonl", config.samples_per_prompt + config.extra_samples,
                     first_sample=config.samples_per_prompt)


def scarce_prompts(records_path: Path, first: int) -> set[str]:
    """Prompt keys none of whose first ``first`` samples was judged acceptable (only those
    samples count, so the answer is the same after more samples were added: resumable)."""
    from cut.records import read_jsonl

    accepted: dict[str, bool] = {}
    for rec in read_jsonl(records_path, allow_torn_tail=True):
        if rec.metadata.get("sample", 0) < first:
            key = str(rec.metadata.get("prompt_key"))
            accepted[key] = accepted.get(key, False) or rec.polarity == "positive"
    return {k for k, ok in accepted.items() if not ok}


def _collect(config: OnlineConfig, run_dir: Path, r: int, prompts: Path, samples: int, first_sample: int = 0) -> None:
    from cut.collect import CollectConfig, collect
    from cut.generation import GenerationSettings

    rd = run_dir / f"round-{r}"
    gen = GenerationSettings(max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                             top_p=config.top_p, batch_size=config.gen_batch_size, seed=config.seed + r,
                             num_samples=samples)
    summary = collect(CollectConfig(prompts=str(prompts), output=str(rd / "records.jsonl"),
                                    judge=config.judge, model=_generation_model(config, run_dir, r),
                                    template=config.template, generation=gen,
                                    judge_options=dict(config.judge_options), round=r, source="online",
                                    first_sample=first_sample))
    if summary.remaining:
        raise CutError(f"round {r}: {summary.remaining} items could not be judged (see {summary.errors}); "
                       f"rerun the same command to retry them")


def _generation_model(config: OnlineConfig, run_dir: Path, r: int) -> str:
    return policy_for(run_dir, r - 1, config)


def step_train(config: OnlineConfig, run_dir: Path, r: int) -> None:
    from cut.config import build_config, offline_command
    from cut.offline import train_offline
    from cut.trainer import CUTConfig

    rd = run_dir / f"round-{r}"
    out = rd / "adapter"
    overrides = {**config.train, "data": [str(rd / "records.jsonl")], "output_dir": str(out),
                 "method": config.method, "detector": config.detector, "template": config.template,
                 "seed": config.seed + r}
    if config.carry == "merge":
        overrides["model"] = _generation_model(config, run_dir, r)
    else:
        overrides["model"] = config.model
        previous = _last_adapter(run_dir, r)
        if previous:
            overrides["init_adapter"] = previous
    out.mkdir(parents=True, exist_ok=True)  # the offline command that reproduces this step (not its resume)
    (out / "train_command.txt").write_text(offline_command(config.train_recipe, overrides) + "\n")
    if any(out.glob("checkpoint-*")):
        overrides["resume_from_checkpoint"] = "last"
    try:
        train_offline(build_config(CUTConfig, config.train_recipe, overrides))
    except NothingToTrain as err:  # e.g. sft in a round without one acceptable sample
        (out / NOTHING_TRAINED).write_text(f"{err}\n")
        from cut.progress import console

        console.print(f"[yellow]round {r}: nothing to train ({err}); the policy carries over unchanged")


def step_carry(config: OnlineConfig, run_dir: Path, r: int) -> None:
    """Fold this round's adapter into the policy the next round (and evaluation) uses."""
    from cut.models import merge_adapter

    rd = run_dir / f"round-{r}"
    if (rd / "adapter" / NOTHING_TRAINED).exists():
        return  # policy_for skips this round
    base = _generation_model(config, run_dir, r) if config.carry == "merge" else config.model
    merge_adapter(base, str(rd / "adapter"), str(rd / "model"))


def step_evaluate(config: OnlineConfig, run_dir: Path, r: int) -> None:
    """Answers to the held-out verifiable prompts (greedy, or ``eval_decoder``), scored strict and loose."""
    from cut.evaluation.verifiable_run import evaluate_verifiable

    rd = run_dir / f"round-{r}"
    result = evaluate_verifiable(policy_for(run_dir, r, config), resolve_data_path(config.eval_prompts),
                                 rd / "eval.jsonl", limit=config.eval_limit,
                                 max_new_tokens=config.eval_max_new_tokens, template=config.template,
                                 batch_size=config.gen_batch_size, decoder=config.decoder())
    metrics = {"round": r, "eval": result, **round_training_metrics(rd)}
    write_json_atomic(rd / "metrics.json", metrics)


def round_training_metrics(rd: Path) -> dict:
    """Acceptance rate of the round's samples and the detector totals of its training."""
    from cut.records import read_jsonl

    out: dict[str, Any] = {}
    records_path = rd / "records.jsonl"
    if records_path.exists():
        records = read_jsonl(records_path, allow_torn_tail=True)
        out["train_records"] = len(records)
        out["train_acceptable"] = sum(r.polarity == "positive" for r in records) / len(records) if records else None
        out["train_revisions"] = sum(r.polarity == "negative" and r.revision is not None for r in records)
        out["train_truncated"] = sum(bool(r.metadata.get("truncated")) for r in records) / len(records) if records else None
    totals = rd / "adapter" / "detector_totals.json"
    if totals.exists():
        out["detector"] = json.loads(totals.read_text())
    return out


STEPS: dict[str, Callable[[OnlineConfig, Path, int], None]] = {
    "prompts": step_prompts, "collect": step_collect, "train": step_train,
    "carry": step_carry, "evaluate": step_evaluate,
}


def collect_metrics(run_dir: Path, rounds: int | None = None) -> list[dict]:
    from cut.online_report import round_metrics

    return [m for r, m in round_metrics(run_dir) if rounds is None or r <= rounds]


def config_fields() -> list[dataclasses.Field]:
    return list(dataclasses.fields(OnlineConfig))
