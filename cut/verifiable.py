"""Verifiable prompts: a seeded generator, and IFEval-format files.

A verifiable prompt is a task ("Write a short poem about owls.") plus constraints a program
can check ("Do not use any commas in your response."), carried as data in IFEval's shape
(``instruction_id_list`` + ``kwargs``), so the rule judge can judge responses to it and
``cut.evaluation.verifiable`` can score them. IFEval files (Zhou et al. 2023) load as they are.

Tasks are templates × subjects (11 × 80 = 880). Subjects are split into train and eval by a
hash of their name, so the two splits share no subject, no task and no prompt; and each split
states a constraint in its own words (``cut.phrasings``), so no held-out constraint sentence
is ever trained on. Constraints
are drawn from ``DEFAULT_CONSTRAINTS`` — ones a 135M model can sometimes satisfy: short word
and sentence limits, no commas, lowercase, a topical keyword, a fixed start or end, a title,
2-4 bullets, 1-2 highlights or placeholders, a postscript, quotation marks.

Regenerate the bundled held-out set with
``python -m cut.verifiable --write-heldout eval/verifiable-heldout.jsonl``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from cut.errors import CutError
from cut.judges.checkers import SPECS, validate_kwargs
from cut.phrasings import phrase
from cut.records import RecordError, iter_jsonl, write_jsonl

# (subject, three topical keywords) — keywords feed the keyword constraints.
SUBJECTS = [
    ("the ocean", "water waves fish"), ("honeybees", "honey flowers hive"), ("volcanoes", "lava eruption mountain"),
    ("the moon", "night orbit light"), ("coffee", "beans morning cup"), ("bicycles", "wheels ride pedal"),
    ("rainforests", "trees rain animals"), ("chess", "board pieces strategy"), ("libraries", "books reading quiet"),
    ("baking bread", "flour oven dough"), ("winter", "snow cold ice"), ("gardening", "soil plants seeds"),
    ("the human heart", "blood beat body"), ("trains", "tracks station travel"), ("music", "song rhythm melody"),
    ("deserts", "sand heat cactus"), ("recycling", "plastic waste bins"), ("dinosaurs", "fossils bones extinct"),
    ("the internet", "network websites data"), ("friendship", "trust kindness time"),
    ("electricity", "power current energy"), ("photography", "camera light picture"),
    ("the solar system", "planets sun orbit"), ("whales", "ocean mammal song"), ("mountains", "peak climb snow"),
    ("cooking pasta", "water sauce boil"), ("sleep", "rest dreams night"), ("rivers", "water flow fish"),
    ("birds", "wings nest feathers"), ("football", "ball team goal"), ("the post office", "letters mail stamps"),
    ("airplanes", "flight wings pilot"), ("kites", "wind string sky"), ("tea", "leaves cup hot"),
    ("cats", "purr whiskers pet"), ("dogs", "loyal walk bark"), ("robots", "machines program sensors"),
    ("rain", "clouds water umbrella"), ("the alphabet", "letters words learning"), ("maps", "roads directions places"),
    ("clocks", "time hands hours"), ("bridges", "river build cross"), ("money", "coins save spend"),
    ("forests", "trees wood animals"), ("the sun", "light heat star"), ("snowmen", "snow carrot winter"),
    ("museums", "art history exhibits"), ("farming", "crops tractor harvest"), ("ice cream", "cold sweet flavor"),
    ("pizza", "cheese dough oven"), ("islands", "sea beach boat"), ("penguins", "ice swim birds"),
    ("lighthouses", "light ships coast"), ("gold", "metal shiny value"), ("the brain", "memory neurons think"),
    ("exercise", "health running muscles"), ("camping", "tent fire outdoors"), ("board games", "dice players rules"),
    ("newspapers", "news paper stories"), ("vaccines", "immune disease doctors"),
    ("earthquakes", "shaking ground plates"), ("tornadoes", "wind storm spin"),
    ("butterflies", "wings caterpillar flowers"), ("ants", "colony queen tiny"),
    ("space travel", "rocket astronauts stars"), ("smartphones", "screen apps battery"),
    ("origami", "paper fold shapes"), ("knitting", "yarn needles scarf"), ("birthdays", "cake candles party"),
    ("the color blue", "sky sea calm"), ("mathematics", "numbers equations logic"),
    ("chocolate", "cocoa sweet bar"), ("tomatoes", "red garden salad"), ("soap", "clean bubbles wash"),
    ("fireworks", "sparks night celebration"), ("glaciers", "ice melt cold"), ("public parks", "trees benches paths"),
    ("owls", "night feathers hoot"), ("coral reefs", "fish colorful ocean"), ("windmills", "wind energy blades"),
]
TEMPLATES = [
    "Write a short paragraph about {}.", "Describe {} to a curious child.",
    "Explain what makes {} worth learning about.",
    "Write a short story that involves {}.", "Write a short poem about {}.", "Tell me something interesting about {}.",
    "Write a short blog post about {}.", "Write a friendly note to a friend about {}.",
    "Summarize what you know about {}.", "Give some advice to someone who wants to learn about {}.",
    "Write a short speech about {}.",
]
EVAL_FRACTION = 0.25  # of subjects

# Options per constraint, as functions of the subject's keywords. Upper limits are small
# because a 135M model writes short answers; phrases contain no commas (see _INCOMPATIBLE).
_OPTIONS = {
    "punctuation:no_comma": lambda kws: [{}],
    "length_constraints:number_words": lambda kws: [{"relation": "less than", "num_words": n}
                                                    for n in (40, 60, 80)],
    "length_constraints:number_sentences": lambda kws: [{"relation": "less than", "num_sentences": n}
                                                        for n in (3, 4, 5)],
    "length_constraints:number_paragraphs": lambda kws: [{"num_paragraphs": n} for n in (2, 3)],
    "change_case:english_lowercase": lambda kws: [{}],
    "change_case:english_capital": lambda kws: [{}],
    "keywords:existence": lambda kws: [{"keywords": [k]} for k in kws],
    "keywords:forbidden_words": lambda kws: [{"forbidden_words": [k]} for k in kws],
    "keywords:frequency": lambda kws: [{"keyword": k, "frequency": 2, "relation": "at least"} for k in kws],
    "startend:end_checker": lambda kws: [{"end_phrase": p} for p in (
        "Is there anything else I can help with?", "That is all.", "Thanks for reading!")],
    "startend:start_checker": lambda kws: [{"start_phrase": p} for p in (
        "Here is my answer:", "Sure thing!", "Let me explain.")],
    "startend:quotation": lambda kws: [{}],
    "detectable_content:postscript": lambda kws: [{"postscript_marker": m} for m in ("P.S.", "P.P.S")],
    "detectable_content:number_placeholders": lambda kws: [{"num_placeholders": n} for n in (1, 2)],
    "detectable_format:title": lambda kws: [{}],
    "detectable_format:number_bullet_lists": lambda kws: [{"num_bullets": n} for n in (2, 3, 4)],
    "detectable_format:number_highlighted_sections": lambda kws: [{"num_highlights": n} for n in (1, 2)],
    "detectable_format:json_format": lambda kws: [{}],
}
DEFAULT_CONSTRAINTS: list[str] = [
    "punctuation:no_comma", "length_constraints:number_words", "length_constraints:number_sentences",
    "change_case:english_lowercase", "keywords:existence", "keywords:forbidden_words", "keywords:frequency",
    "startend:end_checker", "startend:start_checker", "startend:quotation", "detectable_content:postscript",
    "detectable_content:number_placeholders", "detectable_format:title", "detectable_format:number_bullet_lists",
    "detectable_format:number_highlighted_sections",
]
_JSON_CLASHES = ("punctuation:no_comma", "startend:end_checker", "startend:start_checker", "startend:quotation",
                 "detectable_content:postscript", "detectable_content:number_placeholders", "detectable_format:title",
                 "detectable_format:number_bullet_lists", "detectable_format:number_highlighted_sections",
                 "length_constraints:number_paragraphs", "length_constraints:number_sentences")
# Pairs never combined in one prompt: contradictory, or both claiming the same spot.
_INCOMPATIBLE = {frozenset(p) for p in [
    ("change_case:english_lowercase", "change_case:english_capital"),
    ("change_case:english_lowercase", "detectable_content:postscript"),  # "P.S." is capitalised
    ("keywords:forbidden_words", "keywords:existence"), ("keywords:forbidden_words", "keywords:frequency"),
    ("startend:end_checker", "detectable_content:postscript"),  # both want the end of the response
    ("startend:start_checker", "detectable_format:title"),  # both want the start
    ("length_constraints:number_sentences", "detectable_format:number_bullet_lists"),
    *(("detectable_format:json_format", other) for other in _JSON_CLASHES),
]}

HELDOUT = {"n": 300, "split": "eval", "seed": 0, "max_constraints": 1}


@dataclass
class VerifiablePrompt:
    key: str
    prompt: str
    instruction_id_list: list[str]
    kwargs: list[dict]
    topic: str = ""

    def as_metadata(self) -> dict:
        """The constraints as the rule judge reads them from ``JudgeItem.metadata`` (and as
        they can be kept in ``Record.metadata``)."""
        return {"key": self.key, "instruction_id_list": list(self.instruction_id_list),
                "kwargs": [dict(k) for k in self.kwargs]}


def _in_eval(subject: str) -> bool:
    digest = hashlib.sha256(f"cut-verifiable-split:{subject}".encode()).digest()
    return int.from_bytes(digest[:4], "big") < EVAL_FRACTION * 2**32


def split_tasks(split: str) -> list[tuple[str, str, list[str]]]:
    """(task text, subject, keywords) of every task in ``split`` ("train" or "eval")."""
    if split not in ("train", "eval"):
        raise CutError(f"unknown split {split!r}: use 'train' or 'eval'")
    return [(t.format(s), s, kws.split()) for s, kws in SUBJECTS if _in_eval(s) == (split == "eval")
            for t in TEMPLATES]


def compatible(a: str, b: str) -> bool:
    return a != b and frozenset((a, b)) not in _INCOMPATIBLE


def _extras(rng: random.Random, primary: str, ids: list[str], k: int, keywords: list[str]) -> list[tuple[str, dict]]:
    """Up to ``k`` more constraints, each compatible with all already chosen."""
    chosen = [primary]
    for cid in rng.sample(ids, len(ids)):
        if len(chosen) > k:
            break
        if all(compatible(cid, c) for c in chosen):
            chosen.append(cid)
    return [(cid, rng.choice(_OPTIONS[cid](keywords))) for cid in chosen[1:]]


def generate_prompts(n: int, split: str = "train", seed: int = 0, constraint_ids: list[str] | None = None,
                     max_constraints: int = 1) -> list[VerifiablePrompt]:
    """``n`` distinct prompts, deterministic in (split, seed, constraint_ids, max_constraints).

    Prompts cycle through the constraint ids, so every prefix is balanced across them; each
    (task, first constraint) pair is used at most once, so the supply is the number of such
    pairs, and asking for more is a CutError. With ``max_constraints`` > 1 each prompt gets
    1..max_constraints compatible constraints.
    """
    ids = list(constraint_ids or DEFAULT_CONSTRAINTS)
    bad = [i for i in ids if i not in _OPTIONS]
    if bad:
        raise CutError(f"the prompt generator cannot draw {', '.join(bad)}; it draws from {', '.join(_OPTIONS)}")
    if len(set(ids)) != len(ids) or max_constraints < 1 or n < 0:
        raise CutError("constraint ids must be distinct, max_constraints >= 1 and n >= 0")
    rng = random.Random(f"cut-verifiable:{split}:{seed}")
    tasks = split_tasks(split)
    pools = {}
    for cid in ids:
        pools[cid] = [(task, subject, kws, opt) for task, subject, kws in tasks for opt in _OPTIONS[cid](kws)]
        rng.shuffle(pools[cid])
    supply = sum(map(len, pools.values()))
    if n > supply:
        raise CutError(f"asked for {n} prompts but the {split!r} split supplies only {supply} distinct ones "
                       f"for constraints {', '.join(ids)}")
    prompts, seen, turn = [], set(), 0
    while len(prompts) < n:
        cid = ids[turn % len(ids)]
        turn += 1
        if not pools[cid]:
            continue
        task, subject, kws, opt = pools[cid].pop()
        constraints = [(cid, opt)] + _extras(rng, cid, ids, rng.randint(1, max_constraints) - 1, kws)
        identity = (task, frozenset((c, json.dumps(o, sort_keys=True)) for c, o in constraints))
        if len(constraints) > 1 and identity in seen:  # the first constraint alone is unique
            constraints = constraints[:1]
            identity = (task, frozenset([(cid, json.dumps(opt, sort_keys=True))]))
        seen.add(identity)
        text = " ".join([task] + [phrase(c, o, split) for c, o in constraints])
        prompts.append(VerifiablePrompt(f"{split}-s{seed}-{len(prompts):05d}", text, [c for c, _ in constraints],
                                        [dict(o) for _, o in constraints], subject))
    return prompts


def heldout_prompts() -> list[VerifiablePrompt]:
    """The bundled held-out set (``eval/verifiable-heldout.jsonl``), regenerated."""
    return generate_prompts(HELDOUT["n"], HELDOUT["split"], HELDOUT["seed"], max_constraints=HELDOUT["max_constraints"])


def _field(obj: dict, name: str, path, line: int):
    if name not in obj:
        raise RecordError(path, line, name, "missing required field")
    return obj[name]


def _prompt_from_dict(obj, path, line: int) -> VerifiablePrompt:
    if not isinstance(obj, dict):
        raise RecordError(path, line, None, f"expected a JSON object, got {type(obj).__name__}")
    prompt, ids, kwargs = (_field(obj, k, path, line) for k in ("prompt", "instruction_id_list", "kwargs"))
    key = obj.get("key", line)
    if isinstance(key, bool) or not isinstance(key, (str, int)):
        raise RecordError(path, line, "key", f"expected string or integer, got {type(key).__name__}")
    if not isinstance(prompt, str):
        raise RecordError(path, line, "prompt", f"expected string, got {type(prompt).__name__}")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise RecordError(path, line, "instruction_id_list", "expected a non-empty list of strings")
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        raise RecordError(path, line, "kwargs", f"expected a list of {len(ids)} objects (one per instruction id)")
    clean = []
    for cid, kw in zip(ids, kwargs):
        if not isinstance(kw, dict):
            raise RecordError(path, line, "kwargs", f"expected an object for {cid}, got {type(kw).__name__}")
        try:  # ids we implement are validated now; others are kept for the judge to report
            clean.append(validate_kwargs(cid, kw) if cid in SPECS else {k: v for k, v in kw.items() if v is not None})
        except CutError as err:
            raise RecordError(path, line, "kwargs", str(err)) from None
    return VerifiablePrompt(str(key), prompt, list(ids), clean, str(obj.get("topic", "")))


def read_ifeval(path: str | os.PathLike) -> list[VerifiablePrompt]:
    """Read IFEval JSONL (``key``, ``prompt``, ``instruction_id_list``, ``kwargs``); bad lines
    raise RecordError naming file, line and field. Null kwargs are dropped."""
    return [_prompt_from_dict(obj, path, line) for line, obj in iter_jsonl(path)]


def write_ifeval(path: str | os.PathLike, prompts: list[VerifiablePrompt]) -> None:
    """Write IFEval JSONL atomically; numeric keys are written as integers, as IFEval's are."""
    write_jsonl(path, [{"key": int(p.key) if p.key.isdigit() else p.key, "prompt": p.prompt,
                        "instruction_id_list": p.instruction_id_list, "kwargs": p.kwargs} for p in prompts])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cut.verifiable", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write-heldout", metavar="PATH", type=Path, required=True,
                        help="write the bundled held-out set (300 eval-split prompts) to PATH")
    args = parser.parse_args(argv)
    prompts = heldout_prompts()
    write_ifeval(args.write_heldout, prompts)
    print(f"wrote {len(prompts)} prompts to {args.write_heldout}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
