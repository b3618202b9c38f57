"""Where the shipped miniature MiMo-Audio lives (package data), for the commands and pipelines that default to it.

The folder `modeling_mimo_audio/pretrained/mimo-audio-mini/` is a complete Hub-style checkpoint (LM, processor,
codec in `audio_tokenizer/`, model card) trained by `python -m training_recipes.mini.reproduce`; see its README.md.
"""

import os

__all__ = ["MINI_MODEL_DIR", "mini_model_available", "mini_model_path"]

MINI_MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained", "mimo-audio-mini")


def mini_model_available() -> bool:
    """Whether the installed package carries the miniature's folder."""
    return os.path.isfile(os.path.join(MINI_MODEL_DIR, "config.json"))


def mini_model_path() -> str:
    """The folder of the shipped miniature MiMo-Audio (open it with `AutoModelForTextToWaveform` /
    `AutoProcessor`); raises `FileNotFoundError` when the package was installed without it."""
    if not mini_model_available():
        raise FileNotFoundError(
            f"the miniature MiMo-Audio is not installed at {MINI_MODEL_DIR}; rebuild it with "
            "`python -m training_recipes.mini.reproduce --work-dir runs/mini --ship-to " + MINI_MODEL_DIR + "`"
        )
    return MINI_MODEL_DIR


def mini_audio_tokenizer_path() -> str:
    """The shipped miniature's codec folder (`audio_tokenizer/` of `mini_model_path()`)."""
    return os.path.join(mini_model_path(), "audio_tokenizer")


__all__ += ["mini_audio_tokenizer_path"]
