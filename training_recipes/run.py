"""What every recipe shares: command line, model and data loading, trainer construction, saving.

Each recipe module (`pretrain_stage1`, `pretrain_stage2`, `sft`, `lora`) is `run_recipe("<name>")` plus its YAML
config; the recipe's fixed choices (what is frozen, which trainer) are in `RECIPES` below, everything tunable is in
the config.
"""

from __future__ import annotations

import argparse
import logging
import os

import torch

from .collator import MiMoAudioDataCollator
from .config import RecipeConfig, load_recipe_config
from .formats import SpecialTokenIds
from .precision import resolve_bf16


logger = logging.getLogger(__name__)

__all__ = [
    "RECIPES",
    "parse_args",
    "load_model_and_tokenizer",
    "load_processor",
    "load_train_dataset",
    "build_trainer",
    "save_complete_folder",
    "run_recipe",
]

RECIPES = {
    # recipe: fixed properties; learning rates, loss weights and schedules come from the config
    "pretrain_stage1": {"frozen_modules": ["patch_decoder"], "trainer": "trainer"},
    "pretrain_stage2": {"frozen_modules": [], "trainer": "trainer"},
    "sft": {"frozen_modules": [], "trainer": "sft"},
    "lora": {"frozen_modules": [], "trainer": "trainer"},
}


def parse_args(recipe: str, argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m training_recipes.{recipe}",
                                     description=f"MiMo-Audio {recipe} recipe (see docs/training.md)")
    parser.add_argument("--config", required=True, help=f"YAML config, e.g. training_recipes/configs/{recipe}.yaml")
    parser.add_argument("--resume_from_checkpoint", default=None,
                        help="a checkpoint folder, or 'latest' for the newest one in training.output_dir")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. training.max_steps=10 data.pack=false")
    return parser.parse_args(argv)


def load_model_and_tokenizer(config: RecipeConfig, quantization_config=None):
    """The model (with the config's loss weights) and its text tokenizer (`model.tiny: true` -> the tiny random
    model set of `modeling_mimo_audio.tiny`)."""
    spec = config.model
    if spec.get("tiny"):
        from modeling_mimo_audio.tiny import build_tiny_model_set

        model, processor = build_tiny_model_set(seed=int(spec.get("seed", 0)))
        tokenizer = processor.tokenizer
    else:
        from transformers import AutoTokenizer

        from modeling_mimo_audio import MiMoAudioConfig, MiMoAudioForConditionalGeneration
        from processing.tokenization_mimo_audio import mimo_special_token_ids

        tokenizer = AutoTokenizer.from_pretrained(spec.get("processor") or spec["name_or_path"])
        # Upstream config.json files carry no special token ids; they come from the tokenizer, as upstream reads them.
        kwargs = {}
        model_config = MiMoAudioConfig.from_pretrained(spec["name_or_path"])
        for name, token_id in mimo_special_token_ids(tokenizer).items():
            attribute = f"{name}_token_id"
            if hasattr(model_config, attribute) and getattr(model_config, attribute) is None:
                kwargs[attribute] = token_id
        kwargs.update(spec.get("special_token_ids") or {})
        if spec.get("dtype"):
            kwargs["dtype"] = getattr(torch, spec["dtype"]) if spec["dtype"] != "auto" else "auto"
        if spec.get("attn_implementation"):
            kwargs["attn_implementation"] = spec["attn_implementation"]
        if quantization_config is not None:
            kwargs["quantization_config"] = quantization_config
        model = MiMoAudioForConditionalGeneration.from_pretrained(spec["name_or_path"], **kwargs)
    for key, value in config.loss.items():
        if key not in ("text_loss_weight", "audio_loss_weights", "empty_token_loss_weight"):
            raise ValueError(f"loss.{key} is unknown; expected text_loss_weight, audio_loss_weights, "
                             "empty_token_loss_weight")
        if key == "audio_loss_weights" and len(value) != model.config.num_codebooks:
            raise ValueError(f"loss.audio_loss_weights needs {model.config.num_codebooks} values, got {value}")
        setattr(model.config, key, [float(v) for v in value] if isinstance(value, list) else float(value))
    return model, tokenizer


