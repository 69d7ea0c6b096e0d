"""QLoRA: a 4-bit (and 8-bit) bitsandbytes base with a LoRA adapter trains on the CPU."""

from __future__ import annotations

import pytest

from cut.config import build_config
from cut.records import Record, write_jsonl
from cut.trainer import CUTConfig

pytest.importorskip("bitsandbytes")


@pytest.mark.parametrize("quantization", ["4bit", "8bit"])
def test_kbit_base_trains_with_lora(tiny_model_dir, tmp_path, quantization):
    from cut.offline import build_model, train_offline

    data = tmp_path / "q.jsonl"
    write_jsonl(data, [Record("Say hi without commas.", "hi, there", 'A comma in "hi, there".', spans=[[2, 3]])] * 4)
    config = build_config(CUTConfig, None, dict(
        model=str(tiny_model_dir), data=[str(data)], output_dir=str(tmp_path / quantization), quantization=quantization,
        max_steps=2, per_device_train_batch_size=2, logging_steps=1, report_to="none", use_cpu=True,
        positive_ratio=None))
    model, _ = build_model(config)
    kinds = {type(m).__name__ for m in model.modules()}
    assert ("Linear4bit" if quantization == "4bit" else "Linear8bitLt") in kinds
    result = train_offline(config)
    losses = [h["loss"] for h in result.history if "loss" in h]
    assert result.global_step == 2 and len(losses) == 2 and all(0 < v < 100 for v in losses)
    assert (tmp_path / quantization / "adapter_model.safetensors").exists()


def test_full_finetune_of_a_kbit_base_is_refused(tiny_model_dir, tmp_path):
    from cut.errors import CutError
    from cut.offline import build_model

    config = build_config(CUTConfig, None, dict(model=str(tiny_model_dir), output_dir=str(tmp_path), quantization="4bit",
                                                finetune="full", report_to="none", use_cpu=True))
    with pytest.raises(CutError, match="full fine-tuning of a 4-bit/8-bit base"):
        build_model(config)
