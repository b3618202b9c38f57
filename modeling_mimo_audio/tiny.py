"""A tiny, random, offline MiMo-Audio model set for tests, demos and examples.

```python
from modeling_mimo_audio.tiny import build_tiny_model_set

model, processor = build_tiny_model_set()                 # ~1 s on CPU, nothing downloaded
inputs = processor.apply_chat_template(conversation, add_generation_prompt=True)
out = model.generate(**inputs, max_new_tokens=8)
```

The set is: a tiny byte-level BPE tokenizer with MiMo-Audio's special tokens (`build_tiny_tokenizer`), a tiny random
`MiMoAudioForConditionalGeneration` whose text vocabulary covers that tokenizer and whose special ids come from it,
a tiny random codec (`MiMoAudioTokenizerModel`, 8 RVQ codebooks of sizes 1024, 1024, 128 x 6, the real ones), and the
feature extractor, all held by a `MiMoAudioProcessor`. Random weights: the outputs are noise, the shapes and the
layout are real.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid

import torch
from transformers.utils import logging

from processing.feature_extraction_mimo_audio import MiMoAudioFeatureExtractor
from processing.generation_presets import get_generation_preset
from processing.processing_mimo_audio import MiMoAudioProcessor
from processing.tokenization_mimo_audio import build_tiny_tokenizer, lm_config_token_ids

from .configuration_mimo_audio import MiMoAudioConfig
from .configuration_mimo_audio_tokenizer import MiMoAudioTokenizerConfig
from .modeling_mimo_audio import MiMoAudioForConditionalGeneration
from .modeling_mimo_audio_tokenizer import MiMoAudioTokenizerModel


logger = logging.get_logger(__name__)

__all__ = ["build_tiny_model_set", "tiny_codec_config", "tiny_lm_config"]

_FORMAT_VERSION = 1
_CODEBOOK_SIZES = [1024, 1024] + [128] * 6


def tiny_codec_config() -> MiMoAudioTokenizerConfig:
    """A tiny codec config (d_model 64, 2-3 layers, 8 codebooks of the real sizes 1024, 1024, 128 x 6)."""
    return MiMoAudioTokenizerConfig(
        d_model=64,
        encoder_layers=3,
        encoder_skip_layer_id=2,
        encoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_layers=2,
        decoder_attention_heads=4,
        decoder_ffn_dim=128,
        vocoder_dim=32,
        vocoder_intermediate_dim=64,
        vocoder_num_layers=2,
        vocoder_attention_heads=4,
        vocoder_attn_window_size=[40, 10],
        num_quantizers=8,
        codebook_size=list(_CODEBOOK_SIZES),
        scale_embedding=True,
    )


def tiny_lm_config(tokenizer) -> MiMoAudioConfig:
    """A tiny LM config whose text vocabulary covers `tokenizer` (rounded up to a multiple of 16) and whose special
    token ids are read from it."""
    vocab_size = -(-len(tokenizer) // 16) * 16
    return MiMoAudioConfig(
        vocab_size=vocab_size,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        patch_size=4,
        num_codebooks=8,
        speech_vocab_sizes=[size + 1 for size in _CODEBOOK_SIZES],
        speech_empty_ids=list(_CODEBOOK_SIZES),
        local_dim=32,
        local_layers=2,
        local_attn_heads=4,
        local_ffn_dim=64,
        input_local_dim=32,
        input_local_layers=1,
        local_attn_dropout=0.0,
        initializer_range=0.1,
        **lm_config_token_ids(tokenizer),
        tie_word_embeddings=False,
    )


def _build(seed: int):
    tokenizer = build_tiny_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        codec = MiMoAudioTokenizerModel(tiny_codec_config()).eval()
        torch.manual_seed(seed + 1)
        model = MiMoAudioForConditionalGeneration(tiny_lm_config(tokenizer)).eval()
    feature_extractor = MiMoAudioFeatureExtractor.from_tokenizer_config(codec.config)
    processor = MiMoAudioProcessor(
        feature_extractor,
        tokenizer,
        audio_tokenizer=codec,
        patch_size=model.config.patch_size,
        speech_empty_ids=list(model.config.speech_empty_ids),
    )
    # Upstream's default sampler and stop set; a short default length because the weights are random.
    model.generation_config = get_generation_preset("default", tokenizer, max_new_tokens=32)
    return model, processor


def build_tiny_model_set(cache_dir: str | os.PathLike | None = None, seed: int = 0):
    """Builds (or loads from `cache_dir`) the tiny random MiMo-Audio set.

    Args:
        cache_dir (`str`, *optional*):
            If given, the set is saved in `cache_dir/seed-{seed}/` (`model/` and `processor/`, the codec in
            `processor/audio_tokenizer/`) on the first call and loaded from there on later calls.
        seed (`int`, *optional*, defaults to 0):
            Seed of the random weights: the same seed gives the same weights. The global torch RNG is left untouched.

    Returns:
        `(model, processor)`: a `MiMoAudioForConditionalGeneration` in eval mode and a `MiMoAudioProcessor` holding the
        tiny tokenizer, the feature extractor and the tiny codec (`processor.audio_tokenizer`).
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"`seed` must be an int, got {type(seed).__name__}")
    if cache_dir is None:
        return _build(seed)
    target = os.path.join(os.fspath(cache_dir), f"seed-{seed}")
    marker = os.path.join(target, "tiny_model_set.json")
    if not os.path.isfile(marker):
        model, processor = _build(seed)
        # Build in a private folder and rename it into place, so concurrent first calls never see half a set.
        staging = os.path.join(os.fspath(cache_dir), f".staging-{uuid.uuid4().hex}")
        model.save_pretrained(os.path.join(staging, "model"))
        processor.save_pretrained(os.path.join(staging, "processor"))
        with open(os.path.join(staging, "tiny_model_set.json"), "w") as f:
            json.dump({"seed": seed, "format_version": _FORMAT_VERSION}, f)
        try:
            os.rename(staging, target)
        except OSError:  # another process got there first
            shutil.rmtree(staging, ignore_errors=True)
        else:
            return model, processor
    with open(marker) as f:
        info = json.load(f)
    if info.get("format_version") != _FORMAT_VERSION:
        raise ValueError(f"{target} holds a tiny model set of another format ({info}); delete it to rebuild")
    model = MiMoAudioForConditionalGeneration.from_pretrained(os.path.join(target, "model")).eval()
    processor = MiMoAudioProcessor.from_pretrained(os.path.join(target, "processor"))
    processor.audio_tokenizer.eval()
    return model, processor
