"""`cut collect`: generate responses (or read them) and judge them into judgment records.

Resumable: rerun the same command and only the items missing from the output are done.
Exit codes: 0 when nothing failed, 1 when some items failed (they are listed in the errors
file and retried by the next run), 2 for bad input.
"""

from __future__ import annotations

import argparse

DEFAULT_MODEL = "smollm2-135m-instruct"


def register(sub) -> None:
    p = sub.add_parser(
        "collect", help="generate and judge responses into judgment records (resumable)",
        description="Generate a response to each prompt with --model (or take them from --responses) and "
                    "judge them with --judge: rules (verifiable instructions), openai:MODEL (any "
                    "OpenAI-compatible endpoint), human (you, at the terminal) or hf:PATH (a local model). "
                    "Records are appended to -o as they are judged; rerun the same command to resume.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--prompts", required=True, metavar="FILE",
                   help="prompts: IFEval JSONL, records (JSON/JSONL with instruction or prompt), CSV, or .txt")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="judgment records (JSONL, appended)")
    p.add_argument("--judge", default="rules", metavar="SPEC",
                   help="rules | openai:MODEL | human | hf:PATH (default: %(default)s)")
    p.add_argument("--model", help=f"policy to generate with: Hub id, directory, .gguf or alias "
                                   f"(default without --responses: {DEFAULT_MODEL})")
    p.add_argument("--responses", metavar="FILE", help="judge these responses instead of generating "
                   "(matched to prompts by key or by exact prompt text)")
    g = p.add_argument_group("generation")
    g.add_argument("--samples", type=int, default=1, help="responses per prompt (default: %(default)s)")
    g.add_argument("--temperature", type=float, default=0.7, help="0 = greedy (default: %(default)s)")
    g.add_argument("--top-p", type=float, default=0.9, help="default: %(default)s")
    g.add_argument("--max-new-tokens", type=int, default=256, help="default: %(default)s")
    g.add_argument("--batch-size", type=int, default=16, help="sequences generated at once (default: %(default)s)")
    g.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    g.add_argument("--template", default="auto", choices=["auto", "chat", "alpaca"],
                   help="prompt rendering for the policy (default: %(default)s)")
    g.add_argument("--limit", type=int, help="only the first N prompts")
    j = p.add_argument_group("judge")
    j.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1")
    j.add_argument("--api-key-env", help="name of the environment variable holding the API key "
                                         "(default: OPENAI_API_KEY); the key itself is never written anywhere")
    j.add_argument("--judge-prompt", metavar="FILE", help="judge prompt file or packaged name (openai, hf)")
    j.add_argument("--judge-template", choices=["prompt", "cut-self"],
                   help="hf judges: the judge prompt (default) or the paper's self-judge format")
    j.add_argument("--concurrency", type=int, help="judge requests in flight at once (openai)")
    j.add_argument("--timeout", type=float, help="seconds per judge request (openai)")
    j.add_argument("--chunk-size", type=int, help="items per judge call (default: 64; 1 for human)")
    o = p.add_argument_group("records")
    o.add_argument("--errors", metavar="FILE", help="failure log (default: <output stem>.errors.jsonl)")
    o.add_argument("--round", type=int, help="online round number stored in each record")
    o.add_argument("--source", default="collect", help="stored in each record's source (default: %(default)s)")
    p.add_argument("--json", action="store_true",
                   help="print the summary as one JSON document on stdout (the table stays on stderr)")
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    import sys

    from cut.collect import CollectConfig, collect
    from cut.generation import GenerationSettings
    from cut.cli import at_least_one
    from cut.paths import Output, refuse_clobber

    at_least_one("--limit", args.limit)
    # -o and --errors are appended to (a rerun resumes), so they may exist; never an input
    refuse_clobber([Output("-o", args.output, exists_ok=True), Output("--errors", args.errors, exists_ok=True)],
                   [("--prompts", args.prompts), ("--responses", args.responses)])

    options = {name: value for name, value in (
        ("base_url", args.base_url), ("api_key_env", args.api_key_env), ("prompt", args.judge_prompt),
        ("template", args.judge_template),
        ("concurrency", args.concurrency), ("timeout", args.timeout)) if value is not None}
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                                  top_p=args.top_p, batch_size=args.batch_size, seed=args.seed,
                                  num_samples=args.samples)
    config = CollectConfig(prompts=args.prompts, output=args.output, judge=args.judge,
                           model=args.model or (None if args.responses else DEFAULT_MODEL),
                           responses=args.responses, template=args.template, generation=settings,
                           limit=args.limit, errors=args.errors, judge_options=options, round=args.round,
                           source=args.source, chunk_size=args.chunk_size)
    summary = collect(config)
    if args.json:
        print(json.dumps(summary.as_dict(), indent=2))
    if summary.failed:
        print(f"cut collect: {summary.failed} item(s) failed; reasons in {summary.errors}; "
              f"rerun the same command to retry them", file=sys.stderr)
    elif summary.remaining:
        print(f"cut collect: stopped with {summary.remaining} item(s) left; rerun the same command to resume",
              file=sys.stderr)
    else:
        print(f"cut collect: done, {summary.total} item(s) in {summary.output} "
              f"({summary.judged} judged now, {summary.already_done} already done)", file=sys.stderr)
    return summary.exit_code
