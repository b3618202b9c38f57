"""Sequence packing: several examples in one row of `context_length` positions, without attention across them.

A packed row carries `position_ids` that restart at 0 for every document. The collator then omits the 2-D attention
mask, and transformers' mask builders (`masking_utils.find_packed_sequence_indices`) turn the restarting positions
into a block-diagonal causal mask (SDPA/eager/flex), or flash-attention's varlen path uses them directly. The first
position of every document after the first gets label -100, so the last hidden state of one document is never
trained to predict the next document (spec B.3, cross-document transitions).
"""

from __future__ import annotations

import logging
from typing import Iterable, Iterator

from .formats import IGNORE_INDEX


logger = logging.getLogger(__name__)

__all__ = ["truncate_example", "pack_examples", "PATCH_VALUES"]

PATCH_VALUES = 32  # values per stored patch: 4 frames x 8 channels


def truncate_example(example: dict, max_length: int, empty_token_id: int) -> dict:
    """Keeps the first `max_length` positions of an example (and the audio patches among them)."""
    input_ids = example["input_ids"][:max_length]
    kept_patches = sum(1 for t in input_ids if t == empty_token_id)
    out = dict(example)
    out["input_ids"] = input_ids
    out["labels"] = example["labels"][:max_length]
    out["audio_patches"] = example["audio_patches"][: kept_patches * PATCH_VALUES]
    return out


def pack_examples(examples: Iterable[dict], context_length: int, empty_token_id: int,
                  truncate: bool = True) -> Iterator[dict]:
    """Greedily concatenates examples, in order, into rows of at most `context_length` positions.

    Each yielded row has `input_ids`, `labels`, `audio_patches`, `position_ids` (restarting per document) and
    `document_lengths`. An example longer than `context_length` is truncated with a warning (or raises ValueError
    when `truncate=False`): nothing is cut silently.
    """
    if context_length < 2:
        raise ValueError(f"context_length must be >= 2, got {context_length}")
    row = _empty_row()
    truncated = 0
    for index, example in enumerate(examples):
        length = len(example["input_ids"])
        if length > context_length:
            if not truncate:
                raise ValueError(f"example {index} has {length} positions, more than context_length={context_length}")
            truncated += 1
            example = truncate_example(example, context_length, empty_token_id)
            length = context_length
        if row["input_ids"] and len(row["input_ids"]) + length > context_length:
            yield row
            row = _empty_row()
        labels = list(example["labels"])
        if row["input_ids"]:
            labels[0] = IGNORE_INDEX  # no target across the document boundary
        row["input_ids"].extend(example["input_ids"])
        row["labels"].extend(labels)
        row["audio_patches"].extend(example["audio_patches"])
        row["position_ids"].extend(range(length))
        row["document_lengths"].append(length)
    if row["input_ids"]:
        yield row
    if truncated:
        logger.warning("pack_examples: truncated %d example(s) to context_length=%d", truncated, context_length)


def _empty_row() -> dict:
    return {"input_ids": [], "labels": [], "audio_patches": [], "position_ids": [], "document_lengths": []}
