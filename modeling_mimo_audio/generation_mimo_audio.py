"""Generation for MiMo-Audio: one backbone position per step, a patch-decoder loop where the text is `<|empty|>`.

Per step, the text head picks the next text token. Its logits processors and stopping criteria are the ones
transformers builds from a `GenerationConfig` (`GenerationMixin._get_logits_processor` / `_get_stopping_criteria`,
after transformers' own defaults and special-token preparation), so every text-head field means what it means in
transformers; they see the text ids `[batch, positions_so_far]`. `GenerationConfig` fields the loop cannot honour
(beams, assisted decoding, guidance, ...) raise a `ValueError` naming the field instead of being ignored. Where the
token is `<|empty|>` the patch decoder generates the position's `patch_size x num_codebooks` patch in
`patch_size + max(delay)` steps (codebook c emits frame `t - delay[c]` at step t; the next step's input is the sum of
the embeddings just emitted); elsewhere the patch is the per-codebook empty ids. The loop itself is written on public
pieces (LogitsProcessorList, StoppingCriteriaList, DynamicCache/StaticCache) rather than on GenerationMixin's
private `_sample`.

Differences from upstream, on purpose: any batch size with left padding (upstream read the modality decision
of row 0 for every row), rows stop independently, and the empty id is removed *before* top-k/top-p filtering
(upstream removed it after, which could leave nothing to sample; greedy results are identical).
"""

import copy
from dataclasses import dataclass

