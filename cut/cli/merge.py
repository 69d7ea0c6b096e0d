"""`cut merge`: fold a LoRA adapter into a full-precision copy of its base model."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("merge", help="fold a LoRA adapter into a full-precision copy of the base model")
    p.add_argument("--model", default=None, help="base model (default: read from the adapter's cut_config.json)")
    p.add_argument("--adapter", required=True, help="adapter directory (a `cut train` output dir)")
    p.add_argument("-o", "--output", required=True, help="directory for the merged model")
    p.add_argument("--dtype", default="float32", help="float32|bfloat16|float16 (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="replace OUTPUT when it is an earlier `cut merge` output "
                   "(a folder merge did not write is never replaced)")
    p.set_defaults(func=run)


def run(args) -> int:
    from cut.models import adapter_base, is_merge_output, merge_adapter
    from cut.paths import Output, refuse_clobber
    from cut.progress import console

    # -o replaces a folder: never one that is or holds the adapter or the base model
    refuse_clobber([Output("-o", args.output, kind="dir", ours=is_merge_output)],
                   [("--adapter", args.adapter), ("--model", args.model)], force=args.force)
    base = args.model or adapter_base(args.adapter)
    out = merge_adapter(base, args.adapter, args.output, dtype=args.dtype, force=args.force)
    console.print(f"[green]merged[/green] {args.adapter} into {base} → {out}")
    return 0
