"""Building blocks of the MiMo-Audio tokenizer: masks, RoPE, attention, transformer layer, transposed
convolutions and the ISTFT head. Every block takes per-clip `lengths` so padding never reaches a clip's frames."""

import numpy as np
import torch
from torch import nn
from transformers.activations import ACT2FN

from .quantization_mimo_audio_tokenizer import Float32BuffersMixin

# Query rows processed at once by the attention, so memory grows linearly with length for windowed attention.
ATTENTION_BLOCK_SIZE = 2048


# ----------------------------------------------------------------------------------------------------------------
# Small pure helpers (unit-tested on their own)
# ----------------------------------------------------------------------------------------------------------------


def as_tensor(value, name: str) -> torch.Tensor:
    """Tensors pass through; numpy arrays are converted; anything else is a TypeError naming the argument."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, np.ndarray) and value.dtype != object:
        return torch.from_numpy(np.ascontiguousarray(value))
    raise TypeError(f"`{name}` must be a torch.Tensor (or numpy array), got {type(value).__name__}")


def lengths_to_mask(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """`[batch]` lengths -> bool `[batch, max_length]`, True for the first `length` positions."""
    return torch.arange(max_length, device=lengths.device)[None, :] < lengths[:, None]


def mask_to_lengths(mask: torch.Tensor, name: str) -> torch.Tensor:
    """Lengths of a right-padded 0/1 mask `[batch, frames]`; raises if it holds other values (a 2 would otherwise
    read as 1) or if the ones are not a prefix."""
    if mask.is_complex() or not ((mask == 0) | (mask == 1)).all():
        raise ValueError(f"`{name}` must hold only 0 and 1 (1 = real frame)")
    mask = mask.bool()
    lengths = mask.sum(-1)
    if not torch.equal(mask, lengths_to_mask(lengths, mask.shape[-1])):
        raise ValueError(f"`{name}` must be right-padded: ones for the real frames first, then zeros")
    if (lengths == 0).any():
        raise ValueError(f"`{name}` marks a clip with no frames; every clip needs at least one real frame")
    return lengths


def encoder_output_lengths(mel_lengths: torch.Tensor, config) -> tuple:
    """Lengths after conv1 (padding 1), conv2 (stride, padding 1) and the avg pooler, as upstream computes them."""
    conv1 = mel_lengths + 3 - config.kernel_size
    conv2 = (conv1 + 2 - config.kernel_size) // config.stride_size + 1
    pooled = (conv2 + config.avg_pooler - 1) // config.avg_pooler
    return conv1, conv2, pooled


def attention_block_mask(
    query_start: int,
    query_end: int,
    key_start: int,
    key_end: int,
    key_valid: torch.Tensor,
    causal: bool,
    window: tuple[int, int],
) -> torch.Tensor:
    """Which keys each query may attend to, bool `[batch, 1, queries, keys]`.

    Query `i` sees key `j` of its own clip when `j <= i` (if causal), `i - left <= j` (if `left >= 0`) and
    `j <= i + right` (if `right >= 0`): flash-attention's `causal` / `window_size` semantics. Padding queries also
    see themselves, so no row is empty (their outputs are discarded); real queries never see padding keys.
    """
    queries = torch.arange(query_start, query_end, device=key_valid.device)[:, None]
    keys = torch.arange(key_start, key_end, device=key_valid.device)[None, :]
    allowed = torch.ones(queries.shape[0], keys.shape[1], dtype=torch.bool, device=key_valid.device)
    left, right = window
    if causal:
        allowed &= keys <= queries
    if left >= 0:
        allowed &= keys >= queries - left
    if right >= 0:
        allowed &= keys <= queries + right
    allowed = allowed[None] & key_valid[:, None, key_start:key_end]
    query_valid = key_valid[:, query_start:query_end, None]
    allowed |= ~query_valid & (keys == queries)[None]
    return allowed[:, None]


def key_range(query_start: int, query_end: int, length: int, causal: bool, window: tuple[int, int]) -> tuple:
    """Smallest `[start, end)` of keys any query in `[query_start, query_end)` may see."""
    left, right = window
    start = max(0, query_start - left) if left >= 0 else 0
    end = length
    if right >= 0:
        end = min(length, query_end + right)
    if causal:
        end = min(end, query_end)
    return start, end


# ----------------------------------------------------------------------------------------------------------------
# Building blocks
# ----------------------------------------------------------------------------------------------------------------


class MiMoAudioTokenizerRMSNorm(nn.Module):
    """Upstream's RMSNorm (`ln_type="RMSNorm"`): variance in float32, result cast to a half-precision weight."""

    def __init__(self, hidden_size: int, eps: float = 1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        variance = hidden_states.to(torch.float32).pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        if self.weight.dtype in (torch.float16, torch.bfloat16):
            hidden_states = hidden_states.to(self.weight.dtype)
        return self.weight * hidden_states


def make_norm(ln_type: str, dim: int) -> nn.Module:
    return nn.LayerNorm(dim) if ln_type == "LayerNorm" else MiMoAudioTokenizerRMSNorm(dim)


class MiMoAudioTokenizerRotary(nn.Module):
    """Default RoPE; positions restart at 0 in every clip (upstream's per-sequence positions)."""

    def __init__(self, head_dim: int, theta: float):
        super().__init__()
        self.head_dim = head_dim
        self.theta = theta
        self.register_buffer("inv_freq", self.compute_inv_freq(), persistent=False)

    def compute_inv_freq(self) -> torch.Tensor:
        exponents = torch.arange(0, self.head_dim, 2, dtype=torch.int64).float() / self.head_dim
        return 1.0 / (self.theta**exponents)

    def forward(self, length: int, dtype: torch.dtype, device) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin `[length, head_dim]`, computed in float32 then cast to `dtype`."""
        positions = torch.arange(length, device=device, dtype=torch.float32)
        freqs = positions[:, None] * self.inv_freq.to(device=device, dtype=torch.float32)[None, :]
        angles = torch.cat((freqs, freqs), dim=-1)
        return angles.cos().to(dtype), angles.sin().to(dtype)


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """`x` `[batch, heads, time, head_dim]`, cos/sin `[time, head_dim]`."""
    return x * cos + rotate_half(x) * sin


def _flash_attention(query, key, value, lengths, causal, window):
    """Upstream's kernel: flash-attn varlen over the real frames of each clip. q/k/v `[batch, heads, time, dim]`."""
    from flash_attn import flash_attn_varlen_func

    if query.dtype not in (torch.float16, torch.bfloat16):
        raise ValueError(
            f"flash_attention_2 runs in float16/bfloat16 only, but the tokenizer is in {query.dtype}: load it with "
            "`dtype=torch.bfloat16` or use `attn_implementation='sdpa'`"
        )
    batch, heads, time, head_dim = query.shape
    valid = lengths_to_mask(lengths, time)

    def pack(states):
        return states.transpose(1, 2)[valid]  # [tokens, heads, dim]

    cumulative = nn.functional.pad(torch.cumsum(lengths, 0), (1, 0)).to(torch.int32)
    longest = int(lengths.max())
    packed = flash_attn_varlen_func(
        pack(query), pack(key), pack(value), cumulative, cumulative, longest, longest,
        causal=causal, window_size=tuple(window),
    )
    output = query.new_zeros(batch, time, heads, head_dim)
    output[valid] = packed
    return output.transpose(1, 2)


def masked_attention(query, key, value, lengths, causal, window, implementation):
    """Self-attention restricted to each clip's frames (plus causality / window). Shapes `[batch, heads, time, dim]`.

    `implementation` is `"flash_attention_2"` (needs flash-attn), `"sdpa"` or `"eager"`. The SDPA/eager paths
    process queries in blocks and give each block only the keys its window can reach.
    """
    if implementation == "flash_attention_2":
        return _flash_attention(query, key, value, lengths, causal, window)
    time = query.shape[2]
    key_valid = lengths_to_mask(lengths, time)
    scale = query.shape[-1] ** -0.5
    if implementation == "sdpa" and tuple(window) == (-1, -1) and key_valid.all():
        # No padding and no window: SDPA's mask-free (flash / memory-efficient) kernels, which never materialise
        # the score matrix, so no blocking is needed either.
        return nn.functional.scaled_dot_product_attention(query, key, value, is_causal=causal, scale=scale)
    outputs = []
    for start in range(0, time, ATTENTION_BLOCK_SIZE):
        end = min(time, start + ATTENTION_BLOCK_SIZE)
        key_start, key_end = key_range(start, end, time, causal, window)
        allowed = attention_block_mask(start, end, key_start, key_end, key_valid, causal, window)
        q, k, v = query[:, :, start:end], key[:, :, key_start:key_end], value[:, :, key_start:key_end]
        if implementation == "eager":
            scores = torch.matmul(q, k.transpose(-1, -2)) * scale
            scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
            weights = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
            outputs.append(torch.matmul(weights, v))
        else:
            outputs.append(nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=scale))
    return torch.cat(outputs, dim=2)


