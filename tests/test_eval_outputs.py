"""Model outputs for an evaluation set (AlpacaEval's model_outputs shape), with the tiny model."""

from __future__ import annotations

import json

import pytest

from cut.errors import CutError
from cut.evaluation.outputs import generate_outputs, generator_name, read_instructions

ALPACA_SET = [{"instruction": "Name a fruit.", "output": "An apple.", "generator": "ref", "dataset": "koala"},
              {"instruction": "Say hello.", "output": "Hello!", "generator": "ref", "dataset": "oasst"},
              {"instruction": "Count to three.", "output": "1, 2, 3", "generator": "ref", "dataset": "koala"}]


def test_read_instructions_from_alpaca_eval_and_ifeval_files(tmp_path):
    alpaca = tmp_path / "set.json"
    alpaca.write_text(json.dumps(ALPACA_SET))
    assert read_instructions(alpaca, limit=2) == [{"instruction": "Name a fruit.", "dataset": "koala"},
                                                  {"instruction": "Say hello.", "dataset": "oasst"}]
    ifeval = tmp_path / "verifiable-mini.jsonl"
    ifeval.write_text(json.dumps({"key": 1, "prompt": "Write a poem. Do not use any commas.",
                                  "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}) + "\n")
    # IFEval rows have no dataset field: the file's stem names the set
    assert read_instructions(ifeval) == [{"instruction": "Write a poem. Do not use any commas.",
                                          "dataset": "verifiable-mini"}]
    with pytest.raises(CutError, match="at least 1"):
        read_instructions(alpaca, limit=0)


def test_generator_name():
    assert generator_name("smollm2-135m-instruct") == "smollm2-135m-instruct"
    assert generator_name("org/Model-1B") == "org/Model-1B"
    assert generator_name("/nowhere/weights.gguf") == "weights"


def test_generate_writes_model_outputs_and_resumes(tiny_model_dir, tmp_path):
    out = tmp_path / "o" / "model_outputs.json"
    first = generate_outputs(str(tiny_model_dir), ALPACA_SET, out, generator="tiny", max_new_tokens=6,
                             batch_size=2, progress=False)
    written = json.loads(out.read_text())
    assert written == first["rows"] and (first["generated"], first["reused"]) == (3, 0)
    assert [(r["instruction"], r["generator"], r["dataset"]) for r in written] == \
        [(a["instruction"], "tiny", a["dataset"]) for a in ALPACA_SET]  # set order, dataset kept
    assert all(isinstance(r["output"], str) for r in written)
    # Greedy: the same rows again. A rerun keeps them without loading any model (the bogus
    # path would fail to load), and a longer set generates only what is new.
    again = generate_outputs("/no/such/model", ALPACA_SET, out, generator="tiny", progress=False)
    assert again["rows"] == written and (again["generated"], again["reused"]) == (0, 3)
    more = ALPACA_SET + [{"instruction": "Name a colour.", "dataset": "vicuna"}]
    grown = generate_outputs(str(tiny_model_dir), more, out, generator="tiny", max_new_tokens=6, progress=False)
    assert (grown["generated"], grown["reused"]) == (1, 3) and grown["rows"][:3] == written
    fresh = generate_outputs(str(tiny_model_dir), ALPACA_SET[:1], tmp_path / "fresh.json", generator="tiny",
                             max_new_tokens=6, progress=False)
    assert fresh["rows"][0]["output"] == written[0]["output"]  # greedy decoding does not depend on batching
    with pytest.raises(CutError, match="holds outputs of 'tiny', not 'other'"):
        generate_outputs(str(tiny_model_dir), ALPACA_SET, out, generator="other", progress=False)
