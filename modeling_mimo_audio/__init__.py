"""MiMo-Audio for Hugging Face transformers.

``import modeling_mimo_audio`` is the package's one public entry point: it re-exports the
configurations, models, feature extractor and processor, and registers them with the
transformers Auto classes (and the ``"mimo-audio"`` pipeline) so that ``AutoConfig`` /
``AutoModel...`` / ``AutoProcessor`` / ``AutoFeatureExtractor`` / ``pipeline`` resolve MiMo-Audio
folders. Registering twice (re-import, reload) is harmless.
"""

__version__ = "0.1.0"

# Codec (MiMo-Audio-Tokenizer) and its feature extractor.
from processing.feature_extraction_mimo_audio import MiMoAudioFeatureExtractor

from .configuration_mimo_audio_tokenizer import MiMoAudioTokenizerConfig
from .modeling_mimo_audio_tokenizer import (
    MiMoAudioTokenizerDecoderOutput,
    MiMoAudioTokenizerEncoderOutput,
    MiMoAudioTokenizerModel,
    MiMoAudioTokenizerPreTrainedModel,
)
from .streaming_mimo_audio_tokenizer import MiMoAudioTokenizerStreamingDecoder

# Language model.
from .configuration_mimo_audio import MiMoAudioConfig
from .generation_mimo_audio import MiMoAudioGenerateOutput
from .layout_mimo_audio import interleaved_to_patches, patches_to_interleaved
from .modeling_mimo_audio import (
    MiMoAudioCausalLMOutputWithPast,
    MiMoAudioForCausalLM,
    MiMoAudioForConditionalGeneration,
    MiMoAudioPreTrainedModel,
)

# Processor, task prompts, generation presets, pipeline.
from processing.generation_presets import GENERATION_PRESETS, get_generation_preset
from processing.pipeline_mimo_audio import GenerationProgressBar, MiMoAudioPipeline
from processing.processing_mimo_audio import MiMoAudioProcessor
from processing.streaming_mimo_audio import MiMoAudioStreamChunk, MiMoAudioStreamer
from processing.prompts_mimo_audio import (
    TASK_CHAT_TEMPLATE_KWARGS,
    asr_conversation,
    audio_understanding_conversation,
    in_context_learning_s2s_prompt,
    speech_continuation_prompt,
    speech_to_text_dialogue_conversation,
    spoken_dialogue_conversation,
    text_dialogue_conversation,
    tts_conversation,
)
from processing.tokenization_mimo_audio import build_tiny_tokenizer, ensure_mimo_special_tokens, mimo_special_token_ids

# transformers' own task pipelines (text-to-speech, ASR): task subclasses of the LM that run through the processor.
from .task_models_mimo_audio import (
    MiMoAudioForSpeechRecognition,
    MiMoAudioForTextToSpeech,
    MiMoAudioSpeechOutput,
    MiMoAudioTranscriptionOutput,
)

from .mini import MINI_MODEL_DIR, mini_audio_tokenizer_path, mini_model_available, mini_model_path
from .tiny import build_tiny_model_set


def _register_auto_classes():
    from transformers import (
        AutoConfig,
        AutoFeatureExtractor,
        AutoModel,
        AutoModelForAudioTokenization,
        AutoModelForCausalLM,
        AutoModelForCTC,
        AutoModelForMultimodalLM,
        AutoModelForSpeechSeq2Seq,
        AutoModelForTextToWaveform,
        AutoProcessor,
    )
    from transformers.pipelines import PIPELINE_REGISTRY

    AutoConfig.register("mimo_audio_tokenizer", MiMoAudioTokenizerConfig, exist_ok=True)
    AutoModel.register(MiMoAudioTokenizerConfig, MiMoAudioTokenizerModel, exist_ok=True)
    AutoModelForAudioTokenization.register(MiMoAudioTokenizerConfig, MiMoAudioTokenizerModel, exist_ok=True)
    AutoFeatureExtractor.register(MiMoAudioTokenizerConfig, MiMoAudioFeatureExtractor, exist_ok=True)

    AutoConfig.register("mimo_audio", MiMoAudioConfig, exist_ok=True)
    for auto_class in (AutoModel, AutoModelForCausalLM, AutoModelForMultimodalLM):
        auto_class.register(MiMoAudioConfig, MiMoAudioForConditionalGeneration, exist_ok=True)
    # transformers' text-to-speech / ASR pipelines load these task classes (same weights, the folder's processor).
    AutoModelForTextToWaveform.register(MiMoAudioConfig, MiMoAudioForTextToSpeech, exist_ok=True)
    for auto_class in (AutoModelForCTC, AutoModelForSpeechSeq2Seq):
        auto_class.register(MiMoAudioConfig, MiMoAudioForSpeechRecognition, exist_ok=True)
    AutoProcessor.register(MiMoAudioConfig, MiMoAudioProcessor, exist_ok=True)
    AutoFeatureExtractor.register(MiMoAudioConfig, MiMoAudioFeatureExtractor, exist_ok=True)

    # The registry has no exist_ok: register unless this very class (e.g. before a reload) is there already.
    registered = PIPELINE_REGISTRY.supported_tasks.get("mimo-audio", {}).get("impl")
    if registered is None or registered.__qualname__ != MiMoAudioPipeline.__qualname__:
        PIPELINE_REGISTRY.register_pipeline(
            "mimo-audio",
            pipeline_class=MiMoAudioPipeline,
            pt_model=MiMoAudioForConditionalGeneration,
            # `pipeline("mimo-audio")` without a model opens the miniature shipped in the package (local, no download).
            default={"model": (MINI_MODEL_DIR, None)},
            type="multimodal",
        )


_register_auto_classes()

__all__ = [
    "GENERATION_PRESETS",
    "GenerationProgressBar",
    "MiMoAudioCausalLMOutputWithPast",
    "MiMoAudioConfig",
    "MiMoAudioFeatureExtractor",
    "MiMoAudioForCausalLM",
    "MiMoAudioForConditionalGeneration",
    "MiMoAudioForSpeechRecognition",
    "MiMoAudioForTextToSpeech",
    "MiMoAudioGenerateOutput",
    "MiMoAudioPipeline",
    "MiMoAudioPreTrainedModel",
    "MiMoAudioProcessor",
    "MiMoAudioSpeechOutput",
    "MiMoAudioStreamChunk",
    "MiMoAudioStreamer",
    "MiMoAudioTokenizerConfig",
    "MiMoAudioTokenizerDecoderOutput",
    "MiMoAudioTokenizerEncoderOutput",
    "MiMoAudioTokenizerModel",
    "MiMoAudioTranscriptionOutput",
    "MiMoAudioTokenizerPreTrainedModel",
    "MiMoAudioTokenizerStreamingDecoder",
    "TASK_CHAT_TEMPLATE_KWARGS",
    "asr_conversation",
    "audio_understanding_conversation",
    "build_tiny_model_set",
    "build_tiny_tokenizer",
    "ensure_mimo_special_tokens",
    "get_generation_preset",
    "in_context_learning_s2s_prompt",
    "interleaved_to_patches",
    "mimo_special_token_ids",
    "mini_audio_tokenizer_path",
    "mini_model_available",
    "mini_model_path",
    "patches_to_interleaved",
    "speech_continuation_prompt",
    "speech_to_text_dialogue_conversation",
    "spoken_dialogue_conversation",
    "text_dialogue_conversation",
    "tts_conversation",
]
