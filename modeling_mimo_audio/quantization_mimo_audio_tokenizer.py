"""Residual vector quantizer of the MiMo-Audio tokenizer (inference side).

Module and buffer names follow the upstream checkpoint (`quantizer.vq.layers.{i}._codebook.embed`, ...), so its
state dict loads as it is. The EMA training buffers (`embed_avg`, `cluster_size`, `inited`) are kept so that a
save/load round trip reproduces the upstream file, but nothing here updates them: the codec is frozen.
"""

import torch
from torch import nn


class Float32BuffersMixin:
    """Keeps a module's float buffers in float32 when the model is cast (`.to(torch.bfloat16)`, `.half()`).

    Upstream computes the quantizer in float32 whatever the model dtype. Casting the codebooks to bf16 and back
    would round them, so casts are turned into device moves here instead (the values never lose precision).
    """

    def _apply(self, fn, recurse=True):
        def keep_float32(tensor):
            moved = fn(tensor)
            if tensor.dtype == torch.float32 and moved.dtype != torch.float32 and moved.is_floating_point():
                return tensor.to(device=moved.device)
            return moved

        return super()._apply(keep_float32, recurse=recurse)


class MiMoAudioTokenizerCodebook(Float32BuffersMixin, nn.Module):
    """One Euclidean codebook. `embed` is `[codebook_size, dim]` float32."""

    def __init__(self, dim: int, codebook_size: int):
        super().__init__()
        self.codebook_size = codebook_size
        self.register_buffer("inited", torch.ones(1))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("embed", torch.zeros(codebook_size, dim))
        self.register_buffer("embed_avg", torch.zeros(codebook_size, dim))

    def encode(self, vectors: torch.Tensor) -> torch.Tensor:
        """Nearest entry of each row of `vectors` `[N, dim]` (float32) -> `[N]` long.

        The distance is written exactly as upstream (`-(|x|^2 - 2 x.e + |e|^2)`, arg-max) so that near ties
        resolve the same way.
        """
        embed = self.embed.t()
        negative_distance = -(
            vectors.pow(2).sum(1, keepdim=True) - 2 * vectors @ embed + embed.pow(2).sum(0, keepdim=True)
        )
        return negative_distance.max(dim=-1).indices

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(codes, self.embed)


class MiMoAudioTokenizerVectorQuantization(nn.Module):
    """Holds one codebook under upstream's `_codebook` name (its projections are identities upstream)."""

    def __init__(self, dim: int, codebook_size: int):
        super().__init__()
        self._codebook = MiMoAudioTokenizerCodebook(dim, codebook_size)


class MiMoAudioTokenizerResidualVQ(nn.Module):
    def __init__(self, dim: int, codebook_sizes: list[int]):
        super().__init__()
        self.layers = nn.ModuleList(MiMoAudioTokenizerVectorQuantization(dim, size) for size in codebook_sizes)


class MiMoAudioTokenizerQuantizer(nn.Module):
    """Residual VQ: layer i quantizes what layers 0..i-1 left over. All math in float32, as upstream."""

    def __init__(self, dim: int, codebook_sizes: list[int]):
        super().__init__()
        self.vq = MiMoAudioTokenizerResidualVQ(dim, codebook_sizes)

    @property
    def codebooks(self) -> list[MiMoAudioTokenizerCodebook]:
        return [layer._codebook for layer in self.vq.layers]

    def encode(self, vectors: torch.Tensor, num_quantizers: int) -> torch.Tensor:
        """`[N, dim]` -> codes `[num_quantizers, N]` long."""
        residual = vectors.float()
        codes = []
        for codebook in self.codebooks[:num_quantizers]:
            indices = codebook.encode(residual)
            residual = residual - codebook.decode(indices)
            codes.append(indices)
        return torch.stack(codes)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes `[num_quantizers, ...]` -> float32 sum of their entries `[..., dim]`, in layer order."""
        quantized = torch.tensor(0.0, device=codes.device)
        for codebook, layer_codes in zip(self.codebooks, codes):
            quantized = quantized + codebook.decode(layer_codes)
        return quantized
