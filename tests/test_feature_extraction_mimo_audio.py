import logging
import math

import numpy as np
import pytest
import torch

from modeling_mimo_audio import MiMoAudioTokenizerConfig
from processing.feature_extraction_mimo_audio import MiMoAudioFeatureExtractor, htk_mel_filterbank
from processing.resampling import resample_waveform
from test_modeling_mimo_audio_tokenizer import expected  # noqa: F401 (the fixture's expected.npz)


@pytest.fixture(scope="module")
def extractor():
    return MiMoAudioFeatureExtractor()


def test_single_clip_matches_upstream_mel(extractor, expected):
    for index in range(2):
        out = extractor(expected[f"wav_{index}"], sampling_rate=24000)
        assert out["input_features"].dtype == torch.float32
        assert out["attention_mask"].dtype == torch.long
        mel = out["input_features"][0].T.numpy()
        assert mel.shape == expected[f"mel_{index}"].shape
        np.testing.assert_allclose(mel, expected[f"mel_{index}"], atol=1e-4, rtol=0)


def test_batch_pads_and_masks(extractor, expected):
    out = extractor([expected["wav_0"], torch.from_numpy(expected["wav_1"])], sampling_rate=24000)
    features, mask = out["input_features"], out["attention_mask"]
    assert features.shape == (2, 128, 251)
    assert mask.tolist()[1] == [1] * 72 + [0] * (251 - 72)
    assert mask[0].all()
    np.testing.assert_allclose(features[1, :, :72].T.numpy(), expected["mel_1"], atol=1e-4, rtol=0)
    assert (features[1, :, 72:] == extractor.padding_value).all()


def test_frame_count_follows_centered_stft(extractor):
    for samples in (481, 959, 960, 24000, 24001):
        out = extractor(np.zeros(samples, dtype=np.float32), sampling_rate=24000)
        assert out["input_features"].shape[-1] == 1 + samples // 240


def test_filterbank_matches_htk_formula():
    # An independent float64 construction of the HTK triangles.
    bank = htk_mel_filterbank(24000, 960, 128, 0.0, 12000.0).double().numpy()
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    edges = hz(np.linspace(mel(0.0), mel(12000.0), 130))
    freqs = np.linspace(0, 12000, 481)
    rising = (freqs[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])[None]
    falling = (edges[None, 2:] - freqs[:, None]) / (edges[2:] - edges[1:-1])[None]
    reference = np.maximum(0, np.minimum(rising, falling))
    np.testing.assert_allclose(bank, reference, atol=5e-5)  # float32 vs float64


def test_multichannel_is_averaged(extractor, expected):
    wav = expected["wav_1"]
    stereo = np.stack([wav * 0.5, wav * 1.5])  # mean == wav
    mono = extractor(wav, sampling_rate=24000)["input_features"]
    channels_first = extractor(stereo, sampling_rate=24000)["input_features"]
    channels_last = extractor(stereo.T.copy(), sampling_rate=24000)["input_features"]
    torch.testing.assert_close(channels_first, mono, atol=1e-5, rtol=0)
    torch.testing.assert_close(channels_last, mono, atol=1e-5, rtol=0)


def test_plain_list_is_one_clip(extractor, expected):
    wav = expected["wav_1"][:2400]
    out = extractor(wav.tolist(), sampling_rate=24000)
    torch.testing.assert_close(out["input_features"], extractor(wav, sampling_rate=24000)["input_features"])


def test_resampling_is_logged_and_band_limited(extractor, caplog):
    rate, seconds = 16000, 0.5
    t = np.arange(int(rate * seconds)) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    with caplog.at_level(logging.WARNING):
        out = extractor(tone, sampling_rate=rate)
    assert any("Resampling" in record.getMessage() for record in caplog.records)
    resampled = resample_waveform(torch.from_numpy(tone), rate, 24000)
    assert resampled.shape[0] == math.ceil(tone.shape[0] * 24000 / rate)
    t24 = np.arange(resampled.shape[0]) / 24000
    truth = 0.5 * np.sin(2 * np.pi * 440 * t24)
    interior = slice(200, -200)  # away from the zero-padded edges
    np.testing.assert_allclose(resampled.numpy()[interior], truth[interior], atol=5e-3)
    assert out["input_features"].shape[-1] == 1 + resampled.shape[0] // 240


