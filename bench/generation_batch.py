"""How much batched generation buys over one prompt at a time, on this machine's CPU.

Loads SmolLM2-135M-Instruct (the ``smollm2-135m-instruct`` alias), renders 32 verifiable
prompts through its chat template and generates greedily with ``cut.generation`` at several
batch sizes, timing each pass. Throughput counts the *useful* new tokens (up to and without
the stop token), so the padding steps a batch spends on prompts that already stopped cost
time but earn nothing. Also reports how many outputs equal the batch-1 outputs (greedy
decoding with left padding should not depend on the batch; float32 rounding in padded
attention can still flip a near-tie now and then). The goal: batch 16 ≥ 4× batch 1.

    python bench/generation_batch.py                       # 32 prompts, 64 new tokens, batches 1 16 32
    python bench/generation_batch.py --prompts 16 --batch-sizes 1 8

Timings depend on what else the machine runs; the table is printed, nothing is asserted.
On a machine whose cores are busy with other work, use ``--threads 1``: a multi-threaded
matrix product then waits for a descheduled OpenMP worker on every call (~15 ms each on the
2-core development VM, whatever the matrix size), which swamps batch 16 and hides the gain.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from cut.generation import GenerationSettings, generate_ids, stop_token_ids  # noqa: E402
from cut.models import load_model  # noqa: E402
from cut.templates import choose_template, context_ids, plain_context  # noqa: E402
from cut.verifiable import generate_prompts  # noqa: E402


def run(model, tokenizer, prompts: list[list[int]], stops: list[int], batch_size: int, max_new_tokens: int) -> dict:
    settings = GenerationSettings(max_new_tokens=max_new_tokens, temperature=0, batch_size=batch_size)
    start = time.perf_counter()
    out = generate_ids(model, tokenizer, prompts, settings, stops, description=f"batch {batch_size}")
    wall = time.perf_counter() - start
    completions = [samples[0] for samples in out]
    tokens = sum(len(c.token_ids) for c in completions)
    return {"batch": batch_size, "wall": wall, "tokens": tokens, "tps": tokens / wall,
            "ids": [c.token_ids for c in completions]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 32])
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice, one per core)")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    console = Console()
    model, tokenizer = load_model(args.model)
    template = choose_template("auto", tokenizer)
    texts = [p.prompt for p in generate_prompts(args.prompts, "train", seed=0)]
    prompts = [context_ids(template, tokenizer, plain_context(template, tokenizer, t)) for t in texts]
    stops = stop_token_ids(template, tokenizer)
    run(model, tokenizer, prompts[:2], stops, 2, 4)  # warm-up: first-call allocations and kernel choice
    results = [run(model, tokenizer, prompts, stops, b, args.max_new_tokens) for b in args.batch_sizes]

    base = results[0]
    table = Table(title=f"greedy generation, {args.model}, {args.prompts} prompts × ≤{args.max_new_tokens} "
                        f"new tokens, {torch.get_num_threads()} threads")
    for column in ("batch", "wall s", "new tokens", "tokens/s", f"× batch {base['batch']}", "same output"):
        table.add_column(column, justify="right")
    for r in results:
        same = sum(a == b for a, b in zip(r["ids"], base["ids"]))
        table.add_row(str(r["batch"]), f"{r['wall']:.1f}", str(r["tokens"]), f"{r['tps']:.1f}",
                      f"{r['tps'] / base['tps']:.2f}", f"{same}/{len(r['ids'])}")
    console.print(table)


if __name__ == "__main__":
    main()
