"""The miniature MiMo-Audio's text tokenizer and untrained language model, saved as one Hub-style folder.

`init_mini_folder(codec_dir, texts, output_dir)` trains a small byte-level BPE tokenizer on `texts` (the corpus
transcripts plus every prompt text the tasks use) with MiMo-Audio's special tokens, builds a small random
`MiMoAudioForConditionalGeneration` (`mini_lm_config`) whose vocabulary covers it, starts its speech embeddings
from the codec's codebooks (`init_speech_embeddings_from_codec`), and saves model + processor
(tokenizer, chat template, feature extractor, the trained codec in `audio_tokenizer/`) to `output_dir`: the folder
the pretraining recipes start from (`model.name_or_path`), and one `AutoProcessor` opens.
"""

from __future__ import annotations

import copy
import os
from typing import Iterable

import torch

from modeling_mimo_audio import MiMoAudioConfig, MiMoAudioForConditionalGeneration, MiMoAudioTokenizerModel
from processing.feature_extraction_mimo_audio import MiMoAudioFeatureExtractor
from processing.generation_presets import get_generation_preset
from processing.processing_mimo_audio import MiMoAudioProcessor
from processing.prompts_mimo_audio import (
    ASR_TEMPLATES,
    INSTRUCT_TTS_SYSTEM_PROMPT,
    SPOKEN_DIALOGUE_VOICE_PROMPT,
    TTS_TEMPLATES,
)
from processing.tokenization_mimo_audio import lm_config_token_ids, train_bpe_tokenizer


__all__ = ["MINI_LM_SIZES", "MINI_PRESET_OVERRIDES", "mini_lm_config", "prompt_texts",
           "init_speech_embeddings_from_codec", "init_mini_folder"]

# Backbone and patch-module sizes of the miniature (about 10M parameters; 20 MB in fp16).
MINI_LM_SIZES = dict(
    hidden_size=256,
    intermediate_size=768,
    num_hidden_layers=6,
    num_attention_heads=4,
    num_key_value_heads=2,
    local_dim=192,
    local_layers=2,
    local_attn_heads=4,
    local_ffn_dim=512,
    input_local_dim=192,
    input_local_layers=1,
)

# The miniature's own tuning of the task presets (its generation config's `preset_overrides`, applied by the
# "mimo-audio" pipeline, so by `mimo-audio speak` and `eval tts`). Plain TTS samples its patches at temperature 0.3
# instead of the released 0.9: on the shipped v11 weights, the Whisper judge's WER over the first 40 `test_house`
# texts was 61.8 % / 62.4 % at 0.9 (two runs), 55.9 % at 0.6, 54.4 % at 0.4, 47.5 % / 48.2 % at 0.3, 51.1 % at 0.2 and
# 53.1 % greedy (originals 34.7 %); docs/mini.md.
MINI_PRESET_OVERRIDES = {"tts": {"audio_temperature": 0.3}}


def prompt_texts() -> list[str]:
    """Every fixed text the task prompts put in front of the model (so BPE learns their words too)."""
    texts = list(ASR_TEMPLATES["en"]) + list(TTS_TEMPLATES["en"])
    texts += [INSTRUCT_TTS_SYSTEM_PROMPT, SPOKEN_DIALOGUE_VOICE_PROMPT, "user", "assistant", "system",
              "<think>\n", "</think>\n", "\n\n", "[Int]:"]
    return texts


