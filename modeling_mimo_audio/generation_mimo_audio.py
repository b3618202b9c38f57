"""Generation for MiMo-Audio: one backbone position per step, a patch-decoder loop where the text is `<|empty|>`.

Per step, the text head picks the next text token (standard `GenerationConfig` sampling fields and logits
processors, which see the text ids `[batch, positions_so_far]`). Where that token is `<|empty|>` the patch decoder
generates the position's `patch_size x num_codebooks` patch in `patch_size + max(delay)` steps (codebook c emits
frame `t - delay[c]` at step t; the next step's input is the sum of the embeddings just emitted); elsewhere the
patch is the per-codebook empty ids. The loop is written on public pieces (GenerationConfig, LogitsProcessorList,
StoppingCriteriaList, DynamicCache/StaticCache) rather than on GenerationMixin's private `_sample`.

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
    MinLengthLogitsProcessor,
    MinNewTokensLengthLogitsProcessor,
    MinPLogitsWarper,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    StoppingCriteriaList,
    SuppressTokensLogitsProcessor,
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
    "sample_codebook",
    "build_text_logits_processor",
]

# Upstream's default patch-decoder sampler (T 0.9, top-k 50, top-p 0.95); `audio_do_sample=None` follows `do_sample`.
AUDIO_SAMPLING_DEFAULTS = {"audio_do_sample": None, "audio_temperature": 0.9, "audio_top_k": 50, "audio_top_p": 0.95}

# GenerationConfig fields the loop honours; others that change decoding raise instead of being silently ignored.
_UNSUPPORTED = {"num_beams": 1, "num_return_sequences": 1, "penalty_alpha": None, "assistant_model": None}


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
            Processed text scores of each step, with `output_scores=True`.
    """

    sequences: torch.LongTensor | None = None
    audio_codes: torch.LongTensor | None = None
    scores: tuple[torch.FloatTensor, ...] | None = None


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


def build_text_logits_processor(generation_config, prompt_length, device, extra=None):
    """
    The text head's processors, from `generation_config`'s standard fields, followed by the user's `extra`
    processors and then the sampling warpers (temperature, top-k, top-p, min-p) when `do_sample`.
    """
    gc = generation_config
    eos = _as_list(gc.eos_token_id)
    processors = LogitsProcessorList()
    if gc.repetition_penalty is not None and gc.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(gc.repetition_penalty))
    if gc.no_repeat_ngram_size:
        processors.append(NoRepeatNGramLogitsProcessor(gc.no_repeat_ngram_size))
    if eos and gc.min_length:
        processors.append(MinLengthLogitsProcessor(gc.min_length, eos, device=device))
    if eos and gc.min_new_tokens:
        processors.append(MinNewTokensLengthLogitsProcessor(prompt_length, gc.min_new_tokens, eos, device=device))
    if gc.suppress_tokens:
        processors.append(SuppressTokensLogitsProcessor(gc.suppress_tokens, device=device))
    processors.extend(extra or [])
    if gc.do_sample:
        if gc.temperature is not None and gc.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(gc.temperature))
        top_k = 50 if gc.top_k is None else gc.top_k
        if top_k:
            processors.append(TopKLogitsWarper(top_k))
        if gc.top_p is not None and gc.top_p < 1.0:
            processors.append(TopPLogitsWarper(gc.top_p))
        if gc.min_p is not None:
            processors.append(MinPLogitsWarper(gc.min_p))
    return processors


