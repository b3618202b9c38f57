"""Reconstruction losses of codec training (spec C.6).

`MultiScaleMelLoss`: L1 between mel spectrograms of the target and the vocoder output at scales i in {5, 6, 7}:
2^i mel bins, window 15 * 2^(i-1) and hop 15 * 2^(i-2) samples (32/64/128 bins, windows 240/480/960, hops
120/240/480 at 24 kHz), on a normalized STFT. The report does not say whether the magnitudes are linear or log;
both terms are used (log with a 1e-5 floor, as Encodec-style losses), each with its own weight.
"""

from __future__ import annotations

import torch
from torch import nn

from processing.feature_extraction_mimo_audio import htk_mel_filterbank


__all__ = ["MultiScaleMelLoss", "mel_scales"]


def mel_scales(exponents=(5, 6, 7)) -> list[tuple[int, int, int]]:
    """`(n_mels, window, hop)` for each scale exponent i: (2^i, 15 * 2^(i-1), 15 * 2^(i-2))."""
    return [(2**i, 15 * 2 ** (i - 1), 15 * 2 ** (i - 2)) for i in exponents]


class MultiScaleMelLoss(nn.Module):
    """`loss(prediction, target)` for waveforms `[batch, samples]` -> scalar (mean over scales).

    Args:
        sampling_rate (`int`): waveform rate.
        exponents (`tuple[int]`, defaults to (5, 6, 7)): the scales i above.
        log_weight (`float`, defaults to 1.0) and linear_weight (`float`, defaults to 1.0): weights of the log-mel
            and linear-mel L1 terms.
    """

    def __init__(self, sampling_rate: int, exponents=(5, 6, 7), log_weight: float = 1.0, linear_weight: float = 1.0,
                 floor: float = 1e-5):
        super().__init__()
        self.scales = mel_scales(exponents)
        self.log_weight, self.linear_weight, self.floor = log_weight, linear_weight, floor
        for index, (n_mels, window, _) in enumerate(self.scales):
            self.register_buffer(f"window_{index}", torch.hann_window(window), persistent=False)
            filterbank = htk_mel_filterbank(sampling_rate, window, n_mels, 0.0, sampling_rate / 2)
            self.register_buffer(f"filterbank_{index}", filterbank, persistent=False)

    def mel(self, waveform: torch.Tensor, index: int) -> torch.Tensor:
        n_mels, window, hop = self.scales[index]
        spectrum = torch.stft(waveform.float(), n_fft=window, hop_length=hop, win_length=window,
                              window=getattr(self, f"window_{index}"), center=True, normalized=True,
                              return_complex=True).abs()
        return torch.matmul(spectrum.transpose(-1, -2), getattr(self, f"filterbank_{index}"))

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if prediction.shape != target.shape:
            raise ValueError(f"prediction {tuple(prediction.shape)} and target {tuple(target.shape)} differ")
        total = prediction.new_zeros((), dtype=torch.float32)
        for index in range(len(self.scales)):
            predicted, reference = self.mel(prediction, index), self.mel(target, index)
            if self.linear_weight:
                total = total + self.linear_weight * (predicted - reference).abs().mean()
            if self.log_weight:
                log_difference = torch.log(predicted.clamp(min=self.floor)) - torch.log(reference.clamp(min=self.floor))
                total = total + self.log_weight * log_difference.abs().mean()
        return total / len(self.scales)
