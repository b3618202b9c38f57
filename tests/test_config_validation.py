"""Construction-time validation of every numeric field of the configs and of the feature extractor: a bad type or
value raises ValueError/TypeError naming the field, instead of failing later, far from the cause."""

import pytest

from modeling_mimo_audio import MiMoAudioConfig, MiMoAudioFeatureExtractor, MiMoAudioTokenizerConfig


TINY_LM = dict(
    vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
    num_key_value_heads=2, head_dim=16, local_dim=32, local_layers=2, local_attn_heads=4, local_ffn_dim=64,
    input_local_dim=32, input_local_layers=2, empty_token_id=1000,
)  # fmt: skip

TINY_CODEC = dict(
    d_model=64, encoder_layers=3, decoder_layers=2, vocoder_num_layers=2, encoder_attention_heads=4,
    decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128, vocoder_dim=32,
    vocoder_intermediate_dim=64, vocoder_attention_heads=4, encoder_skip_layer_id=2,
)  # fmt: skip


def _assert_rejected(build, field, overrides):
    with pytest.raises((ValueError, TypeError)) as error:
        build(**overrides)
    assert f"`{field}" in str(error.value), f"the error does not name `{field}`: {error.value}"


LM_BAD = [
    ("num_hidden_layers", {"num_hidden_layers": -1}),
    ("num_hidden_layers", {"num_hidden_layers": 0}),
    ("vocab_size", {"vocab_size": 0, "empty_token_id": None}),
    ("hidden_size", {"hidden_size": 0}),
    ("intermediate_size", {"intermediate_size": -5}),
    ("num_attention_heads", {"num_attention_heads": 0}),
    ("num_key_value_heads", {"num_key_value_heads": 3}),
    ("max_position_embeddings", {"max_position_embeddings": 0}),
    ("head_dim", {"head_dim": 0}),
    ("head_dim", {"head_dim": "16"}),
    ("rms_norm_eps", {"rms_norm_eps": 0.0}),
    ("initializer_range", {"initializer_range": -0.1}),
    ("attention_dropout", {"attention_dropout": 1.5}),
    ("patch_size", {"patch_size": 0}),
    ("patch_size", {"patch_size": "4"}),
    ("patch_size", {"patch_size": 4.0}),
    ("patch_size", {"patch_size": True}),
    ("num_codebooks", {"num_codebooks": "8"}),
    ("num_codebooks", {"num_codebooks": 0}),
    ("local_dim", {"local_dim": "32"}),
    ("local_dim", {"local_dim": 30}),
    ("local_layers", {"local_layers": 0}),
    ("local_attn_heads", {"local_attn_heads": 0}),
    ("local_ffn_dim", {"local_ffn_dim": -1}),
    ("input_local_dim", {"input_local_dim": 0}),
    ("input_local_layers", {"input_local_layers": "2"}),
    ("local_attn_dropout", {"local_attn_dropout": -0.1}),
    ("local_attn_dropout", {"local_attn_dropout": "0.1"}),
    ("text_loss_weight", {"text_loss_weight": -1}),
    ("text_loss_weight", {"text_loss_weight": float("nan")}),
    ("empty_token_loss_weight", {"empty_token_loss_weight": "0.01"}),
    ("audio_loss_weights[1]", {"audio_loss_weights": [1, "2", 1, 1, 1, 1, 1, 1]}),
    ("audio_loss_weights[0]", {"audio_loss_weights": [-1, 1, 1, 1, 1, 1, 1, 1]}),
    ("input_full_attention", {"input_full_attention": 1}),
    ("empty_token_id", {"empty_token_id": 1024}),
    ("empty_token_id", {"empty_token_id": -1}),
    ("empty_token_id", {"empty_token_id": "1000"}),
    ("empty_token_id", {"empty_token_id": True}),
    ("sosp_token_id", {"sosp_token_id": 5000}),
    ("eosp_token_id", {"eosp_token_id": 1000.0}),
    ("sostm_token_id", {"sostm_token_id": -2}),
    ("eostm_token_id", {"eostm_token_id": 1024}),
    ("eot_token_id", {"eot_token_id": 99999}),
    ("speech_vocab_sizes[2]", {"speech_vocab_sizes": [1025, 1025, 0, 129, 129, 129, 129, 129]}),
    ("speech_vocab_sizes[0]", {"speech_vocab_sizes": [1025.5, 1025, 129, 129, 129, 129, 129, 129]}),
    ("speech_empty_ids[0]", {"speech_empty_ids": [1025, 1024, 128, 128, 128, 128, 128, 128]}),
    ("speech_empty_ids[1]", {"speech_empty_ids": [1024, "1024", 128, 128, 128, 128, 128, 128]}),
    ("delay_pattern", {"delay_pattern": [0, 1, 2, -3, 4, 5, 6, 7]}),
    ("delay_pattern", {"delay_pattern": [0, 1, 2]}),
    # Fields inherited from Qwen2Config, type-checked by huggingface_hub's strict dataclasses: re-raised as TypeError.
    ("num_hidden_layers", {"num_hidden_layers": "2"}),
    ("hidden_size", {"hidden_size": 2.5}),
    ("rope_theta", {"rope_theta": "big"}),
    ("tie_word_embeddings", {"tie_word_embeddings": "no"}),
    ("rope_theta", {"rope_theta": -1.0}),
    ("output_hidden_states", {"output_hidden_states": "yes"}),
    ("return_dict", {"return_dict": 3}),
]


