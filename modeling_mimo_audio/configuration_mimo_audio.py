"""Configuration of the MiMo-Audio language model (backbone + patch encoder + patch decoder)."""

from transformers import Qwen2Config
from transformers.utils import logging

from .config_checks import PlainFieldErrors, check_int, check_output_flags, check_int_list, check_number


logger = logging.get_logger(__name__)

__all__ = ["MiMoAudioConfig"]


# Upstream (XiaomiMiMo/MiMo-Audio) config.json names -> our names. Upstream stores the per-channel
# lists as dash-separated strings ("1025-1025-129-..."); we store lists.
_UPSTREAM_RENAMES = {
    "group_size": "patch_size",
    "audio_channels": "num_codebooks",
    "speech_vocab_size": "speech_vocab_sizes",
    "speech_zeroemb_idx": "speech_empty_ids",
}


def _parse_int_list(value, length, name):
    """Turns upstream's ``"1-2-3"`` strings (or a single int) into a list of ints."""
    if value is None:
        return None
    if isinstance(value, str) and "-" not in value.strip().lstrip("-"):
        # Upstream reads a string without dashes ("0", "129") as one value repeated for every codebook.
        try:
            value = int(value)
        except ValueError:
            raise ValueError(f"`{name}` must be a list of ints or a dash-separated string of ints, got {value!r}")
    if isinstance(value, str):
        try:
            return [int(part) for part in value.split("-")]
        except ValueError:
            raise ValueError(f"`{name}` must be a list of ints or a dash-separated string of ints, got {value!r}")
    if isinstance(value, int):
        return [value] * length
    if isinstance(value, (list, tuple)):
        return check_int_list(name, value)
    raise TypeError(f"`{name}` must be a list of ints, got {type(value).__name__}")


def is_upstream_mimo_audio_config(config_dict: dict) -> bool:
    """Whether a `config.json` dict is an upstream MiMo-Audio LM config (Qwen2 type + MiMo fields)."""
    return config_dict.get("model_type") == "qwen2" and (
        "MiMoAudioForCausalLM" in (config_dict.get("architectures") or []) or "speech_vocab_size" in config_dict
    )


