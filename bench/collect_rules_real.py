"""One real collection: SmolLM2-135M-Instruct answers 50 generated verifiable prompts and the
rule judge judges them; reports the fraction judged acceptable.

The same as running

    python -m cut.verifiable ...   # (or any IFEval JSONL)
    cut collect --prompts prompts.jsonl --model smollm2-135m-instruct --judge rules -o judgments.jsonl

with the prompts from ``cut.verifiable.generate_prompts(50, "train", seed=0)`` and the CLI's
default sampling (temperature 0.7, top-p 0.9, 256 new tokens, batch 16, seed 0). Prints the
collect summary and a table of acceptance per constraint. Rerunning with the same ``--out``
resumes (nothing is generated or judged twice); use a fresh directory for a new measurement.

    python bench/collect_rules_real.py                     # writes under a new temporary directory
    python bench/collect_rules_real.py --out runs/rules50 --n 50
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from cut.collect import CollectConfig, collect  # noqa: E402
from cut.generation import GenerationSettings  # noqa: E402
from cut.records import read_jsonl  # noqa: E402
from cut.verifiable import generate_prompts, write_ifeval  # noqa: E402


def per_constraint_table(records) -> Table:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in records:
        for cid in r.metadata.get("instruction_id_list", []):
            counts[cid][0] += r.judgment is None
            counts[cid][1] += 1
    table = Table(title="acceptance per constraint")
    for column in ("constraint", "acceptable", "items", "share"):
        table.add_column(column, justify="left" if column == "constraint" else "right")
    for cid, (ok, n) in sorted(counts.items()):
        table.add_row(cid, str(ok), str(n), f"{ok / n:.0%}")
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="run directory (default: a new temporary directory)")
    parser.add_argument("--n", type=int, default=50, help="number of prompts (default: %(default)s)")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="cut-collect-rules-"))
    out.mkdir(parents=True, exist_ok=True)
    prompts = out / "prompts.jsonl"
    if not prompts.exists():
        write_ifeval(prompts, generate_prompts(args.n, "train", seed=0))
    config = CollectConfig(prompts=str(prompts), output=str(out / "judgments.jsonl"), judge="rules",
                           model=args.model, generation=GenerationSettings())
    summary = collect(config)
    records = read_jsonl(config.output)
    console = Console()
    console.print(per_constraint_table(records))
    share = summary.in_output_positive / summary.in_output if summary.in_output else 0.0
    console.print(f"{summary.in_output_positive}/{summary.in_output} responses judged acceptable ({share:.1%}); "
                  f"{summary.failed} failed; {summary.seconds:.0f} s; files in {out}")


if __name__ == "__main__":
    main()
