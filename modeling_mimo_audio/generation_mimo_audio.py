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
from transformers.generation import LogitsProcessorList, StoppingCriteriaList
from transformers.modeling_outputs import ModelOutput
from transformers.utils import logging

from .patch_decoding_mimo_audio import CodeSampler, PatchDecodingPlan, build_patch_decoding_plan, decode_patch, plan_key
from .streaming_layout import StreamingLayoutLogitsProcessor


logger = logging.get_logger(__name__)

__all__ = [
    "MiMoAudioGenerationMixin",
    "MiMoAudioGenerateOutput",
    "AUDIO_SAMPLING_DEFAULTS",
    "HONOURED_GENERATION_FIELDS",
    "check_generation_fields",
    "use_static_caches",
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


# Position counts: an int or unset (transformers' own validation compares them with ints and fails obscurely).
_LENGTH_FIELDS = ("max_length", "max_new_tokens", "min_length", "min_new_tokens")


def check_generation_fields(values):
    """
    Raises a `ValueError` naming the first `GenerationConfig` field in `values` (a `{field: value}` dict) that
    MiMo-Audio generation cannot honour: a field outside `HONOURED_GENERATION_FIELDS` with a value other than unset,
    transformers' default or False, or a `cache_implementation` other than dynamic/static; a `TypeError` for a
    length field that is not an int. Names that are not `GenerationConfig` fields are left to the caller.
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
    for name in _LENGTH_FIELDS:
        value = values.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"`{name}` must be an int (a number of positions), got {type(value).__name__} {value!r}")
    if values.get("cache_implementation") not in _CACHE_IMPLEMENTATIONS:
        raise ValueError(
            f"MiMo-Audio generation does not support `cache_implementation={values['cache_implementation']!r}`; "
            f"use one of {list(_CACHE_IMPLEMENTATIONS)}"
        )


def use_static_caches(generation_config, device: torch.device, total_positions: int, max_positions: int) -> bool:
    """
    Whether `generate` takes the static-cache path (static backbone cache, the patch decoder on every row, and on
    CUDA `torch.compile` with CUDA graphs): when `cache_implementation="static"` is asked for; and, left unset, by
    default on CUDA (the fast path) as long as the prompt plus `max_new_tokens` fit the context and compilation is
    not switched off (`disable_compile=True`). `cache_implementation="dynamic"` always takes the eager loop. On CPU
    eager is the default and compilation opt-in (`cache_implementation="static"` with a `compile_config`).
    """
    if generation_config.cache_implementation is not None:
        return generation_config.cache_implementation == "static"
    if getattr(generation_config, "disable_compile", False):
        return False
    return torch.device(device).type == "cuda" and total_positions <= max_positions


def _outside_inference_mode(value):
    """A copy of `value` (a tensor, or a tuple of them) usable outside inference mode, e.g. as training inputs."""
    if isinstance(value, tuple):
        return tuple(_outside_inference_mode(item) for item in value)
    return value.clone() if isinstance(value, torch.Tensor) else value


def check_text_decoding_values(gc, vocab_size: int) -> None:
    """
    Refuses text-head decoding values that transformers' builders accept but ignore or misread: a `top_p` outside
    (0, 1] (1 and above silently mean "off", 0 keeps only the top token), `min_p` / `typical_p` outside their ranges,
    and `eos_token_id`s that are negative or all outside the text vocabulary (the stop could never fire).
    """
    if gc.do_sample:
        for name, low_open in (("top_p", True), ("typical_p", True), ("min_p", False)):
            value = getattr(gc, name, None)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                (0 < value <= 1) if low_open else (0 <= value <= 1)
            ):
                bounds = "(0, 1]" if low_open else "[0, 1]"
                raise ValueError(f"`{name}` must be a number in {bounds} when sampling, got {value!r}")
    eos = gc._eos_token_tensor
    # An id past the vocabulary next to reachable ones is harmless (a shared generation config may list more), but
    # a negative id, or a list with no reachable id, is a mistake.
    if eos is not None and eos.numel() and (bool((eos < 0).any()) or not bool((eos < vocab_size).any())):
        raise ValueError(f"`eos_token_id` must hold text ids in [0, {vocab_size}), got {eos.tolist()}")


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


class MiMoAudioGenerationMixin(GenerationMixin):
    """`generate` and `generate_patch` for [`MiMoAudioForConditionalGeneration`]."""

    def patch_decoding_plan(
        self, audio_do_sample: bool = False, audio_temperature: float = 1.0, audio_top_k: int | None = None,
        audio_top_p: float | None = None,
    ) -> PatchDecodingPlan:
        """
        The `PatchDecodingPlan` of this model's current weights and the given patch-decoder sampler, cached on the
        model and rebuilt when a weight it copies changes (identity, version, device or dtype).
        """
        sampler = CodeSampler(bool(audio_do_sample), audio_temperature, audio_top_k, audio_top_p)
        cached = getattr(self, "_mimo_patch_plan", None)
        if cached is None or cached.key != plan_key(self, sampler):
            cached = build_patch_decoding_plan(self, sampler)
            self._mimo_patch_plan = cached
        return cached

    @torch.no_grad()
    def generate_patch(
        self,
        hidden: torch.Tensor,
        audio_do_sample: bool = False,
        audio_temperature: float = 1.0,
        audio_top_k: int | None = None,
        audio_top_p: float | None = None,
    ) -> torch.LongTensor:
        """
        Samples one patch per row from backbone hidden states `hidden` [n, hidden_size] (the state one position
        before the patch) -> codes [n, patch_size, num_codebooks], never an empty id: greedy unless
        `audio_do_sample` (then temperature -> top-k -> top-p -> multinomial). See `patch_decoding_mimo_audio`.
        """
        plan = self.patch_decoding_plan(audio_do_sample, audio_temperature, audio_top_k, audio_top_p)
        return decode_patch(self, plan, hidden)

    def _streaming_layout_processor(self, transcripts=None) -> StreamingLayoutLogitsProcessor:
        ids = {name: getattr(self.config, f"{name}_token_id") for name in ("empty", "sostm", "eostm", "eot")}
        missing = [f"{name}_token_id" for name, value in ids.items() if value is None]
        if missing:
            raise ValueError(f"`streaming_layout=True` needs the config's {missing} (the streaming segment's ids)")
        return StreamingLayoutLogitsProcessor(ids["empty"], ids["sostm"], ids["eostm"], ids["eot"],
                                              transcripts=transcripts)

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
                f"{sorted(AUDIO_SAMPLING_DEFAULTS)}, streaming_layout, streaming_transcripts, logits_processor, "
                f"stopping_criteria, tokenizer and streamer"
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
                on CUDA unless `disable_compile`). Left unset, CUDA takes that fast path by default (static caches,
                `torch.compile(mode="reduce-overhead")`, i.e. CUDA graphs), see `use_static_caches`;
                `cache_implementation="dynamic"` or `disable_compile=True` turn it off. CPU stays eager unless asked.
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
                `streaming_layout` (`bool`, defaults to the generation config's, else False; the speech-output presets
                set it): keep every generated streaming segment in MiMo-Audio's layout (full 5-token text chunks and
                5-patch audio chunks in turn, only audio after `<|eot|>`; see `streaming_layout.py`). Off reproduces
                upstream, which leaves the layout to the model.
                `streaming_transcripts` (`list`, *optional*, needs `streaming_layout`): per row, `None` or the text
                ids (no special tokens) that its speech turn's text chunks must spell out, then `<|eot|>`; the
                `"mimo-audio"` pipeline passes each TTS request's text (its `force_transcript` option).

        Returns:
            [`MiMoAudioGenerateOutput`] with `sequences` `(batch, positions + new)` and `audio_codes`
            `(batch, positions + new, patch_size, num_codebooks)` whatever `return_dict_in_generate` (the audio is
            part of the result); with `return_dict_in_generate=True`, also `scores` (`output_scores`) and `logits`
            (`output_logits`), one `(batch, vocab_size)` tensor per step, as transformers returns them.
        """
        # Decoding runs under inference mode (no autograd bookkeeping, as upstream's generate); the result is copied
        # out of it, so that it can feed a training step (TRL's online methods, for example).
        with torch.inference_mode():
            output = self._generate(input_ids, audio_codes, attention_mask, generation_config, logits_processor,
                                    stopping_criteria, streamer, tokenizer, generation_mode, **kwargs)
        return MiMoAudioGenerateOutput(**{name: _outside_inference_mode(value) for name, value in output.items()})

    def _generate(self, input_ids, audio_codes, attention_mask, generation_config, logits_processor,
                  stopping_criteria, streamer, tokenizer, generation_mode, **kwargs) -> MiMoAudioGenerateOutput:
        """The body of `generate` (see there), run under `torch.inference_mode()`."""
        config = self.config
        if generation_mode not in (None, *self.output_modalities):
            raise ValueError(
                f"`generation_mode` must be one of {self.output_modalities} or None, got {generation_mode!r}"
            )
        streaming_layout = kwargs.pop("streaming_layout", None)
        streaming_transcripts = kwargs.pop("streaming_transcripts", None)
        gc, audio_sampling = self._prepare_mimo_generation_config(generation_config, kwargs)
        if streaming_layout is None:
            streaming_layout = getattr(gc, "streaming_layout", None) or False
        if not isinstance(streaming_layout, bool):
            raise TypeError(f"`streaming_layout` must be a bool, got {streaming_layout!r}")
        if streaming_transcripts is not None and not streaming_layout:
            raise ValueError("`streaming_transcripts` needs `streaming_layout=True` (it constrains the layout's text "
                             "chunks)")
        self._check_inputs(input_ids, None)
        batch, prompt_length = input_ids.shape
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
        check_text_decoding_values(gc, vocab_size)
        if streaming_layout:
            if streaming_transcripts is not None and len(streaming_transcripts) != batch:
                raise ValueError(f"`streaming_transcripts` needs one entry per row ({batch}), got "
                                 f"{len(streaming_transcripts)}")
            layout = self._streaming_layout_processor(streaming_transcripts)
            logits_processor = LogitsProcessorList([*(logits_processor or []), layout])
        processors = self.build_text_logits_processor(gc, prompt_length, attention_mask, logits_processor)
        stopping = self._get_stopping_criteria(
            gc, stopping_criteria if stopping_criteria is not None else StoppingCriteriaList(), tokenizer=tokenizer
        )

        static = use_static_caches(gc, device, prompt_length + max_new_tokens, config.max_position_embeddings)
        if static and prompt_length + max_new_tokens > config.max_position_embeddings:
            # A static cache is allocated for every position up front: refuse before allocating it.
            raise ValueError(
                f"`max_new_tokens`={max_new_tokens} with a prompt of {prompt_length} positions exceeds the model's "
                f"context (`max_position_embeddings`={config.max_position_embeddings}), which "
                f"`cache_implementation='static'` allocates up front"
            )
        if static:
            cache = StaticCache(config=config, max_cache_len=prompt_length + max_new_tokens)
        else:
            cache = DynamicCache(config=config)
        plan = self.patch_decoding_plan(**audio_sampling)
        step_forward, patch_decoder = self._compiled_forwards(gc, device) if static else (self, decode_patch)

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
        elif not has_attention_mask or bool(attention_mask.all()):
            # Nothing is padded: the causal mask is implied, and transformers' mask builder would check the mask's
            # values on every step (a host sync on accelerators).
            attention_mask = None
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

            sequences[:, length] = next_ids
            length += 1
            # The criteria see text ids and scores only, so they run before the patch; then one host read per
            # position says whether any row needs a patch and whether any row goes on.
            needs_patch = unfinished & (next_ids == config.empty_token_id)
            unfinished &= ~stopping(sequences[:, :length], scores).to(device)
            any_patch, any_unfinished = torch.stack([needs_patch.any(), unfinished.any()]).tolist()
            if any_patch:
                if static or device.type != "cpu":
                    # Every row: selecting rows would be a host sync on accelerators and would change the shapes a
                    # compiled graph sees. Canonical strides: the prefill's last state is a strided view, and a
                    # compiled graph guards on strides, even of a size-1 batch dimension (which `.contiguous()`
                    # leaves as it is, so batch 1 compiled the patch decoder twice).
                    decoded = patch_decoder(self, plan, hidden.clone(memory_format=torch.contiguous_format))
                    all_codes[:, length - 1] = torch.where(needs_patch.view(-1, 1, 1), decoded, empty_patch)
                else:
                    rows = needs_patch.nonzero().squeeze(-1)
                    all_codes[rows, length - 1] = decode_patch(self, plan, hidden[rows])
            # `all_codes` starts as empty patches, so a position without a patch needs no write.
            step_ids, step_codes = next_ids.unsqueeze(-1), all_codes[:, length - 1 : length]
            if streamer is not None:
                streamer.put(next_ids.cpu())
                if hasattr(streamer, "put_audio_codes"):
                    streamer.put_audio_codes(step_codes[:, 0].cpu())
            if not any_unfinished:
                break
            if static:
                attention_mask = attention_mask.clone()
                attention_mask[:, prompt_length + step] = 1
            elif attention_mask is not None:
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
        `(backbone step, patch decoder)` callables for the static-cache path: `self` and `decode_patch`, each
        compiled with `torch.compile` on CUDA (or anywhere when `generation_config.compile_config` is set), unless
        `disable_compile`. The patch decoder is one graph per patch (`decode_patch` has static shapes and no host
        synchronisation).
        """
        compile_config = getattr(generation_config, "compile_config", None)
        wanted = device.type == "cuda" or compile_config is not None
        if not wanted or getattr(generation_config, "disable_compile", False):
            return self, decode_patch
        options = {"fullgraph": False, "dynamic": False, "backend": "inductor",
                   "mode": "reduce-overhead" if device.type == "cuda" else None}
        if compile_config is not None:
            options.update(fullgraph=compile_config.fullgraph, dynamic=compile_config.dynamic,
                           backend=compile_config.backend, mode=compile_config.mode)
        key = tuple(sorted(options.items()))
        if getattr(self, "_mimo_compiled", (None,))[0] != key:
            self._mimo_compiled = (key, torch.compile(self.__call__, **options), torch.compile(decode_patch, **options))
        return self._mimo_compiled[1], self._mimo_compiled[2]
