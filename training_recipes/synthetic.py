"""Synthetic rows (random codes, short sentences) for smoke runs and tests: no audio, no codec, no download."""

from __future__ import annotations

import random

import numpy as np


__all__ = ["synthetic_rows", "PRETRAIN_TASKS"]

PRETRAIN_TASKS = ("interleaved", "continuation", "text", "asr_pretrain", "tts_pretrain", "captioning_pretrain")
_WORDS = ("hello world how are you today the quick brown fox jumps over the lazy dog it is sunny and warm "
          "please read this content out loud what is the weather like a good day for a walk in the park").split()


def _sentence(rng: random.Random, low: int = 3, high: int = 9) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(low, high))).capitalize()


def _codes(rng: np.random.Generator, speech_empty_ids, min_frames: int, max_frames: int) -> list[list[int]]:
    frames = int(rng.integers(min_frames, max_frames + 1))
    return [rng.integers(0, empty, size=frames).tolist() for empty in speech_empty_ids]


def _conversation(rng, nrng, speech_empty_ids, min_frames, max_frames) -> list[dict]:
    # Content is always a list of parts: Arrow cannot store a column mixing strings and lists.
    kind = rng.choice(("understanding", "tts", "dialogue"))
    if kind == "understanding":
        return [
            {"role": "user", "content": [{"type": "audio", "audio_codes": _codes(nrng, speech_empty_ids, min_frames,
                                                                                  max_frames)},
                                         {"type": "text", "text": _sentence(rng) + "?"}]},
            {"role": "assistant", "thinking": _sentence(rng), "content": [{"type": "text", "text": _sentence(rng)}]},
        ]
    if kind == "tts":
        text = _sentence(rng)
        return [
            {"role": "user", "content": [{"type": "text", "text": f"Please convert this text to speech: {text}"}]},
            {"role": "assistant", "content": [{"type": "text", "text": text},
                                              {"type": "audio", "audio_codes": _codes(nrng, speech_empty_ids,
                                                                                      min_frames, max_frames)}]},
        ]
    return [
        {"role": "user", "content": [{"type": "text", "text": _sentence(rng) + "?"}]},
        {"role": "assistant", "thinking": _sentence(rng), "content": [{"type": "text", "text": _sentence(rng)}]},
    ]


def synthetic_rows(num_examples: int, task: str, speech_empty_ids, seed: int = 0, min_frames: int = 6,
                   max_frames: int = 24) -> list[dict]:
    """Rows shaped like `prepare_data encode` output: `audio_codes` (`[8, frames]`, valid codes) and `text`; for
    `task="sft"`, `messages` (conversations with thinking traces, spoken answers and audio questions); for
    `task="mixed"`, a `task` column cycling through the pretraining formats."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    rows = []
    for i in range(num_examples):
        if task == "sft":
            rows.append({"messages": _conversation(rng, nrng, speech_empty_ids, min_frames, max_frames)})
            continue
        row = {"audio_codes": _codes(nrng, speech_empty_ids, min_frames, max_frames), "text": _sentence(rng)}
        if task == "mixed":
            row["task"] = PRETRAIN_TASKS[i % len(PRETRAIN_TASKS)]
        rows.append(row)
    return rows