def _as_list(token_ids):
    if token_ids is None:
        return []
    if isinstance(token_ids, torch.Tensor):
        return token_ids.flatten().tolist()
    return [token_ids] if isinstance(token_ids, int) else list(token_ids)


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
        gc = copy.deepcopy(generation_config if generation_config is not None else self.generation_config)
        audio = {}
        for name, default in AUDIO_SAMPLING_DEFAULTS.items():
            value = kwargs.pop(name, getattr(gc, name, None))
            audio[name] = default if value is None else value
        unused = gc.update(**kwargs)
        if unused:
            raise ValueError(
                f"`generate` got unknown arguments {sorted(unused)}; it accepts GenerationConfig fields, "
                f"{sorted(AUDIO_SAMPLING_DEFAULTS)}, logits_processor, stopping_criteria and streamer"
            )
        for name, allowed in _UNSUPPORTED.items():
            value = getattr(gc, name, None)
            if value is not None and value != allowed:
                raise ValueError(f"MiMo-Audio generation does not support `{name}={value}`")
        if audio["audio_do_sample"] is None:
            audio["audio_do_sample"] = bool(gc.do_sample)
        return gc, audio

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
        **kwargs,
    ) -> MiMoAudioGenerateOutput:
        r"""
        Generates positions after a (left-padded) batch of prompts.

        Args:
            input_ids (`torch.LongTensor` of shape `(batch, positions)`): prompt text ids (`<|empty|>` at patches).
            audio_codes (`torch.LongTensor` of shape `(batch, positions, patch_size, num_codebooks)`, *optional*):
                prompt patches (empty ids at text positions); all-empty when omitted.
            attention_mask (`torch.Tensor` of shape `(batch, positions)`, *optional*): 0 on left padding.
            generation_config (`GenerationConfig`, *optional*): `max_new_tokens` counts positions;
                `eos_token_id` (int or list) stops a row; `do_sample`, `temperature`, `top_k`, `top_p`, `min_p`,
                `repetition_penalty`, `no_repeat_ngram_size`, `min_length`, `min_new_tokens`, `suppress_tokens`
                drive the text head; `cache_implementation="static"` uses static caches (and `torch.compile` on
                CUDA unless `disable_compile`).
            logits_processor (`LogitsProcessorList`, *optional*): extra text processors; they receive the text ids
                so far `[batch, positions_so_far]`, and run before the sampling warpers.
            stopping_criteria (`StoppingCriteriaList`, *optional*): called with the text ids so far.
            streamer (*optional*): `streamer.put(text_ids [batch])` once per new position (after
                `put(prompt_ids)`), `streamer.put_audio_codes(patches [batch, patch_size, num_codebooks])` too when
                the streamer defines it, and `streamer.end()`.
            kwargs: `GenerationConfig` fields, plus `audio_do_sample` (defaults to `do_sample`),
                `audio_temperature` (0.9), `audio_top_k` (50), `audio_top_p` (0.95) for the patch decoder.

        Returns:
            [`MiMoAudioGenerateOutput`] with `sequences` `(batch, positions + new)` and `audio_codes`
            `(batch, positions + new, patch_size, num_codebooks)`.
        """
        config = self.config
        gc, audio_sampling = self._prepare_mimo_generation_config(generation_config, kwargs)
        if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
            raise ValueError("`input_ids` must be a [batch, positions] tensor")
        batch, prompt_length = input_ids.shape
        device = input_ids.device
        empty_ids = torch.tensor(config.speech_empty_ids, device=device)
        empty_patch = empty_ids.view(1, 1, -1).expand(batch, config.patch_size, -1)
        if audio_codes is None:
            audio_codes = empty_patch.unsqueeze(1).expand(-1, prompt_length, -1, -1).contiguous()
        self._check_inputs(input_ids, audio_codes)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        elif attention_mask.shape != input_ids.shape:
            raise ValueError(f"`attention_mask` must have the shape of `input_ids` {tuple(input_ids.shape)}, "
                             f"got {tuple(attention_mask.shape)}")
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
        eos = torch.tensor(_as_list(gc.eos_token_id), device=device, dtype=torch.long)
        pad_token_id = gc.pad_token_id if gc.pad_token_id is not None else (int(eos[0]) if eos.numel() else 0)
        processors = build_text_logits_processor(gc, prompt_length, device, logits_processor)
        stopping = stopping_criteria if stopping_criteria is not None else StoppingCriteriaList()

        static = gc.cache_implementation == "static"
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

        sequences, all_codes = input_ids, audio_codes
        step_ids, step_codes = input_ids, audio_codes
        position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)
        if static:
            # Full-length mask (0 = not generated yet) so that the compiled step always sees the same shapes.
            attention_mask = torch.cat([attention_mask, attention_mask.new_zeros(batch, max_new_tokens)], dim=-1)
        unfinished = torch.ones(batch, dtype=torch.bool, device=device)
        scores_out = () if gc.output_scores else None
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
            scores = processors(sequences, outputs.logits[:, -1].float())
            if gc.do_sample:
                next_ids = torch.multinomial(scores.softmax(dim=-1), num_samples=1).squeeze(-1)
            else:
                next_ids = scores.argmax(dim=-1)
            next_ids = torch.where(unfinished, next_ids, pad_token_id)
            if scores_out is not None:
                scores_out += (scores,)

            needs_patch = unfinished & (next_ids == config.empty_token_id)
            patches = empty_patch.clone()
            if bool(needs_patch.any()):
                if static:  # fixed shapes for the static cache / compiled graphs: decode every row, keep some
                    decoded = self.generate_patch(hidden, cache=patch_cache, forward=patch_forward, **audio_sampling)
                    patches = torch.where(needs_patch.view(-1, 1, 1), decoded, patches)
                else:
                    rows = needs_patch.nonzero().squeeze(-1)
                    patches[rows] = self.generate_patch(hidden[rows], **audio_sampling)

            sequences = torch.cat([sequences, next_ids.unsqueeze(-1)], dim=-1)
            all_codes = torch.cat([all_codes, patches.unsqueeze(1)], dim=1)
            if streamer is not None:
                streamer.put(next_ids.cpu())
                if hasattr(streamer, "put_audio_codes"):
                    streamer.put_audio_codes(patches.cpu())

            if eos.numel():
                unfinished &= ~torch.isin(next_ids, eos)
            if len(stopping):
                unfinished &= ~stopping(sequences, scores).to(device)
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
        return MiMoAudioGenerateOutput(sequences=sequences, audio_codes=all_codes, scores=scores_out)

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
