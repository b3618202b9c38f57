"""Recipe YAML files: loading, command-line overrides and validation."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

import yaml


__all__ = ["RecipeConfig", "load_recipe_config", "apply_overrides"]

CONFIG_DIR = os.path.join(os.path.dirname(__file__), "configs")


@dataclass
class RecipeConfig:
    """One recipe's settings, as in `training_recipes/configs/*.yaml`.

    Attributes:
        recipe (`str`): `pretrain_stage1`, `pretrain_stage2`, `sft` or `lora`.
        model (`dict`): `name_or_path` (a MiMo-Audio folder) or `tiny: true` (random tiny model set, for CPU
            smoke runs); optional `dtype`, `attn_implementation`, `special_token_ids` (for upstream configs that lack
            them), `processor` (path of the processor / tokenizer, defaults to `name_or_path`).
        loss (`dict`): `text_loss_weight`, `audio_loss_weights` (8 values), `empty_token_loss_weight`, written into
            the model config.
        learning_rates (`dict`): per-module rates (`patch_encoder`, `llm`, `patch_decoder`).
        frozen_modules (`list[str]`): module groups to freeze.
        data (`dict`): `train_files` (Parquet/Arrow files from `prepare_data`, globs allowed) or `synthetic`
            (`num_examples`, `task`, `seed`) for smoke runs; optional `eval_files`; `task` (for raw rows),
            `context_length`, `pack` (bool), `pad_to_multiple_of`.
        lora (`dict`): PEFT settings for the `lora` recipe (see `peft_utils.apply_lora`).
        training (`dict`): `transformers.TrainingArguments` (or `trl.SFTConfig`) keyword arguments.
    """

    recipe: str
    model: dict = field(default_factory=dict)
    loss: dict = field(default_factory=dict)
    learning_rates: dict = field(default_factory=dict)
    frozen_modules: list = field(default_factory=list)
    data: dict = field(default_factory=dict)
    lora: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ValueError(f"overrides must look like `section.key=value`, got {item!r}")
    key, value = item.split("=", 1)
    return key.split("."), yaml.safe_load(value)


def apply_overrides(raw: dict, overrides: list[str] | None) -> dict:
    """`["training.max_steps=3", "data.pack=false"]` -> a copy of `raw` with those values set (YAML-parsed)."""
    raw = copy.deepcopy(raw)
    for item in overrides or []:
        path, value = _parse_override(item)
        node = raw
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {part!r} is not a section")
        node[path[-1]] = value
    return raw


# The keys each free-form section understands: a misspelt key is an error, never a silent default.
SECTION_KEYS = {
    "model": {"name_or_path", "tiny", "seed", "dtype", "attn_implementation", "special_token_ids", "processor"},
    "data": {"train_files", "eval_files", "synthetic", "task", "context_length", "pack", "pad_to_multiple_of"},
    "lora": {"r", "alpha", "dropout", "target_modules", "groups", "modules_to_save", "qlora", "merge_after_training"},
    "learning_rates": {"patch_encoder", "llm", "patch_decoder"},
    "loss": {"text_loss_weight", "audio_loss_weights", "empty_token_loss_weight"},
}


def _check_section_keys(path: str, config: "RecipeConfig"):
    for section, known in SECTION_KEYS.items():
        value = getattr(config, section)
        if not isinstance(value, dict):
            raise ValueError(f"{path}: `{section}` must be a mapping, got {type(value).__name__}")
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"{path}: unknown {section} key(s) {unknown}; expected among {sorted(known)}")


def read_yaml_mapping(path, what: str = "the config") -> dict:
    """A YAML file that must hold a mapping (empty file -> {}); a clear error when it is missing or not a mapping."""
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: {what} must be a mapping, got {type(raw).__name__}")
    return raw


def load_recipe_config(path: str, overrides: list[str] | None = None, recipe: str | None = None) -> RecipeConfig:
    """Reads a recipe YAML file, applies overrides and checks the sections."""
    if not os.path.isfile(path):
        raise ValueError(f"--config {path!r} is not a file (the shipped configs are in {CONFIG_DIR})")
    raw = apply_overrides(read_yaml_mapping(path, "a recipe config"), overrides)
    known = set(RecipeConfig.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}; expected among {sorted(known)}")
    raw.setdefault("recipe", recipe)
    if recipe is not None and raw["recipe"] != recipe:
        raise ValueError(f"{path} is a {raw['recipe']!r} config, but it was given to the {recipe!r} recipe")
    config = RecipeConfig(**raw)
    _check_section_keys(path, config)
    model = config.model
    if not model.get("tiny") and not model.get("name_or_path"):
        raise ValueError(f"{path}: model.name_or_path is required (or model.tiny: true for a smoke run)")
    data = config.data
    if not data.get("train_files") and not data.get("synthetic"):
        raise ValueError(f"{path}: data.train_files (from prepare_data) or data.synthetic is required")
    if "output_dir" not in config.training:
        raise ValueError(f"{path}: training.output_dir is required")
    return config
