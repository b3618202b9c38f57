"""Named per-task generation settings of MiMo-Audio (spec section E), as `GenerationConfig`s.

`do_sample` / `temperature` / `top_k` / `top_p` drive the text head (upstream's "global" sampler); `audio_temperature`,
`audio_top_k`, `audio_top_p` drive the patch decoder (upstream's "local" sampler) when it samples. The presets do not
store `audio_do_sample`: the patch decoder samples when `do_sample` is on, and is greedy under a greedy preset or a
caller's `do_sample=False`, unless the caller sets `audio_do_sample` (e.g. `audio_do_sample=True` for upstream's
sampled patches under a greedy text head). The stop set goes to `eos_token_id`; its ids are read from the tokenizer.

| preset | text sampler | patch sampler | stops |
|---|---|---|---|
| default | T0.6 k50 p0.95 | T0.9 k50 p0.95 | eos, `<|im_end|>` |
| asr | greedy | T0.9 p0.95 | eos, `<|im_end|>` |
| tts | T0.6 p1.0 | T0.9 p0.95 | eos, `<|eostm|>`, `<|im_end|>` |
| spoken_dialogue | T0.6 p0.95 (upstream inference code) | T0.9 p0.95 | eos, `<|eostm|>`, `<|im_end|>` |
| spoken_dialogue_eval | T0.3 p0.95 (upstream eval toolkit) | T0.7 p0.95 | eos, `<|eostm|>`, `<|im_end|>` |
| speech_to_text_dialogue | T0.6 p0.95 (upstream reuses the dialogue sampler) | T0.9 p0.95 | eos, `<|im_end|>` |
| audio_understanding | T0.3 p0.95 | T0.9 p0.95 | eos, `<|im_end|>` |
| text_dialogue | T0.4 p0.95 | T0.9 p0.95 | eos, `<|im_end|>` |
| in_context_learning_s2s | greedy | T0.9 p0.95 | eos, `<|eostm|>` |
| few_shot_mmau | greedy | T0.9 p0.95 | eos, `<|sosp|>` |
| speech_continuation | T0.6 k50 p0.95 | T0.9 k50 p0.95 | eos, `<|eosp|>` |

The presets that stop on `<|eostm|>` with `<|im_end|>` (the speech-output tasks) also set `streaming_layout=True`:
`generate` keeps their speech turns in MiMo-Audio's streaming layout (an addition of ours; upstream leaves the layout to
the model, see `modeling_mimo_audio/streaming_layout.py`).

A checkpoint may tune a preset for itself: its generation config's `preset_overrides`, `{preset name: {field:
value}}`, is applied over the named preset by the `"mimo-audio"` pipeline (and so by `mimo-audio speak`, `eval`,
transformers' TTS pipelines), the way transformers' pipelines read a config's `task_specific_params`; a caller's own
`generate_kwargs` / `generation_config` still win. The shipped miniature uses it for its TTS sampler
(`training_recipes/mini/model.py`, `MINI_PRESET_OVERRIDES`); released checkpoints carry none.

Upstream's task samplers have no top-k: `top_k=0` for the text head and `audio_top_k=0` for the patch decoder (0 =
off; `None` would mean `generate()`'s default 50, as in upstream's default sampler). `max_new_tokens` is upstream's 8192 LLM positions
except where noted; ICL needs an explicit int upstream (its `None` default crashes), we ship 8192.
"""

from __future__ import annotations

import copy

from transformers import GenerationConfig

from .tokenization_mimo_audio import mimo_special_token_ids


__all__ = ["GENERATION_PRESETS", "get_generation_preset", "checkpoint_preset_overrides", "checkpoint_tuned_preset"]

_TEXT_STOPS = ("eos", "im_end")
_SPEECH_STOPS = ("eos", "eostm", "im_end")

