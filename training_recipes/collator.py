"""Batches training examples into the tensors `MiMoAudioForConditionalGeneration.forward(labels=...)` expects."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .formats import IGNORE_INDEX, SpecialTokenIds
from .packing import PATCH_VALUES


__all__ = ["MiMoAudioDataCollator", "examples_to_audio_codes"]


def _integer_row(value, name: str, row: int, length: int | None = None) -> torch.Tensor:
    """One example's `name` as a long tensor; float, bool or mis-sized values are refused rather than truncated
    or broadcast."""
    tensor = torch.as_tensor(value)
    if tensor.numel() and (tensor.dtype.is_floating_point or tensor.is_complex() or tensor.dtype == torch.bool):
        raise TypeError(f"example {row}: `{name}` must hold integers, got dtype {tensor.dtype}")
    if tensor.dim() != 1 or (length is not None and tensor.numel() != length):
        expected = f"{length} values (one per position)" if length is not None else "a flat list"
        raise ValueError(f"example {row}: `{name}` must be {expected}, got shape {tuple(tensor.shape)}")
    return tensor.long()


def examples_to_audio_codes(input_ids: torch.Tensor, patches: list[torch.Tensor], special: SpecialTokenIds) -> torch.Tensor:
    """Scatters each row's stored patches onto its `<|empty|>` positions.

    Args:
        input_ids: `[batch, positions]` padded text stream.
        patches: per row, `[num_empty_positions, patch_size, num_codebooks]` codes in position order.
    Returns:
        `audio_codes` `[batch, positions, patch_size, num_codebooks]`; every non-audio position holds the per-channel
        empty ids (spec A.1).
    """
    batch, positions = input_ids.shape
    empty_ids = torch.tensor(special.speech_empty_ids, dtype=torch.long)
    codes = empty_ids.expand(batch, positions, special.patch_size, special.num_codebooks).clone()
    is_audio = input_ids == special.empty
    for row, row_patches in enumerate(patches):
        count = int(is_audio[row].sum())
        if row_patches.shape[0] != count:
            raise ValueError(
                f"example {row} has {count} `<|empty|>` positions but {row_patches.shape[0]} stored audio patches"
            )
        codes[row, is_audio[row]] = row_patches.long()
    return codes


@dataclass
class MiMoAudioDataCollator:
    """Pads examples from `training_recipes.formats` / `packing` into a batch.

    Masking rules (spec B.3): padding positions get label -100 (and attention 0); an example without `labels`
    (plain pretraining text) is trained on every position; labels given by a format (SFT: -100 on system/user turns
    and the generation prompt) are kept as they are, so audio inside masked turns gets no patch loss. The last
    position's label and a document's first position need no masking here: the model shifts labels (hidden k
    predicts label k+1), and `pack_examples` already masks document starts.

    Args:
        special (`SpecialTokenIds`): `<|empty|>` and the per-channel empty ids (`SpecialTokenIds.from_config(config)`).
        pad_token_id (`int`): text id put at padding positions (never a target, never attended).
        pad_to_multiple_of (`int`, *optional*): round the padded length up to a multiple of this.
        max_length (`int`, *optional*): refuse (ValueError) examples longer than this, instead of cutting them.

    Returns (from `__call__`) a dict of `input_ids` `[B,P]`, `audio_codes` `[B,P,4,8]`, `labels` `[B,P]` and either
    `attention_mask` `[B,P]` (1 = real) for unpacked examples, or `position_ids` `[B,P]` restarting per document for
    packed rows (`pack_examples`). Packed rows carry no 2-D mask on purpose: transformers builds a block-diagonal
    causal mask from restarting positions only when the mask is None. Padding then forms its own "document"
    (positions from 0) that no real token attends to.
    """

    special: SpecialTokenIds
    pad_token_id: int
    pad_to_multiple_of: int | None = None
    max_length: int | None = None

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        if not features:
            raise ValueError("features must hold at least one example")
        packed = ["position_ids" in f for f in features]
        if any(packed) and not all(packed):
            raise ValueError("mixing packed rows (with `position_ids`) and unpacked examples in one batch")
        lengths = [len(f["input_ids"]) for f in features]
        if self.max_length is not None and max(lengths) > self.max_length:
            raise ValueError(f"an example has {max(lengths)} positions, more than max_length={self.max_length}; "
                             "truncate or pack it when preparing the data")
        width = max(lengths)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of

        input_ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full_like(input_ids, IGNORE_INDEX)
        attention_mask = torch.zeros_like(input_ids)
        position_ids = torch.zeros_like(input_ids)
        patches = []
        patch_shape = (self.special.patch_size, self.special.num_codebooks)
        for row, (feature, length) in enumerate(zip(features, lengths)):
            ids = _integer_row(feature["input_ids"], "input_ids", row)
            input_ids[row, :length] = ids
            row_labels = feature.get("labels")
            labels[row, :length] = ids if row_labels is None else _integer_row(row_labels, "labels", row, length)
            attention_mask[row, :length] = 1
            if packed[0]:
                position_ids[row, :length] = _integer_row(feature["position_ids"], "position_ids", row, length)
                position_ids[row, length:] = torch.arange(width - length)
            flat = _integer_row(feature.get("audio_patches", []), "audio_patches", row)
            if flat.numel() % PATCH_VALUES:
                raise ValueError(f"example {row}: `audio_patches` length {flat.numel()} is not a multiple of "
                                 f"{PATCH_VALUES} (patch_size x num_codebooks)")
            patches.append(flat.view(-1, *patch_shape))
        batch = {
            "input_ids": input_ids,
            "audio_codes": examples_to_audio_codes(input_ids, patches, self.special),
            "labels": labels,
        }
        if packed[0]:
            batch["position_ids"] = position_ids
        else:
            batch["attention_mask"] = attention_mask
        return batch
