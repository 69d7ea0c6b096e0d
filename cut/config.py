"""Typed configs from YAML recipes plus ``key=value`` overrides, validated up front.

One dataclass per command holds every setting with its default and its documentation;
a recipe (``training/*.yaml``) sets some of them, and command-line overrides win over the
recipe. Unknown keys are errors that name the key and the recipe. The resolved config is
saved beside every artifact a run writes (``save_config``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from pathlib import Path
from typing import Any

import yaml

from cut.errors import CutError

REPO_ROOT = Path(__file__).resolve().parent.parent
RECIPES_DIR = REPO_ROOT / "training"


def resolve_named(name_or_path: str, folder: Path, suffix: str, what: str, kind: str, label: str) -> Path:
    """A path to an existing file, or the name of a file in ``folder`` (with or without
    ``suffix``); otherwise a CutError listing what ``folder`` holds."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path
    for candidate in (folder / name_or_path, folder / f"{name_or_path}{suffix}"):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(p.stem for p in folder.glob(f"*{suffix}"))) or "none"
    raise CutError(f"{what} {name_or_path!r} is neither a file nor {kind} ({label}: {known})")


def resolve_recipe(name_or_path: str) -> Path:
    """A path to a YAML file, or the name of a recipe in ``training/`` (with or without .yaml)."""
    return resolve_named(name_or_path, RECIPES_DIR, ".yaml", "config", f"a recipe in {RECIPES_DIR}", "recipes")


def resolve_data_path(path: str) -> str:
    """A data path as given, or relative to the repository root when a recipe names a bundled
    file (``judgments/...``) and the command runs from elsewhere."""
    if Path(path).exists() or Path(path).is_absolute():
        return path
    bundled = REPO_ROOT / path
    return str(bundled) if bundled.exists() else path


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["lr=3e-4", "data=[a.jsonl, b.jsonl]"]`` → typed dict (values parsed as YAML).
    A dotted key (``train.learning_rate=1e-4``) sets one entry of a mapping setting."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CutError(f"override {item!r} is not of the form key=value")
        out[key.strip().replace("-", "_")] = yaml.safe_load(value) if value != "" else ""
    return out


def format_override(key: str, value: Any) -> str:
    """``key=value`` that ``parse_overrides`` reads back as ``value`` (flow-style YAML)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000_000).strip()
    return f"{key}={text.removesuffix('...').strip()}"


def offline_command(recipe: str, overrides: dict[str, Any]) -> str:
    """The shell line ``cut train --config RECIPE ... --data FILE...`` that builds the same
    config as ``build_config(CUTConfig, recipe, overrides)`` (``--data`` last: it takes
    every word after it)."""
    import shlex

    flags = {"model": "--model", "output_dir": "-o"}  # options first: argparse reads key=value in one run
    words = ["cut", "train", "--config", recipe]
    words += [w for key, flag in flags.items() if key in overrides for w in (flag, str(overrides[key]))]
    words += [format_override(k, v) for k, v in overrides.items() if k not in flags and k != "data"]
    words += ["--data", *map(str, overrides.get("data", []))]
    return " ".join(shlex.quote(w) for w in words)


def load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise CutError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise CutError(f"{path}: a recipe must be a mapping of settings, got {type(data).__name__}")
    return data


def build_config(cls: type, recipe: str | None, overrides: dict[str, Any]) -> Any:
    """Merge recipe and overrides into ``cls``; unknown keys and wrong types fail loudly."""
    values: dict[str, Any] = {}
    source = "overrides"
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    if recipe:
        path = resolve_recipe(recipe)
        values.update(load_yaml(path))
        source = str(path)
        if isinstance(values.get("train"), dict) and "train" not in known:
            values = training_part(values, path)
    for key, value in overrides.items():
        head, dot, rest = key.partition(".")
        if dot:  # `train.learning_rate=1e-4` sets one key of a mapping setting, keeping the others
            if not isinstance(values.get(head, {}), dict):
                raise CutError(f"override {key!r}: {head} is not a mapping")
            values[head] = {**values.get(head, {}), rest: value}
        else:
            values[key] = value
    unknown = sorted(set(values) - known)
    if unknown:
        raise CutError(f"unknown setting {unknown[0]!r} (from {source}); see `cut train --help-config` for the list")
    hints = typing.get_type_hints(cls)
    for key, value in list(values.items()):
        values[key] = _coerce(key, value, hints.get(key))
        check_setting(key, values[key], hints.get(key))  # before any model loads, one line each
    try:
        return cls(**values)
    except (TypeError, ValueError) as err:
        raise CutError(f"invalid config: {err}") from None


# Settings of an online recipe (cut.online.OnlineConfig) that its rounds hand to `cut train`
# beside the `train:` section (cut.online.step_train); every other key is the loop's own.
ONLINE_TO_TRAIN = ("model", "template", "method", "detector", "seed")


def training_part(online: dict[str, Any], path: Path) -> dict[str, Any]:
    """The `cut train` settings of an online recipe, as its rounds train: its ``train_recipe``,
    then its ``train:`` section, then ``ONLINE_TO_TRAIN``. Says in one line what it ignores."""
    from cut.progress import console

    base = online.get("train_recipe") or "cpu-default"  # OnlineConfig's default
    values = {**load_yaml(resolve_recipe(base)), **online["train"],
              **{k: online[k] for k in ONLINE_TO_TRAIN if k in online}}
    ignored = sorted(set(online) - set(ONLINE_TO_TRAIN) - {"train", "train_recipe"})
    console.print(f"{path.name} is an online recipe: training with its train: section over {base} "
                  f"(the loop trains round r with seed + r); ignoring the loop's {', '.join(ignored) or 'nothing'}",
                  highlight=False, markup=False, soft_wrap=True)
    return values


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Light coercion for YAML/CLI values: ints for floats, scalars for lists."""
    if hint is None or value is None:
        return value
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is float and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise CutError(f"setting {key!r}: expected a number, got {value!r}") from None
    if origin in (list, typing.Union) and list in [typing.get_origin(a) or a for a in args] + [origin]:
        if isinstance(value, (str, int, float)):
            return [value]
    return value


