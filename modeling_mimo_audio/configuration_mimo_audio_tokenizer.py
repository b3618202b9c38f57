"""Configuration of the MiMo-Audio audio tokenizer (the codec)."""

from transformers import PreTrainedConfig

from .config_checks import PlainFieldErrors, check_int, check_output_flags, check_int_list, check_mel_front_end, check_number

# Codebook sizes of the released MiMo-Audio-Tokenizer: two 1024-entry layers, then eighteen of 128.
RELEASED_CODEBOOK_SIZES = (1024, 1024) + (128,) * 18


class MiMoAudioTokenizerConfig(PlainFieldErrors, PreTrainedConfig):
    r"""
    Configuration of [`MiMoAudioTokenizerModel`]: a log-mel encoder (convolutions + transformer), a residual vector
    quantizer, a causal transformer decoder and a transformer "Vocos" vocoder with an ISTFT head.

    The field names are those of the upstream `config.json` (XiaomiMiMo/MiMo-Audio-Tokenizer), so upstream checkpoint
    folders load as they are. The defaults are the released tokenizer's values (about 1.2B parameters).

    Args:
        *Front end* (also read by [`MiMoAudioFeatureExtractor.from_tokenizer_config`]):
        sampling_rate (`int`, defaults to 24000): waveform rate in Hz.
        nfft (`int`, defaults to 960): FFT size of the mel front end and of the vocoder's ISTFT.
        hop_length (`int`, defaults to 240): hop in samples (100 mel frames per second at 24 kHz).
        window_size (`int`, defaults to 960): STFT window length of the mel front end.
        n_mels (`int`, defaults to 128): mel bands; also the channel count of the decoder's "coarse mel".
        fmin (`float`, defaults to 0): lowest mel frequency in Hz.
        fmax (`float`, *optional*): highest mel frequency in Hz; `None` means `sampling_rate / 2`.

        *Encoder*:
        d_model (`int`, defaults to 1280): width of encoder, quantizer and decoder.
        kernel_size (`int`, defaults to 3): kernel of the two input convolutions (both padded by 1).
        stride_size (`int`, defaults to 2): stride of the second input convolution (100 Hz -> 50 Hz).
        avg_pooler (`int`, defaults to 2): kernel and stride of the down-sampling convolution after the transformer
            (50 Hz -> 25 Hz) and of the decoder's first transposed convolution; 1 disables both.
        encoder_layers, encoder_attention_heads, encoder_ffn_dim: transformer depth, heads and FFN width.
        encoder_skip_layer_id (`int`, *optional*, defaults to 3): the output of this (1-based) layer is added to the
            last layer's output before the final LayerNorm; `None` disables the skip.
        encoder_causal (`bool`, defaults to `False`): causal self-attention in the encoder.
        encoder_attn_window_size (`list[int]`, defaults to `[-1, -1]`): (left, right) attention window in frames;
            -1 means unlimited.
        scale_embedding (`bool`): kept for checkpoint compatibility; upstream computes the scale but never applies
            it, and neither do we.

        *Quantizer*:
        num_quantizers (`int`, defaults to 20): residual VQ layers.
        codebook_size (`list[int]`): entries per layer; a shorter list is extended with its last value.
        threshold_ema_dead_code (`int`, defaults to 2): training-only EMA dead-code threshold (unused at inference).

        *Decoder and vocoder*:
        decoder_layers, decoder_attention_heads, decoder_ffn_dim: decoder transformer depth, heads and FFN width.
        decoder_kernel_size (`int`, defaults to 3), decoder_stride_size (`int`, defaults to 2): the transposed
            convolution from 50 Hz hidden states to the 100 Hz coarse mel.
        decoder_causal (`bool`, defaults to `True`): causal decoder self-attention.
        decoder_attn_window_size (`list[int]`, defaults to `[-1, -1]`): decoder (left, right) attention window.
        vocoder_dim, vocoder_intermediate_dim, vocoder_num_layers, vocoder_attention_heads: vocoder transformer sizes.
        vocoder_attn_window_size (`list[int]`, defaults to `[40, 10]`): the vocoder's bidirectional sliding window
            (left, right) in 100 Hz frames.
        vocoder_padding (`str`, defaults to `"same"`): ISTFT padding, `"same"` (one hop per frame) or `"center"`.

        *Shared*:
        activation_function (`str`, defaults to `"gelu"`): transformer FFN activation (the convolutions use GELU).
        ln_type (`str`, defaults to `"LayerNorm"`): `"LayerNorm"` or `"RMSNorm"`.
        rope_theta (`float`, defaults to 10000), rope_type (`str`, only `"default"`): rotary position embedding.
        position_embedding_type (`str`, `"rope"`): kept for compatibility; upstream always uses RoPE.
        max_audio_seconds (`int`, defaults to 1800): kept for compatibility; no inference computation uses it.

    Derived (read-only) properties: `frame_rate` (codes per second, 25 for the released model) and
    `samples_per_frame` (waveform samples per code frame, 960).

    Example:

    ```python
    >>> from modeling_mimo_audio import MiMoAudioTokenizerConfig, MiMoAudioTokenizerModel
    >>> config = MiMoAudioTokenizerConfig(d_model=64, encoder_layers=2, decoder_layers=2, vocoder_num_layers=2,
    ...     encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128,
    ...     vocoder_dim=32, vocoder_intermediate_dim=64, vocoder_attention_heads=4, encoder_skip_layer_id=1)
    >>> model = MiMoAudioTokenizerModel(config)
    ```
    """

    model_type = "mimo_audio_tokenizer"

    max_audio_seconds: int = 1800
    stride_size: int = 2
    avg_pooler: int = 2
    d_model: int = 1280
    scale_embedding: bool = False
    kernel_size: int = 3
    activation_function: str = "gelu"
    encoder_layers: int = 32
    encoder_skip_layer_id: int | None = 3
    encoder_attention_heads: int = 20
    encoder_ffn_dim: int = 5120
    encoder_causal: bool = False
    encoder_attn_window_size: list | tuple | None = None
    decoder_layers: int = 32
    decoder_attention_heads: int = 20
    decoder_ffn_dim: int = 5120
    decoder_kernel_size: int = 3
    decoder_stride_size: int = 2
    decoder_causal: bool = True
    decoder_attn_window_size: list | tuple | None = None
    nfft: int = 960
    vocoder_dim: int = 256
    vocoder_intermediate_dim: int = 1024
    vocoder_num_layers: int = 16
    n_mels: int = 128
    sampling_rate: int = 24000
    hop_length: int = 240
    window_size: int = 960
    vocoder_padding: str = "same"
    fmin: int | float = 0
    fmax: int | float | None = None
    num_quantizers: int = 20
    codebook_size: list | tuple | int | None = None
    threshold_ema_dead_code: int = 2
    position_embedding_type: str = "rope"
    rope_theta: int | float = 10000
    rope_type: str = "default"
    ln_type: str = "LayerNorm"
    vocoder_attention_heads: int = 16
    vocoder_attn_window_size: list | tuple | None = None

    def __post_init__(self, **kwargs):
        if self.encoder_attn_window_size is None:
            self.encoder_attn_window_size = [-1, -1]
        if self.decoder_attn_window_size is None:
            self.decoder_attn_window_size = [-1, -1]
        if self.vocoder_attn_window_size is None:
            self.vocoder_attn_window_size = [40, 10]
        if self.codebook_size is None:
            self.codebook_size = list(RELEASED_CODEBOOK_SIZES)
        elif isinstance(self.codebook_size, int):
            self.codebook_size = [self.codebook_size]
        for name in ("encoder_attn_window_size", "decoder_attn_window_size", "vocoder_attn_window_size"):
            if not isinstance(getattr(self, name), (list, tuple)):
                raise TypeError(f"`{name}` must be a [left, right] list of ints, got {getattr(self, name)!r}")
        if not isinstance(self.codebook_size, (list, tuple)):
            raise TypeError(f"`codebook_size` must be an int or a list of ints, got {self.codebook_size!r}")
        self.encoder_attn_window_size = list(self.encoder_attn_window_size)
        self.decoder_attn_window_size = list(self.decoder_attn_window_size)
        self.vocoder_attn_window_size = list(self.vocoder_attn_window_size)
        self.codebook_size = list(self.codebook_size)
        super().__post_init__(**kwargs)
        self.validate_architecture()

    def validate_architecture(self):
        """Checks every numeric field (ints are ints, sizes positive, a consistent mel front end) and the values
        upstream's modules silently assume. Runs at construction."""
        check_output_flags(self)
        positive_ints = (
            "max_audio_seconds", "stride_size", "avg_pooler", "d_model", "kernel_size",
            "encoder_layers", "encoder_attention_heads", "encoder_ffn_dim",
            "decoder_layers", "decoder_attention_heads", "decoder_ffn_dim", "decoder_kernel_size",
            "decoder_stride_size", "vocoder_dim", "vocoder_intermediate_dim", "vocoder_num_layers",
            "vocoder_attention_heads", "num_quantizers",
        )  # fmt: skip
        for name in positive_ints:
            check_int(name, getattr(self, name), minimum=1)
        check_int("threshold_ema_dead_code", self.threshold_ema_dead_code, minimum=0)
        check_int("encoder_skip_layer_id", self.encoder_skip_layer_id, 1, self.encoder_layers, optional=True)
        check_number("rope_theta", self.rope_theta, minimum=0, exclusive_minimum=True)
        check_mel_front_end(
            self.sampling_rate, self.nfft, self.hop_length, self.window_size, self.n_mels, self.fmin, self.fmax
        )
        for name in ("scale_embedding", "encoder_causal", "decoder_causal"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"`{name}` must be a bool, got {getattr(self, name)!r}")
        if not self.codebook_size:
            raise ValueError("`codebook_size` must list at least one codebook size")
        check_int_list("codebook_size", self.codebook_size, minimum=1)
        for name in ("encoder_attn_window_size", "decoder_attn_window_size", "vocoder_attn_window_size"):
            if len(getattr(self, name)) != 2:
                raise ValueError(f"`{name}` must be a [left, right] pair, got {getattr(self, name)}")
            check_int_list(name, getattr(self, name), minimum=-1)
        for width_name, heads_name in (
            ("d_model", "encoder_attention_heads"),
            ("d_model", "decoder_attention_heads"),
            ("vocoder_dim", "vocoder_attention_heads"),
        ):
            width, heads = getattr(self, width_name), getattr(self, heads_name)
            if width % heads:
                raise ValueError(f"`{width_name}` ({width}) must be divisible by `{heads_name}` ({heads})")
        if self.ln_type not in ("LayerNorm", "RMSNorm"):
            raise ValueError(f"`ln_type` must be 'LayerNorm' or 'RMSNorm', got {self.ln_type!r}")
        if self.vocoder_padding not in ("same", "center"):
            raise ValueError(f"`vocoder_padding` must be 'same' or 'center', got {self.vocoder_padding!r}")
        if self.rope_type != "default":
            raise ValueError(
                f"only `rope_type='default'` is supported (upstream configs use it), got {self.rope_type!r}"
            )

    @property
    def codebook_sizes(self) -> list[int]:
        """Entries of each of the `num_quantizers` codebooks (the last listed size repeats, as upstream)."""
        sizes = list(self.codebook_size)
        if len(sizes) < self.num_quantizers:
            sizes += [sizes[-1]] * (self.num_quantizers - len(sizes))
        return sizes[: self.num_quantizers]

    @property
    def samples_per_frame(self) -> int:
        """Waveform samples per code frame (960 for the released model)."""
        return self.hop_length * self.stride_size * self.avg_pooler

    @property
    def frame_rate(self) -> float:
        """Code frames per second (25 for the released model)."""
        rate = self.sampling_rate / self.samples_per_frame
        return int(rate) if float(rate).is_integer() else rate


__all__ = ["MiMoAudioTokenizerConfig"]