def mini_lm_config(tokenizer, codebook_sizes: list[int], **overrides) -> MiMoAudioConfig:
    """The miniature's LM config: `MINI_LM_SIZES` (with `overrides`), a text vocabulary covering `tokenizer`
    (rounded up to a multiple of 64), one speech vocabulary per codec codebook (its size + the empty id), and the
    special ids read from `tokenizer`."""
    sizes = {**MINI_LM_SIZES, **overrides}
    return MiMoAudioConfig(
        vocab_size=-(-len(tokenizer) // 64) * 64,
        max_position_embeddings=2048,
        patch_size=4,
        num_codebooks=len(codebook_sizes),
        speech_vocab_sizes=[size + 1 for size in codebook_sizes],
        speech_empty_ids=list(codebook_sizes),
        local_attn_dropout=0.0,
        initializer_range=0.02,
        tie_word_embeddings=False,
        **lm_config_token_ids(tokenizer),
        **sizes,
    )


@torch.no_grad()
def init_speech_embeddings_from_codec(model: MiMoAudioForConditionalGeneration, codec: MiMoAudioTokenizerModel,
                                      target_rms: float = 1.0) -> float:
    """
    Starts the LM's speech embeddings from the codec's RVQ codebooks, so that the sum over a frame's 8 codebooks (what
    the patch encoder reads) is the codec's quantized latent, times one scale, instead of a sum of random vectors.

    Why: a reconstruction-only codec's code ids carry no similarity (two ids for nearly the same sound are as unrelated
    as any two); with random embeddings the LM has to learn every id's meaning from its co-occurrence with words,
    which is what kept the first miniature from learning to listen. (The released tokenizer makes its first levels
    meaningful another way: an audio-to-text loss while it is trained.) Only the initial values change; the
    architecture and the checkpoint layout are the same.

    Args:
        model: the random LM; its `config.input_local_dim` must equal the codebook dimension.
        codec: the trained codec whose first `config.num_codebooks` codebooks the LM reads.
        target_rms (`float`, defaults to 1.0): RMS given to the (usage-weighted) first codebook's vectors; every
            codebook gets the same scale, so the sum stays proportional to the quantized latent.

    Returns:
        `float`: the scale applied to the codebook vectors.
    """
    codebooks = codec.encoder.quantizer.codebooks[: model.config.num_codebooks]
    dims = {codebook.embed.shape[1] for codebook in codebooks}
    if dims != {model.config.input_local_dim}:
        raise ValueError(f"the codec's codebook dimension {sorted(dims)} differs from the LM's `input_local_dim` "
                         f"{model.config.input_local_dim}")
    first = codebooks[0]
    usage = first.cluster_size.float().clamp(min=0)
    weights = usage / usage.sum() if float(usage.sum()) > 0 else torch.full_like(usage, 1.0 / usage.numel())
    rms = float((weights * first.embed.float().pow(2).mean(dim=1)).sum().sqrt())
    if rms <= 0:
        raise ValueError("the codec's first codebook is all zeros: is it trained?")
    scale = target_rms / rms
    for embedding, codebook, size in zip(model.speech_embeddings, codebooks, model.config.speech_empty_ids):
        if codebook.embed.shape[0] != size:
            raise ValueError(f"codebook of {codebook.embed.shape[0]} entries for a speech vocabulary of {size}")
        embedding.weight[:size] = (codebook.embed.float() * scale).to(embedding.weight.dtype)
        embedding.weight[size:] = 0.0  # the empty id is masked out of the sum anyway
    return scale


def init_mini_folder(codec_dir: str | os.PathLike, texts: Iterable[str], output_dir: str | os.PathLike,
                     vocab_size: int = 1024, seed: int = 0, **lm_overrides):
    """Trains the tokenizer on `texts` + `prompt_texts()`, builds the random LM, and saves model + processor (with
    the codec of `codec_dir`) to `output_dir`. Returns `(model, processor)`.

    `vocab_size` 1024 makes every vocabulary word one token (about 2.5 tokens per second of house-voice speech, so a
    streaming segment's 5-token text chunks run 2.5x ahead of their 0.8 s audio chunks). Fewer merges to keep the
    text at the audio's pace were tried and lost on every task: runs/mini_v8 with 512 (2.38 tokens/word, a median
    5.97 tokens/s of `tts_house` audio) read held-out voices at 15.2 % WER (10.1 % with 1024), arithmetic 82 %
    (94 %), TTS judge 151 % (127 %); see docs/mini.md.
    """
    codec = MiMoAudioTokenizerModel.from_pretrained(codec_dir).eval()
    tokenizer = train_bpe_tokenizer(list(texts) + prompt_texts(), vocab_size)
    codebook_sizes = codec.config.codebook_sizes[:8]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MiMoAudioForConditionalGeneration(mini_lm_config(tokenizer, codebook_sizes, **lm_overrides))
    init_speech_embeddings_from_codec(model, codec)
    model.generation_config = get_generation_preset("default", tokenizer, max_new_tokens=256)
    model.generation_config.preset_overrides = copy.deepcopy(MINI_PRESET_OVERRIDES)
    processor = MiMoAudioProcessor(
        MiMoAudioFeatureExtractor.from_tokenizer_config(codec.config), tokenizer, audio_tokenizer=codec,
        patch_size=model.config.patch_size, speech_empty_ids=list(model.config.speech_empty_ids),
    )
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    return model, processor