# Ranges of the numeric settings of every command's config (CUTConfig with its
# TrainingArguments, OnlineConfig), by name; a name a config lacks is never looked up.
# (low, low_inclusive): e.g. (0, False) means "> 0". Checked only for values the recipe or
# the command line set: the defaults are known good.
RANGES: dict[str, tuple[float, bool]] = {
    **{name: (0, False) for name in (
        "learning_rate", "per_device_train_batch_size", "per_device_eval_batch_size",
        "gradient_accumulation_steps", "max_length", "logprob_chunk_size", "lora_r", "lora_alpha",
        "num_train_epochs", "cut_lambda", "max_records", "logging_steps", "save_steps",
        "rounds", "prompts_per_round", "samples_per_prompt", "max_new_tokens", "gen_batch_size",
        "eval_limit", "eval_max_new_tokens", "max_constraints", "top_p")},
    **{name: (0, True) for name in (
        "cut_alpha", "cut_beta", "cut_gamma", "weight_decay", "warmup_steps", "warmup_ratio",
        "max_grad_norm", "lora_dropout", "temperature", "seed", "data_seed", "positive_ratio")},
}


def check_setting(key: str, value: Any, hint: Any) -> None:
    """A CutError naming ``key`` when ``value`` has the wrong type for ``hint`` (int, float,
    bool, optionally None) or is outside ``RANGES``; other hints are left to the config."""
    if value is None:
        return
    kinds = {a for a in (typing.get_args(hint) or (hint,)) if a is not type(None)}
    if kinds == {bool} and not isinstance(value, bool):
        raise CutError(f"setting {key!r}: expected true or false, got {value!r}")
    if kinds == {int} and (isinstance(value, bool) or not isinstance(value, int)):
        raise CutError(f"setting {key!r}: expected an integer, got {value!r}")
    if kinds == {float}:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CutError(f"setting {key!r}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise CutError(f"setting {key!r}: expected a finite number, got {value!r}")
    if key == "max_steps" and isinstance(value, int) and not (value == -1 or value >= 1):
        raise CutError(f"setting 'max_steps': expected at least 1 (or -1: train by epochs), got {value!r}")
    if key in RANGES and isinstance(value, (int, float)) and not isinstance(value, bool):
        low, inclusive = RANGES[key]
        if value < low or (value == low and not inclusive):
            raise CutError(f"setting {key!r}: expected {'at least' if inclusive else 'more than'} {low:g}, "
                           f"got {value!r}")


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-safe dict of a config dataclass (for saving beside artifacts)."""
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        try:
            json.dumps(value)
        except TypeError:
            value = str(value)
        out[f.name] = value
    return out


def save_config(config: Any, path: str | Path) -> None:
    from cut.records import write_json_atomic

    write_json_atomic(path, config_to_dict(config))
