"""Signal-level metrics for codec reconstruction, voice/style/speed conversion and denoising.

Definitions:

- :func:`multi_scale_mel_distance` -- for each scale ``(n_fft, n_mels)`` in ``scales`` (default
  ``(2048, 320), (1024, 160), (512, 80), (256, 40), (128, 20), (64, 10)``), compute the magnitude STFT
  (Hann window of ``n_fft`` samples, hop ``n_fft // 4``, centred), project on a Slaney-normalised
  mel filter bank of ``n_mels`` bands (0 Hz to Nyquist), take ``log10(max(mel, 1e-5))`` and the
  mean absolute difference between reference and estimate. The distance is the **mean over
  scales** (0 for identical signals; lower is better). Both signals are cut to the shorter length.
- :func:`pesq_score` -- ITU-T P.862 PESQ from the ``pesq`` package, wide band (``mode="wb"``,
  signals resampled to 16 kHz) or narrow band (``"nb"``, 8 kHz), as in the paper's Table 1.
- :func:`stoi_score` -- STOI (Taal et al. 2011) from the ``pystoi`` package (resamples to 10 kHz itself).
- :func:`cosine_similarity` -- ``a·b / (|a| |b|)`` of two embeddings (speaker / emotion similarity).
- :func:`duration_ratio` -- ``len(output) / len(reference)`` in seconds (speed conversion).

``pesq`` and ``pystoi`` are optional (``pip install pesq pystoi``); a clear ImportError says so.
"""

import warnings
from functools import lru_cache
from typing import Sequence, Tuple

import numpy as np
import torch

from modeling_mimo_audio.config_checks import check_sampling_rate

STOI_MIN_SECONDS = 0.4
DEFAULT_MEL_SCALES: Tuple[Tuple[int, int], ...] = ((2048, 320), (1024, 160), (512, 80), (256, 40), (128, 20), (64, 10))


def _as_1d_float(name: str, wave) -> np.ndarray:
    if isinstance(wave, torch.Tensor):
        wave = wave.detach().cpu().float().numpy()
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim == 2 and 1 in wave.shape:
        wave = wave.reshape(-1)
    if wave.ndim != 1:
        raise ValueError(f"`{name}` must be a 1-D waveform, got shape {wave.shape}")
    if wave.size == 0:
        raise ValueError(f"`{name}` is empty")
    if not np.isfinite(wave).all():
        raise ValueError(f"`{name}` contains NaN or infinite samples")
    return wave