def test_resampling_equals_extracting_resampled_audio(extractor):
    tone = np.random.default_rng(0).standard_normal(8000).astype(np.float32) * 0.1
    direct = extractor(tone, sampling_rate=16000)["input_features"]
    manual = extractor(resample_waveform(torch.from_numpy(tone), 16000, 24000), sampling_rate=24000)
    torch.testing.assert_close(direct, manual["input_features"])


def test_device_argument_and_numpy_output(extractor, expected):
    out = extractor(expected["wav_1"], sampling_rate=24000, device="cpu")
    assert out["input_features"].device.type == "cpu"
    as_numpy = extractor(expected["wav_1"], sampling_rate=24000, return_tensors="np")
    assert isinstance(as_numpy["input_features"], np.ndarray)
    np.testing.assert_allclose(as_numpy["input_features"], out["input_features"].numpy())


@pytest.mark.parametrize(
    "audio, kwargs, error, message",
    [
        (np.zeros(0, dtype=np.float32), {"sampling_rate": 24000}, ValueError, "empty"),
        ([], {"sampling_rate": 24000}, ValueError, "empty"),
        (np.array([0.0, np.nan] * 600, dtype=np.float32), {"sampling_rate": 24000}, ValueError, "NaN"),
        (np.array([0.0, np.inf] * 600, dtype=np.float32), {"sampling_rate": 24000}, ValueError, "infinite"),
        (np.zeros((1, 2, 2400), dtype=np.float32), {"sampling_rate": 24000}, ValueError, "1-D"),
        (np.zeros(2400, dtype=np.float32), {}, ValueError, "sampling_rate"),
        (np.zeros(2400, dtype=np.float32), {"sampling_rate": 0}, ValueError, "sampling_rate"),
        (np.zeros(2400, dtype=np.int16), {"sampling_rate": 24000}, TypeError, "float"),
        (np.zeros(100, dtype=np.float32), {"sampling_rate": 24000}, ValueError, "at least"),
        ("audio.wav", {"sampling_rate": 24000}, TypeError, "raw_audio"),
        (np.zeros((40, 2400), dtype=np.float32), {"sampling_rate": 24000}, ValueError, "channels"),
    ],
)
def test_bad_inputs_raise_clear_errors(extractor, audio, kwargs, error, message):
    with pytest.raises(error, match=message):
        extractor(audio, **kwargs)


def test_save_and_load_round_trip(tmp_path, expected):
    extractor = MiMoAudioFeatureExtractor(n_mels=80, nfft=1024, window_size=800, fmin=20, fmax=8000)
    extractor.save_pretrained(tmp_path)
    reloaded = MiMoAudioFeatureExtractor.from_pretrained(tmp_path)
    assert reloaded.to_dict() == extractor.to_dict()
    wav = expected["wav_1"]
    torch.testing.assert_close(
        reloaded(wav, sampling_rate=24000)["input_features"], extractor(wav, sampling_rate=24000)["input_features"]
    )
    assert reloaded(wav, sampling_rate=24000)["input_features"].shape[1] == 80


def test_from_tokenizer_config_and_released_defaults(upstream_tokenizer_dir):
    names = ("sampling_rate", "nfft", "hop_length", "window_size", "n_mels", "fmin", "fmax")
    released = MiMoAudioFeatureExtractor.from_tokenizer_config(MiMoAudioTokenizerConfig())
    default = MiMoAudioFeatureExtractor()
    assert {n: getattr(default, n) for n in names} == {n: getattr(released, n) for n in names}
    custom = MiMoAudioTokenizerConfig(n_mels=80, nfft=1024, hop_length=256, window_size=1024, fmin=10, fmax=7000)
    extractor = MiMoAudioFeatureExtractor.from_tokenizer_config(custom)
    assert (extractor.n_mels, extractor.nfft, extractor.hop_length, extractor.fmin, extractor.fmax) == (
        80, 1024, 256, 10, 7000,
    )
    assert extractor.feature_size == 80
    upstream = MiMoAudioTokenizerConfig.from_pretrained(upstream_tokenizer_dir)
    assert MiMoAudioFeatureExtractor.from_tokenizer_config(upstream).to_dict() == default.to_dict()


