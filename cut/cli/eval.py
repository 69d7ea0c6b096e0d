"""`cut eval`: evaluate a model AlpacaEval-style, or on verifiable instructions.

One mode per input, chosen by the flag that names it (the CLI parses and dispatches; the
work is in ``cut.evaluation``):

- ``--annotations FILE``: recompute every metric from existing pairwise annotations (ours or
  AlpacaEval's own files, as they are) without calling a judge;
- ``--verifiable [FILE]``: answer a verifiable-instruction set with ``--model`` and score it
  strict and loose, no LLM judge;
- ``--reference FILE`` with ``--model M``: generate M's outputs for the reference set, judge
  them pairwise against the references (``--judge openai:MODEL``, ``--judge-mode ranking|weighted``),
  compute the metrics; with ``--outputs FILE`` instead of ``--model``: judge existing outputs.
  A model-output file for other instructions is refused before any judge call;
- ``--generate FILE`` with ``--model M``: only write M's outputs (AlpacaEval's model_outputs
  shape) for an AlpacaEval-format set, the bundled verifiable set or an IFEval file;
- ``--run DIR``: every round of an online run: re-score its verifiable evaluation and, with
  ``--reference``, judge each round's policy pairwise; one row per round.

Pairwise modes write annotations.json, metrics.json and the judge cache into ``--out-dir``,
and optionally a leaderboard row (``--leaderboard``) and an HTML report (``--report``).
Exit codes: 0 done; 1 done, but some judge replies were unusable (dropped, listed in
annotations.errors.json; a rerun asks again); 2 bad input.

Nothing heavy is imported at module level: torch, sklearn and the metrics load inside the handlers.
"""

from __future__ import annotations

import json
import time

DEFAULT_MODEL = "smollm2-135m-instruct"
MODE_FLAGS = ("annotations", "verifiable", "generate", "run", "reference")
VERIFIABLE_OUT = "verifiable-eval.jsonl"  # --verifiable without -o


