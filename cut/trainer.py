"""The CUT trainer: a config derived from ``TrainingArguments`` and a ``Trainer`` that only
overrides the loss and the logging.

Everything users expect from transformers' Trainer keeps working — checkpoints, resume with
optimizer state, ``report_to``, gradient accumulation, ``accelerate launch``. The loss math
lives in ``cut.losses`` (pure functions); this module gathers the response-token log-probs
and hands them over.

Departures from the authors' code (arXiv 2312.14591, code github wwxu21/CUT), each a setting:
- ``normalization="paper"``: L_like + L1 (the paper's Eq.); ``"authors"`` reproduces the
  code's batch-dependent averaging.
- ``mask_pass="train"`` flags tokens from the training forward (dropout on, as the authors
  do); ``"nograd"`` uses an extra dropout-free, autocast-free (fp32) no-grad pass over the
  negative rows: cleaner flags, one more forward over 2 rows per negative.
- Log-probs are computed only at response positions, with the output projection and
  log-softmax in fp32 (chunked), instead of a full-vocabulary fp32 softmax everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from cut import losses
from cut.models import DEFAULT_LORA_TARGETS
from cut.progress import console, progress_bar

MASK_PASSES = ("train", "nograd")
# Counts kept over a whole training run (for per-round reports): flagged / Misalign tokens,
# the summed log ratio, and the ratio detector's confusion counts against judge spans.
RUN_TOTALS = ("n_flagged", "n_mis_tokens", "n_like_tokens", "log_ratio_sum", "span_tp", "span_fp", "span_fn",
              "input_tokens", "padded_tokens")


@dataclass
class CUTConfig(TrainingArguments):
    """All settings of ``cut train``: transformers' TrainingArguments plus the CUT ones.

    Defaults are the paper's online setting (λ 1.1, α 1) with LoRA r 16 / alpha 16 /
    dropout 0.05 on the MLP projections; recipes in ``training/`` set the rest.
    """

    model: str = field(default="smollm2-135m-instruct", metadata={"help": "Hub id, local dir, .gguf file or alias"})
    data: list[str] = field(default_factory=list, metadata={"help": "judgment files (any supported format)"})
    data_format: str = field(default="auto", metadata={"help": "auto|native|alpaca|shepherd|trl|messages|csv"})
    skip_invalid: bool = field(default=False, metadata={"help": "skip malformed records with counted warnings"})
    template: str = field(default="auto", metadata={"help": "auto|chat|alpaca (auto: chat if the tokenizer has one)"})
    judgment_placement: str = field(default="user", metadata={"help": "chat template: judgment in the user turn or a system message"})
    cut_lambda: float = field(default=1.1, metadata={"help": "λ: flag tokens with p(judged)/p(plain) > λ"})
    cut_alpha: float = field(default=1.0, metadata={"help": "α: weight of the unlikelihood term"})
    cut_gamma: float = field(default=0.0, metadata={"help": "γ: focal weight (p⁻)^γ on flagged tokens (0 = off)"})
    cut_beta: float = field(default=1.0, metadata={"help": "β: weight of the likelihood on unflagged Misalign tokens "
                                                          "(1 = paper; 0 = unlikelihood only, not in the paper)"})
    detector: str = field(default="ratio", metadata={"help": "ratio|spans|revision|union|intersection"})
    use_revisions: bool = field(default=True, metadata={"help": "train the revisions records carry (cut: beside "
                                                               "the Misalign row; sft: as positives)"})
    align_n: bool = field(default=True, metadata={"help": "cut: train each negative's Align-N row (the paper); "
                                                         "false needs detector spans or revision"})
    normalization: str = field(default="paper", metadata={"help": "paper (L_like + L1) | authors (their code's averaging)"})
    mask_pass: str = field(default="train", metadata={"help": "train (flags from the training pass) | nograd (extra fp32 dropout-free pass)"})
    positive_ratio: float | None = field(default=0.25, metadata={"help": "keep ratio × #negatives positives (None: all)"})
    max_length: int = field(default=1024, metadata={"help": "max tokens of a sequence (context is never cut)"})
    length_policy: str = field(default="truncate", metadata={"help": "truncate (response end) | skip"})
    finetune: str = field(default="lora", metadata={"help": "lora | full"})
    lora_r: int = 16
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    lora_target_modules: list[str] = field(default_factory=lambda: list(DEFAULT_LORA_TARGETS))
    quantization: str | None = field(default=None, metadata={"help": "None | 4bit | 8bit (bitsandbytes)"})
    model_dtype: str = field(default="float32", metadata={"help": "dtype the base weights are loaded in"})
    logprob_chunk_size: int = field(default=1024, metadata={"help": "response positions per fp32 output-projection chunk"})
    max_records: int | None = field(default=None, metadata={"help": "use only the first N records of the data (quick runs)"})
    method: str = field(default="cut", metadata={"help": "cut | sft (positives only) | hindsight (likelihood given the judgment)"})
    init_adapter: str | None = field(default=None, metadata={"help": "continue training this LoRA adapter instead of a fresh one"})

    def __post_init__(self):
        super().__post_init__()
        # Our batches are lists of examples, not columns: never drop "unused" columns.
        self.remove_unused_columns = False
        if self.detector not in losses.DETECTORS:
            raise ValueError(f"detector must be one of {sorted(losses.DETECTORS)}, got {self.detector!r}")
        if self.normalization not in losses.NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {losses.NORMALIZATIONS}, got {self.normalization!r}")
        if self.mask_pass not in MASK_PASSES:
            raise ValueError(f"mask_pass must be one of {MASK_PASSES}, got {self.mask_pass!r}")
        if self.finetune not in ("lora", "full"):
            raise ValueError(f"finetune must be lora or full, got {self.finetune!r}")
        if self.cut_lambda <= 0:
            raise ValueError("cut_lambda must be > 0")


def response_logprobs(model, batch: dict, chunk_size: int) -> torch.Tensor:
    """log p(response token) for every row: (R, L) fp32, zero where ``resp_mask`` is False.

    One forward through the model (so DDP/peft wrappers see a normal call), keeping only the
    final hidden states; the output projection runs on response positions alone, in fp32.
    """
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                output_hidden_states=True, logits_to_keep=1, use_cache=False)
    hidden = out.hidden_states[-1]  # (R, T, H), after the final norm
    mask = batch["resp_mask"]  # (R, L)
    rows = torch.arange(mask.shape[0], device=mask.device)[:, None].expand_as(mask)
    selected = hidden[rows[mask], batch["pred_pos"][mask]]  # (N, H)
    head = _unwrap(model).get_output_embeddings()
    autocast_off = torch.autocast(selected.device.type, enabled=False) if torch.is_autocast_enabled(selected.device.type) else nullcontext()
    with autocast_off:
        lp = losses.token_logprobs(selected.float(), head.weight, batch["targets"][mask],
                                   bias=getattr(head, "bias", None), chunk_size=chunk_size)
    full = torch.zeros(mask.shape, dtype=torch.float32, device=lp.device)
    return full.masked_scatter(mask, lp)  # (R, L)


def _unwrap(model):
    model = getattr(model, "module", model)  # DDP
    return model.get_base_model() if hasattr(model, "get_base_model") else model  # peft


def _negative_rows(batch: dict) -> dict:
    """The sub-batch of Align-N and Misalign rows (for the no-grad mask pass)."""
    pair = batch["pair_index"]
    n_like = batch["input_ids"].shape[0] - pair.shape[0]
    idx = torch.cat([pair, torch.arange(n_like, n_like + pair.shape[0], device=pair.device)])
    return {k: batch[k][idx] for k in ("input_ids", "attention_mask", "targets", "pred_pos", "resp_mask")}


class CUTTrainer(Trainer):
    """transformers' Trainer with the CUT loss. Overrides ``compute_loss`` and ``log`` only."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sums: dict[str, float] = defaultdict(float)
        self._count = 0
        self.run_totals: dict[str, float] = defaultdict(float)  # over the whole run, never reset
        # Our loss is a per-micro-batch mean: let the Trainer divide by accumulation steps.
        self.model_accepts_loss_kwargs = False
        self.add_callback(LogLastStepCallback())

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        args: CUTConfig = self.args
        lp = response_logprobs(model, inputs, args.logprob_chunk_size)  # (R, L)
        pair = inputs["pair_index"]
        M = pair.shape[0]
        A = lp.shape[0] - M
        mis_logp, mis_mask = lp[A:], inputs["resp_mask"][A:]
        judged_logp = lp[pair]  # same response ids as the Misalign rows, so positions align
        if M and args.mask_pass == "nograd":
            judged_logp, plain_logp = self._clean_logprobs(model, inputs)
        else:
            plain_logp = mis_logp
        ratio = losses.ratio_flags(judged_logp, plain_logp, args.cut_lambda) & mis_mask
        span_mask = inputs["span_mask"] & inputs["has_spans"][:, None]
        flags = losses.DETECTORS[args.detector](ratio, span_mask) & mis_mask
        out = losses.cut_loss(lp[:A], inputs["resp_mask"][:A], mis_logp, mis_mask,
                              judged_logp.detach(), flags, alpha=args.cut_alpha,
                              gamma=args.cut_gamma, normalization=args.normalization,
                              beta=args.cut_beta)
        # without Align-N rows there is no judged pass and no ratio to score against the spans
        span_valid = mis_mask & inputs["has_spans"][:, None] if args.align_n else torch.zeros_like(mis_mask)
        self._accumulate(out.terms, ratio, span_mask, span_valid,
                         tokens=(int(inputs["attention_mask"].sum()), inputs["attention_mask"].numel()))
        return (out.loss, {"loss": out.loss}) if return_outputs else out.loss

    @torch.no_grad()
    def _clean_logprobs(self, model, inputs) -> tuple[torch.Tensor, torch.Tensor]:
        """(judged, plain) log-probs of the negatives from a dropout-free fp32 pass."""
        was_training = model.training
        model.eval()
        device_type = inputs["input_ids"].device.type
        try:
            with torch.autocast(device_type, enabled=False):
                sub = _negative_rows(inputs)
                lp = response_logprobs(model, sub, self.args.logprob_chunk_size)
        finally:
            model.train(was_training)
        M = inputs["pair_index"].shape[0]
        return lp[:M], lp[M:]

    def _accumulate(self, terms: dict, ratio, span_mask, span_valid, tokens: tuple[int, int] = (0, 0)) -> None:
        """Add one micro-batch to the logging window and to the whole-run totals. ``tokens``:
        (real tokens, padded positions) of its rows, for the speed profile."""
        tp, fp, fn = losses.span_detection_counts(ratio, span_mask, span_valid)
        step = {**{k: float(v) for k, v in terms.items()},
                "log_ratio_sum": terms["log_ratio_mean"] * terms["n_mis_tokens"],
                "span_tp": tp, "span_fp": fp, "span_fn": fn, "input_tokens": tokens[0], "padded_tokens": tokens[1]}
        for k, v in step.items():
            self._sums[k] += v
        for k in RUN_TOTALS:
            self.run_totals[k] += step[k]
        self._count += 1

    def log(self, logs: dict, *args, **kwargs) -> None:
        if self._count and "loss" in logs:
            s, n = self._sums, self._count
            logs["loss_like"] = round(s["like"] / n, 4)
            logs["loss_unlike"] = round(s["unlike"] / n, 4)
            total_mis = s["n_mis_tokens"]
            logs["flagged_frac"] = round(s["n_flagged"] / total_mis, 4) if total_mis else 0.0
            logs["log_ratio_mean"] = round(s["log_ratio_sum"] / total_mis, 4) if total_mis else 0.0
            if s["span_tp"] + s["span_fp"] + s["span_fn"] > 0:
                p, r = losses.precision_recall(int(s["span_tp"]), int(s["span_fp"]), int(s["span_fn"]))
                for key, value in (("ratio_precision", p), ("ratio_recall", r)):
                    if value == value:  # undefined (nan) when nothing was flagged / nothing marked
                        logs[key] = round(value, 4)
            self._sums.clear()
            self._count = 0
        super().log(logs, *args, **kwargs)


class LogLastStepCallback(TrainerCallback):
    """Logs the last step too when it is not a multiple of ``logging_steps``: otherwise the
    loss of the final steps never reaches the history, the printed table or a report."""

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= state.max_steps:
            control.should_log = True
        return control


class RichProgressCallback(TrainerCallback):
    """Replaces the Trainer's tqdm bar: steps, time left, and the latest loss terms — a rich
    bar on a terminal, plain progress lines at a steady rate in a log (``cut.progress``) —
    and one ``step N loss=...`` line per logged step."""

    def __init__(self, description: str = "train"):
        self.description = description
        self.bar = None  # cut.progress.progress_bar while training runs

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.bar = progress_bar(True, self.description, state.max_steps, initial=state.global_step).__enter__()
            self.done = state.global_step

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.advance(state.global_step - self.done)
            self.done = state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is None or not logs or "loss" not in logs:
            return
        keys = ("loss", "loss_like", "loss_unlike", "flagged_frac", "ratio_precision", "ratio_recall")
        info = " ".join(f"{k}={logs[k]:.4g}" for k in keys if k in logs)
        self.bar.note(info)
        console.print(f"[dim]step {state.global_step}[/dim] {info}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
