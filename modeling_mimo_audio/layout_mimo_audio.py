"""Pure index helpers for MiMo-Audio's tensor layouts (no model state, unit-tested on their own).

Two layouts of the same sequence:

* **positions** (ours): `input_ids [B, P]` (one text token per position, `<|empty|>` at audio patches) and
  `audio_codes [B, P, patch_size, num_codebooks]` (per-codebook empty ids at text positions);
* **interleaved** (upstream's): `[B, 1 + num_codebooks, patch_size * P]`; row 0 holds the text token at column
  `patch_size * k` and -100 filler at the other columns of position k, row `1 + c` holds codebook c's frames.

And, inside the patch decoder, the **delayed grid** of one patch: `[n, patch_size + max(delay), num_codebooks]`,
cell `(t, c)` = frame `t - delay[c]` of codebook c, or the codebook's empty id outside the patch.
"""

import torch


__all__ = ["interleaved_to_patches", "patches_to_interleaved", "delay_patch", "undelay_patch", "delay_step_schedule"]

TEXT_FILLER = -100


def interleaved_to_patches(interleaved: torch.Tensor, patch_size: int = 4):
    """
    Upstream layout `[B, 1 + C, patch_size * P]` -> `(input_ids [B, P], audio_codes [B, P, patch_size, C])`.
    An unbatched `[1 + C, patch_size * P]` gives `([P], [P, patch_size, C])`.

    Only column `patch_size * k` of the text row is read (the other columns are filler or repeats).
    """
    if interleaved.dim() == 2:
        input_ids, audio_codes = interleaved_to_patches(interleaved.unsqueeze(0), patch_size)
        return input_ids[0], audio_codes[0]
    if interleaved.dim() != 3:
        raise ValueError(f"`interleaved` must be [batch, 1 + num_codebooks, patch_size * positions], "
                         f"got shape {tuple(interleaved.shape)}")
    batch, rows, columns = interleaved.shape
    if columns % patch_size != 0:
        raise ValueError(f"`interleaved` has {columns} columns, not a multiple of patch_size={patch_size}")
    input_ids = interleaved[:, 0, ::patch_size]
    audio_codes = interleaved[:, 1:].reshape(batch, rows - 1, columns // patch_size, patch_size).permute(0, 2, 3, 1)
    return input_ids.contiguous(), audio_codes.contiguous()


def patches_to_interleaved(
    input_ids: torch.Tensor, audio_codes: torch.Tensor, filler: int = TEXT_FILLER, repeat_text: bool = False
):
    """
    `(input_ids [B, P], audio_codes [B, P, patch_size, C])` -> upstream layout `[B, 1 + C, patch_size * P]`,
    with `filler` (-100, as in upstream prompts) on text columns `patch_size * k + 1 ...`, or the token repeated
    there with `repeat_text=True` (as upstream writes generated positions). Unbatched `([P], [P, patch_size, C])`
    gives `[1 + C, patch_size * P]`.
    """
    if input_ids.dim() == 1 and audio_codes.dim() == 3:
        return patches_to_interleaved(input_ids[None], audio_codes[None], filler, repeat_text)[0]
    if input_ids.dim() != 2 or audio_codes.dim() != 4 or audio_codes.shape[:2] != input_ids.shape:
        raise ValueError(f"expected input_ids [B, P] and audio_codes [B, P, patch_size, C], got "
                         f"{tuple(input_ids.shape)} and {tuple(audio_codes.shape)}")
    batch, positions, patch_size, channels = audio_codes.shape
    text = torch.full((batch, positions, patch_size), filler, dtype=audio_codes.dtype, device=audio_codes.device)
    if repeat_text:
        text[:] = input_ids.unsqueeze(-1)
    else:
        text[:, :, 0] = input_ids
    text_row = text.reshape(batch, 1, positions * patch_size)
    audio_rows = audio_codes.permute(0, 3, 1, 2).reshape(batch, channels, positions * patch_size)
    return torch.cat([text_row, audio_rows], dim=1)


def delay_patch(patches: torch.Tensor, delay_pattern, empty_ids) -> torch.Tensor:
    """
    `patches [n, patch_size, C]` -> delayed grid `[n, patch_size + max(delay), C]`:
    `grid[:, t, c] = patches[:, t - delay[c], c]` when `0 <= t - delay[c] < patch_size`, else `empty_ids[c]`.
    """
    n, patch_size, channels = patches.shape
    steps = patch_size + max(delay_pattern)
    delays = torch.as_tensor(delay_pattern, device=patches.device)
    frame = torch.arange(steps, device=patches.device).unsqueeze(1) - delays  # [steps, C]
    inside = (frame >= 0) & (frame < patch_size)
    gathered = patches.gather(1, frame.clamp(0, patch_size - 1).unsqueeze(0).expand(n, -1, -1))
    empty = torch.as_tensor(empty_ids, device=patches.device, dtype=patches.dtype)
    return torch.where(inside, gathered, empty)


def undelay_patch(grid: torch.Tensor, delay_pattern, patch_size: int) -> torch.Tensor:
    """Inverse of `delay_patch`: delayed grid `[n, steps, C]` -> `patches [n, patch_size, C]`."""
    delays = torch.as_tensor(delay_pattern, device=grid.device)
    step = torch.arange(patch_size, device=grid.device).unsqueeze(1) + delays  # [patch_size, C]
    return grid.gather(1, step.unsqueeze(0).expand(grid.shape[0], -1, -1))


def delay_step_schedule(delay_pattern, patch_size: int):
    """
    For each patch-decoder step t, the list of `(codebook, frame)` emitted at that step
    (codebook c emits frame `t - delay[c]` while `0 <= t - delay[c] < patch_size`).
    """
    steps = patch_size + max(delay_pattern)
    return [
        [(c, t - d) for c, d in enumerate(delay_pattern) if 0 <= t - d < patch_size]
        for t in range(steps)
    ]
