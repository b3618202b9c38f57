"""MiMo-Audio for Hugging Face transformers.

``import modeling_mimo_audio`` is the package's one public entry point: it re-exports the
configurations, models, feature extractor and processor, and registers them with the
transformers Auto classes so that ``AutoConfig`` / ``AutoModel...`` / ``AutoProcessor`` /
``AutoFeatureExtractor`` resolve MiMo-Audio folders.
"""

__version__ = "0.1.0"

# --- codec: feature extractor, tokenizer config and model (issue 2) ---
from processing.feature_extraction_mimo_audio import MiMoAudioFeatureExtractor

from .configuration_mimo_audio_tokenizer import MiMoAudioTokenizerConfig
from .modeling_mimo_audio_tokenizer import (
    MiMoAudioTokenizerDecoderOutput,
    MiMoAudioTokenizerEncoderOutput,
    MiMoAudioTokenizerModel,
    MiMoAudioTokenizerPreTrainedModel,
)
from .streaming_mimo_audio_tokenizer import MiMoAudioTokenizerStreamingDecoder


def _register_codec():
    from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoModelForAudioTokenization

    # exist_ok: importing the package twice (or reloading it) must not raise.
    AutoConfig.register("mimo_audio_tokenizer", MiMoAudioTokenizerConfig, exist_ok=True)
    AutoModel.register(MiMoAudioTokenizerConfig, MiMoAudioTokenizerModel, exist_ok=True)
    AutoModelForAudioTokenization.register(MiMoAudioTokenizerConfig, MiMoAudioTokenizerModel, exist_ok=True)
    AutoFeatureExtractor.register(MiMoAudioTokenizerConfig, MiMoAudioFeatureExtractor, exist_ok=True)


_register_codec()
# end codec

# --- language model (issue 3) ---
from .configuration_mimo_audio import MiMoAudioConfig
from .generation_mimo_audio import MiMoAudioGenerateOutput
from .layout_mimo_audio import interleaved_to_patches, patches_to_interleaved
from .modeling_mimo_audio import (
    MiMoAudioCausalLMOutputWithPast,
    MiMoAudioForCausalLM,
    MiMoAudioForConditionalGeneration,
    MiMoAudioPreTrainedModel,
)


def _register_language_model():
    from transformers import (
        AutoConfig,
        AutoModel,
        AutoModelForCausalLM,
        AutoModelForMultimodalLM,
        AutoModelForTextToWaveform,
    )

    # exist_ok: importing the package twice (or reloading it) must not raise.
    AutoConfig.register("mimo_audio", MiMoAudioConfig, exist_ok=True)
    for auto_class in (AutoModel, AutoModelForCausalLM, AutoModelForMultimodalLM, AutoModelForTextToWaveform):
        auto_class.register(MiMoAudioConfig, MiMoAudioForConditionalGeneration, exist_ok=True)


_register_language_model()

# --- processor and pipeline (issue 4) ---
from processing.generation_presets import GENERATION_PRESETS, get_generation_preset
from processing.processing_mimo_audio import MiMoAudioProcessor
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

from .tiny import build_tiny_model_set


def _register_processor():
    from transformers import AutoFeatureExtractor, AutoProcessor

    # exist_ok: importing the package twice (or reloading it) must not raise.
    AutoProcessor.register(MiMoAudioConfig, MiMoAudioProcessor, exist_ok=True)
    AutoFeatureExtractor.register(MiMoAudioConfig, MiMoAudioFeatureExtractor, exist_ok=True)


_register_processor()
# end processor

# pipeline registration (demo helper)
from processing.pipeline_mimo_audio import GenerationProgressBar, MiMoAudioPipeline


def _register_pipeline():
    from transformers.pipelines import PIPELINE_REGISTRY

    registered = PIPELINE_REGISTRY.supported_tasks.get("mimo-audio", {}).get("impl")
    if registered is None or registered.__qualname__ != MiMoAudioPipeline.__qualname__:
        PIPELINE_REGISTRY.register_pipeline(
            "mimo-audio",
            pipeline_class=MiMoAudioPipeline,
            pt_model=MiMoAudioForConditionalGeneration,
            type="multimodal",
        )


_register_pipeline()
# end pipeline registration (demo helper)

# --- Auto-class registration ---