@pytest.mark.parametrize("field, overrides", LM_BAD, ids=[f"{f}={v}" for f, v in LM_BAD])
def test_lm_config_rejects_bad_value(field, overrides):
    _assert_rejected(MiMoAudioConfig, field, {**TINY_LM, **overrides})


CODEC_BAD = [
    ("hop_length", {"hop_length": 0}),
    ("hop_length", {"hop_length": "240"}),
    ("hop_length", {"hop_length": 240.0}),
    ("hop_length", {"hop_length": 2000}),
    ("nfft", {"nfft": 0}),
    ("nfft", {"nfft": True}),
    ("window_size", {"window_size": 1024}),
    ("window_size", {"window_size": -1}),
    ("sampling_rate", {"sampling_rate": 0}),
    ("sampling_rate", {"sampling_rate": "24000"}),
    ("n_mels", {"n_mels": 0}),
    ("fmin", {"fmin": 9000, "fmax": 8000}),
    ("fmin", {"fmin": -1}),
    ("fmin", {"fmin": "0"}),
    ("fmax", {"fmax": 13000}),
    ("fmax", {"fmax": 0}),
    ("fmax", {"fmax": float("inf")}),
    ("fmin", {"fmin": 12000}),
    ("d_model", {"d_model": 0}),
    ("d_model", {"d_model": 66}),
    ("vocoder_dim", {"vocoder_dim": 30}),
    ("encoder_layers", {"encoder_layers": -1}),
    ("encoder_attention_heads", {"encoder_attention_heads": "4"}),
    ("encoder_ffn_dim", {"encoder_ffn_dim": 0}),
    ("encoder_skip_layer_id", {"encoder_skip_layer_id": 0}),
    ("encoder_skip_layer_id", {"encoder_skip_layer_id": 4}),
    ("decoder_layers", {"decoder_layers": 0}),
    ("decoder_attention_heads", {"decoder_attention_heads": 0}),
    ("decoder_ffn_dim", {"decoder_ffn_dim": 1.5}),
    ("decoder_kernel_size", {"decoder_kernel_size": 0}),
    ("decoder_stride_size", {"decoder_stride_size": -2}),
    ("kernel_size", {"kernel_size": 0}),
    ("stride_size", {"stride_size": 0}),
    ("avg_pooler", {"avg_pooler": "2"}),
    ("vocoder_intermediate_dim", {"vocoder_intermediate_dim": 0}),
    ("vocoder_num_layers", {"vocoder_num_layers": 0}),
    ("vocoder_attention_heads", {"vocoder_attention_heads": 0}),
    ("num_quantizers", {"num_quantizers": 0}),
    ("codebook_size", {"codebook_size": []}),
    ("codebook_size", {"codebook_size": "1024"}),
    ("codebook_size[1]", {"codebook_size": [1024, 0]}),
    ("codebook_size[0]", {"codebook_size": True}),
    ("threshold_ema_dead_code", {"threshold_ema_dead_code": -1}),
    ("max_audio_seconds", {"max_audio_seconds": 0}),
    ("rope_theta", {"rope_theta": 0}),
    ("rope_theta", {"rope_theta": "10000"}),
    ("encoder_causal", {"encoder_causal": 0}),
    ("decoder_causal", {"decoder_causal": "yes"}),
    ("scale_embedding", {"scale_embedding": None}),
    ("encoder_attn_window_size", {"encoder_attn_window_size": [-1]}),
    ("decoder_attn_window_size[0]", {"decoder_attn_window_size": [-2, -1]}),
    ("vocoder_attn_window_size[1]", {"vocoder_attn_window_size": [40, "10"]}),
    ("vocoder_attn_window_size", {"vocoder_attn_window_size": 40}),
    ("output_attentions", {"output_attentions": 1}),
]