import torch
from transformers import GenerationConfig, GenerationMixin
from transformers.cache_utils import DynamicCache, StaticCache
from transformers.generation import (
    LogitsProcessorList,
    StoppingCriteriaList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.modeling_outputs import ModelOutput
from transformers.utils import logging

from .layout_mimo_audio import delay_step_schedule


logger = logging.get_logger(__name__)

__all__ = [
    "MiMoAudioGenerationMixin",
    "MiMoAudioGenerateOutput",
    "AUDIO_SAMPLING_DEFAULTS",
    "HONOURED_GENERATION_FIELDS",
    "check_generation_fields",
    "sample_codebook",
]

# Upstream's default patch-decoder sampler (T 0.9, top-k 50, top-p 0.95); `audio_do_sample=None` follows `do_sample`.
AUDIO_SAMPLING_DEFAULTS = {"audio_do_sample": None, "audio_temperature": 0.9, "audio_top_k": 50, "audio_top_p": 0.95}

# `GenerationConfig` fields that `generate` honours: lengths and stopping, special tokens, every text-head processor
# and warper of transformers' builder, the outputs, caches and compilation. Every other field of `GenerationConfig`
# must keep a neutral value (unset, transformers' default, or False); anything else raises naming the field.
HONOURED_GENERATION_FIELDS = frozenset({
    "max_length", "max_new_tokens", "min_length", "min_new_tokens", "max_time", "stop_strings",
    "eos_token_id", "pad_token_id", "bos_token_id",
    "do_sample", "temperature", "top_k", "top_p", "min_p", "top_h", "typical_p", "epsilon_cutoff", "eta_cutoff",
    "repetition_penalty", "no_repeat_ngram_size", "bad_words_ids", "sequence_bias", "suppress_tokens",
    "begin_suppress_tokens", "forced_bos_token_id", "forced_eos_token_id", "exponential_decay_length_penalty",
    "remove_invalid_values", "renormalize_logits", "watermarking_config",
    "return_dict_in_generate", "output_scores", "output_logits",
    "cache_implementation", "compile_config", "disable_compile",
})
# Bookkeeping entries of a saved `GenerationConfig`, not decoding settings.
_METADATA_FIELDS = frozenset({"transformers_version", "_from_model_config"})
_CACHE_IMPLEMENTATIONS = (None, "dynamic", "static")
# The fields `check_generation_fields` rejects when set: all of the installed `GenerationConfig`'s but the above.
_REJECTED_FIELDS = frozenset(vars(GenerationConfig())) - HONOURED_GENERATION_FIELDS - _METADATA_FIELDS
# No-op values of rejected fields that transformers' defaults do not name.
_EXTRA_NEUTRAL_VALUES = {"guidance_scale": 1.0}


def check_generation_fields(values):
    """
    Raises a `ValueError` naming the first `GenerationConfig` field in `values` (a `{field: value}` dict) that
    MiMo-Audio generation cannot honour: a field outside `HONOURED_GENERATION_FIELDS` with a value other than unset,
    transformers' default or False, or a `cache_implementation` other than dynamic/static. Names that are not
    `GenerationConfig` fields are left to the caller.
    """
    neutral = {**GenerationConfig._get_default_generation_params(), **_EXTRA_NEUTRAL_VALUES}
    for name, value in values.items():
        if name not in _REJECTED_FIELDS or value is None:
            continue
        if (value == neutral[name]) if name in neutral else (value is False):
            continue
        raise ValueError(
            f"MiMo-Audio generation does not support `{name}={value!r}`: it decodes one text token per position "
            f"(greedy or sampled) with a KV cache; leave `{name}` unset"
        )
    if values.get("cache_implementation") not in _CACHE_IMPLEMENTATIONS:
        raise ValueError(
            f"MiMo-Audio generation does not support `cache_implementation={values['cache_implementation']!r}`; "
            f"use one of {list(_CACHE_IMPLEMENTATIONS)}"
        )


@dataclass
class MiMoAudioGenerateOutput(ModelOutput):
    """
    Output of [`MiMoAudioForConditionalGeneration.generate`].

    Args:
        sequences (`torch.LongTensor` of shape `(batch, positions + new)`):
            Prompt and generated text ids; `<|empty|>` where a patch was generated; `pad_token_id` after a row
            stopped.
        audio_codes (`torch.LongTensor` of shape `(batch, positions + new, patch_size, num_codebooks)`):
            Prompt and generated patches; per-codebook empty ids at text positions.
        scores (`tuple` of `torch.FloatTensor` `(batch, vocab_size)`, *optional*):
            Processed text scores of each step, with `return_dict_in_generate=True` and `output_scores=True`.
        logits (`tuple` of `torch.FloatTensor` `(batch, vocab_size)`, *optional*):
            Raw text-head logits of each step, with `return_dict_in_generate=True` and `output_logits=True`.
    """

    sequences: torch.LongTensor | None = None
    audio_codes: torch.LongTensor | None = None
    scores: tuple[torch.FloatTensor, ...] | None = None
    logits: tuple[torch.FloatTensor, ...] | None = None


def sample_codebook(logits, empty_id, do_sample=False, temperature=1.0, top_k=None, top_p=None):
    """
    Picks one code per row from `logits` [n, vocab_c]: never `empty_id`; argmax unless `do_sample`, otherwise
    temperature -> top-k -> top-p (Hugging Face semantics) -> multinomial.
    """
    scores = logits.float().clone()
    scores[:, empty_id] = -float("inf")
    if not do_sample:
        return scores.argmax(dim=-1)
    warpers = []
    if temperature is not None and temperature != 1.0:
        if temperature <= 0:
            raise ValueError(f"`audio_temperature` must be > 0 when sampling, got {temperature}")
        warpers.append(TemperatureLogitsWarper(temperature))
    if top_k is not None and top_k > 0:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p is not None and top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))
    # Called directly: `LogitsProcessorList.__call__` inspects every processor's signature on each call, which
    # costs more than the warping itself here (32 calls per patch).
    for warper in warpers:
        scores = warper(None, scores)
    return torch.multinomial(scores.softmax(dim=-1), num_samples=1).squeeze(-1)


