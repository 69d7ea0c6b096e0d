"""Agreement of the rule judge with the official IFEval / IFBench checkers, instruction by instruction.

Both judges score the same answers strictly (the response as it is; an empty response follows
nothing). The script prints agreement per instruction type, at instruction and prompt level,
and lists every disagreement with our critique, so a difference is a finding to read, not a
number to trust.

The official side is, in order of preference, whichever is installed:

1. ``lm_eval.tasks.ifeval`` (EleutherAI's lm-evaluation-harness; IFEval ids only);
2. ``ifbench`` (allenai/IFBench, ``pip install`` from its repository; IFEval's checkers
   verbatim plus IFBench's 58).

Neither is a dependency of this project. Both need nltk's Punkt data (``punkt_tab``) for
sentence counts and word tokens; without network, put it under ``.venv/nltk_data``. The
official code is run as it is, with two adapters stated here: langdetect is seeded (0), as
our checker seeds it, since the official code leaves it random; and where the official
module loads Punkt from a pickle (refused by nltk >= 3.9), the same model is loaded from
``punkt_tab``.

With neither installed, the official verdicts recorded in the input rows (field
``official``: one boolean per instruction, written by ``--record``) are used instead, so the
committed sample runs without network or extra packages.

Excluded from agreement, listed apart: ``keywords:letter_frequency`` with a non-letter kwarg
(IFEval's own file asks for "#" and "!"): the official checker replaces such a "letter" with
a random one, so its verdict is a coin toss; ours counts the character asked for.

    python bench/ifeval_agreement.py                       # the committed sample
    python bench/ifeval_agreement.py --prompts ../shared/data/ifeval/input_data.jsonl \\
        --responses ../shared/data/ifeval/input_response_data_gpt4_20231107_145030.jsonl
    python bench/ifeval_agreement.py --prompts IFBench_test.jsonl --responses answers.jsonl
    python bench/ifeval_agreement.py --record out.jsonl    # rows + official verdicts (needs one installed)

``--responses`` is IFEval's response file (``prompt``, ``response`` per line, matched on the
prompt text) or the ``-o`` file of ``cut eval --verifiable`` (matched on ``key``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from cut.judges.checkers import SPECS, check  # noqa: E402

SAMPLE = Path(__file__).resolve().parent / "data" / "ifeval_agreement_sample.jsonl"
Official = Callable[[str, dict, str, str], bool]  # (id, kwargs, prompt, response) -> followed


def _no_downloads() -> None:
    try:
        import nltk
    except ImportError:
        return
    nltk.download = lambda *args, **kwargs: False


def _registry():
    """(name, INSTRUCTION_DICT, util module) of the installed official implementation, or None."""
    for name, module, util in (("lm-eval ifeval", "lm_eval.tasks.ifeval.instructions_registry",
                                "lm_eval.tasks.ifeval.instructions_util"),
                               ("ifbench", "ifbench.instructions_registry", "ifbench.instructions_util")):
        try:
            logging.disable(logging.CRITICAL)
            _no_downloads()  # their import asks nltk to download data: offline that only prints errors
            registry = __import__(module, fromlist=["INSTRUCTION_DICT"])
            return name, registry.INSTRUCTION_DICT, __import__(util, fromlist=["count_sentences"])
        except ImportError:
            continue
        finally:
            logging.disable(logging.NOTSET)
    return None


def official_checker() -> tuple[str, Official, set[str]] | None:
    """The installed official checker as a function, with its name and the ids it knows."""
    found = _registry()
    if found is None:
        return None
    name, instructions, util = found
    import langdetect
    import nltk

    try:
        util.count_sentences("One. Two.")
    except Exception:  # a pickled Punkt model nltk no longer loads: the same model from punkt_tab
        util._get_sentence_tokenizer = lambda: nltk.tokenize.PunktTokenizer("english")

    def follows(instruction_id: str, kwargs: dict, prompt: str, response: str) -> bool:
        langdetect.DetectorFactory.seed = 0
        checker = instructions[instruction_id](instruction_id)
        checker.build_description(**{k: v for k, v in kwargs.items() if v is not None})
        args = checker.get_instruction_args()
        if args and "prompt" in args:
            checker.build_description(prompt=prompt)
        logging.disable(logging.CRITICAL)  # langdetect failures are logged as errors, then passed
        try:
            return bool(response.strip()) and bool(checker.check_following(response))
        finally:
            logging.disable(logging.NOTSET)

    return name, follows, set(instructions)


def load_rows(prompts: Path | None, responses: Path | None) -> list[dict]:
    """Rows {key, prompt, instruction_id_list, kwargs, response[, official]}."""
    if prompts is None:
        return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    answers = {}  # by key where the response rows have one, else by prompt text
    for line in responses.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            answers[("key", str(row["key"])) if "key" in row else ("prompt", row["prompt"])] = row["response"]
    rows = []
    for line in prompts.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            response = answers.get(("key", str(row.get("key"))), answers.get(("prompt", row["prompt"])))
            if response is not None:
                rows.append({**row, "response": response})
    return rows


def excluded(instruction_id: str, kwargs: dict) -> str | None:
    """Why the official verdict on this instruction is not a reference, or None."""
    letter = str(kwargs.get("letter") or "")
    if instruction_id == "keywords:letter_frequency" and not ("a" <= letter.lower() <= "z" and len(letter) == 1):
        return f"official checker replaces the non-letter {letter!r} with a random letter"
    return None


def compare(rows: list[dict], official: Official | None, official_ids: set[str] | None = None) -> list[dict]:
    """One result per instruction: ours, official (None when unknown), our critique, and why
    it is left out of agreement (``note``)."""
    results = []
    for row in rows:
        recorded = row.get("official")
        for n, (instruction_id, kwargs) in enumerate(zip(row["instruction_id_list"], row["kwargs"])):
            kwargs = {k: v for k, v in kwargs.items() if v is not None}
            response = row["response"]
            ours, critique, note = None, None, excluded(instruction_id, kwargs)
            if instruction_id in SPECS:
                result = check(instruction_id, response, kwargs)
                ours, critique = bool(response.strip()) and result.ok, result.critique
            else:
                note = "no rule checker (reported unsupported)"
            if note:  # nothing to compare, or no reference: the official side is not asked
                theirs = None
            elif official is not None:
                known = official_ids is None or instruction_id in official_ids
                try:
                    theirs = official(instruction_id, kwargs, row["prompt"], response) if known else None
                except LookupError as err:  # nltk data the official checker needs and cannot download
                    theirs, note = None, f"official checker failed: {str(err).split(chr(10))[2].strip()[:60]}"
            else:
                theirs = recorded[n] if recorded else None
            if theirs is None and note is None:
                note = "no official verdict"
            results.append({"key": row.get("key"), "instruction_id": instruction_id, "kwargs": kwargs,
                            "ours": ours, "official": theirs, "critique": critique, "note": note})
    return results


def summary(results: list[dict]) -> dict:
    """Agreement counts: per type {n, agree}, instructions, prompts (a prompt agrees when all its
    compared instructions do), and the disagreements."""
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    prompts: dict = defaultdict(lambda: True)
    disagreements = []
    for r in results:
        if r["note"]:
            continue
        same = r["ours"] == r["official"]
        per_type[r["instruction_id"]][0] += 1
        per_type[r["instruction_id"]][1] += same
        prompts[r["key"]] &= same
        if not same:
            disagreements.append(r)
    n = sum(v[0] for v in per_type.values())
    return {"per_type": dict(sorted(per_type.items())), "instructions": n,
            "instructions_agree": sum(v[1] for v in per_type.values()),
            "prompts": len(prompts), "prompts_agree": sum(prompts.values()), "disagreements": disagreements,
            "left_out": [r for r in results if r["note"]]}


def render(stats: dict, source: str, console: Console) -> None:
    table = Table(title=f"rule judge vs {source} (strict verdicts)")
    for column in ("instruction id", "n", "agree", "share"):
        table.add_column(column, justify="left" if column == "instruction id" else "right")
    for instruction_id, (n, agree) in stats["per_type"].items():
        table.add_row(instruction_id, str(n), str(agree), f"{agree / n:.1%}")
    table.add_section()
    for level in ("instructions", "prompts"):
        n, agree = stats[level], stats[f"{level}_agree"]
        table.add_row(f"all {level}", str(n), str(agree), f"{agree / n:.1%}" if n else "-")
    console.print(table)
    for r in stats["disagreements"]:
        console.print(f"[bold]disagree[/] key {r['key']} {r['instruction_id']} {r['kwargs']}: ours "
                      f"{'follows' if r['ours'] else 'violates'}, official {'follows' if r['official'] else 'violates'}"
                      + (f" — {r['critique'][:200]}" if r["critique"] else ""), highlight=False)
    notes: dict[str, int] = defaultdict(int)
    for r in stats["left_out"]:
        notes[f"{r['instruction_id']}: {r['note']}"] += 1
    for note, count in sorted(notes.items()):
        console.print(f"left out ({count}): {note}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=Path, help="IFEval-format prompts (default: the committed sample)")
    parser.add_argument("--responses", type=Path, help="responses, matched to --prompts on the prompt text")
    parser.add_argument("--record", type=Path, metavar="OUT",
                        help="write the rows with the official verdicts (field 'official') to OUT")
    parser.add_argument("--recorded", action="store_true",
                        help="use the verdicts recorded in the rows even when an official checker is installed")
    args = parser.parse_args(argv)
    if (args.prompts is None) != (args.responses is None):
        parser.error("--prompts and --responses go together")
    rows = load_rows(args.prompts, args.responses)
    found = None if args.recorded else official_checker()
    if found is None and args.record:
        parser.error("--record needs an official checker installed (lm-eval or ifbench)")
    source = f"{found[0]} (installed)" if found else "official verdicts recorded in the rows"
    results = compare(rows, found[1] if found else None, found[2] if found else None)
    if args.record:
        by_row = iter(results)
        with args.record.open("w", encoding="utf-8") as out:
            for row in rows:
                verdicts = [next(by_row)["official"] for _ in row["instruction_id_list"]]
                out.write(json.dumps({**row, "official": verdicts}, ensure_ascii=False) + "\n")
    render(summary(results), source, Console())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
