"""`cut merge`: fold a LoRA adapter into a full-precision copy of its base model."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("merge", help="fold a LoRA adapter into a full-precision copy of the base model")
    p.add_argument("--model", default=None, help="base model (default: read from the adapter's cut_config.json)")
    p.add_argument("--adapter", required=True, help="adapter directory (a `cut train` output dir)")
    p.add_argument("-o", "--output", required=True, help="directory for the merged model")
    p.add_argument("--dtype", default="float32", help="float32|bfloat16|float16 (default: %(default)s)")
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    from pathlib import Path

    from cut.errors import CutError
    from cut.models import merge_adapter
    from cut.progress import console

    base = args.model
    if base is None:
        cfg = Path(args.adapter) / "cut_config.json"
        if not cfg.is_file():
            raise CutError(f"no --model given and {cfg} does not exist to say which base the adapter belongs to")
        base = json.loads(cfg.read_text())["model"]
    out = merge_adapter(base, args.adapter, args.output, dtype=args.dtype)
    console.print(f"[green]merged[/green] {args.adapter} into {base} → {out}")
    return 0