class MiMoAudioTokenizerAttention(nn.Module):
    """Multi-head self-attention; q/v/out projections have a bias, k has none (as upstream)."""

    def __init__(self, config, embed_dim: int, num_heads: int, causal: bool, window):
        super().__init__()
        self.config = config
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.causal = causal
        self.window = tuple(int(w) for w in window)
        self.k_proj = nn.Linear(embed_dim, embed_dim, bias=False)
        self.v_proj = nn.Linear(embed_dim, embed_dim, bias=True)
        self.q_proj = nn.Linear(embed_dim, embed_dim, bias=True)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=True)

    def forward(self, hidden_states, lengths, position_embeddings):
        batch, time, width = hidden_states.shape
        cos, sin = position_embeddings

        def heads(projection):
            return projection(hidden_states).view(batch, time, self.num_heads, self.head_dim).transpose(1, 2)

        query = apply_rotary(heads(self.q_proj), cos, sin)
        key = apply_rotary(heads(self.k_proj), cos, sin)
        value = heads(self.v_proj)
        implementation = getattr(self.config, "_attn_implementation", None) or "sdpa"
        output = masked_attention(query, key, value, lengths, self.causal, self.window, implementation)
        return self.out_proj(output.transpose(1, 2).reshape(batch, time, width))


class MiMoAudioTokenizerTransformerLayer(nn.Module):
    """Pre-LN transformer layer (upstream `TransformerLayer`)."""

    def __init__(self, config, dim: int, heads: int, ffn_dim: int, causal: bool, window):
        super().__init__()
        self.self_attn = MiMoAudioTokenizerAttention(config, dim, heads, causal, window)
        self.self_attn_layer_norm = make_norm(config.ln_type, dim)
        self.activation_fn = ACT2FN[config.activation_function]
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, dim)
        self.final_layer_norm = make_norm(config.ln_type, dim)

    def forward(self, hidden_states, lengths, position_embeddings):
        residual = hidden_states
        hidden_states = self.self_attn(self.self_attn_layer_norm(hidden_states), lengths, position_embeddings)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.fc2(self.activation_fn(self.fc1(self.final_layer_norm(hidden_states))))
        hidden_states = residual + hidden_states
        if hidden_states.dtype in (torch.float16, torch.bfloat16) and not torch.isfinite(hidden_states).all():
            # Same overflow guard as upstream for half precision.
            limit = torch.finfo(hidden_states.dtype).max - 1000
            hidden_states = hidden_states.clamp(min=-limit, max=limit)
        return hidden_states


