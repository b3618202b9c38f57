"""Processing for MiMo-Audio: feature extraction, text tokenizer handling, prompt layout, processor, presets."""

from .generation_presets import GENERATION_PRESETS, checkpoint_preset_overrides, get_generation_preset
from .processing_mimo_audio import MiMoAudioProcessor, load_chat_template
from .prompts_mimo_audio import (
    AUDIO_PLACEHOLDER,
    OPEN_AUDIO_PLACEHOLDER,
    SEGMENT_SEPARATOR,
    TASK_CHAT_TEMPLATE_KWARGS,
    asr_conversation,
    audio_understanding_conversation,
    capitalize_if_single_case,
    in_context_learning_s2s_prompt,
    parse_prompt_markup,
    speech_continuation_prompt,
    speech_to_text_dialogue_conversation,
    spoken_dialogue_conversation,
    streaming_chunks,
    text_dialogue_conversation,
    tts_conversation,
)
from .tokenization_mimo_audio import (
    MIMO_AUDIO_SPECIAL_TOKENS,
    build_tiny_tokenizer,
    ensure_mimo_special_tokens,
    load_mimo_audio_tokenizer,
    mimo_special_token_ids,
)

from .auto_registration import register_processing_classes

register_processing_classes()
