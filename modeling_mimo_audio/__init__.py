"""MiMo-Audio for Hugging Face transformers.

``import modeling_mimo_audio`` is the package's one public entry point: it re-exports the configurations, models,
feature extractor, processor, streamer and pipeline, and registers them with the transformers Auto classes (and the
``"mimo-audio"`` pipeline) so that ``AutoConfig`` / ``AutoModel...`` / ``AutoProcessor`` / ``AutoFeatureExtractor``
/ ``pipeline`` resolve MiMo-Audio folders. Registering twice (re-import, reload) is harmless.

The re-exports are lazy, as transformers' own ``_LazyModule`` makes its names: a name's module is imported the first
time the name is used, so this file imports nothing of ``processing`` (or the command line) itself, and the model
files of this package import nothing above them. Registration cannot wait: transformers' Auto mappings take the
classes themselves. So the model side (configs, LM, codec) is registered here, and ``import processing`` at the end
registers the processing side (processor, feature extractor, the task models of transformers' pipelines, the
``"mimo-audio"`` pipeline); whichever of the two packages is imported first, both end up registered.
"""

import importlib

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    # processing.feature_extraction_mimo_audio
    "MiMoAudioFeatureExtractor": "processing.feature_extraction_mimo_audio",
    # modeling_mimo_audio.configuration_mimo_audio_tokenizer
    "MiMoAudioTokenizerConfig": "modeling_mimo_audio.configuration_mimo_audio_tokenizer",
    # modeling_mimo_audio.modeling_mimo_audio_tokenizer
    "MiMoAudioTokenizerDecoderOutput": "modeling_mimo_audio.modeling_mimo_audio_tokenizer",
    "MiMoAudioTokenizerEncoderOutput": "modeling_mimo_audio.modeling_mimo_audio_tokenizer",
    "MiMoAudioTokenizerModel": "modeling_mimo_audio.modeling_mimo_audio_tokenizer",
    "MiMoAudioTokenizerPreTrainedModel": "modeling_mimo_audio.modeling_mimo_audio_tokenizer",
    # modeling_mimo_audio.streaming_mimo_audio_tokenizer
    "MiMoAudioTokenizerStreamingDecoder": "modeling_mimo_audio.streaming_mimo_audio_tokenizer",
    # modeling_mimo_audio.configuration_mimo_audio
    "MiMoAudioConfig": "modeling_mimo_audio.configuration_mimo_audio",
    # modeling_mimo_audio.generation_mimo_audio
    "MiMoAudioGenerateOutput": "modeling_mimo_audio.generation_mimo_audio",
    # modeling_mimo_audio.layout_mimo_audio
    "interleaved_to_patches": "modeling_mimo_audio.layout_mimo_audio",
    "patches_to_interleaved": "modeling_mimo_audio.layout_mimo_audio",
    # modeling_mimo_audio.modeling_mimo_audio
    "MiMoAudioCausalLMOutputWithPast": "modeling_mimo_audio.modeling_mimo_audio",
    "MiMoAudioForCausalLM": "modeling_mimo_audio.modeling_mimo_audio",
    "MiMoAudioForConditionalGeneration": "modeling_mimo_audio.modeling_mimo_audio",
    "MiMoAudioPreTrainedModel": "modeling_mimo_audio.modeling_mimo_audio",
    # processing.generation_presets
    "GENERATION_PRESETS": "processing.generation_presets",
    "checkpoint_preset_overrides": "processing.generation_presets",
    "get_generation_preset": "processing.generation_presets",
    # processing.pipeline_mimo_audio
    "GenerationProgressBar": "processing.pipeline_mimo_audio",
    "MiMoAudioPipeline": "processing.pipeline_mimo_audio",
    # processing.processing_mimo_audio
    "MiMoAudioProcessor": "processing.processing_mimo_audio",
    # processing.streaming_mimo_audio
    "MiMoAudioStreamChunk": "processing.streaming_mimo_audio",
    "MiMoAudioStreamer": "processing.streaming_mimo_audio",
    # processing.prompts_mimo_audio
    "TASK_CHAT_TEMPLATE_KWARGS": "processing.prompts_mimo_audio",
    "asr_conversation": "processing.prompts_mimo_audio",
    "audio_understanding_conversation": "processing.prompts_mimo_audio",
    "in_context_learning_s2s_prompt": "processing.prompts_mimo_audio",
    "speech_continuation_prompt": "processing.prompts_mimo_audio",
    "speech_to_text_dialogue_conversation": "processing.prompts_mimo_audio",
    "spoken_dialogue_conversation": "processing.prompts_mimo_audio",
    "text_dialogue_conversation": "processing.prompts_mimo_audio",
    "tts_conversation": "processing.prompts_mimo_audio",
    # processing.tokenization_mimo_audio
    "build_tiny_tokenizer": "processing.tokenization_mimo_audio",
    "ensure_mimo_special_tokens": "processing.tokenization_mimo_audio",
    "mimo_special_token_ids": "processing.tokenization_mimo_audio",
    # processing.task_models_mimo_audio
    "MiMoAudioForSpeechRecognition": "processing.task_models_mimo_audio",
    "MiMoAudioForTextToSpeech": "processing.task_models_mimo_audio",
    "MiMoAudioSpeechOutput": "processing.task_models_mimo_audio",
    "MiMoAudioTranscriptionOutput": "processing.task_models_mimo_audio",
    # modeling_mimo_audio.mini
    "MINI_MODEL_DIR": "modeling_mimo_audio.mini",
    "mini_audio_tokenizer_path": "modeling_mimo_audio.mini",
    "mini_model_available": "modeling_mimo_audio.mini",
    "mini_model_path": "modeling_mimo_audio.mini",
    # modeling_mimo_audio.tiny
    "build_tiny_model_set": "modeling_mimo_audio.tiny",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))


def _register_model_classes():
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForAudioTokenization,
        AutoModelForCausalLM,
        AutoModelForMultimodalLM,
    )

    from .configuration_mimo_audio import MiMoAudioConfig
    from .configuration_mimo_audio_tokenizer import MiMoAudioTokenizerConfig
    from .modeling_mimo_audio import MiMoAudioForConditionalGeneration
    from .modeling_mimo_audio_tokenizer import MiMoAudioTokenizerModel

    AutoConfig.register("mimo_audio_tokenizer", MiMoAudioTokenizerConfig, exist_ok=True)
    AutoModel.register(MiMoAudioTokenizerConfig, MiMoAudioTokenizerModel, exist_ok=True)
    AutoModelForAudioTokenization.register(MiMoAudioTokenizerConfig, MiMoAudioTokenizerModel, exist_ok=True)
    AutoConfig.register("mimo_audio", MiMoAudioConfig, exist_ok=True)
    for auto_class in (AutoModel, AutoModelForCausalLM, AutoModelForMultimodalLM):
        auto_class.register(MiMoAudioConfig, MiMoAudioForConditionalGeneration, exist_ok=True)


_register_model_classes()

import processing  # noqa: E402,F401  (registers the processing side: see the module docstring)
