"""Offline CUT training, top to bottom: records → sequences → model (+LoRA) → Trainer → adapter.

This is the function behind ``cut train`` (without ``--online``); it also works from Python:
``train_offline(build_config(CUTConfig, "cpu-default", {"data": ["j.jsonl"]}))``.
Everything a run writes goes to ``output_dir``: the adapter (or full model), the tokenizer,
``cut_config.json`` (the resolved config), ``data_report.json`` (what was kept, dropped,
truncated and why) and ``train_history.json`` (the logged metrics).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from cut.config import resolve_data_path, save_config
from cut.errors import CutError, NothingToTrain
from cut.importers import load_many
from cut.records import write_json_atomic
from cut.trainer import CUTConfig


@dataclass
class TrainResult:
    output_dir: Path
    report: dict
    history: list[dict]
    global_step: int
    totals: dict


def load_training_records(config: CUTConfig):
    """All records of ``config.data``, and the count of invalid ones that were skipped."""
    if not config.data:
        raise CutError("no training data: pass --data FILE (judgment records in any supported format)")
    results = load_many([resolve_data_path(p) for p in config.data], format=config.data_format, skip_invalid=config.skip_invalid)
    records = [r for res in results for r in res.records]
    invalid = sum(len(res.invalid) for res in results)
    if config.max_records is not None:
        records = records[: config.max_records]
    return records, invalid


def build_model(config: CUTConfig):
    """Base model (optionally k-bit) with a LoRA adapter, or fully trainable."""
    from cut.models import LoadOptions, LoraSettings, add_lora, load_model

    model, tokenizer = load_model(config.model, LoadOptions(dtype=config.model_dtype, quantization=config.quantization))
    if config.init_adapter:
        from cut.models import load_adapter

        if config.finetune != "lora":
            raise CutError("init_adapter continues a LoRA adapter: it needs finetune=lora")
        model = load_adapter(model, config.init_adapter, trainable=True)
    elif config.finetune == "lora":
        model = add_lora(model, LoraSettings(config.lora_r, config.lora_alpha, config.lora_dropout,
                                             list(config.lora_target_modules)))
    elif config.quantization:
        raise CutError("full fine-tuning of a 4-bit/8-bit base is not possible; use finetune=lora")
    return model, tokenizer


def train_offline(config: CUTConfig, callbacks: list | None = None) -> TrainResult:
    """Train and save; ``callbacks`` are extra transformers TrainerCallbacks."""
    from cut.progress import console
    from cut.reporting import data_report_table, print_length_note
    from cut.sequences import Collator, ExampleDataset, SequenceSettings, build_examples
    from cut.templates import choose_template
    from transformers import PrinterCallback

    from cut.trainer import CUTTrainer, RichProgressCallback

    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(config, out / "cut_config.json")

    records, invalid = load_training_records(config)
    model, tokenizer = build_model(config)
    template = choose_template(config.template, tokenizer, config.judgment_placement)
    settings = SequenceSettings(config.max_length, config.length_policy, config.positive_ratio, config.seed,
                                config.method, config.use_revisions, config.align_n, config.detector)
    examples, report = build_examples(records, tokenizer, template, settings)
    report_dict = {**report.as_dict(), "invalid_skipped": invalid, "template": template.kind}
    write_json_atomic(out / "data_report.json", report_dict)
    console.print(data_report_table(report_dict))
    print_length_note(console, report_dict, config.max_length)
    if not examples:
        raise NothingToTrain("no training examples left after filtering (see the data report above)")

    config.disable_tqdm = True
    trainer = CUTTrainer(model=model, args=config, train_dataset=ExampleDataset(examples),
                         data_collator=Collator(tokenizer.pad_token_id),
                         callbacks=[RichProgressCallback("CUT train"), *(callbacks or [])])
    trainer.remove_callback(PrinterCallback)  # our progress callback prints the log lines
    resume = config.resume_from_checkpoint
    if isinstance(resume, str) and resume.lower() in ("true", "last", "latest"):
        resume = last_complete_checkpoint(out)
        if resume is None:
            console.print(f"[yellow]no complete checkpoint in {out}: training from the start[/yellow]")
    trainer.train(resume_from_checkpoint=resume or None)
    trainer.save_model(str(out))
    tokenizer.save_pretrained(str(out))
    history = trainer.state.log_history
    write_json_atomic(out / "train_history.json", history)
    totals = {**detector_summary(trainer.run_totals), "model_parameters": sum(p.numel() for p in model.parameters())}
    write_json_atomic(out / "detector_totals.json", totals)
    return TrainResult(out, report_dict, history, trainer.state.global_step, totals)


def detector_summary(totals: dict) -> dict:
    """Whole-run flagged fraction, mean log ratio and the ratio detector's precision/recall
    against judge spans (None where undefined)."""
    from cut.losses import precision_recall

    mis = totals.get("n_mis_tokens", 0)
    tp, fp, fn = (int(totals.get(k, 0)) for k in ("span_tp", "span_fp", "span_fn"))
    precision, recall = (None if v != v else v for v in precision_recall(tp, fp, fn))  # nan → None
    return {**{k: totals.get(k, 0) for k in totals}, "flagged_frac": totals.get("n_flagged", 0) / mis if mis else None,
            "log_ratio_mean": totals.get("log_ratio_sum", 0) / mis if mis else None,
            "ratio_precision": precision, "ratio_recall": recall}


def last_complete_checkpoint(out: Path) -> str | None:
    """The newest ``checkpoint-N`` whose trainer state was written (the Trainer writes
    ``trainer_state.json`` last). Newer, half-written checkpoints — a run killed while saving —
    are removed so they can never be picked up later."""
    import shutil

    checkpoints = sorted(out.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]) if p.name.split("-")[1].isdigit() else -1,
                         reverse=True)
    for ckpt in checkpoints:
        if (ckpt / "trainer_state.json").is_file():
            return str(ckpt)
        shutil.rmtree(ckpt, ignore_errors=True)
    return None