def load_train_dataset(config: RecipeConfig, special: SpecialTokenIds, tokenizer, split: str = "train"):
    """Examples for training (`split="train"`: `data.train_files` or `data.synthetic`) or evaluation
    (`split="eval"`: `data.eval_files`, None when absent): formatted examples, or raw rows formatted with
    `data.task`; packed when `data.pack` is true."""
    import datasets

    from .prepare_data import format_dataset, load_rows, pack_dataset
    from .synthetic import synthetic_rows

    data = config.data
    task = data.get("task")
    if split == "eval":
        if not data.get("eval_files"):
            return None
        dataset = load_rows(data["eval_files"])
    elif data.get("synthetic"):
        synthetic = dict(data["synthetic"])
        rows = synthetic_rows(int(synthetic.pop("num_examples", 8)), synthetic.pop("task", task or "mixed"),
                              special.speech_empty_ids, **synthetic)
        dataset = datasets.Dataset.from_list(rows)
        task = task or data["synthetic"].get("task", "mixed")
    else:
        dataset = load_rows(data["train_files"])
    if "input_ids" not in dataset.column_names:
        if not task:
            raise ValueError(f"data.task is required when the {split} files hold raw rows (not formatted examples)")
        dataset = format_dataset(dataset, task, special, tokenizer)
    if data.get("pack") and "position_ids" not in dataset.column_names:
        dataset = pack_dataset(dataset, int(data.get("context_length", 8192)), special.empty)
    return dataset


def build_trainer(recipe: str, config: RecipeConfig, model, tokenizer, train_dataset, special: SpecialTokenIds,
                  eval_dataset=None):
    """The recipe's trainer (`MiMoAudioTrainer`, or `MiMoAudioSFTTrainer` for `sft`) with per-module LRs."""
    from .trainer import MiMoAudioTrainer

    pad_token_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    collator = MiMoAudioDataCollator(special, pad_token_id=pad_token_id,
                                     pad_to_multiple_of=config.data.get("pad_to_multiple_of"))
    training = dict(config.training)
    # The collator consumes columns the model's forward does not name (audio_patches); keep them.
    training["remove_unused_columns"] = False
    # Evaluation needs the loss only; gathering [batch, positions, 151680] logits would exhaust memory.
    training.setdefault("prediction_loss_only", True)
    # Precision is the config's choice, the same for every recipe: fp32 unless `training.bf16` / `training.fp16`
    # say so (TRL's SFTConfig would turn bf16 autocast on by default; TrainingArguments leaves it off).
    # `bf16: auto` is bf16 autocast where the hardware runs it natively (training_recipes.precision).
    training["bf16"] = resolve_bf16(training.get("bf16", False), use_cpu=bool(training.get("use_cpu")))
    if RECIPES[recipe]["trainer"] == "sft":
        from trl import SFTConfig

        from .trainer import MiMoAudioSFTTrainer

        training.setdefault("dataset_kwargs", {})["skip_prepare_dataset"] = True
        args = SFTConfig(**training)
        return MiMoAudioSFTTrainer(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                                   data_collator=collator, processing_class=tokenizer,
                                   learning_rates=config.learning_rates)
    from transformers import TrainingArguments

    args = TrainingArguments(**training)
    return MiMoAudioTrainer(model=model, args=args, train_dataset=train_dataset, eval_dataset=eval_dataset,
                            data_collator=collator, processing_class=tokenizer, learning_rates=config.learning_rates)


def load_processor(config: RecipeConfig):
    """The processor the trained model is used with: the tiny set's, or the one saved in `model.processor` /
    `model.name_or_path` (a folder with `processor_config.json`); None when the source has none (an upstream LM
    folder), in which case only the tokenizer is saved with the model."""
    spec = config.model
    if spec.get("tiny"):
        from modeling_mimo_audio.tiny import build_tiny_model_set

        return build_tiny_model_set(seed=int(spec.get("seed", 0)))[1]
    source = spec.get("processor") or spec["name_or_path"]
    if not os.path.isfile(os.path.join(str(source), "processor_config.json")):
        return None
    from processing.processing_mimo_audio import MiMoAudioProcessor

    return MiMoAudioProcessor.from_pretrained(source)


