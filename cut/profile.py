"""Where a run spends: wall time and peak resident memory per step, and training tokens/s.

``measure(fn)`` runs one step and returns its seconds and the process's peak resident memory
*during that step*: Linux keeps a high-water mark (``VmHWM`` in ``/proc/self/status``) that
writing ``5`` to ``/proc/self/clear_refs`` resets, so each step's peak is its own, not the
run's so far. Elsewhere (no ``/proc``) the peak is the process's lifetime maximum from
``resource.getrusage``, and says so.

``record_profile`` keeps each step's numbers in ``round-r/profile.json`` of an online run.
Training speed is set against the arithmetic floor of LoRA on a CPU (issue 16): a token costs
about 4 × parameters FLOPs (forward, and gradients with respect to activations; frozen base
weights need no weight gradient); at ``GFLOPS_PER_CORE`` fp32 that is the tokens/s the
hardware allows per core.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable

GFLOPS_PER_CORE = 100.0  # fp32, the 2-core AMD EPYC development machines (AVX-512)


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def measure(fn: Callable[[], Any]) -> dict[str, Any]:
    """Run ``fn``; return {seconds, peak_rss_mb, peak_scope} ("step", or "process" where the
    high-water mark cannot be reset)."""
    scoped = _reset_peak()
    started = time.monotonic()
    fn()
    seconds = time.monotonic() - started
    hwm = _status_kb("VmHWM") if scoped else None
    if hwm is None:  # ru_maxrss: kB on Linux, bytes on macOS
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
        return {"seconds": round(seconds, 2), "peak_rss_mb": round(peak, 1), "peak_scope": "process"}
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(hwm / 1024, 1), "peak_scope": "step"}


def floor_tokens_per_second(parameters: int, cores: int, gflops_per_core: float = GFLOPS_PER_CORE) -> float:
    """Training tokens/s the arithmetic allows: cores × GFLOP/s ÷ (4 × parameters)."""
    return cores * gflops_per_core * 1e9 / (4 * parameters)


def threads() -> int:
    """Cores a torch process uses here: OMP_NUM_THREADS when set, else the CPUs it may run on."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def record_profile(rd: Path, step: str, profile: dict) -> None:
    """Add one step's wall time and peak memory to ``round-r/profile.json``; for training also
    its tokens/s per core against the arithmetic floor (``cut.profile``)."""
    from cut.records import write_json_atomic

    path = rd / "profile.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    if step == "train":
        profile = {**profile, **training_speed(rd / "adapter")}
    data[step] = profile
    write_json_atomic(path, data)


def training_speed(adapter: Path) -> dict:
    """Tokens the trainer ran (context + response, no padding), the padding it carried, and
    tokens/s per core over its own runtime, beside the floor for the model's size."""
    try:
        totals = json.loads((adapter / "detector_totals.json").read_text())
        runtime = next(h["train_runtime"] for h in reversed(json.loads((adapter / "train_history.json").read_text()))
                       if "train_runtime" in h)
    except (OSError, ValueError, StopIteration, KeyError):
        return {}
    tokens, padded = totals.get("input_tokens", 0), totals.get("padded_tokens", 0)
    cores, parameters = threads(), totals.get("model_parameters", 0)
    return {"train_tokens": int(tokens), "padding_frac": round(1 - tokens / padded, 3) if padded else None,
            "train_runtime": runtime, "tokens_per_s_per_core": round(tokens / runtime / cores, 1) if runtime else None,
            "floor_tokens_per_s_per_core": round(floor_tokens_per_second(parameters, 1), 1) if parameters else None}
