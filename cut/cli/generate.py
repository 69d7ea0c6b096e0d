"""`cut generate`: answer a prompt file with a chosen decoder (greedy, sample, beam, DeAL, best-of-N).

``add_decoder_arguments`` and ``decoder_config`` are shared with other commands that decode
(``cut eval --verifiable`` can take the same flags). Exit codes: 0 done, 2 bad input.
"""

from __future__ import annotations

DEFAULT_MODEL = "smollm2-135m-instruct"
DEFAULT_PROMPTS = "eval/verifiable-heldout.jsonl"
DECODER_NAMES = ["greedy", "sample", "beam", "deal", "best-of-n"]


def register(sub) -> None:
    p = sub.add_parser(
        "generate", help="answer prompts with greedy, sampling, beam search, DeAL or best-of-N decoding",
        description="Answer each prompt with --decoder and write JSONL (key, prompt, response, decoder, settings, "
                    "model_tokens). DeAL (arXiv 2402.06147) searches with a reward at decoding time: top-k "
                    "candidates per state, a greedy lookahead, score = length-normalised log-prob + λ·reward, "
                    "best b states kept. On verifiable prompts (IFEval format) the strict pass rates are printed.",
        epilog="reward specs: rules | keywords[:a,b] | length:LO-HI | judge:SPEC | weighted sums such as "
               "rules@0.7+length:0-80@0.3 (see cut/rewards.py)")
    p.add_argument("--model", default=DEFAULT_MODEL, help="Hub id, directory, .gguf or alias (default: %(default)s)")
    p.add_argument("--prompts", default=DEFAULT_PROMPTS, metavar="FILE",
                   help="IFEval JSONL, records (JSON/JSONL), CSV or .txt (default: the bundled held-out set)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.jsonl", help="where to write the responses")
    p.add_argument("--limit", type=int, help="only the first N prompts")
    p.add_argument("--template", default="auto", choices=["auto", "chat", "alpaca"], help="default: %(default)s")
    p.add_argument("--force", action="store_true", help="replace OUT.jsonl if it exists and is not an earlier "
                                                       "cut generate output")
    add_decoder_arguments(p)
    p.set_defaults(func=run)


# (flag, argparse options); the dest of each is the DecoderConfig field of the same name
DECODER_FLAGS = [
    ("--decoder", dict(choices=DECODER_NAMES, default="greedy", help="default: %(default)s")),
    ("--max-new-tokens", dict(type=int, default=256, help="default: %(default)s")),
    ("--batch-size", dict(type=int, default=16, help="sequences at once; beam/deal search batch-size // beam "
                                                      "prompts together (default: %(default)s)")),
    ("--seed", dict(type=int, default=0, help="sample, best-of-n (default: %(default)s)")),
    ("--temperature", dict(type=float, default=0.7, help="sample, best-of-n (default: %(default)s)")),
    ("--top-p", dict(type=float, default=0.9, help="sample, best-of-n (default: %(default)s)")),
    ("--n", dict(type=int, default=8, help="best-of-n: samples per prompt (default: %(default)s)")),
    ("--top-k", dict(type=int, default=5, help="beam, deal: candidates per state (default: %(default)s)")),
    ("--lookahead", dict(type=int, default=8, help="deal: greedy lookahead tokens (default: %(default)s)")),
    ("--beam", dict(type=int, default=2, help="beam, deal: states kept (default: %(default)s)")),
    ("--lam", dict(type=float, default=1.0, help="deal: reward weight λ (default: %(default)s)")),
    ("--block", dict(type=int, default=1, help="deal: tokens per candidate; > 1 searches every n tokens "
                                                "(default: %(default)s)")),
    ("--length-penalty", dict(type=float, default=1.0, help="beam, deal: log-prob / length ** this "
                                                             "(default: %(default)s)")),
    ("--reward", dict(default="rules", metavar="SPEC", help="deal, best-of-n (default: %(default)s)")),
]


def add_decoder_arguments(p, exclude: tuple[str, ...] = ()) -> None:
    """Add the decoder flags (``DECODER_FLAGS``) to parser ``p``, except those named in
    ``exclude`` (e.g. ``("--max-new-tokens", "--seed")`` where a command already has them)."""
    g = p.add_argument_group("decoding")
    for flag, options in DECODER_FLAGS:
        if flag not in exclude:
            g.add_argument(flag, **options)


def decoder_config(args):
    """A cut.decoders.DecoderConfig from the flags of ``add_decoder_arguments`` (an excluded
    flag takes the command's own value of the same name, else the DecoderConfig default)."""
    from cut.decoders import DecoderConfig

    names = [flag[2:].replace("-", "_") for flag, _ in DECODER_FLAGS]
    return DecoderConfig(**{name: getattr(args, name) for name in names if hasattr(args, name)})


def run(args) -> int:
    from cut.cli import at_least_one
    from cut.config import resolve_data_path
    from cut.decoders import decode_file
    from cut.paths import Output, first_line_has, refuse_clobber

    at_least_one("--limit", args.limit)
    refuse_clobber([Output("-o", args.output, ours=first_line_has("decoder"))],  # its rows name their decoder
                   [("--prompts", resolve_data_path(args.prompts))], force=args.force)
    summary = decode_file(args.model, resolve_data_path(args.prompts), args.output, decoder_config(args),
                          limit=args.limit, template=args.template)
    _print_summary(summary)
    return 0


def _print_summary(s: dict) -> None:
    from rich.table import Table

    from cut.progress import make_console

    table = Table(title=f"cut generate · {s['decoder']}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    settings = ", ".join(f"{k}={v}" for k, v in s["settings"].items() if k != "decoder")
    table.add_row("settings", settings or "-")
    table.add_row("prompts", str(s["n_prompts"]))
    table.add_row("wall seconds", f"{s['seconds']:.1f}")
    table.add_row("model tokens (per prompt)", f"{s['model_tokens']} ({s['model_tokens'] / max(s['n_prompts'], 1):.0f})")
    if s["mean_reward"] is not None:
        table.add_row("mean reward of the answers", f"{s['mean_reward']:.3f} ({s['reward_calls']} reward calls)")
    v = s["verifiable"]
    if v is not None:
        for level in ("prompt_level", "instruction_level"):
            lo, hi = v[f"{level}_strict_ci"]
            table.add_row(f"{level.replace('_', '-')} strict", f"{100 * v[f'{level}_strict']:.1f}% "
                                                               f"[{100 * lo:.1f}, {100 * hi:.1f}]")
    table.caption = f"responses in {s['output']}"
    make_console(stderr=False).print(table)
