"""Offline CUT training from Python: a recipe, a few overrides, the same function as `cut train`.

    python examples/train_offline.py            # SmolLM2-135M-Instruct, 10 steps on the bundled judgments
"""

from cut.config import build_config
from cut.offline import train_offline
from cut.trainer import CUTConfig

config = build_config(CUTConfig, "cpu-default", {
    "data": ["judgments/smollm2-verifiable-rules.jsonl"],
    "output_dir": "runs/example-offline",
    "max_steps": 10,
    "detector": "union",  # ratio rule ∪ the rule judge's exact spans
})
result = train_offline(config)
print(f"{result.global_step} steps; flagged fraction {result.totals['flagged_frac']}; "
      f"ratio detector precision/recall vs spans {result.totals['ratio_precision']} / {result.totals['ratio_recall']}")