# name -> (text sampler, patch sampler, stop tokens, max_new_tokens)
_GREEDY = {"do_sample": False}
GENERATION_PRESETS = {
    "default": ({"do_sample": True, "temperature": 0.6, "top_k": 50, "top_p": 0.95}, (0.9, 50, 0.95), _TEXT_STOPS, 8192),
    "asr": (_GREEDY, (0.9, 0, 0.95), _TEXT_STOPS, 8192),
    "tts": ({"do_sample": True, "temperature": 0.6, "top_p": 1.0}, (0.9, 0, 0.95), _SPEECH_STOPS, 8192),
    "instruct_tts": ({"do_sample": True, "temperature": 0.6, "top_p": 1.0}, (0.9, 0, 0.95), _SPEECH_STOPS, 8192),
    "spoken_dialogue": ({"do_sample": True, "temperature": 0.6, "top_p": 0.95}, (0.9, 0, 0.95), _SPEECH_STOPS, 8192),
    "spoken_dialogue_eval": (
        {"do_sample": True, "temperature": 0.3, "top_p": 0.95},
        (0.7, 0, 0.95),
        _SPEECH_STOPS,
        8192,
    ),
    "speech_to_text_dialogue": (
        {"do_sample": True, "temperature": 0.6, "top_p": 0.95},
        (0.9, 0, 0.95),
        _TEXT_STOPS,
        8192,
    ),
    "audio_understanding": ({"do_sample": True, "temperature": 0.3, "top_p": 0.95}, (0.9, 0, 0.95), _TEXT_STOPS, 8192),
    "text_dialogue": ({"do_sample": True, "temperature": 0.4, "top_p": 0.95}, (0.9, 0, 0.95), _TEXT_STOPS, 8192),
    "in_context_learning_s2s": (_GREEDY, (0.9, 0, 0.95), ("eos", "eostm"), 8192),
    "few_shot_mmau": (_GREEDY, (0.9, 0, 0.95), ("eos", "sosp"), 8192),
    "speech_continuation": (
        {"do_sample": True, "temperature": 0.6, "top_k": 50, "top_p": 0.95},
        (0.9, 50, 0.95),
        ("eos", "eosp"),
        8192,
    ),
}


def get_generation_preset(name: str, tokenizer, **overrides) -> GenerationConfig:
    """The `GenerationConfig` of task preset `name` with stop ids read from `tokenizer` (a tokenizer or processor).

    Example: `model.generate(**inputs, generation_config=get_generation_preset("asr", processor))`.
    `overrides` (e.g. `max_new_tokens=256`) replace preset fields.
    """
    if name not in GENERATION_PRESETS:
        raise ValueError(f"unknown generation preset {name!r}; choose one of {sorted(GENERATION_PRESETS)}")
    tokenizer = getattr(tokenizer, "tokenizer", tokenizer)
    ids = mimo_special_token_ids(tokenizer)
    eos = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else ids["endoftext"]
    text, (audio_temperature, audio_top_k, audio_top_p), stops, max_new_tokens = GENERATION_PRESETS[name]
    stop_ids = []
    for stop in stops:
        token_id = eos if stop == "eos" else ids[stop]
        if token_id not in stop_ids:
            stop_ids.append(token_id)
    settings = {
        **copy.deepcopy(text),
        "top_k": text.get("top_k", 0),  # 0 = off; None would mean generate()'s default 50
        "max_new_tokens": max_new_tokens,
        "eos_token_id": stop_ids,
        "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos,
        "audio_temperature": audio_temperature,
        "audio_top_k": audio_top_k,
        "audio_top_p": audio_top_p,
    }
    if stops == _SPEECH_STOPS:
        # Speech turns keep MiMo-Audio's streaming layout (modeling_mimo_audio/streaming_layout.py).
        settings["streaming_layout"] = True
    if not settings["do_sample"]:
        settings.update(temperature=None, top_p=None, top_k=None)
    settings.update(overrides)
    return GenerationConfig(**settings)


def checkpoint_preset_overrides(checkpoint_config, name: str) -> dict:
    """The fields that `checkpoint_config` (a model's `GenerationConfig`) sets for preset `name` through its
    `preset_overrides` mapping (see the module docstring); `{}` when it has none. A malformed mapping raises a
    `ValueError` naming `preset_overrides`."""
    overrides = getattr(checkpoint_config, "preset_overrides", None)
    if overrides is None:
        return {}
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise ValueError("generation config `preset_overrides` must map preset names to {field: value} mappings, "
                         f"got {overrides!r}")
    unknown = sorted(set(overrides) - set(GENERATION_PRESETS))
    if unknown:
        raise ValueError(f"generation config `preset_overrides` names unknown presets {unknown}; "
                         f"choose among {sorted(GENERATION_PRESETS)}")
    return copy.deepcopy(overrides.get(name, {}))


def checkpoint_tuned_preset(name: str, tokenizer, checkpoint_config, **overrides) -> GenerationConfig:
    """Preset `name` as `checkpoint_config` (a model's `GenerationConfig`) tunes it (`preset_overrides`), with
    `overrides` (the caller's fields) on top: how the `"mimo-audio"` pipeline and the evaluation backend build it."""
    tuned = checkpoint_preset_overrides(checkpoint_config, name)
    return get_generation_preset(name, tokenizer, **{**tuned, **overrides})
