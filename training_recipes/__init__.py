"""Training recipes for MiMo-Audio: data preparation, collator, packing, trainers and the four recipes
(`pretrain_stage1`, `pretrain_stage2`, `sft`, `lora`). See docs/training.md."""

from .collator import MiMoAudioDataCollator
from .formats import (
    IGNORE_INDEX,
    TASK_FORMATS,
    SequenceBuilder,
    SpecialTokenIds,
    asr_example,
    asr_pretrain_example,
    build_example,
    captioning_example,
    captioning_pretrain_example,
    continuation_example,
    conversation_example,
    interleaved_example,
    text_only_example,
    tts_example,
    tts_pretrain_example,
)
from .optim import build_param_groups, freeze_modules, model_parameter_groups
from .packing import pack_examples


__all__ = [
    "IGNORE_INDEX",
    "TASK_FORMATS",
    "MiMoAudioDataCollator",
    "SequenceBuilder",
    "SpecialTokenIds",
    "asr_example",
    "asr_pretrain_example",
    "build_example",
    "build_param_groups",
    "captioning_example",
    "captioning_pretrain_example",
    "continuation_example",
    "conversation_example",
    "freeze_modules",
    "interleaved_example",
    "model_parameter_groups",
    "pack_examples",
    "text_only_example",
    "tts_example",
    "tts_pretrain_example",
]
