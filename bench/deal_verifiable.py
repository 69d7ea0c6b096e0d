"""DeAL vs greedy vs best-of-N at a matched compute budget, on the held-out verifiable set.

Loads SmolLM2-135M-Instruct (the ``smollm2-135m-instruct`` alias) once and answers the first
``--limit`` prompts of ``eval/verifiable-heldout.jsonl`` with ``cut.decoders.decode``:

1. greedy — the baseline every slowdown is measured against;
2. DeAL with the rule reward (fraction of the prompt's constraints satisfied) at each
   ``--deal K,L,B,N`` setting (top-k, lookahead, beam, block; λ = ``--lam``);
3. best-of-N with the same reward, N chosen per DeAL setting so the model-token budgets match:
   N = round(DeAL's model tokens / greedy's), at least 2 (temperature 0.7, top-p 0.9, seed 0).

It prints one rich table — decoder, settings, prompt- and instruction-level strict accuracy
with 95% Wilson intervals (``cut.evaluation.verifiable``), wall seconds, slowdown vs greedy,
model tokens (positions fed through the model, see ``cut.decoders``), reward calls — and
writes the rows to ``--out`` (``.csv``, else JSON). The issue's goal: DeAL's gain over greedy
larger than best-of-N's at the same budget, at a slowdown under 20×.

    python bench/deal_verifiable.py --threads 1                          # 50 prompts, 128 tokens
    python bench/deal_verifiable.py --limit 300 --threads 1 --out deal.csv
    python bench/deal_verifiable.py --limit 3 --max-new-tokens 24        # smoke test

Timings depend on what else the machine runs (use ``--threads 1`` when the load average is
above the core count); nothing is asserted.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from cut.config import resolve_data_path  # noqa: E402
from cut.decoders import DecoderConfig, decode  # noqa: E402
from cut.evaluation.verifiable import score  # noqa: E402
from cut.rewards import RewardItem  # noqa: E402
from cut.verifiable import read_ifeval  # noqa: E402

DEFAULT_DEAL = ["3,8,2,8", "5,8,2,4", "5,8,2,1"]  # cheap block setting, a middle one, token-level k5 l8 b2


def parse_deal(text: str) -> dict:
    try:
        k, ahead, beam, block = (int(x) for x in text.split(","))
    except ValueError:
        raise SystemExit(f"--deal wants K,L,B,N (top-k, lookahead, beam, block), got {text!r}") from None
    return {"top_k": k, "lookahead": ahead, "beam": beam, "block": block}


def run_one(model, tokenizer, template, prompts, items, config: DecoderConfig, label: str) -> dict:
    out = decode(model, tokenizer, [p.prompt for p in prompts], template, config, items)
    result = score(prompts, out.responses)
    return {"decoder": label, "settings": {k: v for k, v in config.settings().items() if k != "decoder"},
            "prompt_strict": result["prompt_level_strict"], "prompt_strict_ci": result["prompt_level_strict_ci"],
            "instruction_strict": result["instruction_level_strict"],
            "instruction_strict_ci": result["instruction_level_strict_ci"],
            "seconds": out.seconds, "model_tokens": sum(out.model_tokens), "reward_calls": out.reward_calls}


def short(settings: dict) -> str:
    """"k5 l8 b2 n1" for DeAL, "N=8" for best-of-N, "" for greedy."""
    if "lookahead" in settings:
        return " ".join(f"{c}{settings[k]}" for c, k in zip("klbn", ("top_k", "lookahead", "beam", "block")))
    return f"N={settings['n']}" if "n" in settings else ""


def _cell(rate: float, ci) -> str:
    return f"{100 * rate:.1f} [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]"


def render(rows: list[dict], title: str) -> Table:
    base = rows[0]
    table = Table(title=title)
    for column in ("decoder", "settings", "prompt strict %", "instr. strict %", "wall s", "× greedy",
                   "model tokens", "× greedy tokens", "reward calls"):
        table.add_column(column, justify="left" if column in ("decoder", "settings") else "right")
    for r in rows:
        table.add_row(r["decoder"], short(r["settings"]), _cell(r["prompt_strict"], r["prompt_strict_ci"]),
                      _cell(r["instruction_strict"], r["instruction_strict_ci"]), f"{r['seconds']:.1f}",
                      f"{r['seconds'] / base['seconds']:.1f}", str(r["model_tokens"]),
                      f"{r['model_tokens'] / base['model_tokens']:.1f}", str(r["reward_calls"]))
    return table


def write(rows: list[dict], path: str) -> None:
    if path.endswith(".csv"):
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["decoder", "settings", "prompt_strict", "prompt_lo", "prompt_hi", "instruction_strict",
                             "instruction_lo", "instruction_hi", "seconds", "slowdown", "model_tokens", "reward_calls"])
            for r in rows:
                writer.writerow([r["decoder"], json.dumps(r["settings"]), r["prompt_strict"], *r["prompt_strict_ci"],
                                 r["instruction_strict"], *r["instruction_strict_ci"], f"{r['seconds']:.2f}",
                                 f"{r['seconds'] / rows[0]['seconds']:.2f}", r["model_tokens"], r["reward_calls"]])
    else:
        Path(path).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--prompts", default="eval/verifiable-heldout.jsonl")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16, help="live sequences at once (as cut generate)")
    parser.add_argument("--deal", nargs="+", default=DEFAULT_DEAL, metavar="K,L,B,N",
                        help=f"DeAL settings: top-k, lookahead, beam, block (default: {' '.join(DEFAULT_DEAL)})")
    parser.add_argument("--lam", type=float, default=1.0, help="DeAL reward weight λ (default: %(default)s)")
    parser.add_argument("--reward", default="rules", help="reward spec for DeAL and best-of-N (default: %(default)s)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--out", help="write the rows here (.csv, else JSON)")
    args = parser.parse_args(argv)
    deal_settings = [parse_deal(d) for d in args.deal]

    import torch

    from cut.models import load_model
    from cut.templates import choose_template

    if args.threads:
        torch.set_num_threads(args.threads)
    console = Console()
    prompts = read_ifeval(resolve_data_path(args.prompts))[: args.limit]
    items = [RewardItem(p.prompt, p.as_metadata()) for p in prompts]
    model, tokenizer = load_model(args.model)
    template = choose_template("auto", tokenizer)
    base = DecoderConfig(max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, lam=args.lam,
                         reward=args.reward)
    load = os.getloadavg()[0]
    run_one(model, tokenizer, template, prompts[:2], items[:2], DecoderConfig(max_new_tokens=4), "warm-up")

    def config(**changes) -> DecoderConfig:
        return DecoderConfig(**{**base.__dict__, **changes})

    started = time.perf_counter()
    rows = [run_one(model, tokenizer, template, prompts, items, config(decoder="greedy"), "greedy")]
    deal_rows = [run_one(model, tokenizer, template, prompts, items, config(decoder="deal", **s), "deal")
                 for s in deal_settings]
    done: dict[int, dict] = {}
    for d in deal_rows:  # best-of-N at each DeAL setting's budget (one run per distinct N)
        n = max(2, round(d["model_tokens"] / rows[0]["model_tokens"]))
        if n not in done:
            done[n] = run_one(model, tokenizer, template, prompts, items, config(decoder="best-of-n", n=n), "best-of-n")
        rows.extend([d, done[n]] if done[n] not in rows else [d])
    title = (f"{args.model} on {len(prompts)} held-out verifiable prompts, ≤{args.max_new_tokens} new tokens, "
             f"reward {args.reward}, λ {args.lam}, {torch.get_num_threads()} threads, load {load:.1f}→"
             f"{os.getloadavg()[0]:.1f}, {time.perf_counter() - started:.0f} s in all")
    console.print(render(rows, title))
    if args.out:
        write(rows, args.out)
        console.print(f"rows written to {args.out}")


if __name__ == "__main__":
    main()
