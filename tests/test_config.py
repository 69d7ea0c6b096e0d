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
