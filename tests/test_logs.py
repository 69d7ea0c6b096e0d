"""Long jobs read from a log file: progress lines, full-width tables, what max_length cut, the
last logged step, no third-party warnings; the online recipe's training section offline; JSON
summaries on stdout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from cut.records import Record, write_jsonl

ENV = {**{k: v for k, v in os.environ.items() if k != "COLUMNS"}, "HF_HUB_OFFLINE": "1",
       "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "CUT_PROGRESS_SECONDS": "0"}
LONG = "The ocean is large, blue and full of fish. " + "apples pears plums " * 30


def cut_to_file(log, *args, timeout=300):
    """`cut ARGS` with stdout and stderr in one file, as under nohup; returns (exit code, log text)."""
    with open(log, "w") as f:
        code = subprocess.run([sys.executable, "-m", "cut", *map(str, args)], stdout=f, stderr=subprocess.STDOUT,
                              env=ENV, timeout=timeout).returncode
    return code, log.read_text()


@pytest.fixture(scope="module")
def train_log(tiny_model_dir, tmp_path_factory):
    """Three steps of two records each, logged every 2 steps, responses longer than max_length."""
    tmp = tmp_path_factory.mktemp("logs")
    recs = [Record("Write about the ocean without commas.", LONG, 'A comma in "large, blue".', id=f"n{i}")
            for i in range(3)] + [Record("Say the capital of France.", "The capital of France is Paris.", None,
                                         id=f"p{i}") for i in range(3)]
    write_jsonl(tmp / "j.jsonl", recs)
    code, text = cut_to_file(tmp / "train.log", "train", "--data", tmp / "j.jsonl", "--model", tiny_model_dir,
                             "-o", tmp / "run", "--max-steps", 3, "per_device_train_batch_size=2", "logging_steps=2",
                             "positive_ratio=null", "max_length=96")
    assert code == 0, text[-3000:]
    return text


def test_training_in_a_log_prints_progress_lines(train_log):
    lines = train_log.splitlines()
    progress = [line for line in lines if line.startswith("CUT train: ")]
    assert [p.split(" · ")[0] for p in progress] == ["CUT train: 1/3 (33%)", "CUT train: 2/3 (67%)",
                                                     "CUT train: 3/3 (100%)"]
    assert re.fullmatch(r"CUT train: 3/3 \(100%\) · \d+\.\d+(/s| s each) · elapsed \d:\d\d:\d\d · eta 0:00:00 · loss=\S+ .*",
                        progress[-1])
    assert " · loss=" in progress[-1]  # the latest logged loss rides along
    assert any(line.startswith("step 2 loss=") for line in lines)


def test_the_last_step_is_logged_and_the_table_is_whole(train_log):
    assert any(line.startswith("step 3 loss=") for line in train_log.splitlines())  # 3 is no multiple of 2
    table = train_log[train_log.index("training log"):]
    assert re.search(r"│\s+2 │", table) and re.search(r"│\s+3 │", table)
    for header in ("loss_like", "loss_unlike", "flagged_frac", "log_ratio_mean"):
        assert header in table  # not cut to `loss_l…` at 80 columns
    assert "…" not in train_log


def test_truncation_is_said_in_the_summary(train_log):
    notes = re.findall(r"max_length=96: (\d+) response\(s\) truncated \((\d+) tokens cut from their ends\); "
                       r"raise max_length to train them whole", train_log)
    assert len(notes) == 2  # under the data report, and again after training
    assert notes[0] == notes[1] and int(notes[0][0]) == 3 and int(notes[0][1]) > 3 * 30
    assert re.search(r"truncated to max_length \(response end\)\s+│\s+3 \(\d+ tokens cut\)", train_log)


def test_no_peft_deprecation_warning(train_log):
    assert "is_gradient_checkpointing" not in train_log and "FutureWarning" not in train_log


def test_online_recipe_trains_offline(tiny_model_dir, tmp_path):
    recs = [Record("Write about the ocean without commas.", "The ocean is large, blue and full of fish.",
                   'A comma in "large, blue".', revision="The ocean is large and blue and full of fish.", id=f"n{i}")
            for i in range(4)]
    write_jsonl(tmp_path / "j.jsonl", recs)
    code, text = cut_to_file(tmp_path / "train.log", "train", "--data", tmp_path / "j.jsonl", "--config", "online-cpu",
                             "--model", tiny_model_dir, "-o", tmp_path / "run", "--max-steps", 2)
    assert code == 0, text[-3000:]
    assert ("online-cpu.yaml is an online recipe: training with its train: section over cpu-default (the loop "
            "trains round r with seed + r); ignoring the loop's carry, eval_limit, eval_max_new_tokens, eval_prompts, "
            "gen_batch_size, judge, max_new_tokens, prompts, prompts_per_round, rounds, run_dir, samples_per_prompt, "
            "temperature, top_p") in text.splitlines()
    saved = json.loads((tmp_path / "run" / "cut_config.json").read_text())
    # train: section, the recipe's method and detector, cpu-default beneath, the command line on top
    assert (saved["cut_beta"], saved["align_n"], saved["max_length"], saved["learning_rate"]) == (0.0, False, 320, 3e-4)
    assert (saved["detector"], saved["seed"], saved["lr_scheduler_type"]) == ("revision", 0, "cosine")
    assert saved["model"] == str(tiny_model_dir) and saved["max_steps"] == 2
    assert (tmp_path / "run" / "adapter_model.safetensors").exists()


def test_a_table_in_a_file_keeps_its_longest_instruction_id_on_one_line(tmp_path):
    from cut.evaluation.verifiable import render_table
    from cut.judges.checkers import SPECS
    from cut.progress import make_console

    longest = max(SPECS, key=len)
    cell = {"prompt_level_strict": 0.5, "prompt_level_strict_ci": [0.1, 0.9], "prompt_level_loose": 0.5,
            "prompt_level_loose_ci": [0.1, 0.9]}
    result = {"n_prompts": 2, "n_instructions": 2, **cell, **{k.replace("prompt_level", "instruction_level"): v
                                                             for k, v in cell.items()},
              "per_type": {longest: {"n": 2, "strict": 0.5, "loose": 0.5}}}
    with open(tmp_path / "table.txt", "w") as f:
        make_console(stderr=False, file=f).print(render_table(result))
    assert any(longest in line for line in (tmp_path / "table.txt").read_text().splitlines())


def test_collect_json_is_one_document_on_stdout(tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"key": 1, "prompt": "Describe the sea. Do not use any commas.",
                                   "instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}) + "\n")
    responses = tmp_path / "r.jsonl"
    responses.write_text(json.dumps({"key": 1, "response": "The sea is big, and blue"}) + "\n")
    r = subprocess.run([sys.executable, "-m", "cut", "collect", "--prompts", prompts, "--responses", responses,
                        "-o", tmp_path / "out.jsonl", "--json"], capture_output=True, text=True, env=ENV, timeout=120)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert (summary["total"], summary["judged"], summary["negative"], summary["exit_code"]) == (1, 1, 1, 0)
    assert "cut collect" in r.stderr and "judging (rules): 1/1 (100%)" in r.stderr  # table and progress: stderr


def test_only_the_named_peft_warning_is_filtered_and_only_around_peft():
    import warnings

    from cut.models import _quiet_peft

    message = "`is_gradient_checkpointing` is deprecated and will be removed in v6."
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with _quiet_peft():
            warnings.warn(message, FutureWarning)
            warnings.warn("another deprecation", FutureWarning)
        warnings.warn(message, FutureWarning)  # outside the peft calls: shown
    assert [str(w.message) for w in seen] == ["another deprecation", message]
