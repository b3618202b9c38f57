"""The resampler: one filter (torchaudio's default windowed sinc), a polyphase kernel for rates that share many
factors and a direct per-sample evaluation, with bounded memory, for the others; both give the same numbers."""

import math

import numpy as np
import pytest
import torch

from processing import resampling
from processing.resampling import resample_waveform, uses_polyphase


def _noise(samples, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(samples).astype(np.float32) * 0.1)


@pytest.mark.parametrize("orig, new", [(16000, 24000), (44100, 24000), (8001, 24000), (24000, 16001), (96000, 24000)])
def test_direct_path_equals_the_polyphase_kernel(orig, new):
    wave = _noise(orig // 20)  # 50 ms
    reduced_orig, reduced_new = resampling._reduced(orig, new)
    polyphase = resampling._resample_polyphase(wave, reduced_orig, reduced_new)
    direct = resampling._resample_direct(wave, reduced_orig, reduced_new)
    assert direct.shape == polyphase.shape == (math.ceil(wave.numel() * new / orig),)
    # Same filter at the same positions; the float32 rounding of the positions and of the sums differs.
    torch.testing.assert_close(direct, polyphase, rtol=0, atol=2e-5)


def test_small_blocks_give_the_same_result(monkeypatch):
    wave = _noise(2000)
    whole = resampling._resample_direct(wave, 16001, 24000)
    monkeypatch.setattr(resampling, "_DIRECT_BLOCK_VALUES", 17 * 7)  # 7 output samples per block
    torch.testing.assert_close(resampling._resample_direct(wave, 16001, 24000), whole, rtol=0, atol=0)


def test_rates_sharing_few_factors_take_the_direct_path():
    # The usual rates keep the polyphase kernel (torchaudio's numbers); 16001 Hz would need a 1.5 GB kernel.
    assert uses_polyphase(16000, 24000) and uses_polyphase(44100, 24000) and uses_polyphase(48000, 24000)
    assert uses_polyphase(22050, 24000) and uses_polyphase(8000, 24000)
    assert not uses_polyphase(16001, 24000) and not uses_polyphase(44101, 24000) and not uses_polyphase(192001, 24000)


def test_odd_rate_resamples_a_tone_faithfully():
    rate = 16001
    t = np.arange(2 * rate) / rate
    tone = torch.from_numpy((0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    out = resample_waveform(tone, rate, 24000)
    assert out.shape == (math.ceil(tone.numel() * 24000 / rate),) and out.dtype == torch.float32
    truth = 0.5 * np.sin(2 * np.pi * 440 * np.arange(out.numel()) / 24000)
    np.testing.assert_allclose(out.numpy()[200:-200], truth[200:-200], atol=5e-3)


def test_bad_rates_are_refused():
    wave = _noise(100)
    for orig, new in [(0, 24000), (16000.5, 24000), (16000, -1), (True, 24000)]:
        with pytest.raises(ValueError, match="positive integer sampling rate"):
            resample_waveform(wave, orig, new)
    assert resample_waveform(wave, 24000, 24000) is wave
