"""The CUT trainer on a tiny model: log-probs match the model's own logits, training lowers
the loss and changes only the LoRA weights, and resume continues step count and optimizer."""

from __future__ import annotations

import json

import pytest
import torch

from cut.config import build_config
from cut.records import Record, write_jsonl
from cut.trainer import CUTConfig, CUTTrainer, response_logprobs

RECORDS = [
    Record("Write about the ocean without commas.", "The ocean is large, blue and full of fish.",
           'The response uses a comma in "large, blue"; commas were forbidden.', spans=[[17, 18]], id="a"),
    Record("Answer in lowercase only.", "The capital of France is Paris.",
           'Capital letters in "The" and "Paris"; the instruction asked for lowercase.', spans=[[0, 3], [25, 30]], id="b"),
    Record("Say the capital of France.", "The capital of France is Paris.", None, id="c"),
    Record("Name a fruit.", "apples pears plums", None, id="d"),
]


@pytest.fixture()
def data_file(tmp_path):
    path = tmp_path / "j.jsonl"
    write_jsonl(path, RECORDS * 4)
    return path


def make_config(tiny_model_dir, data_file, out, **kw):
    base = dict(model=str(tiny_model_dir), data=[str(data_file)], output_dir=str(out), positive_ratio=None,
                learning_rate=5e-3, per_device_train_batch_size=4, num_train_epochs=1, logging_steps=1,
                save_steps=2, report_to="none", use_cpu=True, seed=0, lora_target_modules=["gate_proj", "up_proj", "down_proj"],
                lr_scheduler_type="constant", max_length=256)
    base.update(kw)
    return build_config(CUTConfig, None, base)


def test_response_logprobs_match_full_logits(tiny_model_dir, tiny_tokenizer):
    from transformers import AutoModelForCausalLM

    from cut.sequences import SequenceSettings, build_examples, collate
    from cut.templates import Template

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    ex, _ = build_examples(RECORDS, tiny_tokenizer, Template("chat"), SequenceSettings(positive_ratio=None))
    batch = collate(ex, tiny_tokenizer.pad_token_id)
    lp = response_logprobs(model, batch, chunk_size=7)
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
    ref = torch.log_softmax(logits, -1)
    for r in range(lp.shape[0]):
        k = int(batch["resp_mask"][r].sum())
        want = ref[r, batch["pred_pos"][r, :k], batch["targets"][r, :k]]
        torch.testing.assert_close(lp[r, :k], want, atol=1e-5, rtol=1e-5)
        assert torch.all(lp[r, k:] == 0)


def _fixed_loss(trainer, examples, collator):
    trainer.model.eval()  # no dropout: compare like with like
    with torch.no_grad():
        loss = trainer.compute_loss(trainer.model, collator(examples)).item()
    trainer.model.train()
    return loss


def test_training_lowers_loss_and_changes_only_lora(tiny_model_dir, data_file, tmp_path):
    from cut.offline import build_model, load_training_records
    from cut.sequences import Collator, ExampleDataset, SequenceSettings, build_examples
    from cut.templates import choose_template

    config = make_config(tiny_model_dir, data_file, tmp_path / "out", num_train_epochs=3)
    model, tok = build_model(config)
    records, _ = load_training_records(config)
    examples, _ = build_examples(records, tok, choose_template("auto", tok), SequenceSettings(positive_ratio=None))
    collator = Collator(tok.pad_token_id)
    base_before = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" not in n}
    lora_before = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}
    trainer = CUTTrainer(model=model, args=config, train_dataset=ExampleDataset(examples), data_collator=collator)
    before = _fixed_loss(trainer, examples[:8], collator)
    trainer.train()
    after = _fixed_loss(trainer, examples[:8], collator)
    assert after < before - 0.1, (before, after)
    for n, p in model.named_parameters():
        if n in base_before:
            assert torch.equal(p, base_before[n]), f"base weight {n} changed"
    assert any(not torch.equal(p, lora_before[n]) for n, p in model.named_parameters() if n in lora_before)
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert logged and all(k in logged[0] for k in ("loss_like", "loss_unlike", "flagged_frac", "ratio_recall"))


def test_train_offline_writes_artifacts_and_resumes(tiny_model_dir, data_file, tmp_path):
    from cut.offline import train_offline

    out = tmp_path / "run"
    # 16 records / batch 4 = 4 steps per epoch; stop after 2 with a checkpoint at step 2
    first = train_offline(make_config(tiny_model_dir, data_file, out, max_steps=2))
    assert first.global_step == 2
    for name in ("adapter_config.json", "adapter_model.safetensors", "cut_config.json", "data_report.json",
                 "train_history.json", "checkpoint-2/optimizer.pt"):
        assert (out / name).exists(), name
    report = json.loads((out / "data_report.json").read_text())
    assert (report["positive"], report["negative"], report["sequences"]) == (8, 8, 24)
    opt_state = torch.load(out / "checkpoint-2" / "optimizer.pt", weights_only=False)["state"]
    assert opt_state and all(int(s["step"]) == 2 for s in opt_state.values())

    from transformers import TrainerCallback

    class Steps(TrainerCallback):
        seen: list = []

        def on_step_end(self, args, state, control, **kw):
            self.seen.append(state.global_step)

    counter = Steps()
    second = train_offline(make_config(tiny_model_dir, data_file, out, max_steps=4, resume_from_checkpoint="last"),
                           callbacks=[counter])
    assert second.global_step == 4
    assert counter.seen == [3, 4]  # continued from step 2, did not start over
    assert [h["step"] for h in second.history if "loss" in h] == [1, 2, 3, 4]
    opt_state = torch.load(out / "checkpoint-4" / "optimizer.pt", weights_only=False)["state"]
    assert all(int(s["step"]) == 4 for s in opt_state.values())  # Adam moments carried over


@pytest.mark.parametrize("mask_pass", ["train", "nograd"])
def test_mask_passes_run(tiny_model_dir, data_file, tmp_path, mask_pass):
    from cut.offline import train_offline

    res = train_offline(make_config(tiny_model_dir, data_file, tmp_path / mask_pass, max_steps=1,
                                    mask_pass=mask_pass, detector="union", cut_gamma=1.0))
    loss = [h["loss"] for h in res.history if "loss" in h]
    assert loss and all(v == v and abs(v) < 1e3 for v in loss)


def test_full_finetune_changes_base(tiny_model_dir, data_file, tmp_path):
    from cut.offline import train_offline

    res = train_offline(make_config(tiny_model_dir, data_file, tmp_path / "full", max_steps=1, finetune="full"))
    assert (res.output_dir / "model.safetensors").exists()