@pytest.mark.parametrize("field, overrides", CODEC_BAD, ids=[f"{f}={v}" for f, v in CODEC_BAD])
def test_tokenizer_config_rejects_bad_value(field, overrides):
    _assert_rejected(MiMoAudioTokenizerConfig, field, {**TINY_CODEC, **overrides})


FEATURE_BAD = [
    ("hop_length", {"hop_length": 0}),
    ("hop_length", {"hop_length": "240"}),
    ("hop_length", {"hop_length": 961}),
    ("nfft", {"nfft": 0}),
    ("nfft", {"nfft": 960.0}),
    ("window_size", {"window_size": 0}),
    ("window_size", {"window_size": 1000}),
    ("sampling_rate", {"sampling_rate": -24000}),
    ("sampling_rate", {"sampling_rate": True}),
    ("n_mels", {"n_mels": 0}),
    ("n_mels", {"n_mels": "128"}),
    ("fmin", {"fmin": 8000, "fmax": 4000}),
    ("fmin", {"fmin": 5000, "fmax": 5000}),
    ("fmin", {"fmin": -10}),
    ("fmax", {"fmax": 12001}),
    ("fmax", {"fmax": "8000"}),
    ("padding_value", {"padding_value": "0"}),
    ("padding_value", {"padding_value": float("nan")}),
]


@pytest.mark.parametrize("field, overrides", FEATURE_BAD, ids=[f"{f}={v}" for f, v in FEATURE_BAD])
def test_feature_extractor_rejects_bad_value(field, overrides):
    _assert_rejected(MiMoAudioFeatureExtractor, field, overrides)


def test_valid_values_are_kept():
    """Good values (ints, floats where a float is meant, optional fields left out) construct unchanged."""
    lm = MiMoAudioConfig(**TINY_LM, eot_token_id=1023, local_attn_dropout=0, text_loss_weight=1)
    assert (lm.num_hidden_layers, lm.empty_token_id, lm.eot_token_id) == (2, 1000, 1023)
    assert lm.audio_loss_weights == [12.0, 8.0, 6.0, 4.0, 2.0, 2.0, 1.0, 1.0]
    codec = MiMoAudioTokenizerConfig(**{**TINY_CODEC, "encoder_skip_layer_id": None}, fmin=20.5, fmax=12000)
    assert (codec.fmin, codec.fmax, codec.encoder_skip_layer_id) == (20.5, 12000, None)
    extractor = MiMoAudioFeatureExtractor(nfft=1024, window_size=1024, hop_length=1024, fmin=0, fmax=8000.0)
    assert (extractor.hop_length, extractor.fmax) == (1024, 8000.0)


def test_upstream_dash_strings_still_parse_and_bad_ones_are_named():
    """Upstream's dash-separated strings load; a malformed one names its field."""
    config = MiMoAudioConfig(**TINY_LM, speech_vocab_size="1025-1025-129-129-129-129-129-129", delay_pattern="0")
    assert config.speech_vocab_sizes == [1025, 1025] + [129] * 6 and config.delay_pattern == [0] * 8
    _assert_rejected(MiMoAudioConfig, "speech_vocab_sizes", {**TINY_LM, "speech_vocab_size": "1025-x-129"})
