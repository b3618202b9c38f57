"""LoRA / QLoRA for MiMo-Audio with PEFT: target selection per module group, 4-bit loading, merge-and-save."""

from __future__ import annotations

import logging

import torch
from torch import nn

from .optim import MODULE_GROUPS, model_parameter_groups


logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_LORA_TARGETS", "lora_target_modules", "apply_lora", "qlora_quantization_config",
           "merge_and_save"]

# Every projection of a Qwen2 block: attention and MLP.
DEFAULT_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def lora_target_modules(model: nn.Module, target_names=DEFAULT_LORA_TARGETS, groups=("llm",)) -> list[str]:
    """Full names of the `nn.Linear` modules called one of `target_names` inside the module `groups`.

    The backbone, the patch encoder and the patch decoder are all Qwen2 stacks with the same projection names, so a
    bare `["q_proj", ...]` would adapt all three; full names keep the choice per group (default: backbone only).
    """
    unknown = set(groups) - set(MODULE_GROUPS)
    if unknown or not groups:
        raise ValueError(f"lora groups must be a non-empty subset of {MODULE_GROUPS}, got {list(groups)}")
    parameter_groups = model_parameter_groups(model)
    module_names = {name.rsplit(".", 1)[0] for g in groups for name, _ in parameter_groups[g]}
    targets = sorted(
        name for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name in module_names and name.rsplit(".", 1)[-1] in set(target_names)
    )
    if not targets:
        raise ValueError(f"no nn.Linear named {list(target_names)} in the groups {list(groups)}")
    return targets


def _expand_containers(model: nn.Module, names) -> list[str]:
    """PEFT cannot save a `ModuleList` as a whole (`local_transformer_lm_heads`): name its children instead."""
    expanded = []
    modules = dict(model.named_modules())
    for name in names or []:
        matches = [full for full in modules if full == name or full.endswith("." + name)]
        if not matches:
            raise ValueError(f"lora.modules_to_save: the model has no module {name!r}")
        for full in matches:
            module = modules[full]
            if isinstance(module, (nn.ModuleList, nn.ModuleDict)):
                expanded += [f"{full}.{child}" for child, _ in module.named_children()]
            else:
                expanded.append(full)
    return expanded


def apply_lora(model: nn.Module, r: int = 16, alpha: int = 32, dropout: float = 0.05,
               target_names=DEFAULT_LORA_TARGETS, groups=("llm",), modules_to_save=None, quantized: bool = False):
    """Wraps `model` in a PEFT LoRA model.

    Args:
        target_names: projection names to adapt (default: all attention and MLP projections).
        groups: module groups whose projections get adapters: `llm` (default), `patch_encoder`, `patch_decoder`.
        modules_to_save: modules trained in full and saved with the adapter (e.g. `["local_transformer_lm_heads"]`).
        quantized: the model was loaded in 4 bits (QLoRA): runs `prepare_model_for_kbit_training` first.
    """
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if quantized:
        model = prepare_model_for_kbit_training(model)
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=lora_target_modules(model, target_names, groups),
                        modules_to_save=_expand_containers(model, modules_to_save) or None, bias="none")
    peft_model = get_peft_model(model, config)
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in peft_model.parameters())
    logger.info("LoRA: %d trainable parameters of %d (%.3f%%)", trainable, total, 100 * trainable / max(total, 1))
    return peft_model


def qlora_quantization_config(compute_dtype=torch.bfloat16):
    """`BitsAndBytesConfig` for 4-bit NF4 QLoRA. Raises ValueError without CUDA or bitsandbytes."""
    if not torch.cuda.is_available():
        raise ValueError("lora.qlora: true needs a CUDA GPU (bitsandbytes 4-bit kernels); set lora.qlora: false "
                         "to train plain LoRA on this machine")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as error:
        raise ValueError("lora.qlora: true needs bitsandbytes: pip install 'mimo-audio-hf[quant]'") from error
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
        # The small per-codebook heads and the down/up-casts stay in full precision.
        llm_int8_skip_modules=["lm_head", "local_transformer_lm_heads", "speech_group_downcast",
                               "hidden_states_downcast"],
    )


def merge_and_save(peft_model, output_dir: str, processing_class=None) -> nn.Module:
    """Merges the adapter into the base weights and saves a standalone checkpoint (loads without PEFT).

    For a QLoRA adapter, reload the base model in bf16 first and attach the adapter with
    `PeftModel.from_pretrained(base, adapter_dir)`: merging into 4-bit weights would round them.
    """
    if getattr(peft_model, "is_loaded_in_4bit", False) or getattr(peft_model.get_base_model(), "is_loaded_in_4bit",
                                                                   False):
        raise ValueError("merge_and_save: the base model is 4-bit; reload it in bf16, attach the adapter with "
                         "PeftModel.from_pretrained(base, adapter_dir), then merge")
    merged = peft_model.merge_and_unload()
    merged.save_pretrained(output_dir)
    if processing_class is not None:
        processing_class.save_pretrained(output_dir)
    return merged
