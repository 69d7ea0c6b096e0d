"""Rich progress for long work: a Trainer callback and a plain context-managed bar."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from transformers import TrainerCallback

console = Console(stderr=True)


def make_progress(**kwargs) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                    TextColumn("{task.fields[info]}"), console=console, **kwargs)


class RichProgressCallback(TrainerCallback):
    """Replaces the Trainer's tqdm bar: steps, time left, and the latest loss terms."""

    def __init__(self, description: str = "train"):
        self.description = description
        self.progress: Progress | None = None
        self.task = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.progress = make_progress(transient=False)
            self.progress.start()
            self.task = self.progress.add_task(self.description, total=state.max_steps,
                                               completed=state.global_step, info="")

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.progress is None or not logs or "loss" not in logs:
            return
        keys = ("loss", "loss_like", "loss_unlike", "flagged_frac", "ratio_precision", "ratio_recall")
        info = " ".join(f"{k}={logs[k]:.4g}" for k in keys if k in logs)
        self.progress.update(self.task, info=info)
        self.progress.console.print(f"[dim]step {state.global_step}[/dim] {info}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
