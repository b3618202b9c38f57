"""Reading audio and turning it into codec codes, for every entry point: the processor, the pipeline, training-data
preparation and evaluation.

One place turns a file path, a `datasets` Audio value or an array into a mono float32 waveform, with the feature
extractor's checks (`to_mono_waveform`) and the resampler (`processing.resampling.resample_waveform`), and one
place encodes a batch of waveforms with the codec, so that audio is read and encoded the same way for training and
for inference.
"""

from __future__ import annotations

import io
import os

import numpy as np
import torch
from transformers.utils import logging

from modeling_mimo_audio.config_checks import check_sampling_rate
from .feature_extraction_mimo_audio import to_mono_waveform
from .resampling import resample_waveform


logger = logging.get_logger(__name__)

__all__ = ["read_audio", "load_audio", "encode_waveforms", "file_log_mel_segments"]


def _read_file(source, name: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        data, rate = sf.read(source, dtype="float32", always_2d=True)  # [samples, channels]
    except (RuntimeError, sf.LibsndfileError) as error:
        raise ValueError(f"cannot read audio {name}: {error}") from error
    if data.shape[0] == 0:
        raise ValueError(f"audio {name} has no samples")
    if not np.isfinite(data).all():  # named here: later checks only see an anonymous array
        first = int(np.flatnonzero(~np.isfinite(data).all(axis=1))[0])
        raise ValueError(f"audio {name} holds NaN or infinite samples (first at sample {first})")
    return np.ascontiguousarray(data.mean(axis=1)), int(rate)


def read_audio(value, sampling_rate: int | None = None) -> tuple[np.ndarray, int]:
    """
    Reads one clip as it is stored, without resampling.

    Args:
        value: a file path; a `datasets` Audio value (`{"array", "sampling_rate"}` when decoded, `{"bytes"}` or
            `{"path"}` when not); transformers' ASR-pipeline dict `{"raw", "sampling_rate"}`; or a 1-D / 2-D array,
            list or tensor of float samples.
        sampling_rate: the rate of an array `value` in Hz (required for arrays, ignored otherwise).

    Returns:
        `(waveform, rate)`: a mono float32 `[samples]` array and its rate. Multi-channel audio is averaged (files are
        `[samples, channels]`; for arrays the short axis is the channel axis). Integer PCM, NaN/inf, empty audio and
        missing files raise a `ValueError`/`TypeError` naming the problem.
    """
    if isinstance(value, (str, os.PathLike)):
        if not os.path.isfile(value):
            raise ValueError(f"audio file not found: {str(value)!r} (remote URLs are not fetched)")
        return _read_file(str(value), repr(str(value)))
    if isinstance(value, dict):
        samples_keys = [key for key in ("array", "raw") if value.get(key) is not None]
        if len(samples_keys) > 1:
            raise ValueError("an audio dict holds both 'array' and 'raw': give the samples once")
        if samples_keys:
            key = samples_keys[0]
            if value.get("sampling_rate") is None:
                raise ValueError(f"an audio dict with {key!r} needs 'sampling_rate' next to it")
            return read_audio(value[key], value["sampling_rate"])
        if value.get("bytes"):
            return _read_file(io.BytesIO(value["bytes"]), "bytes")
        if value.get("path"):
            return read_audio(value["path"])
        raise ValueError(
            f"an audio dict needs 'array' (or 'raw') + 'sampling_rate', 'bytes' or 'path'; got keys {sorted(value)}"
        )
    if isinstance(value, (list, tuple)):
        value = np.asarray(value, dtype=np.float32)
    if not isinstance(value, (np.ndarray, torch.Tensor)):
        raise TypeError(
            "audio must be a file path, a datasets Audio dict or an array/tensor of samples, got "
            f"{type(value).__name__}"
        )
    if sampling_rate is None:
        raise ValueError("`sampling_rate` is required when audio is given as an array")
    sampling_rate = check_sampling_rate(sampling_rate)
    waveform = to_mono_waveform(value.detach().cpu() if isinstance(value, torch.Tensor) else value, "audio")
    return waveform.numpy(), sampling_rate


def load_audio(value, target_sampling_rate: int, sampling_rate: int | None = None) -> np.ndarray:
    """`read_audio`, then resampling to `target_sampling_rate` (with a warning, once per source rate):
    a mono float32 `[samples]` array at `target_sampling_rate`."""
    waveform, rate = read_audio(value, sampling_rate)
    if rate != target_sampling_rate:
        logger.warning_once(f"resampling audio from {rate} Hz to {target_sampling_rate} Hz")
        waveform = resample_waveform(torch.from_numpy(waveform), rate, target_sampling_rate).numpy()
    return waveform


def file_log_mel_segments(path, feature_extractor, segment_frames: int):
    """
    Yields the log-mel features `[n_mels, frames]` of an audio file, `segment_frames` frames at a time, without
    loading the file whole when it is at the extractor's rate: each segment reads only its samples (and the STFT's
    context) from disk. The frames are those of `feature_extractor` on the whole file (channels averaged), so
    encoding the segments one by one with the codec's own segment length gives the whole file's codes.

    A file at another rate is read whole and resampled first (the resampler's memory is bounded, the read is not).
    Samples that are NaN or infinite raise a `ValueError` naming the file.
    """
    import soundfile as sf

    name = repr(str(path))
    try:
        handle = sf.SoundFile(str(path))
    except (RuntimeError, sf.LibsndfileError) as error:
        raise ValueError(f"cannot read audio {name}: {error}") from error
    with handle:
        if handle.frames == 0:
            raise ValueError(f"audio {name} has no samples")
        if handle.samplerate != feature_extractor.sampling_rate:
            waveform = torch.from_numpy(load_audio(str(path), feature_extractor.sampling_rate))
            features = feature_extractor.log_mel(waveform)
            for first in range(0, features.shape[-1], segment_frames):
                yield features[:, first : first + segment_frames]
            return

        def read(start: int, end: int) -> torch.Tensor:
            handle.seek(start)
            samples = handle.read(end - start, dtype="float32", always_2d=True)
            if not np.isfinite(samples).all():
                raise ValueError(f"audio {name} holds NaN or infinite samples (near sample {start})")
            return torch.from_numpy(np.ascontiguousarray(samples.mean(axis=1)))

        minimum = feature_extractor.nfft // 2 + 1
        if handle.frames < minimum:
            raise ValueError(f"audio {name} has {handle.frames} samples; the centered STFT needs at least {minimum}")
        for _, features in feature_extractor.iter_log_mel(read, handle.frames, block_frames=segment_frames):
            yield features


@torch.no_grad()
def encode_waveforms(audio_tokenizer, feature_extractor, waveforms, sampling_rate: int, num_quantizers: int):
    """
    Encodes clips of different lengths with the codec in ONE batched call (each clip gets the codes it would get
    alone).

    Args:
        audio_tokenizer: a `MiMoAudioTokenizerModel`; it runs on its own device.
        feature_extractor: a `MiMoAudioFeatureExtractor` (it resamples from `sampling_rate` when needed).
        waveforms: 1-D float waveforms (arrays or tensors).
        num_quantizers: leading RVQ codebooks to keep (the LM uses 8).

    Returns:
        one LongTensor `[num_quantizers, frames]` per clip, on the CPU, without padding.
    """
    features = feature_extractor(list(waveforms), sampling_rate=sampling_rate, return_tensors="pt")
    device = next(audio_tokenizer.parameters()).device
    encoded = audio_tokenizer.encode(
        features["input_features"].to(device),
        attention_mask=features["attention_mask"].to(device),
        num_quantizers=num_quantizers,
    )
    codes, lengths = encoded.audio_codes.cpu(), encoded.audio_codes_mask.sum(-1).tolist()
    return [codes[i, :, : int(length)] for i, length in enumerate(lengths)]
