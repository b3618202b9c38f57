"""Training precision: `training.bf16: auto` resolves to bf16 autocast only where the hardware has native bf16.

On a CPU with AVX512-BF16 or AMX a mini LM step runs 1.5-1.8x faster under bf16 autocast than in fp32 (measured
on the miniature's 8 x 512 batches, docs/mini.md); on a CPU without them torch falls back to a reference kernel
about 16x *slower* than fp32. So the recipes cannot simply turn bf16 on, and `auto` asks the hardware.
"""

from __future__ import annotations

import torch


__all__ = ["native_bf16_supported", "resolve_bf16"]


def native_bf16_supported(use_cpu: bool = False) -> bool:
    """Whether the device a recipe trains on runs bf16 matmuls natively: a CUDA GPU that supports bf16 (unless
    `use_cpu`), otherwise a CPU with AVX512-BF16 or AMX tiles."""
    if not use_cpu and torch.cuda.is_available():
        return torch.cuda.is_bf16_supported()
    # torch exposes these probes only privately; tests/test_training_precision.py fails loudly if they move.
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_bf16(value, use_cpu: bool = False, name: str = "training.bf16") -> bool:
    """A config's `bf16` setting (`name`, for the error) as a bool: True / False unchanged, `"auto"` ->
    `native_bf16_supported(use_cpu)`."""
    if isinstance(value, bool):
        return value
    if value == "auto":
        return native_bf16_supported(use_cpu)
    raise ValueError(f"{name} must be true, false or 'auto', got {value!r}")
