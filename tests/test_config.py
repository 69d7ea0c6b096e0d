"""Recipes plus key=value overrides: typed parsing and dotted keys into mapping settings."""

from __future__ import annotations

import pytest

from cut.config import build_config, parse_overrides
from cut.errors import CutError
from cut.online import OnlineConfig


def test_dotted_override_sets_one_key_and_keeps_the_recipe_others():
    config = build_config(OnlineConfig, "online-cpu", parse_overrides(["train.cut_beta=0", "rounds=2"]))
    assert config.train["cut_beta"] == 0 and config.rounds == 2
    assert config.train["learning_rate"] == 3.0e-4 and config.train["per_device_train_batch_size"] == 8


def test_plain_override_replaces_a_mapping_whole():
    config = build_config(OnlineConfig, "online-cpu", parse_overrides(["train={cut_beta: 0}"]))
    assert config.train == {"cut_beta": 0}


def test_dotted_override_into_a_non_mapping_is_an_error():
    with pytest.raises(CutError, match="rounds is not a mapping"):
        build_config(OnlineConfig, "online-cpu", parse_overrides(["rounds.x=1"]))


def test_an_online_recipe_gives_its_training_part_and_overrides_win(capsys):
    from cut.trainer import CUTConfig

    config = build_config(CUTConfig, "online-quick", {"learning_rate": 1e-4})
    assert (config.max_length, config.cut_beta, config.align_n, config.detector) == (192, 0.0, False, "revision")
    assert config.learning_rate == 1e-4 and config.lr_scheduler_type == "cosine"  # override; cpu-default beneath
    note = capsys.readouterr().err.splitlines()
    assert len(note) == 1 and note[0].startswith("online-quick.yaml is an online recipe") and "rounds" in note[0]


def test_offline_command_builds_the_same_config(tmp_path, monkeypatch):
    import shlex

    import cut.offline
    from cut.cli import main
    from cut.config import config_to_dict, offline_command
    from cut.trainer import CUTConfig

    class Built(Exception):
        pass

    def capture(config):
        raise Built(config)

    overrides = {"positive_ratio": None, "cut_beta": 0.0, "lora_target_modules": ["q_proj", "v_proj"],
                 "data": [str(tmp_path / "a b.jsonl")], "output_dir": str(tmp_path / "out"), "method": "cut",
                 "template": "auto", "seed": 3, "model": str(tmp_path / "m"), "init_adapter": str(tmp_path / "ad")}
    line = offline_command("cpu-default", overrides)
    assert line.startswith("cut train --config cpu-default --model ") and f"--data '{tmp_path}/a b.jsonl'" in line
    monkeypatch.setattr(cut.offline, "train_offline", capture)
    with pytest.raises(Built) as built:
        main(shlex.split(line)[1:])
    expected = build_config(CUTConfig, "cpu-default", overrides)
    assert config_to_dict(built.value.args[0]) == config_to_dict(expected)
