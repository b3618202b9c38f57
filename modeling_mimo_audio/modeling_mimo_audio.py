"""MiMo-Audio language model: a Qwen2 backbone fed one position per text token or per audio patch.

Each backbone position holds either a text token or a *patch* of `patch_size` (4) audio frames x `num_codebooks`
(8) RVQ codes. The patch encoder (`input_local_transformer`) turns a patch into one input vector; the patch decoder
(`local_transformer` + `local_transformer_lm_heads`) generates the next patch from one backbone hidden state with a
per-codebook delay. Module names are upstream's, so upstream `MiMoAudioForCausalLM` checkpoints load unchanged.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel, Qwen2Model
from transformers import initialization as init
from transformers.cache_utils import Cache
from transformers.modeling_outputs import ModelOutput
from transformers.utils import logging

from .configuration_mimo_audio import MiMoAudioConfig
from .generation_mimo_audio import MiMoAudioGenerationMixin
from .layout_mimo_audio import delay_patch, interleaved_to_patches, patches_to_interleaved
from .safetensors_only import SafetensorsOnlyMixin


logger = logging.get_logger(__name__)

__all__ = [
    "MiMoAudioPreTrainedModel",
    "MiMoAudioForConditionalGeneration",
    "MiMoAudioForCausalLM",
    "MiMoAudioCausalLMOutputWithPast",
    "interleaved_to_patches",
    "patches_to_interleaved",
]


@dataclass
class MiMoAudioCausalLMOutputWithPast(ModelOutput):
    """
    Output of [`MiMoAudioForConditionalGeneration.forward`].

    Args:
        loss (`torch.FloatTensor` of shape `()`, returned with `labels`):
            `(text_loss_weight * text_loss + sum_c audio_loss_weights[c] * audio_loss[c]) / (sum of the weights of
            the streams that have targets)`.
        text_loss (`torch.FloatTensor` of shape `()`, returned with `labels`):
            Weighted mean cross-entropy of the text head (`<|empty|>` targets weigh `empty_token_loss_weight`).
        audio_loss (`torch.FloatTensor` of shape `(num_codebooks,)`, returned with `labels`):
            Mean cross-entropy of each codebook over all target patches and frames (0 where there is no target, and
            everywhere when every `audio_loss_weights` is 0: the patch decoder is then skipped).
        logits (`torch.FloatTensor` of shape `(batch, positions, vocab_size)`):
            Text-head logits (only the last `logits_to_keep` positions when it is set).
        audio_logits (`tuple` of `num_codebooks` tensors `(target_patches, patch_size, speech_vocab_sizes[c])`):
            Teacher-forced patch-decoder logits; patches ordered by batch, then position.
        past_key_values (`Cache`): the backbone cache.
        last_hidden_state (`torch.FloatTensor` of shape `(batch, positions, hidden_size)`): backbone output.
    """

    loss: torch.FloatTensor | None = None
    text_loss: torch.FloatTensor | None = None
    audio_loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    audio_logits: tuple[torch.FloatTensor, ...] | None = None
    past_key_values: Cache | None = None
    last_hidden_state: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


class MiMoAudioPreTrainedModel(SafetensorsOnlyMixin, PreTrainedModel):
    config: MiMoAudioConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _no_split_modules = ["Qwen2DecoderLayer"]
    _skip_keys_device_placement = ["past_key_values"]
    _supports_flash_attn = True
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True
    _can_compile_fullgraph = False
    input_modalities = ("text", "audio")
    output_modalities = ("text", "audio")


def _sub_transformer(config) -> Qwen2Model:
    """A stock Qwen2 stack fed with `inputs_embeds` only (upstream drops its token embedding too)."""
    model = Qwen2Model(config)
    model.embed_tokens = None
    return model


class MiMoAudioForConditionalGeneration(MiMoAudioPreTrainedModel, MiMoAudioGenerationMixin):
    """
    MiMo-Audio language model with a text head and a patch decoder.

    Inputs use one position per text token or audio patch (see `forward`); `interleaved_to_patches` converts
    upstream's `[batch, 1 + num_codebooks, patch_size * positions]` layout.
    """

    _tied_weights_keys = {}

    def __init__(self, config: MiMoAudioConfig):
        super().__init__(config)
        self.model = Qwen2Model(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

        encoder_config = config.patch_encoder_config()
        decoder_config = config.patch_decoder_config()
        self.speech_embeddings = nn.ModuleList(
            nn.Embedding(size, encoder_config.hidden_size, padding_idx=empty)
            for size, empty in zip(config.speech_vocab_sizes, config.speech_empty_ids)
        )
        self.input_local_transformer = _sub_transformer(encoder_config)
        self.speech_group_downcast = nn.Linear(
            encoder_config.hidden_size * config.patch_size, config.hidden_size, bias=False
        )
        self.hidden_states_downcast = nn.Linear(config.hidden_size, decoder_config.hidden_size, bias=False)
        self.local_transformer = _sub_transformer(decoder_config)
        self.local_transformer_lm_heads = nn.ModuleList(
            nn.Linear(decoder_config.hidden_size, size, bias=False) for size in config.speech_vocab_sizes
        )
        if encoder_config.hidden_size != decoder_config.hidden_size:
            self.speech_embeddings_to_local = nn.Linear(
                encoder_config.hidden_size, decoder_config.hidden_size, bias=False
            )
        else:
            self.speech_embeddings_to_local = None

        for name, values in self._speech_id_buffers(config).items():
            self.register_buffer(name, values, persistent=False)
        self.post_init()

    @staticmethod
    def _speech_id_buffers(config) -> dict[str, torch.Tensor]:
        """Per-codebook vocabulary sizes, empty ids and offsets into the concatenated embedding tables, `[C]` each."""
        sizes = config.speech_vocab_sizes
        return {"_vocab_sizes": torch.tensor(sizes), "_speech_empty_ids": torch.tensor(config.speech_empty_ids),
                "_embedding_offsets": torch.tensor([sum(sizes[:c]) for c in range(len(sizes))])}

    def _init_weights(self, module):
        super()._init_weights(module)
        if module is self:  # non-persistent buffers: rebuilt after meta-device loading
            for name, values in self._speech_id_buffers(self.config).items():
                init.copy_(getattr(self, name), values)

    def get_input_embeddings(self):
        return self.model.embed_tokens

    def set_input_embeddings(self, value):
        self.model.embed_tokens = value

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, new_embeddings):
        self.lm_head = new_embeddings

    def parameter_groups(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        """
        Trainable parameters split as in the paper's optimiser setup (spec B.6):
        `"patch_encoder"` (speech embeddings, shared with the decoder; `input_local_transformer`;
        `speech_group_downcast`), `"llm"` (`model.*`, `lm_head`) and `"patch_decoder"` (`hidden_states_downcast`,
        `local_transformer`, `local_transformer_lm_heads`, `speech_embeddings_to_local`). Each value is a list of
        `(name, parameter)`; every parameter appears exactly once.
        """
        groups = {"patch_encoder": [], "llm": [], "patch_decoder": []}
        prefixes = {
            "speech_embeddings.": "patch_encoder",
            "input_local_transformer.": "patch_encoder",
            "speech_group_downcast.": "patch_encoder",
            "model.": "llm",
            "lm_head.": "llm",
            "hidden_states_downcast.": "patch_decoder",
            "local_transformer.": "patch_decoder",
            "local_transformer_lm_heads.": "patch_decoder",
            "speech_embeddings_to_local.": "patch_decoder",
        }
        for name, parameter in self.named_parameters():
            group = next((g for prefix, g in prefixes.items() if name.startswith(prefix)), None)
            if group is None:
                raise RuntimeError(f"parameter {name} belongs to no parameter group")
            groups[group].append((name, parameter))
        return groups

    # ----------------------------------------------------------------------------------------------- inputs

    @staticmethod
    def _check_attention_mask(attention_mask, batch: int, min_length: int, exact: bool, check_values: bool = True):
        """`attention_mask` must be a `[batch, length]` tensor (length == `min_length` when `exact`, else at least
        it) holding only 0 and 1; any other value would shift the positions derived from it."""
        if not isinstance(attention_mask, torch.Tensor):
            raise TypeError(f"`attention_mask` must be a torch.Tensor, got {type(attention_mask).__name__}")
        if attention_mask.dim() != 2:
            raise ValueError(f"`attention_mask` must be [batch, positions], got shape {tuple(attention_mask.shape)}")
        rows, length = attention_mask.shape
        if rows != batch or (length != min_length if exact else length < min_length):
            expected = f"{min_length}" if exact else f"at least {min_length} (past + new)"
            raise ValueError(
                f"`attention_mask` must have {batch} row(s) of {expected} positions, got shape "
                f"{tuple(attention_mask.shape)}"
            )
        if attention_mask.is_complex():
            raise TypeError(f"`attention_mask` must hold 0/1 values, got dtype {attention_mask.dtype}")
        if check_values and not torch.compiler.is_compiling() and attention_mask.dtype != torch.bool:
            if bool(((attention_mask != 0) & (attention_mask != 1)).any()):
                values = torch.unique(attention_mask[(attention_mask != 0) & (attention_mask != 1)])[:5].tolist()
                raise ValueError(f"`attention_mask` must hold only 0 (padding) and 1 (real), got values {values}")

    def _check_inputs(self, input_ids, audio_codes):
        if not isinstance(input_ids, torch.Tensor):
            raise TypeError(f"`input_ids` must be a torch.LongTensor, got {type(input_ids).__name__}")
        if input_ids.dtype.is_floating_point or input_ids.is_complex() or input_ids.dtype == torch.bool:
            raise TypeError(f"`input_ids` must be an integer tensor, got dtype {input_ids.dtype}")
        if input_ids.dim() != 2:
            raise ValueError(
                f"`input_ids` must be [batch, positions] (one text token per position), got shape "
                f"{tuple(input_ids.shape)}; use `interleaved_to_patches` for upstream's [batch, 9, 4*positions] layout"
            )
        if self.config.empty_token_id is None:
            raise ValueError(
                "`config.empty_token_id` is not set: pass `empty_token_id=<id of <|empty|>>` to `from_pretrained` "
                "(upstream configs do not carry it)"
            )
        vocab_size = self.model.embed_tokens.num_embeddings
        if not torch.compiler.is_compiling() and bool(((input_ids < 0) | (input_ids >= vocab_size)).any()):
            raise ValueError(
                f"`input_ids` hold ids outside the text vocabulary [0, {vocab_size}) (min {int(input_ids.min())}, "
                f"max {int(input_ids.max())}); -100 belongs in `labels`, not in `input_ids`"
            )
        if input_ids.shape[0] == 0:
            raise ValueError(f"`input_ids` must hold at least one row, got shape {tuple(input_ids.shape)}")
        if input_ids.shape[1] == 0:
            raise ValueError(f"`input_ids` must hold at least one position, got shape {tuple(input_ids.shape)}")
        if audio_codes is None:
            return
        if not isinstance(audio_codes, torch.Tensor):
            raise TypeError(f"`audio_codes` must be a torch.LongTensor, got {type(audio_codes).__name__}")
        expected = (*input_ids.shape, self.config.patch_size, self.config.num_codebooks)
        if tuple(audio_codes.shape) != expected:
            raise ValueError(f"`audio_codes` must have shape {expected} [batch, positions, patch_size, num_codebooks], "
                             f"got {tuple(audio_codes.shape)}")
        if audio_codes.dtype.is_floating_point or audio_codes.is_complex() or audio_codes.dtype == torch.bool:
            raise TypeError(f"`audio_codes` must be an integer tensor, got {audio_codes.dtype}")
        if not torch.compiler.is_compiling():
            bad = (audio_codes < 0) | (audio_codes >= self._vocab_sizes.to(audio_codes.device))
            if bad.any():
                channel = int(bad.nonzero()[0, -1])
                raise ValueError(
                    f"`audio_codes` hold ids outside codebook {channel}'s range [0, "
                    f"{self.config.speech_vocab_sizes[channel]}); text positions must hold the empty ids "
                    f"{self.config.speech_empty_ids}"
                )

    def speech_embedding_table(self) -> torch.Tensor:
        """Every codebook's embedding table, concatenated `[sum(speech_vocab_sizes), input_local_dim]`; codebook c
        starts at row `_embedding_offsets[c]`."""
        return torch.cat([embedding.weight for embedding in self.speech_embeddings])

    def _sum_speech_embeddings(self, codes: torch.LongTensor) -> torch.Tensor:
        """`codes` [..., num_codebooks] -> sum over codebooks of their embeddings; empty ids contribute zero.
        One lookup in the concatenated tables rather than one per codebook (a handful of kernels instead of 4 per
        codebook; gradients reach each codebook's table through the concatenation)."""
        vectors = F.embedding(codes + self._embedding_offsets, self.speech_embedding_table())  # [..., C, dim]
        return vectors.masked_fill((codes == self._speech_empty_ids).unsqueeze(-1), 0.0).sum(dim=-2)

    def embed_patches(self, patches: torch.LongTensor) -> torch.Tensor:
        """
        Patch encoder. `patches` [n, patch_size, num_codebooks] -> backbone input vectors [n, hidden_size].

        The encoder attends bidirectionally within each patch under every attention implementation (upstream's
        `is_causal=False` only took effect with SDPA; its released configs ask for full attention).
        """
        frames = self._sum_speech_embeddings(patches)  # [n, patch_size, input_local_dim]
        if frames.shape[0] == 0:
            return frames.new_zeros(0, self.config.hidden_size)
        if self.config.input_full_attention:
            # No mask + is_causal=False is bidirectional for eager, sdpa, flash-attention and flex alike.
            encoded = self.input_local_transformer(
                inputs_embeds=frames, attention_mask={"full_attention": None}, is_causal=False
            ).last_hidden_state
        else:
            encoded = self.input_local_transformer(inputs_embeds=frames).last_hidden_state
        return self.speech_group_downcast(encoded.flatten(1))

    def embed_inputs(self, input_ids: torch.LongTensor, audio_codes: torch.LongTensor | None) -> torch.Tensor:
        """
        Backbone input vectors [batch, positions, hidden_size]: the text embedding at text positions, the patch
        encoder's output at `<|empty|>` positions.
        """
        is_speech = input_ids == self.config.empty_token_id
        text = self.model.embed_tokens(input_ids.masked_fill(is_speech, 0))
        text = text.masked_fill(is_speech.unsqueeze(-1), 0.0)
        if audio_codes is None:
            if not torch.compiler.is_compiling() and bool(is_speech.any()):
                raise ValueError("`input_ids` contain `<|empty|>` (audio patch) positions but `audio_codes` is None")
            return text
        if torch.compiler.is_compiling():
            # Static shapes: encode every position and keep the speech ones.
            patches = self.embed_patches(audio_codes.flatten(0, 1)).view_as(text)
            return text + patches.masked_fill(~is_speech.unsqueeze(-1), 0.0)
        patches = self.embed_patches(audio_codes[is_speech])
        return text.masked_scatter(is_speech.unsqueeze(-1), patches.to(text.dtype))

    # ---------------------------------------------------------------------------------------- patch decoder

    def patch_decoder_inputs(self, hidden: torch.Tensor, patches: torch.LongTensor | None = None) -> torch.Tensor:
        """
        Teacher-forcing input of the patch decoder [n, steps, local_dim] for backbone states `hidden` [n, hidden]
        and target `patches` [n, patch_size, num_codebooks]: step 0 is `hidden_states_downcast(hidden)`, step t+1
        the sum of the embeddings of the codes emitted at step t of the delayed grid.
        """
        first = self.hidden_states_downcast(hidden).unsqueeze(1)
        if patches is None:
            return first
        delayed = delay_patch(patches, self.config.delay_pattern, self.config.speech_empty_ids)
        following = self.embed_emitted_codes(delayed[:, :-1])
        return torch.cat([first, following.to(first.dtype)], dim=1)

    def embed_emitted_codes(self, codes: torch.LongTensor) -> torch.Tensor:
        """Patch-decoder input for emitted codes [..., num_codebooks]: their embedding sum (empty ids -> 0)."""
        vectors = self._sum_speech_embeddings(codes)
        if self.speech_embeddings_to_local is not None:
            vectors = self.speech_embeddings_to_local(vectors)
        return vectors

    def patch_decoder_logits(self, hidden: torch.Tensor, patches: torch.LongTensor) -> tuple[torch.Tensor, ...]:
        """
        Teacher-forced patch decoder: logits of codebook c for frames 0..patch_size-1 of each target patch,
        `(num_codebooks x [n, patch_size, speech_vocab_sizes[c]])`, read at steps `delay[c] .. delay[c]+patch_size-1`.
        """
        states = self.local_transformer(inputs_embeds=self.patch_decoder_inputs(hidden, patches)).last_hidden_state
        size = self.config.patch_size
        return tuple(
            head(states[:, delay : delay + size])
            for head, delay in zip(self.local_transformer_lm_heads, self.config.delay_pattern)
        )

    # ---------------------------------------------------------------------------------------------- forward

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        audio_codes: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        past_key_values: Cache | None = None,
        inputs_embeds: torch.FloatTensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> MiMoAudioCausalLMOutputWithPast:
        r"""
        Args:
            input_ids (`torch.LongTensor` of shape `(batch, positions)`):
                Text stream, one token per position; `config.empty_token_id` (`<|empty|>`) where the position is an
                audio patch.
            audio_codes (`torch.LongTensor` of shape `(batch, positions, patch_size, num_codebooks)`, *optional*):
                The patch at each position ([frame, codebook]); text positions hold `config.speech_empty_ids`.
                Required when `input_ids` contain `<|empty|>`.
            attention_mask (`torch.Tensor` of shape `(batch, past + positions)`, *optional*):
                1 for real positions, 0 for padding (left padding for generation).
            position_ids (`torch.LongTensor` of shape `(batch, positions)`, *optional*):
                Defaults to `cumsum(attention_mask) - 1`, i.e. padding does not shift positions.
            past_key_values (`Cache`, *optional*): backbone cache.
            inputs_embeds (`torch.FloatTensor` of shape `(batch, positions, hidden_size)`, *optional*):
                Precomputed backbone inputs (see `embed_inputs`) instead of `input_ids`/`audio_codes`.
            labels (`torch.LongTensor` of shape `(batch, positions)`, *optional*):
                Text token at each position (-100 = ignore). The model shifts internally: hidden state k predicts
                `labels[:, k+1]`; where that label is `<|empty|>`, `audio_codes[:, k+1]` is a patch-decoder target
                (teacher-forced through the delayed loop). Requires `input_ids` and `audio_codes` when any label is
                `<|empty|>`.
            logits_to_keep (`int` or `torch.Tensor`, *optional*, defaults to 0):
                Keep text logits of only the last `logits_to_keep` positions (0 = all), or of the given indices.
        """
        # The Trainer passes its global token count; our loss normalises per batch (per stream), as upstream's.
        kwargs.pop("num_items_in_batch", None)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of `input_ids` or `inputs_embeds`")
        checked = inputs_embeds is None
        if checked:
            self._check_inputs(input_ids, audio_codes)
            inputs_embeds = self.embed_inputs(input_ids, audio_codes)
        if attention_mask is not None:
            # With a cache the mask also covers the past (a static cache's mask spans the whole cache). Its values
            # are checked with `input_ids` (generation's own steps pass `inputs_embeds` and skip the host sync).
            self._check_attention_mask(
                attention_mask, inputs_embeds.shape[0], inputs_embeds.shape[1], exact=past_key_values is None,
                check_values=checked,
            )
        if position_ids is None and attention_mask is not None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -inputs_embeds.shape[1] :]
        if use_cache is None and labels is not None:
            # A training forward needs no cache, and a cache would stop transformers from detecting packed
            # documents from `position_ids` (they would attend to each other).
            use_cache = False

        outputs = self.model(
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            position_ids=position_ids,
            past_key_values=past_key_values,
            use_cache=use_cache,
            **kwargs,
        )
        hidden = outputs.last_hidden_state
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(hidden[:, keep])

        loss = text_loss = audio_loss = audio_logits = None
        if labels is not None:
            # Reuse the text logits when they cover every position rather than running lm_head twice.
            predictor_logits = logits[:, :-1] if logits.shape[1] == hidden.shape[1] else None
            loss, text_loss, audio_loss, audio_logits = self._loss(
                hidden, labels, audio_codes, attention_mask, predictor_logits
            )

        return MiMoAudioCausalLMOutputWithPast(
            loss=loss,
            text_loss=text_loss,
            audio_loss=audio_loss,
            logits=logits,
            audio_logits=audio_logits,
            past_key_values=outputs.past_key_values,
            last_hidden_state=hidden,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )

    def _loss(self, hidden, labels, audio_codes, attention_mask, predictor_logits=None):
        config = self.config
        if labels.shape != hidden.shape[:2]:
            raise ValueError(f"`labels` must be [batch, positions] = {tuple(hidden.shape[:2])}, got {tuple(labels.shape)}")
        vocab_size = self.lm_head.out_features
        if bool(((labels != -100) & ((labels < 0) | (labels >= vocab_size))).any()):
            raise ValueError(f"`labels` must hold text ids in [0, {vocab_size}) or -100 (ignored)")
        if attention_mask is not None:
            labels = labels.masked_fill(attention_mask[:, -labels.shape[1] :] == 0, -100)
        targets = labels[:, 1:]
        predictors = hidden[:, :-1]

        # Text head: weighted mean CE, `<|empty|>` targets (trivial inside audio spans) weigh less.
        text_logits = (self.lm_head(predictors) if predictor_logits is None else predictor_logits).float()
        valid = targets != -100
        per_token = F.cross_entropy(
            text_logits.flatten(0, 1), targets.clamp(min=0).flatten(), reduction="none"
        ).view_as(targets)
        is_empty = targets == config.empty_token_id
        weights = valid.float() * torch.where(is_empty, config.empty_token_loss_weight, 1.0)
        text_weight_sum = weights.sum()
        text_loss = (per_token * weights).sum() / text_weight_sum.clamp(min=1e-8)

        # Patch decoder: every patch whose text label is `<|empty|>`, conditioned on the state one position earlier.
        is_target = is_empty & valid
        num_codebooks = config.num_codebooks
        if audio_codes is None:
            if bool(is_target.any()):
                raise ValueError("`labels` contain `<|empty|>` targets but `audio_codes` is None")
            target_patches = labels.new_zeros(0, config.patch_size, num_codebooks)
        else:
            target_patches = audio_codes[:, 1:][is_target]
        # With every audio weight at 0 (stage 1) the patch decoder is unused: skip its forward and backward.
        audio_trained = any(weight != 0 for weight in config.audio_loss_weights)
        if target_patches.shape[0] > 0 and audio_trained:
            audio_logits = self.patch_decoder_logits(predictors[is_target], target_patches)
        else:
            target_patches = target_patches[:0]
            audio_logits = tuple(
                hidden.new_zeros(0, config.patch_size, size) for size in config.speech_vocab_sizes
            )
        channel_losses = []
        has_audio = []
        for channel, logits in enumerate(audio_logits):
            codes = target_patches[..., channel]
            codes = codes.masked_fill(codes == config.speech_empty_ids[channel], -100)
            count = (codes != -100).sum()
            channel_loss = F.cross_entropy(
                logits.float().flatten(0, 1), codes.flatten(), ignore_index=-100, reduction="sum"
            ) / count.clamp(min=1)
            channel_losses.append(channel_loss)
            has_audio.append(count > 0)
        audio_loss = torch.stack(channel_losses)

        # Streams without targets (e.g. no audio in the batch) leave the denominator, as in the public training code.
        stream_losses = torch.cat([text_loss.unsqueeze(0), audio_loss])
        stream_weights = torch.tensor([config.text_loss_weight, *config.audio_loss_weights], device=hidden.device)
        present = torch.stack([text_weight_sum > 0, *has_audio]).float()
        loss = (stream_losses * stream_weights * present).sum() / (stream_weights * present).sum().clamp(min=1e-8)
        return loss, text_loss, audio_loss, audio_logits


# Upstream's class name, as written in upstream checkpoints' `architectures`: code that resolves a config's
# architecture by name (`getattr(modeling_mimo_audio, config.architectures[0])`) gets our class.
MiMoAudioForCausalLM = MiMoAudioForConditionalGeneration