def test_from_pretrained_on_an_upstream_tokenizer_folder(upstream_tokenizer_dir, tmp_path):
    assert MiMoAudioFeatureExtractor.from_pretrained(upstream_tokenizer_dir).to_dict() == (
        MiMoAudioFeatureExtractor().to_dict()
    )
    MiMoAudioTokenizerConfig(n_mels=80, hop_length=200, fmax=8000).save_pretrained(tmp_path)
    extractor = MiMoAudioFeatureExtractor.from_pretrained(tmp_path)
    assert (extractor.n_mels, extractor.hop_length, extractor.fmax) == (80, 200, 8000)


@pytest.mark.parametrize("samples", [24000 * 3 + 17, 24000 * 3, 240 * 700 + 239])
def test_blocked_stft_equals_one_centered_stft(extractor, samples, monkeypatch):
    """Long clips are transformed a block of frames at a time; the frames are those of one centered STFT."""
    from processing import feature_extraction_mimo_audio as module

    wave = torch.from_numpy(np.random.default_rng(1).standard_normal(samples).astype(np.float32) * 0.1)
    # The reference in float64, as the extractor computes on CPU (float32 rounding alone differs by ~1e-5 here).
    window = torch.hann_window(extractor.window_size, dtype=torch.float64)
    spectrum = torch.stft(wave.double(), n_fft=extractor.nfft, hop_length=extractor.hop_length,
                          win_length=extractor.window_size, window=window, center=True, pad_mode="reflect",
                          return_complex=True).abs()
    filterbank = htk_mel_filterbank(24000, extractor.nfft, extractor.n_mels, 0.0, 12000.0).double()
    whole = torch.log(torch.clamp((spectrum.T @ filterbank).T, min=1e-7)).float()
    monkeypatch.setattr(module, "LOG_MEL_BLOCK_FRAMES", 97)  # several blocks, the last one short
    blocked = extractor.log_mel(wave)
    assert blocked.shape == whole.shape == (extractor.n_mels, 1 + samples // extractor.hop_length)
    torch.testing.assert_close(blocked, whole, rtol=0, atol=1e-5)


def test_sampling_rate_follows_the_one_rule_for_audio_rates(extractor):
    """As `processing.audio_io` reads rates: whole numbers of Hz, also as floats; nothing is rounded."""
    wave = np.zeros(2400, dtype=np.float32)
    torch.testing.assert_close(extractor(wave, sampling_rate=24000.0)["input_features"],
                               extractor(wave, sampling_rate=24000)["input_features"])
    with pytest.raises(ValueError, match="whole|integer"):
        extractor(wave, sampling_rate=22050.5)
    for bad in (True, "24000"):
        with pytest.raises(TypeError, match="sampling_rate"):
            extractor(wave, sampling_rate=bad)



def test_options_it_cannot_honour_are_refused(extractor):
    clip = np.zeros(2400, np.float32)
    # What transformers' ASR pipeline sends asks for this extractor's behaviour: accepted, same features.
    plain = extractor(clip, sampling_rate=24000)["input_features"]
    sent = extractor(clip, sampling_rate=24000, truncation=False, padding="longest", return_attention_mask=True)
    assert torch.equal(sent["input_features"], plain)
    for option in ({"padding": "max_length"}, {"padding": False}, {"truncation": True}, {"max_length": 100},
                   {"pad_to_multiple_of": 8}):
        name = next(iter(option))
        with pytest.raises(ValueError, match=f"`{name}=.*` is not supported"):
            extractor(clip, sampling_rate=24000, **option)