def register(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a model: win rates against a reference (AlpacaEval-compatible)",
                       description="Evaluate a model AlpacaEval-style or on verifiable instructions. "
                                   "Give one input mode (--run may take --reference).")
    m = p.add_argument_group("input mode (one)")
    m.add_argument("--annotations", metavar="FILE",
                   help="recompute metrics from an annotation file (AlpacaEval JSON list); no judge call")
    m.add_argument("--verifiable", metavar="FILE", nargs="?", const="eval/verifiable-heldout.jsonl",
                   help="answer a verifiable-instruction set (IFEval JSONL; default: the bundled held-out "
                        "set) with --model and score it strict and loose, no LLM judge")
    m.add_argument("--reference", metavar="FILE",
                   help="reference outputs (AlpacaEval JSON list): judge --model's (generated) or --outputs' "
                        "outputs against them pairwise")
    m.add_argument("--outputs", metavar="FILE", help="with --reference: existing model outputs to judge")
    m.add_argument("--generate", metavar="FILE",
                   help="only generate --model's outputs for an evaluation set (AlpacaEval JSON, IFEval JSONL)")
    m.add_argument("--run", metavar="DIR", help="evaluate every round of an online run (with --reference: pairwise too)")
    p.add_argument("--model", help=f"the model to answer with (default for --verifiable/--generate: {DEFAULT_MODEL})")
    p.add_argument("--limit", type=int, help="only the first N prompts / reference instructions")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help="generation limit (default: 256 for --verifiable, 512 otherwise)")
    p.add_argument("--batch-size", type=int, default=16, help="sequences generated at once (default: %(default)s)")
    p.add_argument("-o", "--output", help="with --verifiable: responses and per-prompt results (JSONL); "
                                          "with --generate: the model outputs (JSON; default <out-dir>/model_outputs.json)")
    p.add_argument("--out-dir", metavar="DIR", help="where --reference and --generate write (default: "
                                                     "outputs/eval/<name>); --run writes into the run's rounds")
    p.add_argument("--leaderboard", metavar="CSV", help="add or replace this model's row in a leaderboard CSV")
    p.add_argument("--report", metavar="HTML", help="write an HTML report (PNG charts beside it)")
    p.add_argument("--name", help="model name (default: generator_2 of the annotations, or from --model)")
    p.add_argument("--mode", default="community", help="leaderboard 'mode' column (default: community)")
    p.add_argument("--difficulty", metavar="FILE",
                   help="per-instruction difficulty, one value per annotation row in the same order "
                        "(CSV whose last column is the value, or a JSON list); selects the full GLM")
    p.add_argument("--bootstrap", type=int, default=200, metavar="N",
                   help="bootstrap resamples for the LC confidence interval (default 200; 0 = none)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON instead of a table")
    p.add_argument("--force", action="store_true", help="replace an existing -o or --report file that "
                                                       "this command did not write")
    from cut.cli.generate import add_decoder_arguments

    # with --verifiable: how the answers are decoded (greedy by default; DeAL with the rule reward, ...)
    add_decoder_arguments(p, exclude=("--max-new-tokens", "--batch-size", "--seed"))
    j = p.add_argument_group("pairwise judge")
    j.add_argument("--judge", metavar="SPEC", help="openai:MODEL, any OpenAI-compatible endpoint (required for pairwise)")
    j.add_argument("--judge-mode", choices=["ranking", "weighted"], default="weighted",
                   help="ranking: one identifier (AlpacaEval 1); weighted: log-probabilities of the two "
                        "identifiers (AlpacaEval 2) (default: %(default)s)")
    j.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    j.add_argument("--api-key-env", help="name of the environment variable holding the API key "
                                         "(default: OPENAI_API_KEY); the key itself is never written anywhere")
    j.add_argument("--concurrency", type=int, help="judge requests in flight at once (default: 16)")
    j.add_argument("--timeout", type=float, help="seconds per judge request (default: 60)")
    j.add_argument("--cache", metavar="DIR", help="judge reply cache (default: <out-dir>/judge_cache; "
                                                   "--run: <run>/pairwise_cache)")
    j.add_argument("--swap-seed", type=int, default=0,
                   help="seed of the order swap (AlpacaEval's rule; default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> int:
    from cut.errors import CutError

    if args.outputs and not args.reference:
        raise CutError("--outputs needs --reference FILE (the outputs are judged against it)")
    given = [flag for flag in MODE_FLAGS if getattr(args, flag, None)]
    if args.run and given == ["run", "reference"]:
        given = ["run"]
    if len(given) != 1:
        names = ", ".join(f"--{g}" for g in given) or "none"
        raise CutError(f"give exactly one of --annotations, --verifiable, --reference, --generate, --run "
                       f"(got {names}; only --run combines with --reference)")
    if args.bootstrap < 0:
        raise CutError(f"--bootstrap must be 0 or more, got {args.bootstrap}")
    from cut.cli import at_least_one

    at_least_one("--limit", args.limit)
    _refuse_clobber(args)
    return MODES[given[0]](args)


REPORT_START = b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>"  # cut.evaluation.report


def _refuse_clobber(args) -> None:
    """No output of any mode may be one of its inputs; an existing -o or --report is replaced
    only when this command wrote it (or with --force). --leaderboard is updated in place."""
    from cut.paths import Output, first_line_has, refuse_clobber, starts_with

    inputs = [(f"--{name}", getattr(args, name)) for name in ("annotations", "verifiable", "reference", "outputs",
                                                              "generate", "difficulty")]
    ours = first_line_has("prompt_strict") if args.verifiable else None
    output = args.output or (VERIFIABLE_OUT if args.verifiable else None)
    outputs = [Output("-o", output, exists_ok=bool(args.generate), ours=ours),  # --generate resumes
               Output("--report", args.report, ours=starts_with(REPORT_START)),
               Output("--leaderboard", args.leaderboard, exists_ok=True),
               Output("--out-dir", args.out_dir, kind="dir", exists_ok=True)]
    refuse_clobber(outputs, inputs, force=args.force)


def run_annotations(args) -> int:
    from cut.evaluation.alpaca_format import read_annotations
    from cut.evaluation.difficulty import read_difficulty
    from cut.evaluation.metrics import evaluate_annotations

    start = time.perf_counter()
    rows = read_annotations(args.annotations)
    difficulty = read_difficulty(args.difficulty) if args.difficulty else None
    with _BootstrapProgress(not args.json, args.bootstrap) as on_step:
        metrics = evaluate_annotations(rows, difficulty=difficulty, n_bootstrap=args.bootstrap,
                                       seed=args.seed, on_step=on_step)
    metrics["file"] = str(args.annotations)
    metrics["seconds"] = time.perf_counter() - start
    name = args.name or metrics["model"] or "model"
    if args.leaderboard:
        from cut.evaluation.leaderboard import update_leaderboard

        update_leaderboard(args.leaderboard, name, metrics, mode=args.mode)
    if args.report:
        from cut.evaluation.report import write_report

        metrics["report"] = str(write_report(args.report, {name: metrics}, rows, title=f"{name}: {args.annotations}")["html"])
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        from cut.evaluation.tables import metrics_table

        _show(metrics_table(name, metrics, args.leaderboard))
    return 0


def run_verifiable(args) -> int:
    from cut.config import resolve_data_path
    from cut.evaluation.verifiable import render_table
    from cut.evaluation.verifiable_run import evaluate_verifiable
    from cut.progress import console

    from cut.cli.generate import decoder_config

    start = time.perf_counter()
    out = args.output or VERIFIABLE_OUT
    decoder = decoder_config(args) if args.decoder != "greedy" else None  # None: the batched greedy path
    result = evaluate_verifiable(args.model or DEFAULT_MODEL, resolve_data_path(args.verifiable), out,
                                 limit=args.limit, max_new_tokens=args.max_new_tokens or 256,
                                 batch_size=args.batch_size, decoder=decoder)
    result["seconds"] = time.perf_counter() - start
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        console.print(render_table(result))
        console.print(f"{result['n_prompts']} prompts in {result['seconds']:.0f} s; responses in {out}")
        if decoder is not None:
            settings = ", ".join(f"{k}={v}" for k, v in result["decoder"].items())
            console.print(f"decoded with {settings}; {result['model_tokens']} model tokens")
    return 0


def _judge_factory(args):
    """``make(default_cache_dir)`` building the pairwise judge; checked (spec, key) right away."""
    from cut.errors import CutError
    from cut.evaluation.pairwise import make_pairwise_judge

    if not args.judge:
        raise CutError("pairwise evaluation needs --judge openai:MODEL (e.g. openai:gpt-4o-mini, or a local "
                       "server's model with --base-url)")
    options = {name: value for name, value in (
        ("base_url", args.base_url), ("api_key_env", args.api_key_env), ("concurrency", args.concurrency),
        ("timeout", args.timeout)) if value is not None}

    def make(default_cache: str | None):
        return make_pairwise_judge(args.judge, mode=args.judge_mode, swap_seed=args.swap_seed,
                                   cache_dir=args.cache or default_cache, progress=not args.json, **options)

    make(None)  # a bad spec or a missing key fails now, before any generation
    return make


def _out_dir(args, name: str) -> str:
    return args.out_dir or f"outputs/eval/{name.replace('/', '_')}"


def run_pairwise(args) -> int:
    from pathlib import Path

    from cut.errors import CutError
    from cut.evaluation.alpaca_format import read_model_outputs
    from cut.evaluation.pairwise_run import first_rows, judge_outputs

    if bool(args.model) == bool(args.outputs):
        raise CutError("--reference needs either --model M (generate its outputs, then judge them) or "
                       "--outputs FILE (judge existing outputs), not both")
    start = time.perf_counter()
    make = _judge_factory(args)
    reference = first_rows(read_model_outputs(args.reference, generator=Path(args.reference).stem), args.limit)
    if args.outputs:
        model_rows = first_rows(read_model_outputs(args.outputs), args.limit)
        name = args.name or (model_rows[0]["generator"] if model_rows else "model")
    else:
        from cut.evaluation.outputs import generate_outputs, generator_name

        name = args.name or generator_name(args.model)
        model_rows = generate_outputs(args.model, reference, Path(_out_dir(args, name)) / "model_outputs.json",
                                      generator=name, max_new_tokens=args.max_new_tokens or 512,
                                      batch_size=args.batch_size, progress=not args.json)["rows"]
    with _BootstrapProgress(not args.json, args.bootstrap) as on_step:
        metrics = judge_outputs(model_rows, reference, make, _out_dir(args, name), n_bootstrap=args.bootstrap,
                                seed=args.seed, leaderboard=args.leaderboard, name=name, board_mode=args.mode,
                                report=args.report, on_step=on_step)
    metrics["file"] = metrics["files"]["annotations"]
    metrics["seconds"] = time.perf_counter() - start
    return _print_pairwise(name, metrics, args)


def _print_pairwise(name: str, metrics: dict, args) -> int:
    import sys

    from cut.evaluation.pairwise_run import describe_unusable

    unusable = describe_unusable(metrics)
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        from cut.evaluation.tables import judge_line, metrics_table

        _show(metrics_table(name, metrics, args.leaderboard))
        print(judge_line(metrics))
    if unusable:
        print(f"cut eval: {unusable}; rerun the same command to ask again", file=sys.stderr)
    return 1 if unusable else 0


def run_generate(args) -> int:
    from pathlib import Path

    from cut.config import resolve_data_path
    from cut.evaluation.outputs import generate_outputs, generator_name, read_instructions

    model = args.model or DEFAULT_MODEL
    name = args.name or generator_name(model)
    out = args.output or str(Path(_out_dir(args, name)) / "model_outputs.json")
    result = generate_outputs(model, read_instructions(resolve_data_path(args.generate), args.limit), out,
                              generator=name, max_new_tokens=args.max_new_tokens or 512,
                              batch_size=args.batch_size, progress=not args.json)
    summary = {k: result[k] for k in ("generator", "generated", "reused", "seconds")} | {"file": out}
    print(json.dumps(summary, indent=2) if args.json else
          f"{len(result['rows'])} outputs of {name} in {out} ({result['generated']} generated, "
          f"{result['reused']} kept from an earlier run) in {result['seconds']:.0f} s")
    return 0


def run_online(args) -> int:
    from pathlib import Path

    from cut.errors import CutError
    from cut.evaluation.alpaca_format import read_model_outputs
    from cut.evaluation.run_eval import evaluate_run

    if args.report and not args.reference:
        raise CutError("--report with --run needs --reference (the report shows pairwise win rates)")
    make, reference = None, None
    if args.reference:
        make = _judge_factory(args)
        reference = read_model_outputs(args.reference, generator=Path(args.reference).stem)
    rows = evaluate_run(args.run, reference, Path(args.reference).stem if args.reference else "",
                        make_judge=make, limit=args.limit, max_new_tokens=args.max_new_tokens or 512,
                        batch_size=args.batch_size, n_bootstrap=args.bootstrap, seed=args.seed,
                        progress=not args.json)
    unusable = sum(((r.get("pairwise") or {}).get("judge") or {}).get("n_unusable", 0) for r in rows)
    if args.report and reference is not None:
        from cut.evaluation.report import write_report

        scored = [r for r in rows if r.get("pairwise")]
        last = json.loads(Path(scored[-1]["pairwise"]["files"]["annotations"]).read_text()) if scored else None
        write_report(args.report, {f"round-{r['round']}": r["pairwise"] for r in scored}, last, sort=False,
                     title=f"{Path(args.run).name}: rounds against {Path(args.reference).stem} "
                           f"(subsets and length: round {scored[-1]['round'] if scored else '–'})")
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        from cut.evaluation.tables import rounds_table

        _show(rounds_table(rows, title=f"{args.run}, per round"))
    return 1 if unusable else 0


def _show(table) -> None:
    """A table on stdout (full width in a file or pipe)."""
    from cut.progress import make_console

    make_console(stderr=False).print(table)


MODES = {"annotations": run_annotations, "verifiable": run_verifiable, "reference": run_pairwise,
         "generate": run_generate, "run": run_online}


class _BootstrapProgress:
    """Progress fed by ``on_step(done, total)``, shown from the first step on (so it does not
    sit beside the judge's bar); silent when disabled or nothing to do."""

    def __init__(self, enabled: bool, total: int):
        self.enabled = enabled and total > 0
        self.total = total
        self.bar = None
        self.done = 0

    def __enter__(self):
        return self._step if self.enabled else None

    def _step(self, done: int, total: int) -> None:
        if self.bar is None:
            from cut.progress import progress_bar

            self.bar = progress_bar(True, "LC bootstrap", self.total).__enter__()
        self.bar.advance(done - self.done)
        self.done = done

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)
        return False
