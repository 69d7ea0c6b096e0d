"""`cut detect`: show which response tokens a judgment flags (terminal and HTML)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("detect", help="show which response tokens the judgments flag (terminal + HTML)",
                       description="Score each negative record's response after the judged and the plain "
                                   "context and flag tokens with p(judged)/p(plain) > λ, beside the judge's "
                                   "own spans, with precision/recall against them.")
    p.add_argument("--model", default="smollm2-135m-instruct", help="Hub id, local dir, .gguf or alias (default: %(default)s)")
    p.add_argument("--adapter", help="a LoRA adapter directory to apply on top of the model")
    p.add_argument("--data", nargs="+", required=True, metavar="FILE", help="judgment files")
    p.add_argument("--format", default="auto", help="input format (default: auto)")
    p.add_argument("--lambda", dest="lam", type=float, default=1.1, help="flag threshold λ (default: %(default)s)")
    p.add_argument("--template", default="auto", help="auto|chat|alpaca")
    p.add_argument("--limit", type=int, default=20, help="negative records to analyse (default: %(default)s)")
    p.add_argument("--show", type=int, default=5, help="records to print in the terminal (default: %(default)s)")
    p.add_argument("--html", help="write an HTML page with every analysed record")
    p.add_argument("--json", dest="json_out", help="write the summary (and per-record counts) as JSON")
    p.add_argument("--skip-invalid", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from rich.panel import Panel
    from rich.table import Table

    from cut.detect import analyse, render_html, rich_text, summarise
    from cut.importers import load_many
    from cut.paths import Output, refuse_clobber

    # the page and the summary are views this command rewrites on every run; never an input
    refuse_clobber([Output("--html", args.html, exists_ok=True), Output("--json", args.json_out, exists_ok=True)],
                   [("--data", d) for d in args.data] + [("--adapter", args.adapter)])
    from cut.models import load_adapter, load_model
    from cut.progress import console, progress_bar
    from cut.records import NEGATIVE, write_json_atomic
    from cut.templates import choose_template

    records = [r for res in load_many(args.data, format=args.format, skip_invalid=args.skip_invalid) for r in res.records]
    negatives = [r for r in records if r.polarity == NEGATIVE][: args.limit]
    model, tokenizer = load_model(args.model)
    if args.adapter:
        model = load_adapter(model, args.adapter)
    template = choose_template(args.template, tokenizer)
    with progress_bar(True, "detect", len(negatives)) as bar:
        results = analyse(model, tokenizer, template, negatives, args.lam, progress=bar.advance)
    summary = summarise(results)
    for r in results[: args.show]:
        console.print(Panel(rich_text(r), title=f"{r.record.id or ''} · {r.record.prompt[:60]}",
                            subtitle=(r.record.judgment or "")[:90]))
    table = Table(title=f"ratio detector, λ = {args.lam}  (red: flagged · underlined: judge spans)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in summary.items():
        table.add_row(k, "–" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v)))
    console.print(table)
    if args.html:
        from pathlib import Path

        Path(args.html).write_text(render_html(results, summary, args.lam, f"cut detect · {args.model}"))
        console.print(f"wrote {args.html}")
    if args.json_out:
        write_json_atomic(args.json_out, {"summary": summary, "lambda": args.lam, "records": [
            {"id": r.record.id, "flags": sum(r.flags), "tokens": len(r.tokens), "counts": r.counts()} for r in results]})
    return 0
