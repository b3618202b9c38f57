"""MiMo-Audio tokenizer (the audio codec): log-mel -> 25 Hz RVQ codes -> 24 kHz waveform.

Architecture (upstream `XiaomiMiMo/MiMo-Audio-Tokenizer`, spec section C):

- encoder: Conv1d(k3, p1) + GELU, Conv1d(k3, s2, p1) + GELU (100 -> 50 Hz), pre-LN transformer with RoPE and an
  optional skip connection, LayerNorm, then Conv1d(k=s=avg_pooler) + GELU + LayerNorm (50 -> 25 Hz);
- a residual vector quantizer (float32);
- decoder: causal transposed conv + GroupNorm (25 -> 50 Hz), causal transformer, LayerNorm, transposed conv +
  GroupNorm to a 100 Hz "coarse mel";
- vocoder: Linear, sliding-window transformer (left 40 / right 10 frames), LayerNorm, ISTFT head.

Upstream packs every clip of a batch into one flash-attention "varlen" sequence. Here clips are padded tensors with
masks, and every step that could see another clip's frames or padding (convolutions, GroupNorm, pooling, attention,
ISTFT overlap-add) is restricted to the clip's own frames. A clip therefore gets the same codes and waveform whether
it is processed alone or in any batch. Upstream's packed *encode* does not have this property (padding positions
hold the clip's last frame and leak into its last frames through the convolutions and the 2x pooling, and from
there through attention); we implement the intended per-clip behaviour, which equals upstream's single-clip output.
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from transformers import initialization as init
from transformers.modeling_utils import PreTrainedAudioTokenizerBase
from transformers.utils import ModelOutput

from .configuration_mimo_audio_tokenizer import MiMoAudioTokenizerConfig
from .layers_mimo_audio_tokenizer import (
    MiMoAudioTokenizerCausalConvTranspose,
    MiMoAudioTokenizerISTFT,
    MiMoAudioTokenizerISTFTHead,
    MiMoAudioTokenizerRotary,
    MiMoAudioTokenizerTransformerLayer,
    as_tensor,
    encoder_output_lengths,
    lengths_to_mask,
    make_norm,
    mask_to_lengths,
    run_layers,
)
from .quantization_mimo_audio_tokenizer import MiMoAudioTokenizerCodebook, MiMoAudioTokenizerQuantizer
from .safetensors_only import SafetensorsOnlyMixin
from .streaming_mimo_audio_tokenizer import MiMoAudioTokenizerStreamingDecoder

# Upstream's inference pipeline encodes long audio in independent 60 s segments (6000 mel frames -> 1500 codes).
ENCODE_SEGMENT_FRAMES = 6000


@dataclass
class MiMoAudioTokenizerEncoderOutput(ModelOutput):
    """
    audio_codes (`torch.LongTensor` of shape `[batch, num_quantizers, frames]`): RVQ codes at 25 Hz; padding frames
        hold 0.
    audio_codes_mask (`torch.LongTensor` of shape `[batch, frames]`): 1 for real frames, 0 for padding.
    """

    audio_codes: torch.LongTensor | None = None
    audio_codes_mask: torch.LongTensor | None = None


@dataclass
class MiMoAudioTokenizerDecoderOutput(ModelOutput):
    """
    audio_values (`torch.FloatTensor` of shape `[batch, 1, samples]`): 24 kHz waveform (960 samples per code
        frame); padding samples hold 0.
    audio_values_mask (`torch.LongTensor` of shape `[batch, samples]`): 1 for real samples.
    """

    audio_values: torch.FloatTensor | None = None
    audio_values_mask: torch.LongTensor | None = None


@dataclass
class MiMoAudioTokenizerOutput(ModelOutput):
    """Output of `forward`: the codes of `encode` and the waveform `decode` makes from them."""

    audio_codes: torch.LongTensor | None = None
    audio_codes_mask: torch.LongTensor | None = None
    audio_values: torch.FloatTensor | None = None
    audio_values_mask: torch.LongTensor | None = None


# ----------------------------------------------------------------------------------------------------------------
# Encoder, decoder, vocoder
# ----------------------------------------------------------------------------------------------------------------


class MiMoAudioTokenizerEncoder(nn.Module):
    """Log-mel `[batch, n_mels, frames]` (100 Hz) -> hidden states `[batch, frames', d_model]` (25 Hz) + quantizer."""

    def __init__(self, config: MiMoAudioTokenizerConfig):
        super().__init__()
        self.config = config
        width = config.d_model
        self.conv1 = nn.Conv1d(config.n_mels, width, kernel_size=config.kernel_size, padding=1)
        self.conv2 = nn.Conv1d(width, width, kernel_size=config.kernel_size, stride=config.stride_size, padding=1)
        self.rotary = MiMoAudioTokenizerRotary(width // config.encoder_attention_heads, config.rope_theta)
        self.layers = nn.ModuleList(
            MiMoAudioTokenizerTransformerLayer(
                config, width, config.encoder_attention_heads, config.encoder_ffn_dim,
                config.encoder_causal, config.encoder_attn_window_size,
            )
            for _ in range(config.encoder_layers)
        )
        self.layer_norm = make_norm(config.ln_type, width)
        if config.avg_pooler != 1:
            self.down_sample_layer = nn.Sequential(
                nn.Conv1d(width, width, config.avg_pooler, config.avg_pooler, bias=False), nn.GELU()
            )
            self.down_sample_norm = make_norm(config.ln_type, width)
        else:
            self.down_sample_layer = None
        self.quantizer = MiMoAudioTokenizerQuantizer(width, config.codebook_sizes) if config.num_quantizers else None

    def forward(self, input_features: torch.Tensor, mel_lengths: torch.Tensor):
        conv1_lengths, conv2_lengths, pooled_lengths = encoder_output_lengths(mel_lengths, self.config)
        features = input_features.to(self.conv1.weight.dtype)
        # Zero every padded position a convolution could read, as a clip encoded alone sees zero padding there.
        features = features * lengths_to_mask(mel_lengths, features.shape[-1])[:, None, :]
        hidden = nn.functional.gelu(self.conv1(features))
        hidden = hidden * lengths_to_mask(conv1_lengths, hidden.shape[-1])[:, None, :]
        hidden = nn.functional.gelu(self.conv2(hidden)).transpose(1, 2)

        position_embeddings = self.rotary(hidden.shape[1], hidden.dtype, hidden.device)
        skip = 0.0
        for index, layer in enumerate(self.layers):
            hidden = layer(hidden, conv2_lengths, position_embeddings)
            if self.config.encoder_skip_layer_id is not None and index == self.config.encoder_skip_layer_id - 1:
                skip = hidden.clone()
        hidden = self.layer_norm(hidden + skip)

        if self.down_sample_layer is None:
            return hidden, conv2_lengths
        # Upstream pads the last pooling window with zeros for a clip encoded alone (in a packed batch it repeats
        # the clip's last frame instead); zeros here for every clip.
        hidden = hidden * lengths_to_mask(conv2_lengths, hidden.shape[1])[..., None]
        remainder = hidden.shape[1] % self.config.avg_pooler
        if remainder:
            hidden = nn.functional.pad(hidden, (0, 0, 0, self.config.avg_pooler - remainder))
        hidden = self.down_sample_layer(hidden.transpose(1, 2)).transpose(1, 2)
        return self.down_sample_norm(hidden), pooled_lengths


class MiMoAudioTokenizerVocoder(nn.Module):
    """Coarse mel `[batch, frames, n_mels]` -> waveform, one clip at a time through the ISTFT head."""

    def __init__(self, config: MiMoAudioTokenizerConfig):
        super().__init__()
        self.config = config
        self.embeddings = nn.Linear(config.n_mels, config.vocoder_dim, bias=False)
        self.rotary = MiMoAudioTokenizerRotary(config.vocoder_dim // config.vocoder_attention_heads, config.rope_theta)
        self.layers = nn.ModuleList(
            MiMoAudioTokenizerTransformerLayer(
                config, config.vocoder_dim, config.vocoder_attention_heads, config.vocoder_intermediate_dim,
                False, config.vocoder_attn_window_size,
            )
            for _ in range(config.vocoder_num_layers)
        )
        self.layer_norm = make_norm(config.ln_type, config.vocoder_dim)
        self.head = MiMoAudioTokenizerISTFTHead(
            config.vocoder_dim, config.nfft, config.hop_length, config.vocoder_padding
        )

    def forward(self, coarse_mel: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        hidden = run_layers(self.layers, self.embeddings(coarse_mel), lengths, self.rotary)
        hidden = self.layer_norm(hidden)
        # The ISTFT overlap-add would mix a clip's last frames with padding frames: run it per clip.
        return [self.head(hidden[index : index + 1, :length])[0] for index, length in enumerate(lengths.tolist())]


class MiMoAudioTokenizerDecoder(nn.Module):
    """Quantized hidden states `[batch, frames, d_model]` (25 Hz) -> list of 1-D waveforms."""

    def __init__(self, config: MiMoAudioTokenizerConfig):
        super().__init__()
        self.config = config
        width = config.d_model
        if config.avg_pooler != 1:
            self.dconv1 = MiMoAudioTokenizerCausalConvTranspose(width, width, config.avg_pooler, config.avg_pooler)
        else:
            self.dconv1 = None
        self.rotary = MiMoAudioTokenizerRotary(width // config.decoder_attention_heads, config.rope_theta)
        self.layers = nn.ModuleList(
            MiMoAudioTokenizerTransformerLayer(
                config, width, config.decoder_attention_heads, config.decoder_ffn_dim,
                config.decoder_causal, config.decoder_attn_window_size,
            )
            for _ in range(config.decoder_layers)
        )
        self.layer_norm = make_norm(config.ln_type, width)
        self.dconv2 = MiMoAudioTokenizerCausalConvTranspose(
            width, config.n_mels, config.decoder_kernel_size, config.decoder_stride_size
        )
        self.vocoder = MiMoAudioTokenizerVocoder(config)

    def forward(self, hidden: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        hidden = hidden.to(self.layer_norm.weight.dtype)
        if self.dconv1 is not None:
            hidden, lengths = self.dconv1(hidden, lengths)
        hidden = self.layer_norm(run_layers(self.layers, hidden, lengths, self.rotary))
        coarse_mel, mel_lengths = self.dconv2(hidden, lengths)
        return self.vocoder(coarse_mel, mel_lengths)


# ----------------------------------------------------------------------------------------------------------------
# Model
# ----------------------------------------------------------------------------------------------------------------


class MiMoAudioTokenizerPreTrainedModel(SafetensorsOnlyMixin, PreTrainedAudioTokenizerBase):
    config_class = MiMoAudioTokenizerConfig
    base_model_prefix = "mimo_audio_tokenizer"
    main_input_name = "input_features"
    _supports_sdpa = True
    _supports_flash_attn = True
    _no_split_modules = ["MiMoAudioTokenizerTransformerLayer"]
    # Upstream runs the quantizer (and the ISTFT) in float32 whatever the model dtype; loading in bf16/fp16 must
    # not round the codebooks.
    _keep_in_fp32_modules_strict = ["quantizer", "istft"]

    @torch.no_grad()
    def _init_weights(self, module):
        super()._init_weights(module)
        if isinstance(module, MiMoAudioTokenizerRotary):
            init.copy_(module.inv_freq, module.compute_inv_freq())
        elif isinstance(module, MiMoAudioTokenizerISTFT):
            init.copy_(module.window, torch.hann_window(module.win_length))
        elif isinstance(module, MiMoAudioTokenizerCodebook):
            init.normal_(module.embed, std=1.0)
            init.copy_(module.embed_avg, module.embed)
            init.zeros_(module.cluster_size)
            init.ones_(module.inited)


class MiMoAudioTokenizerModel(MiMoAudioTokenizerPreTrainedModel):
    """
    MiMo-Audio's audio tokenizer: 24 kHz audio <-> 25 Hz residual-VQ codes (20 codebooks; the language model uses
    the first 8). Loads upstream checkpoint folders as they are.

    Use [`MiMoAudioFeatureExtractor`] to turn waveforms into `input_features`, then `encode`; `decode` turns codes
    back into waveforms and `streaming_decoder` does so chunk by chunk.

    Every clip of a batch is processed as if it were alone (see the module docstring), so padding never changes a
    clip's codes or waveform. Attention runs with `config._attn_implementation`: `"sdpa"` (default), `"eager"`, or
    `"flash_attention_2"` when flash-attn is installed (upstream's kernel). The quantizer and the ISTFT always run
    in float32, whatever the model dtype.

    Example:

    ```python
    >>> import numpy as np
    >>> from modeling_mimo_audio import MiMoAudioFeatureExtractor, MiMoAudioTokenizerModel
    >>> codec = MiMoAudioTokenizerModel.from_pretrained("path/to/MiMo-Audio-Tokenizer")
    >>> fe = MiMoAudioFeatureExtractor.from_tokenizer_config(codec.config)
    >>> inputs = fe([np.zeros(24000, dtype=np.float32)], sampling_rate=24000)
    >>> codes = codec.encode(inputs.input_features, inputs.attention_mask, num_quantizers=8)
    >>> audio = codec.decode(codes.audio_codes, codes.audio_codes_mask).audio_values  # [1, 1, 24000]
    ```
    """

    def __init__(self, config: MiMoAudioTokenizerConfig):
        config.validate_architecture()
        super().__init__(config)
        self.encoder = MiMoAudioTokenizerEncoder(config)
        self.decoder = MiMoAudioTokenizerDecoder(config)
        self.post_init()

    @property
    def samples_per_frame(self) -> int:
        return self.config.samples_per_frame

    def num_code_frames(self, num_mel_frames: int, segment_frames: int = ENCODE_SEGMENT_FRAMES) -> int:
        """Code frames `encode` returns for a clip of `num_mel_frames` log-mel frames (segments included)."""
        segments = [min(segment_frames, num_mel_frames - start) for start in range(0, num_mel_frames, segment_frames)]
        return int(encoder_output_lengths(torch.tensor(segments), self.config)[2].sum())

    # -- input checks ------------------------------------------------------------------------------------------

    def _check_features(self, input_features, attention_mask):
        input_features = as_tensor(input_features, "input_features")
        if attention_mask is not None:
            attention_mask = as_tensor(attention_mask, "attention_mask")
        if input_features.ndim == 2:
            input_features = input_features[None]
        if input_features.ndim != 3 or input_features.shape[1] != self.config.n_mels:
            raise ValueError(
                f"`input_features` must be [batch, {self.config.n_mels}, frames] log-mels, got shape "
                f"{tuple(input_features.shape)}"
            )
        if input_features.shape[-1] == 0:
            raise ValueError("`input_features` has no frames")
        if not input_features.is_floating_point():
            raise TypeError(f"`input_features` must be floating point, got {input_features.dtype}")
        batch, _, frames = input_features.shape
        if attention_mask is None:
            lengths = torch.full((batch,), frames, dtype=torch.long, device=input_features.device)
        else:
            if attention_mask.ndim == 1:
                attention_mask = attention_mask[None]
            if tuple(attention_mask.shape) != (batch, frames):
                raise ValueError(
                    f"`attention_mask` must be [batch, frames] = {(batch, frames)}, got {tuple(attention_mask.shape)}"
                )
            lengths = mask_to_lengths(attention_mask.to(input_features.device), "attention_mask")
        valid = lengths_to_mask(lengths, frames)[:, None, :]
        if not torch.isfinite(torch.where(valid, input_features, 0)).all():
            raise ValueError("`input_features` contains NaN or infinite values")
        return input_features, lengths

    def _check_codes(self, audio_codes, audio_codes_mask):
        if self.encoder.quantizer is None:
            raise ValueError("this tokenizer has `num_quantizers=0`: it has no codebooks to decode with")
        audio_codes = as_tensor(audio_codes, "audio_codes")
        if audio_codes_mask is not None:
            audio_codes_mask = as_tensor(audio_codes_mask, "audio_codes_mask")
        if audio_codes.ndim == 2:
            audio_codes = audio_codes[None]
        if audio_codes.ndim != 3:
            raise ValueError(
                f"`audio_codes` must be [batch, num_quantizers, frames], got shape {tuple(audio_codes.shape)}"
            )
        if audio_codes.is_floating_point() or audio_codes.is_complex() or audio_codes.dtype == torch.bool:
            raise TypeError(f"`audio_codes` must be an integer tensor, got {audio_codes.dtype}")
        batch, num_quantizers, frames = audio_codes.shape
        if not 1 <= num_quantizers <= self.config.num_quantizers:
            raise ValueError(
                f"`audio_codes` has {num_quantizers} quantizer rows; expected 1 to {self.config.num_quantizers} "
                "(the leading quantizers, in order)"
            )
        if frames == 0:
            raise ValueError("`audio_codes` has no frames")
        if audio_codes_mask is None:
            lengths = torch.full((batch,), frames, dtype=torch.long, device=audio_codes.device)
        else:
            if audio_codes_mask.ndim == 1:
                audio_codes_mask = audio_codes_mask[None]
            if tuple(audio_codes_mask.shape) != (batch, frames):
                raise ValueError(
                    f"`audio_codes_mask` must be [batch, frames] = {(batch, frames)}, got "
                    f"{tuple(audio_codes_mask.shape)}"
                )
            lengths = mask_to_lengths(audio_codes_mask.to(audio_codes.device), "audio_codes_mask")
        valid = lengths_to_mask(lengths, frames)[:, None, :]
        audio_codes = torch.where(valid, audio_codes.long(), 0)
        sizes = torch.tensor(self.config.codebook_sizes[:num_quantizers], device=audio_codes.device)
        if (audio_codes < 0).any() or (audio_codes >= sizes[None, :, None]).any():
            raise ValueError(
                "`audio_codes` holds values outside the codebooks "
                f"(sizes {self.config.codebook_sizes[:num_quantizers]})"
            )
        return audio_codes, lengths

    # -- encode ------------------------------------------------------------------------------------------------

    @torch.no_grad()
    def encode(
        self,
        input_features: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        num_quantizers: int | None = None,
        segment_frames: int = ENCODE_SEGMENT_FRAMES,
    ) -> MiMoAudioTokenizerEncoderOutput:
        """
        Encodes log-mel features into RVQ codes.

        Args:
            input_features (`torch.FloatTensor` of shape `[batch, n_mels, frames]`): log-mels at 100 Hz from
                [`MiMoAudioFeatureExtractor`] (a 2-D `[n_mels, frames]` tensor is one clip).
            attention_mask (`torch.LongTensor` of shape `[batch, frames]`, *optional*): 1 for real frames
                (right padding). Default: all frames are real.
            num_quantizers (`int`, *optional*): leading quantizers to return (default: all `config.num_quantizers`).
            segment_frames (`int`, defaults to 6000): long clips are cut into independent segments of this many
                mel frames (60 s), encoded as separate sequences and their codes concatenated, as upstream's
                pipeline does; memory stays bounded by the segment length.

        Returns:
            [`MiMoAudioTokenizerEncoderOutput`]: `audio_codes` long `[batch, num_quantizers, frames_25hz]` (0 in
            padding) and `audio_codes_mask` long `[batch, frames_25hz]`. A clip of `n` mel frames gives about
            `ceil(ceil(n / 2) / 2)` frames per segment.
        """
        if self.encoder.quantizer is None:
            raise ValueError("this tokenizer has `num_quantizers=0`: it has no quantizer to encode with")
        num_quantizers = self.config.num_quantizers if num_quantizers is None else num_quantizers
        if isinstance(num_quantizers, bool) or not isinstance(num_quantizers, int):
            raise TypeError(f"`num_quantizers` must be an int, got {type(num_quantizers).__name__}")
        if not 1 <= num_quantizers <= self.config.num_quantizers:
            raise ValueError(
                f"`num_quantizers` must be between 1 and {self.config.num_quantizers}, got {num_quantizers}"
            )
        if isinstance(segment_frames, bool) or not isinstance(segment_frames, int) or segment_frames < 1:
            raise ValueError(f"`segment_frames` must be a positive int, got {segment_frames!r}")
        input_features, lengths = self._check_features(input_features, attention_mask)
        frames_per_code = self.config.stride_size * self.config.avg_pooler
        if segment_frames % frames_per_code and int(lengths.max()) > segment_frames:
            # Each segment rounds its code count up: only whole multiples give the frames of the unsegmented clip.
            raise ValueError(
                f"`segment_frames` must be a multiple of {frames_per_code} mel frames (one code frame: "
                f"stride_size x avg_pooler) to cut a clip of {int(lengths.max())} frames, got {segment_frames}"
            )
        device = self.encoder.conv1.weight.device
        input_features, lengths = input_features.to(device), lengths.to(device)

        segments = [
            (clip, start, min(start + segment_frames, length))
            for clip, length in enumerate(lengths.tolist())
            for start in range(0, length, segment_frames)
        ]
        clip_codes = [[] for _ in range(input_features.shape[0])]
        group_size = input_features.shape[0]
        for first in range(0, len(segments), group_size):
            group = segments[first : first + group_size]
            longest = max(end - start for _, start, end in group)
            features = input_features.new_zeros(len(group), self.config.n_mels, longest)
            for row, (clip, start, end) in enumerate(group):
                features[row, :, : end - start] = input_features[clip, :, start:end]
            mel_lengths = torch.tensor([end - start for _, start, end in group], device=device)
            hidden, code_lengths = self.encoder(features, mel_lengths)
            valid = lengths_to_mask(code_lengths, hidden.shape[1])
            codes = self.encoder.quantizer.encode(hidden[valid], num_quantizers)
            for (clip, _, _), piece in zip(group, codes.split(code_lengths.tolist(), dim=1)):
                clip_codes[clip].append(piece)

        pieces = [torch.cat(parts, dim=1) for parts in clip_codes]
        frames = max(piece.shape[1] for piece in pieces)
        audio_codes = torch.zeros(len(pieces), num_quantizers, frames, dtype=torch.long, device=device)
        audio_codes_mask = torch.zeros(len(pieces), frames, dtype=torch.long, device=device)
        for clip, piece in enumerate(pieces):
            audio_codes[clip, :, : piece.shape[1]] = piece
            audio_codes_mask[clip, : piece.shape[1]] = 1
        return MiMoAudioTokenizerEncoderOutput(audio_codes=audio_codes, audio_codes_mask=audio_codes_mask)

    # -- decode ------------------------------------------------------------------------------------------------

    def quantized_states(self, audio_codes: torch.Tensor) -> torch.Tensor:
        """Codes `[batch, num_quantizers, frames]` -> float32 sum of codebook entries `[batch, frames, d_model]`."""
        return self.encoder.quantizer.decode(audio_codes.transpose(0, 1))

    def decode_states(self, hidden: torch.Tensor, lengths: torch.Tensor) -> list[torch.Tensor]:
        """Quantized states `[batch, frames, d_model]` of clips of `lengths` frames -> list of 1-D waveforms."""
        return self.decoder(hidden, lengths)

    @torch.no_grad()
    def decode(
        self, audio_codes: torch.Tensor, audio_codes_mask: torch.Tensor | None = None
    ) -> MiMoAudioTokenizerDecoderOutput:
        """
        Decodes RVQ codes into 24 kHz waveforms.

        Args:
            audio_codes (`torch.LongTensor` of shape `[batch, num_quantizers, frames]`): codes of the leading
                `num_quantizers` codebooks (any number from 1 to `config.num_quantizers`; the LM uses 8). A 2-D
                `[num_quantizers, frames]` tensor is one clip. Padding positions may hold any value.
            audio_codes_mask (`torch.LongTensor` of shape `[batch, frames]`, *optional*): 1 for real frames (right
                padding). Default: all frames are real.

        Returns:
            [`MiMoAudioTokenizerDecoderOutput`]: `audio_values` float `[batch, 1, samples]` (960 samples per frame,
            zeros after each clip's end) and `audio_values_mask` long `[batch, samples]`.
        """
        audio_codes, lengths = self._check_codes(audio_codes, audio_codes_mask)
        device = self.encoder.conv1.weight.device
        audio_codes, lengths = audio_codes.to(device), lengths.to(device)
        waveforms = self.decode_states(self.quantized_states(audio_codes), lengths)
        return self._pad_waveforms(waveforms)

    @staticmethod
    def _pad_waveforms(waveforms: list[torch.Tensor]) -> MiMoAudioTokenizerDecoderOutput:
        samples = max(wave.shape[-1] for wave in waveforms)
        audio_values = waveforms[0].new_zeros(len(waveforms), 1, samples)
        audio_values_mask = torch.zeros(len(waveforms), samples, dtype=torch.long, device=audio_values.device)
        for index, wave in enumerate(waveforms):
            audio_values[index, 0, : wave.shape[-1]] = wave
            audio_values_mask[index, : wave.shape[-1]] = 1
        return MiMoAudioTokenizerDecoderOutput(audio_values=audio_values, audio_values_mask=audio_values_mask)

    def forward(
        self,
        input_features: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        num_quantizers: int | None = None,
    ) -> MiMoAudioTokenizerOutput:
        """Encode then decode (the decoder path keeps gradients, e.g. for fine-tuning the decoder)."""
        encoded = self.encode(input_features, attention_mask, num_quantizers)
        lengths = encoded.audio_codes_mask.sum(-1)
        waveforms = self.decode_states(self.quantized_states(encoded.audio_codes), lengths)
        decoded = self._pad_waveforms(waveforms)
        return MiMoAudioTokenizerOutput(
            audio_codes=encoded.audio_codes,
            audio_codes_mask=encoded.audio_codes_mask,
            audio_values=decoded.audio_values,
            audio_values_mask=decoded.audio_values_mask,
        )

    def streaming_decoder(self, left_context_frames: int = 250, lookahead_frames: int = 40):
        """
        A stateful decoder for one stream of codes, with upstream's `streaming_decode` semantics: each `push`
        decodes [up to `left_context_frames` past frames + the new chunk] and returns the audio from the last
        emitted point up to `lookahead_frames` frames before the end; `push(..., last=True)` returns the rest.
        Defaults are upstream's 250 (10 s) and 40 (1.6 s, the vocoder's right receptive field).
        """
        return MiMoAudioTokenizerStreamingDecoder(self, left_context_frames, lookahead_frames)


__all__ = ["MiMoAudioTokenizerModel", "MiMoAudioTokenizerPreTrainedModel"]
