"""cut: align language models with natural-language judgments (Contrastive Unlikelihood Training).

Importing ``cut`` is cheap: torch and transformers are imported only by the modules that
need them (losses, models, sequences, trainer, generation).
"""

__version__ = "0.1.0"
