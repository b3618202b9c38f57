"""Training the codec's residual VQ: EMA codebooks, dead-code restarts, straight-through gradients.

The inference quantizer (`modeling_mimo_audio.quantization_mimo_audio_tokenizer`) only looks codes up; it already
carries the EMA buffers of the released checkpoint (`embed`, `embed_avg`, `cluster_size`, `inited`). This module
updates those same buffers during training, so a trained codec saves in the released layout unchanged:

- `embed` is the codebook; `embed_avg` / `cluster_size` are the exponential moving averages of the summed vectors and
  the counts assigned to each entry (`embed = embed_avg / cluster_size`, Laplace-smoothed);
- an entry whose EMA count falls below `threshold_ema_dead_code` is restarted from a random residual of the batch;
- `inited` is 0 until the first batch initialises the codebook from its residuals (random rows, then a few
  k-means iterations).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


__all__ = ["QuantizerOutput", "kmeans", "quantize_for_training", "sample_num_quantizers"]


@dataclass
class QuantizerOutput:
    """`quantized` `[N, dim]` (straight-through: forward = quantized, gradient -> encoder output),
    `commitment_loss` (scalar), `codes` `[num_quantizers, N]`, `usage` (fraction of entries used, per level)."""

    quantized: torch.Tensor
    commitment_loss: torch.Tensor
    codes: torch.Tensor
    usage: list[float]


def sample_num_quantizers(generator: torch.Generator, max_quantizers: int, full_probability: float) -> int:
    """Quantizer dropout: all `max_quantizers` levels with probability `full_probability`, otherwise a uniform
    draw from 1..max_quantizers, so every prefix of the codebooks learns to decode on its own."""
    if torch.rand((), generator=generator).item() < full_probability:
        return max_quantizers
    return int(torch.randint(1, max_quantizers + 1, (), generator=generator).item())


def _nearest(vectors: torch.Tensor, embed: torch.Tensor) -> torch.Tensor:
    distance = vectors.pow(2).sum(1, keepdim=True) - 2 * vectors @ embed.t() + embed.pow(2).sum(1)[None]
    return distance.argmin(dim=1)


def kmeans(vectors: torch.Tensor, num_clusters: int, iterations: int, generator: torch.Generator) -> torch.Tensor:
    """Plain k-means: `vectors` `[N, dim]` -> centroids `[num_clusters, dim]` (rows drawn with replacement when
    N < num_clusters; empty clusters keep their previous centroid)."""
    picks = torch.randint(0, vectors.shape[0], (num_clusters,), generator=generator, device="cpu")
    centroids = vectors[picks.to(vectors.device)].clone()
    for _ in range(iterations):
        assignment = _nearest(vectors, centroids)
        counts = torch.bincount(assignment, minlength=num_clusters).to(vectors.dtype)
        sums = torch.zeros_like(centroids).index_add_(0, assignment, vectors)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


@torch.no_grad()
def _ema_update(codebook, vectors: torch.Tensor, codes: torch.Tensor, decay: float, epsilon: float,
                dead_threshold: float, generator: torch.Generator):
    size = codebook.codebook_size
    counts = torch.bincount(codes, minlength=size).float()
    sums = torch.zeros_like(codebook.embed).index_add_(0, codes, vectors)
    codebook.cluster_size.mul_(decay).add_(counts, alpha=1 - decay)
    codebook.embed_avg.mul_(decay).add_(sums, alpha=1 - decay)
    total = codebook.cluster_size.sum()
    smoothed = (codebook.cluster_size + epsilon) / (total + size * epsilon) * total
    codebook.embed.copy_(codebook.embed_avg / smoothed[:, None])
    dead = codebook.cluster_size < dead_threshold
    if dead.any():
        count = int(dead.sum())
        picks = torch.randint(0, vectors.shape[0], (count,), generator=generator).to(vectors.device)
        codebook.embed[dead] = vectors[picks]
        # Restarted entries count as just seen, so they are not restarted again before they can attract vectors.
        codebook.embed_avg[dead] = vectors[picks] * dead_threshold
        codebook.cluster_size[dead] = dead_threshold


def quantize_for_training(quantizer, vectors: torch.Tensor, num_quantizers: int, generator: torch.Generator,
                          decay: float = 0.99, epsilon: float = 1e-5, dead_threshold: float = 2.0,
                          kmeans_iterations: int = 10, update: bool = True) -> QuantizerOutput:
    """Residual-quantizes `vectors` `[N, dim]` with the first `num_quantizers` levels of `quantizer`
    (a `MiMoAudioTokenizerQuantizer`), updating the codebooks by EMA when `update` is true.

    The commitment loss is the mean squared distance between the encoder output and its quantization (summed over
    the levels, as each level's residual is committed to), with the codebooks detached; the returned `quantized`
    passes gradients straight through to `vectors`.
    """
    vectors = vectors.float()
    residual = vectors
    quantized_sum = torch.zeros_like(vectors)
    commitment = vectors.new_zeros(())
    codes, usage = [], []
    for codebook in quantizer.codebooks[:num_quantizers]:
        target = residual.detach()
        if update and not bool(codebook.inited.item()):
            with torch.no_grad():
                codebook.embed.copy_(kmeans(target, codebook.codebook_size, kmeans_iterations, generator))
                codebook.embed_avg.copy_(codebook.embed)
                codebook.cluster_size.fill_(1.0)
                codebook.inited.fill_(1.0)
        indices = _nearest(target, codebook.embed)
        chosen = codebook.embed[indices].detach()
        commitment = commitment + (residual - chosen).pow(2).mean()
        if update:
            _ema_update(codebook, target, indices, decay, epsilon, dead_threshold, generator)
        quantized_sum = quantized_sum + chosen
        residual = residual - chosen
        codes.append(indices)
        usage.append(float(torch.unique(indices).numel()) / codebook.codebook_size)
    quantized = vectors + (quantized_sum - vectors).detach()
    return QuantizerOutput(quantized=quantized, commitment_loss=commitment, codes=torch.stack(codes), usage=usage)
