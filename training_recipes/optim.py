"""Per-module learning rates (spec B.6) as real optimizer parameter groups, and module freezing."""

from __future__ import annotations

from torch import nn


__all__ = ["MODULE_GROUPS", "unwrap_model", "model_parameter_groups", "freeze_modules", "build_param_groups"]

MODULE_GROUPS = ("patch_encoder", "llm", "patch_decoder")


def unwrap_model(model: nn.Module) -> nn.Module:
    """The `MiMoAudioForConditionalGeneration` inside DDP / PEFT wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):  # DDP / DeepSpeed engine
            model = model.module
        elif hasattr(model, "get_base_model"):  # PEFT
            model = model.get_base_model()
        else:
            return model


def model_parameter_groups(model: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """`{"patch_encoder" | "llm" | "patch_decoder": [(name, parameter), ...]}` from the model's own
    `parameter_groups()` (which puts the speech embeddings, shared with the decoder, in "patch_encoder").

    Under PEFT the LoRA matrices sit inside the wrapped modules, so they land in the group of the module they adapt.
    """
    base = unwrap_model(model)
    if not hasattr(base, "parameter_groups"):
        raise TypeError(f"model must be a MiMoAudioForConditionalGeneration (with parameter_groups()), "
                        f"got {type(base).__name__}")
    groups = base.parameter_groups()
    unknown = set(groups) - set(MODULE_GROUPS)
    if unknown:
        raise ValueError(f"model.parameter_groups() returned unknown groups {sorted(unknown)}")
    return groups


def freeze_modules(model: nn.Module, groups: list[str] | tuple[str, ...]) -> int:
    """Sets `requires_grad=False` on every parameter of the named groups; returns how many were frozen.

    Freezing the patch decoder leaves the speech embeddings trainable: they belong to the patch encoder (B.6).
    """
    unknown = set(groups) - set(MODULE_GROUPS)
    if unknown:
        raise ValueError(f"frozen_modules must be among {MODULE_GROUPS}, got {sorted(unknown)}")
    count = 0
    for group in groups:
        for _, parameter in model_parameter_groups(model)[group]:
            parameter.requires_grad_(False)
            count += parameter.numel()
    return count


def build_param_groups(model: nn.Module, learning_rates: dict[str, float], weight_decay: float,
                       decay_parameter_names: set[str] | None = None) -> list[dict]:
    """Optimizer parameter groups: one per module group (and decay / no-decay), each with its own `lr`.

    Args:
        learning_rates: `{"patch_encoder": 2e-4, "llm": 3e-5, "patch_decoder": 2e-4}`; a group with trainable
            parameters must have a rate (ValueError otherwise), a frozen group may be left out.
        weight_decay: applied to the names in `decay_parameter_names` (the Trainer's: no norms, no biases); with
            `None`, to every parameter with 2 or more dimensions.
    Returns:
        torch optimizer groups `{"params", "lr", "weight_decay", "name"}`; `name` is e.g. `"llm"` or `"llm_no_decay"`.
    """
    unknown = set(learning_rates) - set(MODULE_GROUPS)
    if unknown:
        raise ValueError(f"learning_rates keys must be among {MODULE_GROUPS}, got {sorted(unknown)}")
    base = unwrap_model(model)
    # Names as the (possibly wrapped) model reports them, for the Trainer's decay list.
    outer_names = {id(p): n for n, p in model.named_parameters()}
    optimizer_groups = []
    for group, named in model_parameter_groups(base).items():
        trainable = [(outer_names.get(id(p), n), p) for n, p in named if p.requires_grad]
        if not trainable:
            continue
        lr = learning_rates.get(group)
        if lr is None:
            raise ValueError(f"learning_rates has no rate for the trainable group {group!r}; set one or freeze it")
        if decay_parameter_names is None:
            decays = [p.dim() >= 2 for _, p in trainable]
        else:
            decays = [n in decay_parameter_names for n, _ in trainable]
        with_decay = [p for (_, p), d in zip(trainable, decays) if d]
        without = [p for (_, p), d in zip(trainable, decays) if not d]
        if with_decay:
            optimizer_groups.append({"params": with_decay, "lr": float(lr), "weight_decay": weight_decay,
                                     "name": group})
        if without:
            optimizer_groups.append({"params": without, "lr": float(lr), "weight_decay": 0.0,
                                     "name": f"{group}_no_decay"})
    if not optimizer_groups:
        raise ValueError("the model has no trainable parameters")
    return optimizer_groups
