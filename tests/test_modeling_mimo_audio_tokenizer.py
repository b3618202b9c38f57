import json
import os

import numpy as np
import pytest
import torch
from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoModelForAudioTokenization

from modeling_mimo_audio import (
    MiMoAudioFeatureExtractor,
    MiMoAudioTokenizerConfig,
    MiMoAudioTokenizerModel,
)
from modeling_mimo_audio import layers_mimo_audio_tokenizer as layers
from modeling_mimo_audio.layers_mimo_audio_tokenizer import (
    attention_block_mask,
    encoder_output_lengths,
    key_range,
    mask_to_lengths,
)


@pytest.fixture(scope="module")
def expected(upstream_tokenizer_dir):
    return np.load(os.path.join(upstream_tokenizer_dir, "expected.npz"))


@pytest.fixture(scope="module")
def codec(upstream_tokenizer_dir):
    return MiMoAudioTokenizerModel.from_pretrained(upstream_tokenizer_dir).eval()


@pytest.fixture(scope="module")
def features(codec, expected):
    extractor = MiMoAudioFeatureExtractor.from_tokenizer_config(codec.config)
    return extractor([expected["wav_0"], expected["wav_1"]], sampling_rate=24000)


def codes_of(expected, index, num_quantizers=20):
    return torch.from_numpy(expected[f"codes_{index}"][:num_quantizers])


class MiMoAudioTokenizerTester:
    """Tiny random configurations exercising config fields the upstream fixture keeps at one value."""

    base = dict(
        d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64, encoder_skip_layer_id=1,
        decoder_layers=2, decoder_attention_heads=2, decoder_ffn_dim=64, vocoder_dim=16, vocoder_intermediate_dim=32,
        vocoder_num_layers=2, vocoder_attention_heads=2, n_mels=16, nfft=160, hop_length=40, window_size=160,
        sampling_rate=4000, num_quantizers=4, codebook_size=[64, 16],
    )
    variants = {
        "base": {},
        "rmsnorm_no_skip_kernel5": dict(ln_type="RMSNorm", encoder_skip_layer_id=None, kernel_size=5),
        "pool1_center_window": dict(avg_pooler=1, vocoder_padding="center", decoder_attn_window_size=[3, -1],
                                    vocoder_attn_window_size=[2, 1], decoder_kernel_size=4),
        "pool3_stride3": dict(avg_pooler=3, stride_size=3, decoder_stride_size=3, decoder_kernel_size=3),
    }

    @classmethod
    def model(cls, variant="base", seed=0):
        torch.manual_seed(seed)
        return MiMoAudioTokenizerModel(MiMoAudioTokenizerConfig(**{**cls.base, **cls.variants[variant]})).eval()


# ---------------------------------------------------------------------------- loading


def test_upstream_checkpoint_loads_without_missing_or_unexpected_keys(upstream_tokenizer_dir):
    model, info = MiMoAudioTokenizerModel.from_pretrained(upstream_tokenizer_dir, output_loading_info=True)
    assert info["missing_keys"] == set() and info["unexpected_keys"] == set()
    assert info["mismatched_keys"] == set() and not info["error_msgs"]
    assert model.config.model_type == "mimo_audio_tokenizer" and model.config.frame_rate == 25


def test_auto_classes_resolve(upstream_tokenizer_dir):
    config = AutoConfig.from_pretrained(upstream_tokenizer_dir)
    assert isinstance(config, MiMoAudioTokenizerConfig)
    assert isinstance(AutoModelForAudioTokenization.from_config(config), MiMoAudioTokenizerModel)
    assert isinstance(AutoModel.from_config(config), MiMoAudioTokenizerModel)
    from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING

    assert FEATURE_EXTRACTOR_MAPPING[MiMoAudioTokenizerConfig] is MiMoAudioFeatureExtractor
    assert AutoFeatureExtractor.register  # registration ran at import without raising


# ---------------------------------------------------------------------------- encode parity


def test_encode_each_clip_matches_upstream(codec, features, expected):
    for index, length in enumerate((251, 72)):
        out = codec.encode(features["input_features"][index : index + 1, :, :length])
        assert out.audio_codes.dtype == torch.long and out.audio_codes.shape == (1, 20, expected[f"codes_{index}"].shape[1])
        torch.testing.assert_close(out.audio_codes[0], codes_of(expected, index), rtol=0, atol=0)
        assert out.audio_codes_mask.all()