def write_model_card(output_dir: str, recipe: str, config: RecipeConfig, log_history: list) -> None:
    """A short README.md: what trained this folder, from what, on which data, and the last logged losses."""
    losses = [entry for entry in log_history if "loss" in entry]
    last = losses[-1] if losses else {}
    lines = [
        "---", "library_name: transformers", "tags: [mimo-audio, audio, text-to-speech, speech-recognition]", "---",
        "", f"# MiMo-Audio checkpoint: `{recipe}`", "",
        f"Trained with `python -m training_recipes.{recipe}` from "
        f"`{config.model.get('name_or_path') or 'the tiny random set'}`.", "",
        f"- data: `{config.data.get('train_files') or 'synthetic'}`",
        f"- steps: {config.training.get('max_steps')}, batch {config.training.get('per_device_train_batch_size')}",
        f"- last logged loss: {last.get('loss')} (step {last.get('step')})", "",
        "Load it with `AutoModelForTextToWaveform.from_pretrained(folder)` and `AutoProcessor.from_pretrained(folder)`"
        " after `import modeling_mimo_audio`.",
    ]
    with open(os.path.join(output_dir, "README.md"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def save_complete_folder(output_dir: str, model, processor, tokenizer, recipe: str, config: RecipeConfig,
                         log_history: list) -> None:
    """Model + processor (or tokenizer) + generation config + model card, so `AutoProcessor`, the pipelines and
    every `mimo-audio` command open `output_dir`."""
    os.makedirs(output_dir, exist_ok=True)
    model.save_pretrained(output_dir)
    if processor is not None:
        processor.save_pretrained(output_dir)
    else:
        tokenizer.save_pretrained(output_dir)
    write_model_card(output_dir, recipe, config, log_history)


def _resolve_resume(value, output_dir):
    if value != "latest":
        return value
    from transformers.trainer_utils import get_last_checkpoint

    last = get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
    if last is None:
        logger.warning("--resume_from_checkpoint latest: no checkpoint in %s, starting from scratch", output_dir)
    return last


def run_recipe(recipe: str, argv=None):
    """Runs `recipe` from the command line `argv`; returns the trainer (its `state.log_history` holds the losses)."""
    from .optim import freeze_modules

    args = parse_args(recipe, argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = load_recipe_config(args.config, args.overrides, recipe=recipe)
    lora = dict(config.lora)
    quantization_config = None
    if recipe == "lora" and lora.get("qlora"):
        from .peft_utils import qlora_quantization_config

        quantization_config = qlora_quantization_config()
    if "seed" in config.training:
        from transformers import set_seed

        set_seed(int(config.training["seed"]))
    model, tokenizer = load_model_and_tokenizer(config, quantization_config)
    special = SpecialTokenIds.from_config(model.config)

    frozen = sorted(set(RECIPES[recipe]["frozen_modules"]) | set(config.frozen_modules))
    if frozen:
        count = freeze_modules(model, frozen)
        logger.info("froze %s (%d parameters)", frozen, count)
    if recipe == "lora":
        from .peft_utils import DEFAULT_LORA_TARGETS, apply_lora

        model = apply_lora(model, r=int(lora.get("r", 16)), alpha=int(lora.get("alpha", 32)),
                           dropout=float(lora.get("dropout", 0.05)),
                           target_names=lora.get("target_modules", DEFAULT_LORA_TARGETS),
                           groups=lora.get("groups", ["llm"]), modules_to_save=lora.get("modules_to_save"),
                           quantized=quantization_config is not None)

    train_dataset = load_train_dataset(config, special, tokenizer)
    eval_dataset = load_train_dataset(config, special, tokenizer, split="eval")
    trainer = build_trainer(recipe, config, model, tokenizer, train_dataset, special, eval_dataset)
    trainer.train(resume_from_checkpoint=_resolve_resume(args.resume_from_checkpoint, config.training["output_dir"]))
    processor = load_processor(config)
    if recipe == "lora":
        trainer.save_model()  # the adapter; the merged, complete folder is written below
    else:
        save_complete_folder(config.training["output_dir"], trainer.model, processor, tokenizer, recipe, config,
                             trainer.state.log_history)
    if recipe == "lora" and lora.get("merge_after_training", False):
        from .peft_utils import merge_and_save

        if quantization_config is not None:
            logger.warning("lora.merge_after_training is skipped for QLoRA: merge the saved adapter into a bf16 "
                           "base (docs/training.md)")
        else:
            merged_dir = os.path.join(config.training["output_dir"], "merged")
            merge_and_save(trainer.model, merged_dir, tokenizer)
            if processor is not None:
                processor.save_pretrained(merged_dir)
            write_model_card(merged_dir, recipe, config, trainer.state.log_history)
    return trainer
