"""Log-mel feature extractor of the MiMo-Audio tokenizer.

The features are exactly upstream's: ``log(clamp(mel, 1e-7))`` of a magnitude (power 1) mel spectrogram, i.e.
torchaudio's ``MelSpectrogram(power=1.0, center=True, pad_mode="reflect", mel_scale="htk", norm=None)`` with a
periodic Hann window. torchaudio is optional here: the STFT and the HTK filterbank are computed directly in torch,
following torchaudio's float32 arithmetic step by step, so both give the same numbers.
"""

import json
import logging
import math
import os
from functools import lru_cache

import numpy as np
import torch
from transformers import BatchFeature, SequenceFeatureExtractor

from modeling_mimo_audio.config_checks import check_mel_front_end, check_number, check_sampling_rate
from .resampling import resample_waveform, uses_polyphase

logger = logging.getLogger(__name__)

LOG_FLOOR = 1e-7
# STFT frames computed at once by `log_mel` (60 s at the 100 Hz frame rate): bounds the memory of long clips.
LOG_MEL_BLOCK_FRAMES = 6000


def hz_to_mel_htk(frequency: float) -> float:
    return 2595.0 * math.log10(1.0 + frequency / 700.0)


def mel_to_hz_htk(mels: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def htk_mel_filterbank(sampling_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> torch.Tensor:
    """Triangular HTK mel filterbank without normalisation, `[n_fft // 2 + 1, n_mels]` float32.

    Computed in float32 in the same order as torchaudio's `melscale_fbanks`, so the two agree bit for bit.
    """
    n_freqs = n_fft // 2 + 1
    all_freqs = torch.linspace(0, sampling_rate // 2, n_freqs)
    mel_points = torch.linspace(hz_to_mel_htk(fmin), hz_to_mel_htk(fmax), n_mels + 2)
    hz_points = mel_to_hz_htk(mel_points)
    band_widths = hz_points[1:] - hz_points[:-1]
    slopes = hz_points.unsqueeze(0) - all_freqs.unsqueeze(1)
    rising = (-1.0 * slopes[:, :-2]) / band_widths[:-1]
    falling = slopes[:, 2:] / band_widths[1:]
    return torch.clamp(torch.min(rising, falling), min=0.0)


def to_mono_waveform(audio, name: str = "raw_audio") -> torch.Tensor:
    """
    Validates one clip and returns it as a 1-D float32 tensor: float samples only (integer PCM is refused rather
    than silently mis-scaled), 1-D or 2-D with the short axis taken as channels and averaged (so both
    `[channels, samples]` and soundfile's `[samples, channels]` work), non-empty and finite. `name` is used in errors.
    """
    if isinstance(audio, torch.Tensor):
        tensor = audio.detach()
    else:
        try:
            array = np.asarray(audio)
        except Exception as error:  # ragged nested lists and other non-arrays
            raise TypeError(f"`{name}` must be an array or tensor of float samples, got {type(audio)}") from error
        if array.dtype == object or not np.issubdtype(array.dtype, np.number):
            raise TypeError(f"`{name}` must hold numeric samples, got dtype {array.dtype}")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.is_complex():
        raise TypeError(f"`{name}` must hold real samples, got dtype {tensor.dtype}")
    if not tensor.is_floating_point():
        raise TypeError(
            f"`{name}` must hold float samples in [-1, 1], got dtype {tensor.dtype}; convert integer PCM "
            "first (e.g. `soundfile.read(path, dtype='float32')`)"
        )
    if tensor.ndim == 2:
        # Channels are averaged to mono as upstream does. The channel axis is the short one, so both
        # channels-first tensors and the [samples, channels] arrays soundfile returns work.
        channel_axis = 0 if tensor.shape[0] <= tensor.shape[1] else 1
        if tensor.shape[channel_axis] > 16:
            raise ValueError(
                f"`{name}` has shape {tuple(tensor.shape)}; 2-D audio must be [channels, samples] (or "
                "[samples, channels]) with at most 16 channels. Pass a batch as a list of 1-D clips."
            )
        tensor = tensor.float().mean(dim=channel_axis)
    elif tensor.ndim != 1:
        raise ValueError(
            f"`{name}` must be 1-D [samples] or 2-D [channels, samples], got {tensor.ndim}-D shape "
            f"{tuple(tensor.shape)}"
        )
    if tensor.numel() == 0:
        raise ValueError(f"`{name}` is empty: audio needs at least one sample")
    tensor = tensor.float()
    if not torch.isfinite(tensor).all():
        raise ValueError(f"`{name}` contains NaN or infinite samples")
    return tensor



# Options other feature extractors take. Those values that ask for what this one does anyway (pad to the longest
# clip, never truncate) pass, as transformers' pipelines send them; any other value would be silently ignored, so
# it is refused.
_ACCEPTED_OPTION_VALUES = {
    "padding": (True, "longest", None),
    "truncation": (False, None),
    "max_length": (None,),
    "pad_to_multiple_of": (None,),
}


def _refuse_unsupported_options(kwargs: dict):
    for name, accepted in _ACCEPTED_OPTION_VALUES.items():
        value = kwargs.get(name)
        if name in kwargs and not any(value is a or (isinstance(value, str) and value == a) for a in accepted):
            raise ValueError(
                f"`{name}={value!r}` is not supported: MiMoAudioFeatureExtractor pads a batch to its longest clip and "
                "never truncates (cut long audio yourself, or let the codec's 60 s segments handle it)"
            )

class MiMoAudioFeatureExtractor(SequenceFeatureExtractor):
    r"""
    Turns mono waveforms into the log-mel features that [`MiMoAudioTokenizerModel.encode`] expects.

    Each clip gives `1 + samples // hop_length` frames (centered STFT with reflect padding) of
    `log(clamp(mel, 1e-7))`, where mel is the magnitude spectrogram through an HTK mel filterbank without band
    normalisation. Clips of different lengths are padded with `padding_value` at the end, and `attention_mask`
    marks the real frames.

    Args:
        sampling_rate (`int`, defaults to 24000): rate the features are computed at; other rates are resampled.
        nfft (`int`, defaults to 960): FFT size.
        hop_length (`int`, defaults to 240): hop in samples (100 frames per second at 24 kHz).
        window_size (`int`, defaults to 960): periodic Hann window length.
        n_mels (`int`, defaults to 128): number of mel bands (`feature_size`).
        fmin (`float`, defaults to 0): lowest mel frequency in Hz.
        fmax (`float`, *optional*): highest mel frequency in Hz; `None` means `sampling_rate / 2`.
        padding_value (`float`, defaults to 0.0): value of padded feature frames.

    The defaults are the released MiMo-Audio-Tokenizer's; [`~MiMoAudioFeatureExtractor.from_tokenizer_config`]
    reads them from a tokenizer config instead.
    """

    model_input_names = ["input_features", "attention_mask"]

    def __init__(
        self,
        sampling_rate: int = 24000,
        nfft: int = 960,
        hop_length: int = 240,
        window_size: int = 960,
        n_mels: int = 128,
        fmin: float = 0,
        fmax: float | None = None,
        padding_value: float = 0.0,
        **kwargs,
    ):
        kwargs.pop("feature_size", None)
        check_mel_front_end(sampling_rate, nfft, hop_length, window_size, n_mels, fmin, fmax)
        check_number("padding_value", padding_value)
        super().__init__(feature_size=n_mels, sampling_rate=sampling_rate, padding_value=padding_value, **kwargs)
        self.nfft = nfft
        self.hop_length = hop_length
        self.window_size = window_size
        self.n_mels = n_mels
        self.fmin = fmin
        self.fmax = fmax

    @classmethod
    def from_tokenizer_config(cls, config, **kwargs) -> "MiMoAudioFeatureExtractor":
        """Builds the feature extractor a [`MiMoAudioTokenizerConfig`] (or upstream's config) was trained with."""
        params = {
            name: getattr(config, name)
            for name in ("sampling_rate", "nfft", "hop_length", "window_size", "n_mels", "fmin", "fmax")
        }
        params.update(kwargs)
        return cls(**params)

    @classmethod
    def get_feature_extractor_dict(cls, pretrained_model_name_or_path, **kwargs):
        """As the base class, plus: a local upstream tokenizer folder (a `config.json` with
        `model_type="mimo_audio_tokenizer"` and no `preprocessor_config.json`) gives the extractor its config was
        trained with, so `MiMoAudioFeatureExtractor.from_pretrained(tokenizer_folder)` works on upstream folders."""
        folder = str(pretrained_model_name_or_path)
        config_path = os.path.join(folder, "config.json")
        if (
            os.path.isdir(folder)
            and not os.path.isfile(os.path.join(folder, "preprocessor_config.json"))
            and os.path.isfile(config_path)
        ):
            with open(config_path, encoding="utf-8") as handle:
                config = json.load(handle)
            if config.get("model_type") == "mimo_audio_tokenizer":
                names = ("sampling_rate", "nfft", "hop_length", "window_size", "n_mels", "fmin", "fmax")
                params = {name: config[name] for name in names if name in config}
                params["feature_extractor_type"] = cls.__name__
                for name in ("cache_dir", "force_download", "local_files_only", "token", "revision", "subfolder"):
                    kwargs.pop(name, None)
                return params, kwargs
        return super().get_feature_extractor_dict(pretrained_model_name_or_path, **kwargs)

    def num_frames(self, num_samples: int) -> int:
        """Feature frames of a clip of `num_samples` samples (centered STFT)."""
        return 1 + num_samples // self.hop_length

    def log_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """Log-mel features `[..., n_mels, frames]` of float waveforms `[..., samples]` already at `sampling_rate`
        (one clip, or a batch of clips of one length).

        Computed `LOG_MEL_BLOCK_FRAMES` frames at a time (`iter_log_mel`), so a long clip costs its output plus one
        block, not a whole complex spectrogram; the frames are those of one centered `torch.stft` over the clip.
        """
        blocks = [features for _, features in self.iter_log_mel(lambda s, e: waveform[..., s:e], waveform.shape[-1])]
        return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=-1)

    def iter_log_mel(self, read, num_samples: int, block_frames: int | None = None):
        """
        Yields `(first_frame, features [..., n_mels, block])` over a clip of `num_samples` samples at
        `sampling_rate`, `block_frames` frames (default `LOG_MEL_BLOCK_FRAMES`) at a time, reading samples through
        `read(start, end)` (a float tensor `[..., end - start]` of samples `start..end-1`): only each block's samples
        and the STFT's context are read, with the clip's reflect padding at its two ends, so a file can be featurized
        without loading it whole. The frames equal those of one centered `torch.stft` over the whole clip.
        """
        block_frames = LOG_MEL_BLOCK_FRAMES if block_frames is None else block_frames
        half, hop = self.nfft // 2, self.hop_length
        frames = self.num_frames(num_samples)
        window, filterbank = None, None
        for first in range(0, frames, block_frames):
            last = min(first + block_frames, frames)
            start, end = first * hop - half, (last - 1) * hop + half  # samples of frames first..last-1
            piece = read(max(start, 0), min(end, num_samples))
            if start < 0 or end > num_samples:
                # torch's reflect padding of the whole clip: x[half], ..., x[1] before it, x[-2], x[-3], ... after.
                before = read(1, 1 - start).flip(-1) if start < 0 else piece[..., :0]
                after = (read(2 * num_samples - end - 1, num_samples - 1).flip(-1) if end > num_samples
                         else piece[..., :0])
                piece = torch.cat([before, piece, after], dim=-1)
            output_dtype = piece.dtype
            if piece.device.type == "cpu":
                # float32 FFT and matmul rounding differ between CPUs (AVX2 / AVX-512 code paths): on quiet bins the
                # log turns that into up to 2.4e-4 (measured against upstream's fixture on an AMD EPYC), over the
                # fixture's 1e-4. In float64 the features are the exact ones (within 1e-12) on every CPU, for about
                # 1.3 ms more per second of audio (60 s: 43 ms in float32, 122 ms in float64).
                piece = piece.to(torch.float64)
            if window is None:
                window = torch.hann_window(self.window_size, device=piece.device, dtype=piece.dtype)
                fmax = float(self.sampling_rate // 2) if self.fmax is None else float(self.fmax)
                filterbank = htk_mel_filterbank(self.sampling_rate, self.nfft, self.n_mels, float(self.fmin), fmax)
                filterbank = filterbank.to(device=piece.device, dtype=piece.dtype)
            spectrum = torch.stft(
                piece,
                n_fft=self.nfft,
                hop_length=hop,
                win_length=self.window_size,
                window=window,
                center=False,
                normalized=False,
                onesided=True,
                return_complex=True,
            ).abs()
            mel = torch.matmul(spectrum.transpose(-1, -2), filterbank).transpose(-1, -2)
            yield first, torch.log(torch.clamp(mel, min=LOG_FLOOR)).to(output_dtype)

    def _to_mono_tensor(self, audio, index: int) -> torch.Tensor:
        return to_mono_waveform(audio, "raw_audio" if index < 0 else f"raw_audio[{index}]")

    def _split_batch(self, raw_audio) -> list:
        if isinstance(raw_audio, (list, tuple)):
            if len(raw_audio) == 0:
                raise ValueError("`raw_audio` is an empty list: pass at least one clip")
            if all(isinstance(item, (int, float, np.number)) for item in raw_audio):
                return [raw_audio]  # one clip given as a plain list of samples
            return list(raw_audio)
        if isinstance(raw_audio, (np.ndarray, torch.Tensor)):
            return [raw_audio]
        raise TypeError(
            "`raw_audio` must be a 1-D array/tensor of samples or a list of them, got " f"{type(raw_audio).__name__}"
        )

    def __call__(
        self,
        raw_audio,
        sampling_rate: int | None = None,
        return_tensors: str | None = "pt",
        device: str | torch.device | None = None,
        return_attention_mask: bool = True,
        **kwargs,
    ) -> BatchFeature:
        """
        Computes log-mel features of one clip or a batch of clips.

        Args:
            raw_audio (`np.ndarray`, `torch.Tensor`, list of floats, or a list of those): float samples. A 2-D
                clip (`[channels, samples]`) is averaged to mono.
            sampling_rate (`int`): rate of `raw_audio` in Hz. Required; other rates than `self.sampling_rate`
                are resampled (`processing.resampling.resample_waveform`: bounded memory for any rate) with a
                log message.
            return_tensors (`str`, defaults to `"pt"`): `"pt"` or `"np"`.
            device: torch device the STFT runs on (and where `"pt"` outputs stay).

        Returns:
            [`BatchFeature`] with `input_features` float32 `[batch, n_mels, frames]` (padded frames hold
            `padding_value`) and `attention_mask` long `[batch, frames]` (1 = real frame).
        """
        _refuse_unsupported_options(kwargs)
        if kwargs:
            logger.debug("MiMoAudioFeatureExtractor ignores arguments %s", sorted(kwargs))
        if sampling_rate is None:
            raise ValueError(
                f"`sampling_rate` is required: pass the rate of `raw_audio` in Hz (this extractor works at "
                f"{self.sampling_rate} Hz and resamples other rates)"
            )
        # The same rule as everywhere audio comes in: a whole number of Hz (24000.0 is 24000; 22050.5 is refused).
        sampling_rate = check_sampling_rate(sampling_rate)
        if return_tensors not in ("pt", "np", None):
            raise ValueError(f"`return_tensors` must be 'pt' or 'np', got {return_tensors!r}")

        clips = [self._to_mono_tensor(clip, i) for i, clip in enumerate(self._split_batch(raw_audio))]
        if device is not None:
            clips = [clip.to(device) for clip in clips]
        if sampling_rate != self.sampling_rate:
            logger.warning(
                "Resampling %d clip(s) from %d Hz to %d Hz (%s).",
                len(clips),
                sampling_rate,
                self.sampling_rate,
                _resampler_name(int(sampling_rate), self.sampling_rate),
            )
            clips = [resample_waveform(clip, int(sampling_rate), self.sampling_rate) for clip in clips]

        minimum = self.nfft // 2 + 1
        for i, clip in enumerate(clips):
            if clip.numel() < minimum:
                raise ValueError(
                    f"clip {i} has {clip.numel()} samples at {self.sampling_rate} Hz; the centered STFT needs at "
                    f"least {minimum} ({minimum / self.sampling_rate * 1000:.0f} ms)"
                )

        features = [self.log_mel(clip) for clip in clips]
        lengths = [feature.shape[-1] for feature in features]
        longest = max(lengths)
        batch = features[0].new_full((len(features), self.n_mels, longest), float(self.padding_value))
        mask = torch.zeros(len(features), longest, dtype=torch.long, device=batch.device)
        for i, feature in enumerate(features):
            batch[i, :, : lengths[i]] = feature
            mask[i, : lengths[i]] = 1

        data = {"input_features": batch, "attention_mask": mask}
        if return_tensors == "np" or return_tensors is None:
            data = {key: value.cpu().numpy() for key, value in data.items()}
            return BatchFeature(data, tensor_type=return_tensors)
        return BatchFeature(data)


def _resampler_name(orig_freq: int, new_freq: int) -> str:
    if not uses_polyphase(orig_freq, new_freq):
        return "direct windowed-sinc resampler"
    return "torchaudio" if _has_torchaudio() else "torch polyphase sinc resampler"


def _has_torchaudio() -> bool:
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        return False
    return True


__all__ = ["MiMoAudioFeatureExtractor", "to_mono_waveform"]
