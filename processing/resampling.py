"""Band-limited resampling with bounded memory for every pair of sampling rates.

One filter, two ways of applying it:

- **polyphase** (`sinc_resample_kernel` + a strided convolution): the filter of `torchaudio.functional.resample`'s
  default (`sinc_interp_hann`, lowpass width 6, roll-off 0.99) for the rates reduced by their gcd. Its kernel has
  `new * (2 * width + orig)` taps, small for the usual rates (16 k -> 24 k: 3 x 16; 44.1 k -> 24 k: 80 x 171) but
  enormous when the rates share few factors (16001 -> 24000: 24000 x 16015 floats, 1.5 GB, and several times that
  inside the convolution).
- **direct** (`_resample_direct`): the same windowed sinc evaluated at each output sample's exact position in the
  input, for a block of output samples at a time. Memory is one block of `block x taps` values whatever the
  rates; the numbers equal the polyphase ones up to float32 rounding (the same filter at the same positions:
  within 2e-5 on noise of 0.1 RMS, `tests/test_resampling.py`).

`resample_waveform` takes the polyphase path (torchaudio's own function when it is installed) while the kernel stays
under `POLYPHASE_KERNEL_LIMIT` values, and the direct path otherwise.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch


__all__ = ["POLYPHASE_KERNEL_LIMIT", "sinc_resample_kernel", "resample_waveform", "uses_polyphase"]

LOWPASS_FILTER_WIDTH = 6
ROLLOFF = 0.99
# Largest polyphase kernel (in float32 values, 4 MiB) used; beyond it the direct path runs.
POLYPHASE_KERNEL_LIMIT = 1 << 20
# Output samples x filter taps evaluated at once on the direct path (about 16 MiB of float32 per buffer).
_DIRECT_BLOCK_VALUES = 1 << 22


def _reduced(orig_freq: int, new_freq: int) -> tuple[int, int]:
    gcd = math.gcd(int(orig_freq), int(new_freq))
    return int(orig_freq) // gcd, int(new_freq) // gcd


def _width(orig: int, new: int) -> int:
    return math.ceil(LOWPASS_FILTER_WIDTH * orig / (min(orig, new) * ROLLOFF))


def uses_polyphase(orig_freq: int, new_freq: int) -> bool:
    """Whether `resample_waveform(..., orig_freq, new_freq)` applies the polyphase kernel (small enough) rather
    than the direct path."""
    orig, new = _reduced(orig_freq, new_freq)
    return new * (2 * _width(orig, new) + orig) <= POLYPHASE_KERNEL_LIMIT


def _filter(times: torch.Tensor, base_freq: float, orig: float) -> torch.Tensor:
    """The Hann-windowed sinc at `times` (input-time offsets already multiplied by `base_freq`), as torchaudio
    computes it."""
    times = times.clamp(-LOWPASS_FILTER_WIDTH, LOWPASS_FILTER_WIDTH)
    window = torch.cos(times * math.pi / LOWPASS_FILTER_WIDTH / 2) ** 2
    times = times * math.pi
    kernel = torch.where(times == 0, torch.tensor(1.0, dtype=times.dtype), times.sin() / times)
    return kernel * window * (base_freq / orig)


@lru_cache(maxsize=8)
def sinc_resample_kernel(orig_freq: int, new_freq: int):
    """Hann-windowed sinc kernel `[new, 1, 2 * width + orig]` of the polyphase resampler (rates already reduced
    by their gcd) and its `width`; the same filter as `torchaudio.functional.resample`'s default `sinc_interp_hann`."""
    base_freq = min(orig_freq, new_freq) * ROLLOFF
    width = _width(orig_freq, new_freq)
    offsets = torch.arange(-width, width + orig_freq, dtype=torch.float32)[None, None] / orig_freq
    times = torch.arange(0, -new_freq, -1, dtype=torch.float32)[:, None, None] / new_freq + offsets
    return _filter(times * base_freq, base_freq, orig_freq), width


def _resample_polyphase(waveform: torch.Tensor, orig: int, new: int) -> torch.Tensor:
    kernel, width = sinc_resample_kernel(orig, new)
    kernel = kernel.to(device=waveform.device, dtype=waveform.dtype)
    length = waveform.shape[-1]
    padded = torch.nn.functional.pad(waveform.reshape(1, 1, length), (width, width + orig))
    resampled = torch.nn.functional.conv1d(padded, kernel, stride=orig).transpose(1, 2).reshape(-1)
    return resampled[: math.ceil(new * length / orig)]


def _resample_direct(waveform: torch.Tensor, orig: int, new: int) -> torch.Tensor:
    """Output sample `m` sits at input position `m * orig / new`; it is the sum of the input samples `n` within the
    filter's reach, weighted by the filter at `(n / orig - m / new) * base_freq` (what the polyphase kernel holds
    for that phase and tap). Positions are split into an integer sample and a fraction in integer arithmetic, so
    an hour of audio keeps full precision."""
    base_freq = min(orig, new) * ROLLOFF
    length = waveform.shape[-1]
    out_length = math.ceil(new * length / orig)
    reach = math.ceil(LOWPASS_FILTER_WIDTH * orig / base_freq) + 1  # taps each side of the position
    taps = torch.arange(-reach, reach + 1, device=waveform.device)
    block = max(1, _DIRECT_BLOCK_VALUES // taps.numel())
    source = waveform.reshape(-1)
    out = torch.empty(out_length, dtype=waveform.dtype, device=waveform.device)
    for start in range(0, out_length, block):
        m = torch.arange(start, min(start + block, out_length), device=waveform.device, dtype=torch.int64)
        whole = (m * orig) // new  # input sample at or before the position
        fraction = ((m * orig) % new).to(torch.float64) / new
        n = whole[:, None] + taps[None, :]
        times = ((taps[None, :].to(torch.float64) - fraction[:, None]) * (base_freq / orig)).to(torch.float32)
        weights = _filter(times, base_freq, orig).to(waveform.dtype)
        inside = (n >= 0) & (n < length)
        values = source[n.clamp(0, length - 1)] * inside
        out[start : start + m.numel()] = (values * weights).sum(dim=1)
    return out


def resample_waveform(waveform: torch.Tensor, orig_freq: int, new_freq: int) -> torch.Tensor:
    """
    Band-limited resampling of a 1-D float waveform from `orig_freq` to `new_freq` (positive integer rates).

    The filter is torchaudio's default (Hann-windowed sinc, width 6, roll-off 0.99). Rates whose polyphase kernel is
    small use it (`torchaudio.functional.resample` when installed, else the same kernel in plain torch); other
    rates evaluate the filter per output sample in blocks, so memory stays bounded (see the module docstring).

    Returns:
        `torch.Tensor`: `ceil(len * new_freq / orig_freq)` samples, same dtype and device.
    """
    if orig_freq == new_freq:
        return waveform
    for name, value in (("orig_freq", orig_freq), ("new_freq", new_freq)):
        if isinstance(value, bool) or int(value) != value or value <= 0:
            raise ValueError(f"`{name}` must be a positive integer sampling rate, got {value!r}")
    orig, new = _reduced(orig_freq, new_freq)
    if not uses_polyphase(orig_freq, new_freq):
        return _resample_direct(waveform, orig, new)
    try:
        import torchaudio.functional

        return torchaudio.functional.resample(waveform, int(orig_freq), int(new_freq))
    except ImportError:
        return _resample_polyphase(waveform, orig, new)
