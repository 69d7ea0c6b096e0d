"""`cut train`: CUT training on judgment records (offline), from a recipe plus overrides."""

from __future__ import annotations

import argparse

DEFAULT_RECIPE = "cpu-default"
ONLINE_RECIPE, QUICK_RECIPE = "online-cpu", "online-quick"


def register(sub) -> None:
    p = sub.add_parser(
        "train", help="train a LoRA adapter with CUT on judgment records",
        description="Train with Contrastive Unlikelihood Training. Settings come from a recipe "
                    "(--config, default: training/cpu-default.yaml) and key=value overrides, "
                    "e.g. `cut train --data j.jsonl cut_lambda=1.2 learning_rate=1e-4`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--online", action="store_true",
                   help="run online rounds: fresh prompts → generate → judge → train → evaluate "
                        f"(default recipe: {ONLINE_RECIPE})")
    p.add_argument("--quick", action="store_true", help=f"with --online: the short recipe {QUICK_RECIPE} (< 5 min)")
    p.add_argument("--run-dir", help="with --online: the run directory (rerun the same command to resume)")
    p.add_argument("--method", choices=["cut", "sft", "hindsight"], help="what the records train (default: cut)")
    p.add_argument("--detector", choices=["ratio", "spans", "revision", "union", "intersection"],
                   help="which Misalign tokens get unlikelihood (default: the recipe's; ratio offline, "
                        "revision online)")
    p.add_argument("--rounds", type=int, help="with --online: number of rounds (a finished run given more "
                                              "continues from its last round)")
    p.add_argument("--judge", help="with --online: judge spec (rules, openai:MODEL, human, hf:PATH)")
    p.add_argument("--share-from", metavar="RUN_DIR",
                   help="with --online: reuse that run's round-0 evaluation and round-1 samples "
                        "(same settings up to the method), to compare methods on the same samples")
    p.add_argument("--data", nargs="+", metavar="FILE", help="judgment files (JSONL/JSON/CSV; format auto-detected)")
    p.add_argument("--config", default=None, help=f"recipe name in training/ or a YAML path (default: {DEFAULT_RECIPE}, "
                                                 f"or {ONLINE_RECIPE} with --online)")
    p.add_argument("--model", help="Hub id, local directory, .gguf file or alias (overrides the recipe)")
    p.add_argument("-o", "--output-dir", help="where the adapter, config and logs go")
    p.add_argument("--max-steps", type=int, help="stop after this many optimizer steps")
    p.add_argument("--resume", action="store_true", help="resume from the last checkpoint in the output dir")
    p.add_argument("--skip-invalid", action="store_true", help="skip malformed records (counted) instead of failing")
    p.add_argument("--help-config", action="store_true", help="list every setting with its default and exit")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="override any setting of the recipe")
    p.set_defaults(func=run)


def run(args) -> int:
    from cut.config import build_config, parse_overrides

    from cut.trainer import CUTConfig

    if args.online:
        return run_online_cli(args)
    if args.help_config:
        return _print_settings(CUTConfig)
    overrides = parse_overrides(args.overrides)
    for key, value in (("data", args.data), ("model", args.model), ("output_dir", args.output_dir),
                       ("max_steps", args.max_steps)):
        if value is not None:
            overrides[key] = value
    if args.skip_invalid:
        overrides["skip_invalid"] = True
    if args.resume:
        overrides["resume_from_checkpoint"] = "last"
    for key in ("method", "detector"):
        if getattr(args, key):
            overrides[key] = getattr(args, key)
    config = build_config(CUTConfig, args.config or DEFAULT_RECIPE, overrides)
    from cut.paths import Output, refuse_clobber

    # the run writes into -o (resumable), so it may exist, but it must be a directory, not an input
    refuse_clobber([Output("-o", config.output_dir, kind="dir", exists_ok=True)],
                   [("--data", d) for d in config.data] + [("--model", config.model),
                                                           ("init_adapter", config.init_adapter)])

    from cut.offline import train_offline
    from cut.progress import console
    from cut.reporting import history_table, print_length_note

    result = train_offline(config)
    console.print(history_table(result.history))
    print_length_note(console, result.report, config.max_length)
    console.print(f"[green]saved[/green] adapter and logs to {result.output_dir} ({result.global_step} steps)")
    return 0


def _print_settings(cls) -> int:
    import dataclasses

    from transformers import TrainingArguments

    own = {f.name for f in dataclasses.fields(TrainingArguments)} if issubclass(cls, TrainingArguments) else set()
    print(f"{cls.__name__} settings" + (" (plus every transformers TrainingArguments field, e.g. learning_rate):"
                                        if own else ":"))
    for f in dataclasses.fields(cls):
        if f.name in own:
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        print(f"  {f.name:<22} {default!r:<28} {f.metadata.get('help', '')}")
    return 0


def run_online_cli(args) -> int:
    from cut.config import build_config, parse_overrides
    from cut.online import OnlineConfig, run_online

    if args.help_config:
        return _print_settings(OnlineConfig)
    if args.data:
        from cut.errors import CutError

        raise CutError("--data is for offline training; online rounds make their own data (see --judge)")
    overrides = parse_overrides(args.overrides)
    for key, value in (("run_dir", args.run_dir), ("model", args.model), ("method", args.method),
                       ("detector", args.detector), ("rounds", args.rounds), ("judge", args.judge),
                       ("share_from", args.share_from)):
        if value is not None:
            overrides[key] = value
    recipe = args.config or (QUICK_RECIPE if args.quick else ONLINE_RECIPE)
    run_online(build_config(OnlineConfig, recipe, overrides))
    return 0