class MiMoAudioConfig(PlainFieldErrors, Qwen2Config):
    r"""
    Configuration of [`MiMoAudioForConditionalGeneration`]: a Qwen2 backbone (the fields inherited from
    [`Qwen2Config`] describe it), a bidirectional *patch encoder* that turns each patch of `patch_size` audio frames
    x `num_codebooks` RVQ codes into one backbone input vector, and a causal *patch decoder* that generates a patch
    from one backbone hidden state with a per-codebook delay pattern.

    Upstream MiMo-Audio `config.json` files (`model_type: "qwen2"`, dash-separated strings such as
    `speech_vocab_size: "1025-1025-129-..."`) load as they are; upstream names (`group_size`, `audio_channels`,
    `speech_vocab_size`, `speech_zeroemb_idx`) are accepted and converted, and saving writes this class's names.
    Upstream configs do not carry the special token ids: pass them to `from_pretrained` as keyword arguments.

    Args:
        patch_size (`int`, *optional*, defaults to 4):
            Audio frames (25 Hz) per backbone position. Upstream name: `group_size`.
        num_codebooks (`int`, *optional*, defaults to 8):
            RVQ codebooks (channels) per frame. Upstream name: `audio_channels`.
        speech_vocab_sizes (`list[int]`, *optional*, defaults to `[1025, 1025, 129, 129, 129, 129, 129, 129]`):
            Embedding / head size of each codebook, including its empty id. Upstream: `speech_vocab_size`.
        speech_empty_ids (`list[int]`, *optional*, defaults to `[1024, 1024, 128, 128, 128, 128, 128, 128]`):
            Per-codebook "no audio here" id, used at text positions; it embeds to zero and is never sampled.
            Upstream: `speech_zeroemb_idx`.
        delay_pattern (`list[int]`, *optional*, defaults to `[0, 1, ..., 7]`):
            Delay (in patch-decoder steps) of each codebook inside the patch decoder. The decoder runs
            `patch_size + max(delay_pattern)` steps. The backbone's input patches are never delayed.
        head_dim (`int`, *optional*):
            Backbone attention head size; defaults to `hidden_size // num_attention_heads`.
        local_dim (`int`, *optional*, defaults to 1024):
            Hidden size of the patch decoder (`local_transformer`).
        local_layers (`int`, *optional*, defaults to 16):
            Layers of the patch decoder.
        local_attn_heads (`int`, *optional*, defaults to 64):
            Attention heads of the patch decoder and the patch encoder (no grouped KV heads).
        local_ffn_dim (`int`, *optional*, defaults to 4096):
            MLP size of the patch decoder.
        local_attn_dropout (`float`, *optional*, defaults to 0.1):
            Attention dropout of the patch encoder and decoder (training only).
        input_local_dim (`int`, *optional*):
            Hidden size of the patch encoder (`input_local_transformer`) and of the speech embeddings; defaults to
            `local_dim`. Its MLP size is `4 * input_local_dim`.
        input_local_layers (`int`, *optional*, defaults to 6):
            Layers of the patch encoder.
        input_full_attention (`bool`, *optional*, defaults to `True`):
            Whether the patch encoder attends bidirectionally within a patch (the released models do). We enforce it
            under every attention implementation (upstream only did under SDPA). `False` gives a causal encoder. An
            upstream config.json without this key means causal (upstream's default), and without `head_dim` means
            128, as upstream's class reads them.
        empty_token_id, sosp_token_id, eosp_token_id, sostm_token_id, eostm_token_id, eot_token_id (`int`, *optional*):
            Text ids of `<|empty|>` (this position is an audio patch), `<|sosp|>`/`<|eosp|>` (start/end of an audio
            segment), `<|sostm|>`/`<|eostm|>` (start/end of a streaming text+speech segment) and `<|eot|>` (end of the
            streamed transcript). `empty_token_id` is required by `forward` and `generate`.
        text_loss_weight (`float`, *optional*, defaults to 100.0):
            Weight of the text-head loss in the total loss.
        audio_loss_weights (`list[float]`, *optional*, defaults to `[12, 8, 6, 4, 2, 2, 1, 1]`):
            Weight of each codebook's patch-decoder loss in the total loss.
        empty_token_loss_weight (`float`, *optional*, defaults to 0.01):
            Per-token weight, inside the text loss, of targets equal to `<|empty|>`.

    Example:

    ```python
    >>> from modeling_mimo_audio import MiMoAudioConfig
    >>> config = MiMoAudioConfig.from_pretrained("path/to/MiMo-Audio-7B-Base", empty_token_id=151667)  # doctest: +SKIP
    ```
    """

    model_type = "mimo_audio"

    patch_size: int = 4
    num_codebooks: int = 8
    speech_vocab_sizes: list[int] | str | None = None
    speech_empty_ids: list[int] | str | None = None
    delay_pattern: list[int] | str | None = None
    head_dim: int | None = None
    local_dim: int = 1024
    local_layers: int = 16
    local_attn_heads: int = 64
    local_ffn_dim: int = 4096
    local_attn_dropout: float | int = 0.1
    input_local_dim: int | None = None
    input_local_layers: int = 6
    input_full_attention: bool | None = True
    empty_token_id: int | None = None
    sosp_token_id: int | None = None
    eosp_token_id: int | None = None
    sostm_token_id: int | None = None
    eostm_token_id: int | None = None
    eot_token_id: int | None = None
    text_loss_weight: float | int = 100.0
    audio_loss_weights: list[float] | str | None = None
    empty_token_loss_weight: float | int = 0.01

    @classmethod
    def get_config_dict(cls, pretrained_model_name_or_path, **kwargs):
        """Reads `config.json`; an upstream MiMo-Audio config (`model_type: "qwen2"`) is read as `mimo_audio`."""
        config_dict, kwargs = super().get_config_dict(pretrained_model_name_or_path, **kwargs)
        if is_upstream_mimo_audio_config(config_dict):
            # Upstream's own defaults where its config.json is silent (its class defaults differ from ours).
            config_dict = {"head_dim": 128, "input_full_attention": False, **config_dict, "model_type": cls.model_type}
            if config_dict["input_full_attention"] is None:
                config_dict["input_full_attention"] = False
        return config_dict, kwargs

    def __post_init__(self, **kwargs):
        kwargs.pop("_attn_implementation_autoset", None)  # transformers 4.x bookkeeping in upstream configs
        for upstream_name, our_name in _UPSTREAM_RENAMES.items():
            if upstream_name in kwargs:
                value = kwargs.pop(upstream_name)
                if getattr(self, our_name) is None or our_name in ("patch_size", "num_codebooks"):
                    setattr(self, our_name, value)
        # Fields the defaults below are computed from are checked first, so a bad one is reported by name.
        n = check_int("num_codebooks", self.num_codebooks, minimum=1)
        for name in ("hidden_size", "num_attention_heads", "local_dim"):
            check_int(name, getattr(self, name), minimum=1)
        for name in ("input_local_dim", "head_dim"):
            check_int(name, getattr(self, name), minimum=1, optional=True)
        self.speech_vocab_sizes = _parse_int_list(self.speech_vocab_sizes, n, "speech_vocab_sizes") or (
            [1025, 1025] + [129] * (n - 2)
        )
        self.speech_empty_ids = _parse_int_list(self.speech_empty_ids, n, "speech_empty_ids") or [
            size - 1 for size in self.speech_vocab_sizes
        ]
        self.delay_pattern = _parse_int_list(self.delay_pattern, n, "delay_pattern") or list(range(n))
        if self.audio_loss_weights is None:
            self.audio_loss_weights = [12.0, 8.0, 6.0, 4.0, 2.0, 2.0, 1.0, 1.0][:n] + [1.0] * max(0, n - 8)
        elif isinstance(self.audio_loss_weights, str):
            self.audio_loss_weights = [float(w) for w in self.audio_loss_weights.split("-")]
        elif isinstance(self.audio_loss_weights, (list, tuple)):
            self.audio_loss_weights = [
                float(check_number(f"audio_loss_weights[{i}]", w, minimum=0))
                for i, w in enumerate(self.audio_loss_weights)
            ]
        else:
            raise TypeError(f"`audio_loss_weights` must be a list of numbers, got {self.audio_loss_weights!r}")
        if self.input_local_dim is None:
            self.input_local_dim = self.local_dim
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        super().__post_init__(**kwargs)
        self.validate_architecture()

    def validate_architecture(self):
        """Checks every numeric field of the backbone and of the patch encoder/decoder (ints are ints, sizes and
        counts positive, rates and weights in range, special token ids inside the text vocabulary) and the
        per-codebook lists. Runs at construction."""
        super().validate_architecture()
        positive_ints = (
            "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
            "num_key_value_heads", "max_position_embeddings", "head_dim", "patch_size", "num_codebooks",
            "local_dim", "local_layers", "local_attn_heads", "local_ffn_dim", "input_local_dim", "input_local_layers",
        )  # fmt: skip
        for name in positive_ints:
            check_int(name, getattr(self, name), minimum=1)
        check_int("max_window_layers", self.max_window_layers, minimum=0)
        check_int("sliding_window", self.sliding_window, minimum=1, optional=True)
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"`num_attention_heads` ({self.num_attention_heads}) must be a multiple of `num_key_value_heads` "
                f"({self.num_key_value_heads})"
            )
        check_number("rms_norm_eps", self.rms_norm_eps, minimum=0, exclusive_minimum=True)
        # `rope_theta=` is moved into `rope_parameters` by transformers without a type check.
        rope_theta = (self.rope_parameters or {}).get("rope_theta")
        if rope_theta is not None:
            check_number("rope_theta", rope_theta, minimum=0, exclusive_minimum=True)
        check_output_flags(self)
        check_number("initializer_range", self.initializer_range, minimum=0)
        for name in ("attention_dropout", "local_attn_dropout"):
            check_number(name, getattr(self, name), minimum=0, maximum=1)
        for name in ("text_loss_weight", "empty_token_loss_weight"):
            check_number(name, getattr(self, name), minimum=0)
        if self.input_full_attention is not None and not isinstance(self.input_full_attention, bool):
            raise TypeError(f"`input_full_attention` must be a bool, got {self.input_full_attention!r}")
        for name in ("empty", "sosp", "eosp", "sostm", "eostm", "eot"):
            check_int(f"{name}_token_id", getattr(self, f"{name}_token_id"), 0, self.vocab_size - 1, optional=True)
        check_int_list("speech_vocab_sizes", self.speech_vocab_sizes, minimum=1)
        check_int_list("speech_empty_ids", self.speech_empty_ids, minimum=0)
        check_int_list("delay_pattern", self.delay_pattern, minimum=0)
        n = self.num_codebooks
        for name in ("speech_vocab_sizes", "speech_empty_ids", "delay_pattern", "audio_loss_weights"):
            value = getattr(self, name)
            if len(value) != n:
                raise ValueError(
                    f"`{name}` must have one entry per codebook (num_codebooks={n}), got {len(value)}: {value}"
                )
        for c, (size, empty) in enumerate(zip(self.speech_vocab_sizes, self.speech_empty_ids)):
            if not 0 <= empty < size:
                raise ValueError(
                    f"`speech_empty_ids[{c}]` ({empty}) must be a valid id of codebook {c} (size {size})"
                )
        for name, dim in (("local_dim", self.local_dim), ("input_local_dim", self.input_local_dim)):
            if dim % self.local_attn_heads != 0:
                raise ValueError(f"`{name}` ({dim}) must be divisible by `local_attn_heads` ({self.local_attn_heads})")

    @property
    def num_patch_decoder_steps(self) -> int:
        """Steps of the patch decoder's delayed loop: `patch_size + max(delay_pattern)` (11 for MiMo-Audio)."""
        return self.patch_size + max(self.delay_pattern)

    # Upstream attribute names, kept readable for code written against upstream.
    @property
    def group_size(self) -> int:
        return self.patch_size

    @property
    def audio_channels(self) -> int:
        return self.num_codebooks

    def _sub_transformer_config(self, hidden_size, num_layers, intermediate_size) -> Qwen2Config:
        return Qwen2Config(
            hidden_size=hidden_size,
            num_hidden_layers=num_layers,
            num_attention_heads=self.local_attn_heads,
            num_key_value_heads=self.local_attn_heads,
            head_dim=hidden_size // self.local_attn_heads,
            intermediate_size=intermediate_size,
            attention_dropout=self.local_attn_dropout,
            hidden_act=self.hidden_act,
            rms_norm_eps=self.rms_norm_eps,
            rope_parameters=dict(self.rope_parameters),
            max_position_embeddings=self.max_position_embeddings,
            initializer_range=self.initializer_range,
            vocab_size=1,
            use_sliding_window=False,
            attn_implementation=self._attn_implementation,
            dtype=self.dtype,
        )

    def patch_encoder_config(self) -> Qwen2Config:
        """Qwen2 config of the patch encoder (`input_local_transformer`), derived from this config."""
        return self._sub_transformer_config(self.input_local_dim, self.input_local_layers, 4 * self.input_local_dim)

    def patch_decoder_config(self) -> Qwen2Config:
        """Qwen2 config of the patch decoder (`local_transformer`), derived from this config."""
        return self._sub_transformer_config(self.local_dim, self.local_layers, self.local_ffn_dim)