class MiMoAudioGenerationMixin(GenerationMixin):
    """`generate` and `generate_patch` for [`MiMoAudioForConditionalGeneration`]."""

    @torch.no_grad()
    def generate_patch(
        self,
        hidden: torch.Tensor,
        audio_do_sample: bool = False,
        audio_temperature: float = 1.0,
        audio_top_k: int | None = None,
        audio_top_p: float | None = None,
        cache=None,
        forward=None,
    ) -> torch.LongTensor:
        """
        Samples one patch per row from backbone hidden states `hidden` [n, hidden_size] (the state one position
        before the patch) -> codes [n, patch_size, num_codebooks]. `cache` may be a reusable patch-decoder cache
        (e.g. a `StaticCache` of `num_patch_decoder_steps` positions); it is reset here. `forward` replaces
        `self.local_transformer` (e.g. by its compiled version).
        """
        forward = forward or self.local_transformer
        config = self.config
        n = hidden.shape[0]
        if cache is None:
            cache = DynamicCache(config=self.local_transformer.config)
        else:
            cache.reset()
        empty = torch.tensor(config.speech_empty_ids, device=hidden.device)
        codes = empty.view(1, 1, -1).repeat(n, config.patch_size, 1)
        step_input = self.patch_decoder_inputs(hidden)
        schedule = delay_step_schedule(config.delay_pattern, config.patch_size)
        # One query per step, and a dynamic cache holds only past keys: no mask to build. A static cache holds
        # unwritten slots too, so the model builds its usual mask there.
        no_mask = {"full_attention": None} if isinstance(cache, DynamicCache) else None
        for step, emitted in enumerate(schedule):
            position_ids = torch.full((n, 1), step, device=hidden.device, dtype=torch.long)
            state = forward(
                inputs_embeds=step_input,
                attention_mask=no_mask,
                past_key_values=cache,
                use_cache=True,
                position_ids=position_ids,
            ).last_hidden_state[:, -1]
            emitted_sum = torch.zeros_like(self.speech_embeddings[0].weight[0]).expand(n, -1)  # a step may emit nothing
            for channel, frame in emitted:
                code = sample_codebook(
                    self.local_transformer_lm_heads[channel](state),
                    config.speech_empty_ids[channel],
                    audio_do_sample,
                    audio_temperature,
                    audio_top_k,
                    audio_top_p,
                )
                codes[:, frame, channel] = code
                # Sampled codes are never empty ids, so no masking: the next input is their embedding sum.
                emitted_sum = emitted_sum + self.speech_embeddings[channel](code)
            if step + 1 < len(schedule):
                if self.speech_embeddings_to_local is not None:
                    emitted_sum = self.speech_embeddings_to_local(emitted_sum)
                step_input = emitted_sum.unsqueeze(1).to(step_input.dtype)
        return codes

    def _prepare_mimo_generation_config(self, generation_config, kwargs):
        """
        `(generation_config, audio_sampling)`: a copy of `generation_config` (or of the model's) with the `kwargs`
        GenerationConfig fields on top, every field checked by `check_generation_fields`, and the patch-decoder
        settings. `audio_do_sample` follows `do_sample` unless the caller sets it (in `kwargs` or in the
        `generation_config` passed); the model's own stored value counts only while the caller leaves `do_sample`.
        """
        gc = copy.deepcopy(generation_config if generation_config is not None else self.generation_config)
        explicit = {name: kwargs.pop(name) for name in AUDIO_SAMPLING_DEFAULTS if name in kwargs}
        if generation_config is None and "do_sample" in kwargs:
            explicit.setdefault("audio_do_sample", None)
        audio = {}
        for name, default in AUDIO_SAMPLING_DEFAULTS.items():
            value = explicit[name] if name in explicit else getattr(gc, name, None)
            audio[name] = default if value is None else value
        check_generation_fields({**vars(gc), **kwargs})  # before `update` validates them in its own words
        unused = gc.update(**kwargs)
        if unused:
            raise ValueError(
                f"`generate` got unknown arguments {sorted(unused)}; it accepts GenerationConfig fields, "
                f"{sorted(AUDIO_SAMPLING_DEFAULTS)}, logits_processor, stopping_criteria, tokenizer and streamer"
            )
        if audio["audio_do_sample"] is None:
            audio["audio_do_sample"] = bool(gc.do_sample)
        return gc, audio

    def _complete_generation_config(self, generation_config, device, batch_size=None, has_attention_mask=None):
        """In place: transformers' defaults for the fields still unset, and the special-token tensors
        (`_eos_token_tensor`, `_pad_token_tensor`, ...) that transformers' processor and criteria builders read."""
        generation_config.update(**GenerationConfig._get_default_generation_params(), defaults_only=True)
        self._prepare_special_tokens(generation_config, has_attention_mask, device=device, batch_size=batch_size)

    def build_text_logits_processor(
        self,
        generation_config: GenerationConfig,
        prompt_length: int,
        attention_mask: torch.Tensor | None = None,
        logits_processor: LogitsProcessorList | None = None,
    ) -> LogitsProcessorList:
        """
        The text head's processors for `generation_config`, built by transformers (`_get_logits_processor`): its
        processors (sequence bias, repetition penalty on the non-padded prompt of `attention_mask` `[batch,
        positions]`, n-gram blocking, bad words, min lengths, forced bos/eos, invalid values, length decay, token
        suppression), then `logits_processor`, then the sampling warpers when `do_sample`, watermarking and
        renormalisation. `prompt_length` is the prompt's positions. `generation_config` is not modified.
        """
        gc = copy.deepcopy(generation_config)
        if gc.max_length is None and gc.max_new_tokens is not None:
            gc.max_length = prompt_length + gc.max_new_tokens  # `forced_eos_token_id` counts the prompt too
        self._complete_generation_config(gc, self.device)
        return self._get_logits_processor(
            generation_config=gc,
            input_ids_seq_length=prompt_length,
            logits_processor=logits_processor if logits_processor is not None else LogitsProcessorList(),
            device=self.device,
            model_kwargs={"attention_mask": attention_mask} if attention_mask is not None else None,
        )

    @torch.no_grad()
    def generate(
        self,
        input_ids: torch.LongTensor,
        audio_codes: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        generation_config: GenerationConfig | None = None,
        logits_processor: LogitsProcessorList | None = None,
        stopping_criteria: StoppingCriteriaList | None = None,
        streamer=None,
        tokenizer=None,
        generation_mode: str | None = None,
        **kwargs,
    ) -> MiMoAudioGenerateOutput:
        r"""
        Generates positions after a (left-padded) batch of prompts.

        Args:
            input_ids (`torch.LongTensor` of shape `(batch, positions)`): prompt text ids (`<|empty|>` at patches).
            audio_codes (`torch.LongTensor` of shape `(batch, positions, patch_size, num_codebooks)`, *optional*):
                prompt patches (empty ids at text positions); all-empty when omitted.
            attention_mask (`torch.Tensor` of shape `(batch, positions)`, *optional*): 0 on left padding.
            generation_config (`GenerationConfig`, *optional*): replaces the model's; fields unset in both take
                transformers' defaults. `max_new_tokens` (or `max_length`, prompt included) counts positions;
                the text head honours the fields of `HONOURED_GENERATION_FIELDS` as transformers does (stopping:
                `eos_token_id`, `max_time`, `stop_strings` with `tokenizer`; processors and warpers: `do_sample`,
                `temperature`, `top_k`, `top_p`, `min_p`, `top_h`, `typical_p`, `epsilon_cutoff`, `eta_cutoff`,
                `repetition_penalty`, `no_repeat_ngram_size`, `bad_words_ids`, `sequence_bias`, `min_length`,
                `min_new_tokens`, `suppress_tokens`, `begin_suppress_tokens`, `forced_bos_token_id`,
                `forced_eos_token_id`, `exponential_decay_length_penalty`, `remove_invalid_values`,
                `renormalize_logits`, `watermarking_config`); any other field set to a non-default value raises
                a `ValueError` naming it. `cache_implementation="static"` uses static caches (and `torch.compile`
                on CUDA unless `disable_compile`).
            logits_processor (`LogitsProcessorList`, *optional*): extra text processors; they receive the text ids
                so far `[batch, positions_so_far]`, and run before the sampling warpers (one of the same type as a
                built-in processor replaces it, as in transformers).
            stopping_criteria (`StoppingCriteriaList`, *optional*): called with the text ids so far and the step's
                processed scores.
            streamer (*optional*): `streamer.put(text_ids [batch])` once per new position (after
                `put(prompt_ids)`), `streamer.put_audio_codes(patches [batch, patch_size, num_codebooks])` too when
                the streamer defines it, and `streamer.end()`.
            tokenizer (*optional*): the text tokenizer, needed by `stop_strings` only.
            generation_mode (`str`, *optional*): `"text"` or `"audio"`, the output modality transformers'
                `any-to-any` pipeline asks for. The prompt decides what is generated (a spoken-reply prompt, e.g.
                `apply_chat_template(..., speech_output=True)`, makes speech), so this only checks the value; the
                processor's `post_process_multimodal_output` turns the result into text or waveforms.
            kwargs: `GenerationConfig` fields, plus `audio_do_sample` (follows `do_sample` unless set),
                `audio_temperature` (0.9), `audio_top_k` (50), `audio_top_p` (0.95) for the patch decoder.

        Returns:
            [`MiMoAudioGenerateOutput`] with `sequences` `(batch, positions + new)` and `audio_codes`
            `(batch, positions + new, patch_size, num_codebooks)` whatever `return_dict_in_generate` (the audio is
            part of the result); with `return_dict_in_generate=True`, also `scores` (`output_scores`) and `logits`
            (`output_logits`), one `(batch, vocab_size)` tensor per step, as transformers returns them.
        """
        config = self.config
        if generation_mode not in (None, *self.output_modalities):
            raise ValueError(
                f"`generation_mode` must be one of {self.output_modalities} or None, got {generation_mode!r}"
            )
        gc, audio_sampling = self._prepare_mimo_generation_config(generation_config, kwargs)
        self._check_inputs(input_ids, None)
        batch, prompt_length = input_ids.shape
        if prompt_length == 0:
            raise ValueError("`input_ids` must hold at least one prompt position, got shape (batch, 0)")
        device = input_ids.device
        empty_ids = torch.tensor(config.speech_empty_ids, device=device)
        empty_patch = empty_ids.view(1, 1, -1).expand(batch, config.patch_size, -1)
        if audio_codes is None:
            audio_codes = empty_patch.unsqueeze(1).expand(-1, prompt_length, -1, -1).contiguous()
        self._check_inputs(input_ids, audio_codes)
        has_attention_mask = attention_mask is not None
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        else:
            self._check_attention_mask(attention_mask, batch, prompt_length, exact=True)
        if batch > 1 and bool((attention_mask[:, -1] == 0).any()):
            logger.warning("A prompt ends with padding: MiMo-Audio generation expects left padding.")

        if gc.max_new_tokens is not None:
            max_new_tokens = gc.max_new_tokens
        elif gc.max_length is not None:
            max_new_tokens = gc.max_length - prompt_length
        else:
            max_new_tokens = 20
        if max_new_tokens <= 0:
            raise ValueError(f"nothing to generate: max_new_tokens={max_new_tokens} (prompt has {prompt_length})")
        if gc.stop_strings is not None and tokenizer is None:
            raise ValueError("`stop_strings` needs the text tokenizer: pass `tokenizer=` to `generate`")
        # As transformers' `generate`: the processors and criteria count `max_length` with the prompt.
        gc.max_length = prompt_length + max_new_tokens
        self._complete_generation_config(gc, device, batch_size=batch, has_attention_mask=has_attention_mask)
        pad_token_id = gc._pad_token_tensor if gc._pad_token_tensor is not None else 0
        vocab_size = self.lm_head.out_features
        if not 0 <= int(pad_token_id) < vocab_size:  # written into finished rows, then embedded
            raise ValueError(f"`pad_token_id` must be a text id in [0, {vocab_size}), got {int(pad_token_id)}")
        processors = self.build_text_logits_processor(gc, prompt_length, attention_mask, logits_processor)
        stopping = self._get_stopping_criteria(
            gc, stopping_criteria if stopping_criteria is not None else StoppingCriteriaList(), tokenizer=tokenizer
        )

        static = gc.cache_implementation == "static"
        if static and prompt_length + max_new_tokens > config.max_position_embeddings:
            # A static cache is allocated for every position up front: refuse before allocating it.
            raise ValueError(
                f"`max_new_tokens`={max_new_tokens} with a prompt of {prompt_length} positions exceeds the model's "
                f"context (`max_position_embeddings`={config.max_position_embeddings}), which "
                f"`cache_implementation='static'` allocates up front"
            )
        if static:
            cache = StaticCache(config=config, max_cache_len=prompt_length + max_new_tokens)
            decoder_config = self.local_transformer.config
            patch_cache = StaticCache(config=decoder_config, max_cache_len=config.num_patch_decoder_steps)
            # Allocated now rather than lazily inside the compiled patch-decoder step (one graph, static addresses).
            patch_cache.early_initialization(
                batch, decoder_config.num_key_value_heads, decoder_config.head_dim, self.dtype, device
            )
        else:
            cache, patch_cache = DynamicCache(config=config), None
        step_forward, patch_forward = self._compiled_forwards(gc, device) if static else (self, None)

        # Written in place, one column per step (no re-concatenation); processors and criteria see the filled part.
        total = prompt_length + max_new_tokens
        sequences = input_ids.new_zeros((batch, total))
        sequences[:, :prompt_length] = input_ids
        all_codes = empty_patch.unsqueeze(1).expand(-1, total, -1, -1).clone()
        all_codes[:, :prompt_length] = audio_codes
        length = prompt_length
        step_ids, step_codes = input_ids, audio_codes
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        if static:
            # Full-length mask (0 = not generated yet) so that the compiled step always sees the same shapes.
            attention_mask = torch.cat([attention_mask, attention_mask.new_zeros(batch, max_new_tokens)], dim=-1)
        unfinished = torch.ones(batch, dtype=torch.bool, device=device)
        scores_out = () if gc.return_dict_in_generate and gc.output_scores else None
        logits_out = () if gc.return_dict_in_generate and gc.output_logits else None
        if streamer is not None:
            streamer.put(input_ids.cpu())

        for step in range(max_new_tokens):
            forward = self if step == 0 else step_forward  # the prefill has a different shape: never compiled
            if forward is self:
                # The prompt was checked above and later inputs are our own: embed directly, skipping forward's
                # input checks (host syncs on GPU).
                step_inputs = {"inputs_embeds": self.embed_inputs(step_ids, step_codes)}
            else:
                step_inputs = {"input_ids": step_ids, "audio_codes": step_codes}
            outputs = forward(
                **step_inputs,
                attention_mask=attention_mask,
                position_ids=position_ids,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            hidden = outputs.last_hidden_state[:, -1]
            logits = outputs.logits[:, -1].to(dtype=torch.float32, copy=True)
            scores = processors(sequences[:, :length], logits)
            if gc.do_sample:
                next_ids = torch.multinomial(scores.softmax(dim=-1), num_samples=1).squeeze(-1)
            else:
                next_ids = scores.argmax(dim=-1)
            next_ids = torch.where(unfinished, next_ids, pad_token_id)
            if scores_out is not None:
                scores_out += (scores,)
            if logits_out is not None:
                logits_out += (logits,)

            needs_patch = unfinished & (next_ids == config.empty_token_id)
            patches = empty_patch.clone()
            if bool(needs_patch.any()):
                if static:  # fixed shapes for the static cache / compiled graphs: decode every row, keep some
                    decoded = self.generate_patch(hidden, cache=patch_cache, forward=patch_forward, **audio_sampling)
                    patches = torch.where(needs_patch.view(-1, 1, 1), decoded, patches)
                else:
                    rows = needs_patch.nonzero().squeeze(-1)
                    patches[rows] = self.generate_patch(hidden[rows], **audio_sampling)

            sequences[:, length] = next_ids
            all_codes[:, length] = patches
            length += 1
            if streamer is not None:
                streamer.put(next_ids.cpu())
                if hasattr(streamer, "put_audio_codes"):
                    streamer.put_audio_codes(patches.cpu())

            unfinished &= ~stopping(sequences[:, :length], scores).to(device)
            if not bool(unfinished.any()):
                break
            step_ids, step_codes = next_ids.unsqueeze(-1), patches.unsqueeze(1)
            if static:
                attention_mask = attention_mask.clone()
                attention_mask[:, prompt_length + step] = 1
            else:
                attention_mask = torch.cat([attention_mask, attention_mask.new_ones(batch, 1)], dim=-1)
            position_ids = position_ids[:, -1:] + 1

        if streamer is not None:
            streamer.end()
        return MiMoAudioGenerateOutput(
            sequences=sequences[:, :length].contiguous(), audio_codes=all_codes[:, :length].contiguous(),
            scores=scores_out, logits=logits_out
        )

    def _compiled_forwards(self, generation_config, device):
        """
        `(backbone step, patch-decoder step)` callables for the static-cache path: compiled with `torch.compile`
        on CUDA (or anywhere when `generation_config.compile_config` is set), unless `disable_compile`.
        """
        compile_config = getattr(generation_config, "compile_config", None)
        wanted = device.type == "cuda" or compile_config is not None
        if not wanted or getattr(generation_config, "disable_compile", False):
            return self, self.local_transformer
        options = {"fullgraph": False, "dynamic": False, "backend": "inductor",
                   "mode": "reduce-overhead" if device.type == "cuda" else None}
        if compile_config is not None:
            options.update(fullgraph=compile_config.fullgraph, dynamic=compile_config.dynamic,
                           backend=compile_config.backend, mode=compile_config.mode)
        key = tuple(sorted(options.items()))
        if getattr(self, "_mimo_compiled", (None,))[0] != key:
            self._mimo_compiled = (
                key,
                torch.compile(self.__call__, **options),
                torch.compile(self.local_transformer.__call__, **options),
            )
        return self._mimo_compiled[1], self._mimo_compiled[2]
