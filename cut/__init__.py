"""cut: align language models with natural-language judgments (Contrastive Unlikelihood Training).

Importing ``cut`` is cheap: torch and transformers are imported only by the modules that
need them (losses, models, sequences, trainer, generation).
"""

__version__ = "0.1.0"

import logging as _logging

# bitsandbytes tries to fetch a CPU kernel from the Hub at import (peft imports it) and logs
# a warning when it cannot; the fallback kernel works. Nothing here downloads anything.
_logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(_logging.ERROR)
