"""Discriminators and GAN losses for codec training stage 2 (spec C.6).

- `MultiPeriodDiscriminator`: the waveform folded into `[time / p, p]` for each period p, 2-D convolutions along time.
- `MultiScaleSTFTDiscriminator`: 2-D convolutions over the complex STFT (real and imaginary parts as channels) at
  several FFT sizes (hop n_fft / 4), as the report names it (an MS-STFT discriminator, not an MRD).

Every convolution is spectrally normalised. Each discriminator returns `(logits, features)` per sub-discriminator;
`discriminator_hinge_loss`, `generator_adversarial_loss` and `feature_matching_loss` implement L_D, L_adv and L_fm of the spec.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


__all__ = [
    "MultiPeriodDiscriminator",
    "MultiScaleSTFTDiscriminator",
    "discriminator_hinge_loss",
    "feature_matching_loss",
    "generator_adversarial_loss",
]


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, channels: int = 16, layers: int = 4):
        super().__init__()
        self.period = period
        convs, in_channels = [], 1
        for index in range(layers):
            out_channels = channels * 2**index
            convs.append(spectral_norm(nn.Conv2d(in_channels, out_channels, (5, 1), (3, 1), padding=(2, 0))))
            in_channels = out_channels
        self.convs = nn.ModuleList(convs)
        self.output = spectral_norm(nn.Conv2d(in_channels, 1, (3, 1), padding=(1, 0)))

    def forward(self, waveform: torch.Tensor):
        batch, samples = waveform.shape
        if samples % self.period:
            waveform = nn.functional.pad(waveform, (0, self.period - samples % self.period), mode="reflect")
        hidden = waveform.view(batch, 1, -1, self.period)
        features = []
        for conv in self.convs:
            hidden = nn.functional.leaky_relu(conv(hidden), 0.1)
            features.append(hidden)
        return self.output(hidden).flatten(1), features


class MultiPeriodDiscriminator(nn.Module):
    """Waveforms `[batch, samples]` -> list of `(logits [batch, n], features)`, one per period."""

    def __init__(self, periods=(2, 3, 5, 7, 11), channels: int = 16, layers: int = 4):
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(p, channels, layers) for p in periods)

    def forward(self, waveform: torch.Tensor):
        return [discriminator(waveform) for discriminator in self.discriminators]


class STFTDiscriminator(nn.Module):
    def __init__(self, n_fft: int, channels: int = 16, layers: int = 3):
        super().__init__()
        self.n_fft, self.hop = n_fft, n_fft // 4
        self.register_buffer("window", torch.hann_window(n_fft), persistent=False)
        convs = [spectral_norm(nn.Conv2d(2, channels, (3, 9), padding=(1, 4)))]
        for index in range(layers):
            convs.append(spectral_norm(nn.Conv2d(channels, channels, (3, 9), (1, 2), padding=(1, 4))))
        self.convs = nn.ModuleList(convs)
        self.output = spectral_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, waveform: torch.Tensor):
        spectrum = torch.stft(waveform.float(), self.n_fft, self.hop, window=self.window, normalized=True,
                              return_complex=True)
        hidden = torch.stack([spectrum.real, spectrum.imag], dim=1).transpose(2, 3)  # [batch, 2, frames, bins]
        features = []
        for conv in self.convs:
            hidden = nn.functional.leaky_relu(conv(hidden), 0.1)
            features.append(hidden)
        return self.output(hidden).flatten(1), features


class MultiScaleSTFTDiscriminator(nn.Module):
    """Waveforms `[batch, samples]` -> list of `(logits, features)`, one per FFT size."""

    def __init__(self, n_ffts=(2048, 1024, 512, 256, 128), channels: int = 16, layers: int = 3):
        super().__init__()
        self.discriminators = nn.ModuleList(STFTDiscriminator(n, channels, layers) for n in n_ffts)

    def forward(self, waveform: torch.Tensor):
        return [discriminator(waveform) for discriminator in self.discriminators]


def discriminator_hinge_loss(real_outputs, fake_outputs):
    """L_D = (1/K) sum_k [max(0, 1 - D_k(x)) + max(0, 1 + D_k(x_hat))], on outputs for real and (detached) fake
    waveforms."""
    return sum(
        torch.relu(1 - real).mean() + torch.relu(1 + fake).mean() for (real, _), (fake, _) in zip(real_outputs, fake_outputs)
    ) / len(real_outputs)


def generator_adversarial_loss(fake_outputs):
    """L_adv = -(1/K) sum_k mean D_k(x_hat)."""
    return -sum(fake.mean() for fake, _ in fake_outputs) / len(fake_outputs)


def feature_matching_loss(real_outputs, fake_outputs):
    """L_fm = (1/K) sum_k (1/L_k) sum_l |f_kl(x) - f_kl(x_hat)|_1 (mean absolute difference per layer)."""
    total = 0.0
    for (_, real_features), (_, fake_features) in zip(real_outputs, fake_outputs):
        total = total + sum((r.detach() - f).abs().mean() for r, f in zip(real_features, fake_features)) / len(real_features)
    return total / len(real_outputs)

