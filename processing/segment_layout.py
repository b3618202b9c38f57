"""The one layout engine: segments (spec A.3) -> LLM positions, for prompts and training examples alike.

`MiMoAudioProcessor` (prompts: codes from the codec or given by the caller) and `training_recipes.formats`
(examples with labels) both lay out their segments with `SegmentLayout`, so a prompt and a training example made of
the same segments have the same positions. Clip codes enter in one layout, the codec's `[num_codebooks, frames]`
(`clip_to_patches`).

- text segment: its ids, one position each;
- audio segment: `<|sosp|>`, one `<|empty|>` position per patch, `<|eosp|>` (left out for an open segment);
- streaming segment: `<|sostm|>`, transcript and patch chunks in `streaming_chunks` order, `<|eostm|>`.

Every position records whether it is a training target, and every `<|empty|>` position the patch it holds.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from .prompts_mimo_audio import AudioSegment, TextSegment, pad_codes_to_patches, streaming_chunks

__all__ = ["SegmentLayout", "clip_to_patches"]


def clip_to_patches(codes, patch_size: int = 4, num_codebooks: int = 8) -> torch.Tensor:
    """Clip codes `[channels >= num_codebooks, frames]` (the codec's layout; channels past `num_codebooks` are
    dropped) -> patches `[num_patches, patch_size, num_codebooks]`, the last frame repeated until the frame count is
    a multiple of `patch_size` (upstream's padding)."""
    codes = torch.as_tensor(codes)
    if codes.dim() != 2 or codes.shape[0] < num_codebooks or codes.shape[1] == 0:
        raise ValueError(
            f"audio codes must be [num_codebooks>={num_codebooks}, frames>0] (the codec's per-clip layout), "
            f"got shape {tuple(codes.shape)}"
        )
    return pad_codes_to_patches(codes[:num_codebooks].T.long(), patch_size)


class SegmentLayout:
    """The positions of one sequence, appended segment by segment.

    Args:
        empty, sosp, eosp, sostm, eostm, eot (`int`): ids of `<|empty|>`, `<|sosp|>`, `<|eosp|>`, `<|sostm|>`,
            `<|eostm|>`, `<|eot|>`.

    Attributes:
        tokens (`list[int]`, length P): the text id of every position (`<|empty|>` at patch positions).
        targets (`list[bool]`, length P): whether each position is a training target.
        patch_positions (`list[int]`): the position of each patch, in order.
        patches (`list[torch.LongTensor]`): each patch, `[patch_size, num_codebooks]`.
    """

    def __init__(self, *, empty: int, sosp: int, eosp: int, sostm: int, eostm: int, eot: int):
        self.empty, self.sosp, self.eosp, self.sostm, self.eostm, self.eot = empty, sosp, eosp, sostm, eostm, eot
        self.tokens: list[int] = []
        self.targets: list[bool] = []
        self.patch_positions: list[int] = []
        self.patches: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self.tokens)

    def _push(self, ids: Sequence[int], target: bool):
        self.tokens.extend(ids)
        self.targets.extend([target] * len(ids))

    def _push_patches(self, patches: torch.Tensor, target: bool):
        self.patch_positions.extend(range(len(self.tokens), len(self.tokens) + patches.shape[0]))
        self.patches.extend(patches)
        self._push([self.empty] * patches.shape[0], target)

    def text(self, ids: Sequence[int], target: bool = False) -> "SegmentLayout":
        """A text segment of already tokenized `ids`."""
        self._push(ids, target)
        return self

    def audio(self, patches: torch.Tensor, target: bool = False, close: bool = True) -> "SegmentLayout":
        """An audio segment of `patches [num_patches, patch_size, C]`; `close=False` leaves out `<|eosp|>`."""
        self._push([self.sosp], target)
        self._push_patches(patches, target)
        if close:
            self._push([self.eosp], target)
        return self

    def streaming(self, ids: Sequence[int], patches: torch.Tensor, target: bool = False) -> "SegmentLayout":
        """A streaming segment of the transcript `ids` and `patches [num_patches, patch_size, C]`."""
        self._push([self.sostm], target)
        for kind, chunk in streaming_chunks(list(ids), patches.shape[0], self.eot):
            if kind == "text":
                self._push(chunk, target)
            else:
                self._push_patches(patches[chunk.start : chunk.stop], target)
        self._push([self.eostm], target)
        return self

    def add_segments(self, segments: Sequence, text_ids: Callable[[object], list[int]], clips: Sequence[torch.Tensor],
                     all_targets: bool = False) -> "SegmentLayout":
        """Lays out parsed `segments` (`TextSegment` / `AudioSegment` / `StreamingSegment`).

        Args:
            text_ids: the ids of a text or streaming segment's text (called once per such segment).
            clips: the patches `[num_patches, patch_size, C]` of each clip, indexed by the segments' `audio_index`.
            all_targets: every position is a target (pretraining), whatever the segments say.
        """
        for segment in segments:
            target = all_targets or segment.target
            if isinstance(segment, TextSegment):
                self.text(text_ids(segment), target)
            elif isinstance(segment, AudioSegment):
                self.audio(clips[segment.audio_index], target, close=segment.close)
            else:
                self.streaming(text_ids(segment), clips[segment.audio_index], target)
        return self