def test_batched_encode_equals_per_clip(codec, features, expected):
    out = codec.encode(features["input_features"], features["attention_mask"])
    lengths = expected["codes_batch_lengths"].tolist()
    assert out.audio_codes_mask.sum(-1).tolist() == lengths
    for index, length in enumerate(lengths):
        torch.testing.assert_close(out.audio_codes[index, :, :length], codes_of(expected, index), rtol=0, atol=0)
        assert (out.audio_codes[index, :, length:] == 0).all()
    packed = torch.cat([out.audio_codes[i, :, :n] for i, n in enumerate(lengths)], dim=1)
    assert torch.equal(packed, torch.from_numpy(expected["codes_batch"]))


def test_padding_content_never_leaks(codec, features):
    # A clip whose 50 Hz length is odd (the 2x pooling reads one padded frame), next to a longer clip,
    # with garbage in its padded frames: same codes as alone.
    short = features["input_features"][1:2, :, :69]
    alone = codec.encode(short).audio_codes
    batch = features["input_features"].clone()
    batch[1, :, 69:] = 1e3 * torch.randn_like(batch[1, :, 69:])
    mask = torch.zeros_like(features["attention_mask"])
    mask[0] = 1
    mask[1, :69] = 1
    out = codec.encode(batch, mask)
    frames = alone.shape[-1]
    assert out.audio_codes_mask[1].sum() == frames
    assert torch.equal(out.audio_codes[1, :, :frames], alone[0])


def test_num_quantizers_keeps_leading_codes(codec, features, expected):
    out = codec.encode(features["input_features"][:1], num_quantizers=8)
    assert out.audio_codes.shape[1] == 8
    assert torch.equal(out.audio_codes[0], codes_of(expected, 0, 8))


def test_long_audio_is_encoded_in_independent_segments(codec, features):
    mel = features["input_features"][:1]
    segmented = codec.encode(mel, segment_frames=100).audio_codes
    parts = [codec.encode(mel[:, :, start : start + 100]).audio_codes for start in (0, 100, 200)]
    assert torch.equal(segmented, torch.cat(parts, dim=-1))
    assert codec.num_code_frames(251, segment_frames=100) == segmented.shape[-1] == 25 + 25 + 13
    assert codec.num_code_frames(251) == 63 and codec.num_code_frames(72) == 18
    batched = codec.encode(features["input_features"], features["attention_mask"], segment_frames=100)
    short = codec.encode(features["input_features"][1:, :, :72], segment_frames=100).audio_codes[0]
    assert torch.equal(batched.audio_codes[0], segmented[0])
    assert batched.audio_codes_mask[1].sum() == short.shape[-1]
    assert torch.equal(batched.audio_codes[1, :, : short.shape[-1]], short)


@pytest.mark.parametrize("implementation", ["eager", "sdpa"])
def test_attention_implementations_agree(upstream_tokenizer_dir, features, expected, implementation):
    model = MiMoAudioTokenizerModel.from_pretrained(upstream_tokenizer_dir, attn_implementation=implementation)
    assert model.config._attn_implementation == implementation
    out = model.encode(features["input_features"], features["attention_mask"])
    assert torch.equal(out.audio_codes[0], codes_of(expected, 0))
    decoded = model.decode(codes_of(expected, 1, 8)).audio_values
    np.testing.assert_allclose(decoded.numpy(), expected["decoded_1"], atol=1e-4, rtol=0)


def test_blocked_attention_equals_unblocked(codec, expected, monkeypatch):
    codes = codes_of(expected, 0, 8)
    reference = codec.decode(codes).audio_values
    monkeypatch.setattr(layers, "ATTENTION_BLOCK_SIZE", 16)
    blocked = codec.decode(codes).audio_values
    torch.testing.assert_close(blocked, reference, atol=1e-5, rtol=0)


# ---------------------------------------------------------------------------- decode parity


def test_decode_matches_upstream(codec, expected):
    for index in range(2):
        out = codec.decode(codes_of(expected, index, 8)[None])
        assert out.audio_values.shape == expected[f"decoded_{index}"].shape
        np.testing.assert_allclose(out.audio_values.numpy(), expected[f"decoded_{index}"], atol=1e-4, rtol=0)
        assert out.audio_values_mask.all()