def run_layers(layers, hidden_states, lengths, rotary):
    """Runs transformer `layers` over `[batch, time, dim]` clips of `lengths` with RoPE from `rotary`."""
    position_embeddings = rotary(hidden_states.shape[1], hidden_states.dtype, hidden_states.device)
    for layer in layers:
        hidden_states = layer(hidden_states, lengths, position_embeddings)
    return hidden_states


class MiMoAudioTokenizerCausalConvTranspose(nn.Module):
    """ConvTranspose1d + GroupNorm(1) with the last `kernel - stride` frames trimmed (upstream
    `CausalConvTranspose1d`). GroupNorm statistics are taken per clip over its own untrimmed output."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__()
        self.conv = nn.ConvTranspose1d(in_channels, out_channels, kernel_size, stride)
        self.norm = nn.GroupNorm(1, out_channels)

    def forward(self, hidden_states, lengths):
        """`[batch, time, in]`, lengths `[batch]` -> `[batch, time', out]` (padding zeroed), lengths'."""
        kernel, stride = self.conv.kernel_size[0], self.conv.stride[0]
        valid = lengths_to_mask(lengths, hidden_states.shape[1])
        hidden_states = torch.where(valid[..., None], hidden_states, 0)
        output = self.conv(hidden_states.transpose(1, 2))
        full_lengths = (lengths - 1) * stride + kernel
        normed = torch.zeros_like(output)
        for index, length in enumerate(full_lengths.tolist()):
            # GroupNorm over the clip's own frames only, so padding never shifts its statistics.
            normed[index, :, :length] = self.norm(output[index : index + 1, :, :length])[0]
        trim = max(0, kernel - stride)
        out_lengths = full_lengths - trim
        normed = normed[:, :, : int(out_lengths.max())].transpose(1, 2)
        return torch.where(lengths_to_mask(out_lengths, normed.shape[1])[..., None], normed, 0), out_lengths


