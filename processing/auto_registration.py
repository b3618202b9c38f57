"""Registers the processing side of MiMo-Audio with transformers: the processor and feature extractor for both
configs, the task models that transformers' `text-to-speech` / `automatic-speech-recognition` pipelines load, and
the `"mimo-audio"` pipeline. `processing/__init__.py` calls `register_processing_classes` (so `import
modeling_mimo_audio`, which ends with `import processing`, registers everything); calling it again is harmless."""

from transformers import (
    AutoFeatureExtractor,
    AutoModelForCTC,
    AutoModelForSpeechSeq2Seq,
    AutoModelForTextToWaveform,
    AutoProcessor,
)
from transformers.pipelines import PIPELINE_REGISTRY

from modeling_mimo_audio.configuration_mimo_audio import MiMoAudioConfig
from modeling_mimo_audio.configuration_mimo_audio_tokenizer import MiMoAudioTokenizerConfig
from modeling_mimo_audio.mini import MINI_MODEL_DIR
from modeling_mimo_audio.modeling_mimo_audio import MiMoAudioForConditionalGeneration

from .feature_extraction_mimo_audio import MiMoAudioFeatureExtractor
from .pipeline_mimo_audio import MiMoAudioPipeline
from .processing_mimo_audio import MiMoAudioProcessor
from .task_models_mimo_audio import MiMoAudioForSpeechRecognition, MiMoAudioForTextToSpeech

__all__ = ["register_processing_classes"]


def register_processing_classes():
    AutoFeatureExtractor.register(MiMoAudioTokenizerConfig, MiMoAudioFeatureExtractor, exist_ok=True)
    AutoFeatureExtractor.register(MiMoAudioConfig, MiMoAudioFeatureExtractor, exist_ok=True)
    AutoProcessor.register(MiMoAudioConfig, MiMoAudioProcessor, exist_ok=True)
    # transformers' text-to-speech / ASR pipelines load these task classes (same weights, the folder's processor).
    AutoModelForTextToWaveform.register(MiMoAudioConfig, MiMoAudioForTextToSpeech, exist_ok=True)
    for auto_class in (AutoModelForCTC, AutoModelForSpeechSeq2Seq):
        auto_class.register(MiMoAudioConfig, MiMoAudioForSpeechRecognition, exist_ok=True)

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