def test_batched_decode_equals_per_clip(codec, expected):
    codes = torch.full((2, 8, 63), 5, dtype=torch.long)  # padding holds arbitrary valid-looking codes
    codes[0] = codes_of(expected, 0, 8)
    codes[1, :, :18] = codes_of(expected, 1, 8)
    mask = torch.zeros(2, 63, dtype=torch.long)
    mask[0] = 1
    mask[1, :18] = 1
    out = codec.decode(codes, mask)
    assert out.audio_values.shape == (2, 1, 63 * 960)
    assert out.audio_values_mask.sum(-1).tolist() == [63 * 960, 18 * 960]
    np.testing.assert_allclose(out.audio_values[0:1].numpy(), expected["decoded_0"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(out.audio_values[1:2, :, : 18 * 960].numpy(), expected["decoded_1"], atol=1e-4, rtol=0)
    assert (out.audio_values[1, :, 18 * 960 :] == 0).all()


def test_numpy_inputs_are_accepted(codec, features, expected):
    out = codec.encode(features["input_features"][:1].numpy())
    assert torch.equal(out.audio_codes[0], codes_of(expected, 0))
    decoded = codec.decode(expected["codes_1"][:8])
    np.testing.assert_allclose(decoded.audio_values.numpy(), expected["decoded_1"], atol=1e-4, rtol=0)


def test_decode_any_number_of_quantizers(codec, expected):
    for num_quantizers in (1, 3, 20):
        out = codec.decode(codes_of(expected, 1, num_quantizers))
        assert out.audio_values.shape == (1, 1, 18 * 960) and torch.isfinite(out.audio_values).all()


# ---------------------------------------------------------------------------- streaming


def test_streaming_matches_upstream(codec, expected):
    chunk = int(expected["stream_chunk_frames"])
    left, lookahead = (int(v) for v in expected["stream_left_right_overlap"])
    codes = codes_of(expected, 0, 8)
    decoder = codec.streaming_decoder(left, lookahead)
    pieces = []
    for start in range(0, codes.shape[-1], chunk):
        piece = decoder.push(codes[:, start : start + chunk], last=start + chunk >= codes.shape[-1])
        assert piece.ndim == 1
        if piece.numel():
            pieces.append(piece)
    assert [p.numel() for p in pieces] == expected["streamed_piece_lengths"].tolist()
    np.testing.assert_allclose(torch.cat(pieces).numpy(), expected["streamed_0"], atol=1e-4, rtol=0)


def test_streaming_defaults_hold_back_lookahead(codec, expected):
    decoder = codec.streaming_decoder()
    assert (decoder.left_context_frames, decoder.lookahead_frames) == (250, 40)
    codes = codes_of(expected, 0, 8)
    first = decoder.push(codes[None, :, :40])  # [1, Q, T] is accepted too
    assert first.numel() == 0  # not more than the 40 look-ahead frames yet
    second = decoder.push(codes[:, 40:50])
    assert second.numel() == 10 * 960
    rest = decoder.push(codes[:, 50:], last=True)
    assert second.numel() + rest.numel() == 63 * 960
    # After the last chunk the decoder starts a new stream.
    assert decoder.context is None


# ---------------------------------------------------------------------------- dtypes, saving


@pytest.mark.parametrize("dtype, atol", [(torch.float16, 2e-3), (torch.bfloat16, 1e-2)])
def test_half_precision_keeps_quantizer_in_float32(upstream_tokenizer_dir, codec, expected, dtype, atol):
    model = MiMoAudioTokenizerModel.from_pretrained(upstream_tokenizer_dir, dtype=dtype)
    assert model.encoder.conv1.weight.dtype == dtype
    for original, loaded in zip(codec.encoder.quantizer.codebooks, model.encoder.quantizer.codebooks):
        assert loaded.embed.dtype == torch.float32 and torch.equal(loaded.embed, original.embed)
    cast = MiMoAudioTokenizerModel.from_pretrained(upstream_tokenizer_dir).to(dtype)
    assert torch.equal(cast.encoder.quantizer.codebooks[2].embed, codec.encoder.quantizer.codebooks[2].embed)
    out = model.decode(codes_of(expected, 0, 8))
    assert out.audio_values.dtype == dtype
    np.testing.assert_allclose(out.audio_values.float().numpy(), expected["decoded_0"], atol=atol, rtol=0)


def test_save_and_reload_gives_same_codes(codec, features, tmp_path):
    codec.save_pretrained(tmp_path)
    with open(tmp_path / "config.json") as handle:
        assert json.load(handle)["model_type"] == "mimo_audio_tokenizer"
    reloaded, info = MiMoAudioTokenizerModel.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    before = codec.encode(features["input_features"], features["attention_mask"])
    after = reloaded.encode(features["input_features"], features["attention_mask"])
    assert torch.equal(before.audio_codes, after.audio_codes)


# ---------------------------------------------------------------------------- other configurations


@pytest.mark.parametrize("variant", list(MiMoAudioTokenizerTester.variants))
def test_tiny_variants_are_batch_invariant(variant, tmp_path):
    model = MiMoAudioTokenizerTester.model(variant)
    config = model.config
    extractor = MiMoAudioFeatureExtractor.from_tokenizer_config(config)
    rng = np.random.default_rng(1)
    clips = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in (4000, 2330)]
    batch = extractor(clips, sampling_rate=config.sampling_rate)
    encoded = model.encode(batch["input_features"], batch["attention_mask"])
    mel_lengths = batch["attention_mask"].sum(-1)
    assert encoded.audio_codes_mask.sum(-1).tolist() == encoder_output_lengths(mel_lengths, config)[2].tolist()
    decoded = model.decode(encoded.audio_codes, encoded.audio_codes_mask)
    for index, clip in enumerate(clips):
        alone = model.encode(extractor(clip, sampling_rate=config.sampling_rate)["input_features"])
        frames = alone.audio_codes.shape[-1]
        assert torch.equal(encoded.audio_codes[index, :, :frames], alone.audio_codes[0])
        wave = model.decode(alone.audio_codes).audio_values
        samples = wave.shape[-1]
        assert decoded.audio_values_mask[index].sum() == samples
        torch.testing.assert_close(decoded.audio_values[index, :, :samples], wave[0], atol=1e-5, rtol=0)
    model.save_pretrained(tmp_path)
    reloaded = MiMoAudioTokenizerModel.from_pretrained(tmp_path)
    assert torch.equal(reloaded.encode(batch["input_features"], batch["attention_mask"]).audio_codes, encoded.audio_codes)


def test_forward_returns_codes_and_waveform():
    model = MiMoAudioTokenizerTester.model()
    features = torch.randn(2, 16, 50)
    out = model(features, num_quantizers=2)
    assert out.audio_codes.shape == (2, 2, 13)
    assert out.audio_values.shape == (2, 1, 13 * model.config.samples_per_frame)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "make_args, error, message",
    [
        (lambda f, m: (f[:, :64], m), ValueError, "128"),
        (lambda f, m: (f[None], None), ValueError, r"\[batch, 128, frames\]"),
        (lambda f, m: (f, m[:, :10]), ValueError, "attention_mask"),
        (lambda f, m: (f, m.flip(-1)), ValueError, "right-padded"),
        (lambda f, m: (f.masked_fill(torch.ones_like(f, dtype=torch.bool), float("nan")), m), ValueError, "NaN"),
        (lambda f, m: (f.tolist(), m), TypeError, "torch.Tensor"),
    ],
)
def test_encode_bad_inputs(codec, features, make_args, error, message):
    args = make_args(features["input_features"], features["attention_mask"])
    with pytest.raises(error, match=message):
        codec.encode(*args)