class MiMoAudioTokenizerISTFT(Float32BuffersMixin, nn.Module):
    """Inverse STFT with "same" padding (one hop per frame) or torch's "center"; float32 throughout."""

    def __init__(self, n_fft: int, hop_length: int, win_length: int, padding: str = "same"):
        super().__init__()
        self.n_fft, self.hop_length, self.win_length, self.padding = n_fft, hop_length, win_length, padding
        self.register_buffer("window", torch.hann_window(win_length))

    def forward(self, spectrum: torch.Tensor) -> torch.Tensor:
        """Complex `[batch, n_fft // 2 + 1, frames]` -> waveform `[batch, samples]`."""
        window = self.window.float()
        if self.padding == "center":
            return torch.istft(spectrum, self.n_fft, self.hop_length, self.win_length, window, center=True)
        pad = (self.win_length - self.hop_length) // 2
        frames = spectrum.shape[-1]
        segments = torch.fft.irfft(spectrum, self.n_fft, dim=1, norm="backward") * window[None, :, None]
        total = (frames - 1) * self.hop_length + self.win_length
        fold = dict(output_size=(1, total), kernel_size=(1, self.win_length), stride=(1, self.hop_length))
        audio = nn.functional.fold(segments, **fold)[:, 0, 0, pad:-pad]
        envelope = nn.functional.fold(window.square().expand(1, frames, -1).transpose(1, 2), **fold)
        return audio / envelope.reshape(-1)[pad:-pad]


class MiMoAudioTokenizerISTFTHead(nn.Module):
    """Linear -> log-magnitude (exp, clipped at 100) and phase -> ISTFT."""

    def __init__(self, dim: int, n_fft: int, hop_length: int, padding: str):
        super().__init__()
        self.out = nn.Linear(dim, n_fft + 2)
        self.istft = MiMoAudioTokenizerISTFT(n_fft, hop_length, n_fft, padding)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """`[1, frames, dim]` (one clip) -> `[1, samples]` in the head's weight dtype.

        Never under autocast: log-magnitudes and phases rounded to bf16 would add audible noise, so mixed-precision
        codec training (`training_recipes.train_codec`, `bf16`) runs this head in its fp32 master weights."""
        dtype = self.out.weight.dtype
        with torch.autocast(hidden_states.device.type, enabled=False):
            log_magnitude, phase = self.out(hidden_states.to(dtype)).transpose(1, 2).chunk(2, dim=1)
            magnitude = torch.exp(log_magnitude).clip(max=1e2)
            spectrum = magnitude.float() * (torch.cos(phase).float() + 1j * torch.sin(phase).float())
            return self.istft(spectrum).to(dtype)