def resample(wave, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling with the project's pure-torch sinc resampler (torchaudio's filter); no-op at equal rates."""
    wave = _as_1d_float("wave", wave)
    if int(orig_sr) == int(target_sr):
        return wave
    from processing.resampling import resample_waveform

    return resample_waveform(torch.from_numpy(wave).float(), int(orig_sr), int(target_sr)).double().numpy()


def _cut_to_common_length(reference, estimate):
    reference, estimate = _as_1d_float("reference", reference), _as_1d_float("estimate", estimate)
    n = min(reference.size, estimate.size)
    return reference[:n], estimate[:n]


@lru_cache(maxsize=32)
def _mel_filters(n_fft: int, n_mels: int, sampling_rate: int) -> torch.Tensor:
    from transformers.audio_utils import mel_filter_bank

    bank = mel_filter_bank(
        num_frequency_bins=n_fft // 2 + 1,
        num_mel_filters=n_mels,
        min_frequency=0.0,
        max_frequency=sampling_rate / 2,
        sampling_rate=sampling_rate,
        norm="slaney",
        mel_scale="slaney",
    )
    return torch.from_numpy(bank).float()  # [freq, mels]


def _log_mel(wave: torch.Tensor, n_fft: int, n_mels: int, sampling_rate: int) -> torch.Tensor:
    spec = torch.stft(
        wave, n_fft=n_fft, hop_length=n_fft // 4, window=torch.hann_window(n_fft), center=True, return_complex=True
    ).abs()  # [freq, frames]
    mel = _mel_filters(n_fft, n_mels, sampling_rate).T @ spec
    return torch.log10(mel.clamp(min=1e-5))


def multi_scale_mel_distance(
    reference, estimate, sampling_rate: int, scales: Sequence[Tuple[int, int]] = DEFAULT_MEL_SCALES
) -> float:
    """Mean over scales of the L1 distance between log-mel spectrograms (see module docstring)."""
    sampling_rate = check_sampling_rate(sampling_rate)
    reference, estimate = _cut_to_common_length(reference, estimate)
    ref = torch.from_numpy(reference).float()
    est = torch.from_numpy(estimate).float()
    distances = []
    for n_fft, n_mels in scales:
        if ref.numel() <= n_fft // 2:
            raise ValueError(f"signals of {ref.numel()} samples are too short for the mel scale n_fft={n_fft}")
        distances.append((_log_mel(ref, n_fft, n_mels, sampling_rate) - _log_mel(est, n_fft, n_mels, sampling_rate)).abs().mean())
    return float(torch.stack(distances).mean())


def pesq_score(reference, estimate, sampling_rate: int, mode: str = "wb") -> float:
    """PESQ (``mode="wb"`` at 16 kHz or ``"nb"`` at 8 kHz); both signals are resampled as needed."""
    if mode not in ("wb", "nb"):
        raise ValueError(f"`mode` must be 'wb' or 'nb', got {mode!r}")
    try:
        from pesq import pesq
    except ImportError as err:
        raise ImportError("PESQ needs the `pesq` package: `pip install pesq` (or `pip install mimo-audio-hf[eval]`).") from err
    target_sr = 16000 if mode == "wb" else 8000
    sampling_rate = check_sampling_rate(sampling_rate)
    reference, estimate = _cut_to_common_length(reference, estimate)
    return float(pesq(target_sr, resample(reference, sampling_rate, target_sr), resample(estimate, sampling_rate, target_sr), mode))


def stoi_score(reference, estimate, sampling_rate: int, extended: bool = False) -> float:
    """STOI (or extended STOI with ``extended=True``) in [0, 1] from ``pystoi``."""
    try:
        from pystoi import stoi
    except ImportError as err:
        raise ImportError("STOI needs the `pystoi` package: `pip install pystoi` (or `pip install mimo-audio-hf[eval]`).") from err
    sampling_rate = check_sampling_rate(sampling_rate)
    reference, estimate = _cut_to_common_length(reference, estimate)
    # pystoi needs 30 STFT frames of speech (384 ms at its 10 kHz); below that it crashes on very short input, and
    # returns 1e-5 with a warning otherwise: a made-up score, so both are refused here.
    if reference.size / sampling_rate < STOI_MIN_SECONDS:
        raise ValueError(
            f"STOI needs at least {STOI_MIN_SECONDS} s of audio, got {reference.size / sampling_rate:.3f} s "
            f"({reference.size} samples at {sampling_rate} Hz)"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score = stoi(reference, estimate, sampling_rate, extended=extended)
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        raise ValueError(
            f"`reference` has too little non-silent audio for STOI (pystoi needs 30 STFT frames, about "
            f"{STOI_MIN_SECONDS} s, after dropping frames 40 dB below the loudest)"
        )
    return float(score)


def cosine_similarity(a, b) -> float:
    """Cosine similarity of two 1-D embeddings."""
    a = torch.as_tensor(np.asarray(a, dtype=np.float64)).reshape(-1)
    b = torch.as_tensor(np.asarray(b, dtype=np.float64)).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"embeddings must have the same size, got {a.numel()} and {b.numel()}")
    denominator = a.norm() * b.norm()
    if denominator == 0:
        raise ValueError("cosine similarity is undefined for an all-zero embedding")
    return float(a @ b / denominator)


def duration_ratio(output_num_samples: int, output_sr: int, reference_num_samples: int, reference_sr: int) -> float:
    """Output duration divided by reference duration (1.0 = same length)."""
    if reference_num_samples <= 0:
        raise ValueError("`reference_num_samples` must be positive")
    return (output_num_samples / output_sr) / (reference_num_samples / reference_sr)