@pytest.mark.parametrize("num_quantizers", [0, 21, 2.5])
def test_encode_bad_num_quantizers(codec, features, num_quantizers):
    with pytest.raises((ValueError, TypeError), match="num_quantizers"):
        codec.encode(features["input_features"], num_quantizers=num_quantizers)


@pytest.mark.parametrize(
    "codes, mask, error, message",
    [
        (torch.zeros(1, 8, 5), None, TypeError, "integer"),
        (torch.full((1, 8, 5), 1024), None, ValueError, "outside the codebooks"),
        (torch.full((1, 3, 5), 200), None, ValueError, "outside the codebooks"),  # third codebook has 128 entries
        (torch.zeros(1, 21, 5, dtype=torch.long), None, ValueError, "quantizer rows"),
        (torch.zeros(1, 1, 8, 5, dtype=torch.long), None, ValueError, "num_quantizers, frames"),
        (torch.zeros(2, 8, 5, dtype=torch.long), torch.ones(2, 4), ValueError, "audio_codes_mask"),
        (torch.zeros(1, 8, 5, dtype=torch.long), torch.zeros(1, 5), ValueError, "no frames"),
    ],
)
def test_decode_bad_inputs(codec, codes, mask, error, message):
    with pytest.raises(error, match=message):
        codec.decode(codes, mask)


