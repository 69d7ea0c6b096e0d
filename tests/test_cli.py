"""The `cut` command end to end through subprocesses: help without torch, train → merge →
detect on a tiny model, clear one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cut.records import Record, write_jsonl

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def cut(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "cut", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=timeout)


@pytest.mark.parametrize("argv", [[], ["train"], ["detect"], ["merge"], ["data"], ["env"], ["eval"], ["collect"]])
def test_help_does_not_import_torch(argv):
    code = ("import sys\nfrom cut.cli import main\n"
            f"try:\n    main({argv + ['--help']!r})\nexcept SystemExit:\n    pass\n"
            "print('HEAVY' if {'torch', 'transformers'} & set(sys.modules) else 'LIGHT')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("LIGHT")


@pytest.fixture()
def records_file(tmp_path):
    recs = [Record("Write about the ocean without commas.", "The ocean is large, blue and full of fish.",
                   'A comma in "large, blue".', spans=[[17, 18]], id="a"),
            Record("Say the capital of France.", "The capital of France is Paris.", None, id="c")]
    path = tmp_path / "j.jsonl"
    write_jsonl(path, recs * 3)
    return path


def test_train_merge_detect_end_to_end(tiny_model_dir, records_file, tmp_path):
    out = tmp_path / "run"
    r = cut("train", "--data", records_file, "--model", tiny_model_dir, "-o", out, "--max-steps", 2,
            "per_device_train_batch_size=2", "logging_steps=1", "positive_ratio=null", "max_length=128")
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / "adapter_model.safetensors").exists()
    saved = json.loads((out / "cut_config.json").read_text())
    assert saved["model"] == str(tiny_model_dir) and saved["max_steps"] == 2 and saved["cut_lambda"] == 1.1

    merged = tmp_path / "merged"
    r = cut("merge", "--adapter", out, "-o", merged)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (merged / "model.safetensors").exists() and (merged / "tokenizer.json").exists()
    adapter_cfg = json.loads((merged / "config.json").read_text())
    assert adapter_cfg["num_hidden_layers"] == 2

    page, summary = tmp_path / "d.html", tmp_path / "d.json"
    r = cut("detect", "--model", merged, "--data", records_file, "--html", page, "--json", summary, "--lambda", 1.0)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(summary.read_text())
    assert data["summary"]["records"] == 3 and data["summary"]["records_with_spans"] == 3
    html = page.read_text()
    assert "large, blue" not in html or "A comma in" in html
    assert 'class="' in html and "precision" in html


def test_bad_input_is_one_line_error(tmp_path, tiny_model_dir):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "q", "response": "r", "judgment": null}\n{"instruction": "q", "response": 3}\n')
    r = cut("train", "--data", bad, "--model", tiny_model_dir, "-o", tmp_path / "o")
    assert r.returncode == 2
    assert f"{bad}:2" in r.stderr and "response" in r.stderr and "Traceback" not in r.stderr
    r = cut("train", "no_such_setting=1", "--data", bad)
    assert r.returncode == 2 and "unknown setting 'no_such_setting'" in r.stderr


def test_eval_verifiable_scores_a_model(tiny_model_dir, tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"key": "k1", "prompt": "Do not use any commas.", "instruction_id_list":
                                   ["punctuation:no_comma"], "kwargs": [{}]}) + "\n")
    out = tmp_path / "eval.jsonl"
    r = cut("eval", "--verifiable", prompts, "--model", tiny_model_dir, "--max-new-tokens", 8, "-o", out, "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    row = json.loads(out.read_text())
    assert result["n_prompts"] == 1 and result["prompt_level_strict"] == float(row["prompt_strict"])
    assert row["prompt_strict"] == ("," not in row["response"] and bool(row["response"].strip()))


def test_eval_verifiable_leaves_out_prompts_it_cannot_check(tiny_model_dir, tmp_path):
    """An IFBench-like file: the prompt whose id has no checker is neither answered nor scored, and is reported."""
    prompts = tmp_path / "p.jsonl"
    rows = [{"key": "k1", "prompt": "No commas.", "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]},
            {"key": "k2", "prompt": "Name people.", "instruction_id_list": ["count:person_names"], "kwargs": [{"N": 3.0}]}]
    prompts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "eval.jsonl"
    r = cut("eval", "--verifiable", prompts, "--model", tiny_model_dir, "--max-new-tokens", 4, "-o", out, "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    result = json.loads(r.stdout)
    assert result["n_prompts"] == 1 and result["unsupported"] == {"n_prompts": 1, "ids": ["count:person_names"]}
    assert [json.loads(line)["key"] for line in out.read_text().splitlines()] == ["k1"]
