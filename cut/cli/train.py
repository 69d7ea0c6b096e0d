"""`cut train`: CUT training on judgment records (offline), from a recipe plus overrides."""

from __future__ import annotations

import argparse

DEFAULT_RECIPE = "cpu-default"


def register(sub) -> None:
    p = sub.add_parser(
        "train", help="train a LoRA adapter with CUT on judgment records",
        description="Train with Contrastive Unlikelihood Training. Settings come from a recipe "
                    "(--config, default: training/cpu-default.yaml) and key=value overrides, "
                    "e.g. `cut train --data j.jsonl cut_lambda=1.2 learning_rate=1e-4`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", nargs="+", metavar="FILE", help="judgment files (JSONL/JSON/CSV; format auto-detected)")
    p.add_argument("--config", default=DEFAULT_RECIPE, help="recipe name in training/ or a YAML path (default: %(default)s)")
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
    config = build_config(CUTConfig, args.config, overrides)

    from cut.offline import train_offline
    from cut.progress import console
    from cut.reporting import history_table

    result = train_offline(config)
    console.print(history_table(result.history))
    console.print(f"[green]saved[/green] adapter and logs to {result.output_dir} ({result.global_step} steps)")
    return 0


def _print_settings(cls) -> int:
    import dataclasses

    from cut.trainer import TrainingArguments

    own = {f.name for f in dataclasses.fields(TrainingArguments)}
    print("CUT settings (plus every transformers TrainingArguments field, e.g. learning_rate):")
    for f in dataclasses.fields(cls):
        if f.name in own:
            continue
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        print(f"  {f.name:<22} {default!r:<28} {f.metadata.get('help', '')}")
    return 0