def test_streaming_bad_inputs(codec):
    with pytest.raises(ValueError, match="left_context_frames"):
        codec.streaming_decoder(4, 12)
    decoder = codec.streaming_decoder(12, 4)
    with pytest.raises(ValueError, match="one stream"):
        decoder.push(torch.zeros(2, 8, 4, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        decoder.push([[1, 2]])


# ---------------------------------------------------------------------------- pure helpers


def test_attention_mask_follows_flash_window_semantics():
    valid = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    causal = attention_block_mask(0, 6, 0, 6, valid, causal=True, window=(-1, -1))[:, 0]
    assert torch.equal(causal[0], torch.tril(torch.ones(6, 6, dtype=torch.bool)))
    assert causal[1, 5].any() and causal[1, 5, 5]  # padding queries never get an empty row
    full = attention_block_mask(0, 6, 0, 6, valid, causal=False, window=(-1, -1))[1, 0]
    assert full[:4, :4].all() and not full[:4, 4:].any()  # real queries never see padding keys
    window = attention_block_mask(0, 6, 0, 6, valid, causal=False, window=(2, 1))[0, 0]
    for i in range(6):
        assert window[i].nonzero().flatten().tolist() == list(range(max(0, i - 2), min(6, i + 2)))
    block = attention_block_mask(2, 4, 0, 5, valid, causal=False, window=(2, 1))[0, 0]
    assert torch.equal(block, window[2:4, 0:5])


def test_key_range_covers_window():
    assert key_range(100, 200, 1000, causal=False, window=(40, 10)) == (60, 210)
    assert key_range(100, 200, 1000, causal=True, window=(-1, -1)) == (0, 200)
    assert key_range(0, 50, 60, causal=False, window=(-1, -1)) == (0, 60)


def test_encoder_output_lengths_match_upstream_formula():
    config = MiMoAudioTokenizerConfig()
    mel = torch.tensor([1, 2, 3, 4, 5, 251, 72, 6000])
    _, conv2, pooled = encoder_output_lengths(mel, config)
    assert conv2.tolist() == [(n - 1) // 2 + 1 for n in mel.tolist()]
    assert pooled.tolist() == [-(-((n + 1) // 2) // 2) for n in mel.tolist()]
    assert pooled[-1] == 1500


def test_mask_to_lengths():
    assert mask_to_lengths(torch.tensor([[1, 1, 0], [1, 1, 1]]), "m").tolist() == [2, 3]
    with pytest.raises(ValueError, match="right-padded"):
        mask_to_lengths(torch.tensor([[0, 1, 1]]), "m")


def test_flash_attention_path_packs_clips(monkeypatch):
    """The flash-attention branch packs real frames into varlen sequences; a stand-in kernel with flash's
    semantics (per-sequence causal / window attention) must reproduce the SDPA path on the real frames."""
    import sys
    import types

    def fake_varlen(q, k, v, cu_q, cu_k, max_q, max_k, causal=False, window_size=(-1, -1)):
        out = torch.empty_like(q)
        for start, end in zip(cu_q[:-1].tolist(), cu_q[1:].tolist()):
            n = end - start
            valid = torch.ones(1, n, dtype=torch.bool)
            mask = attention_block_mask(0, n, 0, n, valid, causal, tuple(window_size))[0]
            qs, ks, vs = (t[start:end].transpose(0, 1) for t in (q, k, v))
            out[start:end] = torch.nn.functional.scaled_dot_product_attention(qs, ks, vs, attn_mask=mask).transpose(0, 1)
        return out

    monkeypatch.setitem(sys.modules, "flash_attn", types.SimpleNamespace(flash_attn_varlen_func=fake_varlen))
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, 30, 8, dtype=torch.bfloat16) for _ in range(3))
    lengths = torch.tensor([30, 17])
    for causal, window in ((False, (-1, -1)), (True, (-1, -1)), (False, (4, 2))):
        flash = layers.masked_attention(q, k, v, lengths, causal, window, "flash_attention_2")
        sdpa = layers.masked_attention(q, k, v, lengths, causal, window, "sdpa")
        torch.testing.assert_close(flash[0], sdpa[0], atol=1e-2, rtol=0)  # bf16 kernels differ in rounding
        torch.testing.assert_close(flash[1, :, :17], sdpa[1, :, :17], atol=1e-2, rtol=0)
    with pytest.raises(ValueError, match="float16/bfloat16"):
        layers.masked_attention(q.float(), k.float(), v.float(), lengths, False, (-1, -1), "flash_attention_2")
