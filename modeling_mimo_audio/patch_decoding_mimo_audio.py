"""One patch of speech from one backbone state: the patch decoder's delayed loop as a single static-shape function.

The patch decoder emits a `patch_size x num_codebooks` patch in `patch_size + max(delay)` steps; codebook c emits
frame `t - delay[c]` at step t, and the next step's input is the sum of the embeddings just emitted. Everything in
that loop that does not depend on the hidden state is fixed by the config and the weights, so it is prepared once
(`PatchDecodingPlan`) and the loop itself (`decode_patch`) is straight-line tensor code:

- per step, the heads of the codebooks it emits are one padded matrix: one matmul gives every emitted codebook's
  logits `[n, k, vocab]` (padding and each codebook's empty id at -inf, so they are never chosen), and one
  `select_codes` call picks all of them (greedy, or temperature / top-k / top-p / multinomial on all rows at once);
- the embedding feedback is one lookup in the concatenated speech-embedding tables and one sum;
- the stock Qwen2 decoder layers of `local_transformer` run with rotary embeddings computed once per plan and a
  preallocated key/value buffer (`PatchKVBuffer`): one query per step attends to every key written so far, so there
  is no mask, no cache to reset and no host synchronisation.

Greedy codes equal the per-codebook loop's (the argmax of the same logits, empty id excluded); sampled codes follow
the same distribution and are reproducible under a fixed seed (one multinomial draw per step for all codebooks).
The loop unrolls into one graph under `torch.compile(fullgraph=True)` and can be captured as a CUDA graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers.generation import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from .layout_mimo_audio import delay_step_schedule


__all__ = ["CodeSampler", "PatchDecodingPlan", "PatchKVBuffer", "build_patch_decoding_plan", "decode_patch",
           "select_codes"]


@dataclass(frozen=True)
class CodeSampler:
    """
    How `select_codes` picks a code: argmax unless `do_sample`; otherwise temperature -> top-k -> top-p (transformers'
    warpers, Hugging Face semantics) -> multinomial. `top_k` of `None`/0 and `top_p` of `None`/1.0 switch them off.
    """

    do_sample: bool = False
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self):
        if self.do_sample and (self.temperature is None or not self.temperature > 0):
            raise ValueError(f"`audio_temperature` must be > 0 when sampling, got {self.temperature}")
        if self.top_k is not None and (not isinstance(self.top_k, int) or isinstance(self.top_k, bool) or self.top_k < 0):
            raise ValueError(f"`audio_top_k` must be a non-negative int or None, got {self.top_k!r}")
        if self.top_p is not None and not 0.0 < float(self.top_p) <= 1.0:
            raise ValueError(f"`audio_top_p` must be in (0, 1] or None, got {self.top_p!r}")

    def warpers(self) -> tuple:
        """The logits warpers of this sampler, in transformers' order (empty when greedy)."""
        if not self.do_sample:
            return ()
        warpers = []
        if self.temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(self.temperature))
        if self.top_k:
            warpers.append(TopKLogitsWarper(self.top_k))
        if self.top_p is not None and self.top_p < 1.0:
            warpers.append(TopPLogitsWarper(self.top_p))
        return tuple(warpers)


def select_codes(logits: torch.Tensor, do_sample: bool = False, warpers: tuple = ()) -> torch.LongTensor:
    """
    Picks one code per row and codebook from `logits` `[n, k, vocab]` (entries that must never be picked, i.e.
    padding and empty ids, at -inf) -> `[n, k]`: the argmax, or with `do_sample` a multinomial draw after `warpers`
    (see `CodeSampler.warpers`), applied to the `n * k` rows at once.
    """
    if not do_sample:
        return logits.argmax(dim=-1)
    scores = logits.flatten(0, 1).float()
    for warper in warpers:  # called directly: `LogitsProcessorList` inspects signatures on every call
        scores = warper(None, scores)
    return torch.multinomial(scores.softmax(dim=-1), num_samples=1).view(logits.shape[:2])


class PatchKVBuffer:
    """
    Key/value storage of the patch decoder for one patch: `[2, layers, n, kv_heads, steps, head_dim]`, written one step
    at a time. It offers the one method the stock attention layers call (`update`), returning the keys and values of
    steps `0..step` (views), so the step's single query attends to all of them and needs no mask. Set `step` before
    each step; nothing is ever reset (every slot read was written in the same patch).
    """

    def __init__(self, storage: torch.Tensor):
        self.storage = storage
        self.step = 0
        self.step_index = None  # `[1]` long tensor holding `step`

    def update(self, key_states, value_states, layer_idx, *args, **kwargs):
        step = self.step
        keys, values = self.storage[0, layer_idx], self.storage[1, layer_idx]
        # The slot comes from a tensor rather than a constant slice, so every step and layer writes with the same
        # code: a compiled patch decoder has one such kernel instead of one per step and layer (compile time).
        keys.index_copy_(2, self.step_index, key_states)
        values.index_copy_(2, self.step_index, value_states)
        return keys[:, :, : step + 1], values[:, :, : step + 1]


@dataclass
class _StepPlan:
    channels: tuple[int, ...]  # codebooks emitted at this step
    head_weight: torch.Tensor  # [k * vocab, local_dim]: their heads, each padded to `vocab` rows
    head_bias: torch.Tensor  # [k * vocab]: 0, or -inf on padding rows and empty ids
    vocab: int
    embedding_offsets: torch.Tensor  # [k]: where each codebook's table starts in the concatenated tables
    position_ids: torch.Tensor  # [1, 1]: this step's position
    rotary: tuple  # (cos, sin), [1, 1, head_dim] each: the rotary embedding at this position
    step_index: torch.Tensor  # [1]: this step's index


@dataclass
class PatchDecodingPlan:
    """
    What `decode_patch` needs besides the hidden states, built by `build_patch_decoding_plan` from the model's config
    and weights (so it must be rebuilt when they change; `MiMoAudioGenerationMixin` keys its cached plan on the
    weights' versions).

    Attributes:
        steps: one `_StepPlan` per patch-decoder step.
        embedding_table (`[sum(speech_vocab_sizes), input_local_dim]`): the speech embeddings, concatenated.
        order (`[patch_size * num_codebooks]`): where each (frame, codebook) of the patch sits among the codes in
            emission order.
        sampler: the `CodeSampler`; `warpers` its warpers.
    """

    steps: list
    embedding_table: torch.Tensor
    order: torch.Tensor
    sampler: CodeSampler
    warpers: tuple
    patch_size: int
    num_codebooks: int
    key: tuple = ()


def plan_key(model, sampler: CodeSampler) -> tuple:
    """What a `PatchDecodingPlan` depends on: the sampler, and identity, version, device and dtype of every weight it
    copies (an in-place update, e.g. an optimizer step, bumps a tensor's version)."""
    tensors = [head.weight for head in model.local_transformer_lm_heads]
    tensors += [embedding.weight for embedding in model.speech_embeddings]
    return (sampler, *((t.data_ptr(), t._version, t.device, t.dtype) for t in tensors))


@torch.no_grad()
def build_patch_decoding_plan(model, sampler: CodeSampler) -> PatchDecodingPlan:
    """Prepares `decode_patch` for `model` (a `MiMoAudioForConditionalGeneration`) and `sampler`."""
    config = model.config
    heads = model.local_transformer_lm_heads
    reference = heads[0].weight
    schedule = delay_step_schedule(config.delay_pattern, config.patch_size)
    sizes = config.speech_vocab_sizes
    decoder = model.local_transformer
    position_ids = torch.arange(len(schedule), device=reference.device).unsqueeze(0)
    probe = reference.new_zeros(1, len(schedule), decoder.config.hidden_size)
    cos, sin = decoder.rotary_emb(probe, position_ids)
    steps = []
    for step, emitted in enumerate(schedule):
        channels = tuple(channel for channel, _ in emitted)
        vocab = max((sizes[c] for c in channels), default=1)
        weight = reference.new_zeros(len(channels) * vocab, reference.shape[1])
        bias = torch.full((len(channels) * vocab,), -float("inf"), dtype=reference.dtype, device=reference.device)
        for slot, channel in enumerate(channels):
            rows = slice(slot * vocab, slot * vocab + sizes[channel])
            weight[rows] = heads[channel].weight
            bias[rows] = 0.0
            bias[slot * vocab + config.speech_empty_ids[channel]] = -float("inf")
        offsets = model._embedding_offsets[list(channels)].to(reference.device)
        here = slice(step, step + 1)
        steps.append(_StepPlan(channels, weight, bias, vocab, offsets, position_ids[:, here].clone(),
                               (cos[:, here].clone(), sin[:, here].clone()), position_ids[0, here].clone()))
    emission = [(frame, channel) for emitted in schedule for channel, frame in emitted]
    if sorted(emission) != [(f, c) for f in range(config.patch_size) for c in range(config.num_codebooks)]:
        raise ValueError(f"`delay_pattern` {config.delay_pattern} does not emit every (frame, codebook) exactly once")
    order = torch.tensor([emission.index((f, c)) for f in range(config.patch_size) for c in range(config.num_codebooks)],
                         dtype=torch.long, device=reference.device)
    plan = PatchDecodingPlan(steps, model.speech_embedding_table(), order, sampler, sampler.warpers(),
                             config.patch_size, config.num_codebooks, plan_key(model, sampler))
    # Fixed addresses for the plan's tensors, like the weights': CUDA graphs then read them in place instead of
    # copying them into the graph's inputs on every replay.
    for tensor in _plan_tensors(plan):
        torch._dynamo.mark_static_address(tensor)
    return plan


def _plan_tensors(plan: PatchDecodingPlan) -> list[torch.Tensor]:
    tensors = [plan.embedding_table, plan.order]
    for step_plan in plan.steps:
        tensors += [step_plan.head_weight, step_plan.head_bias, step_plan.embedding_offsets, step_plan.position_ids,
                    step_plan.step_index, *step_plan.rotary]
    return tensors


def decode_patch(model, plan: PatchDecodingPlan, hidden: torch.Tensor) -> torch.LongTensor:
    """
    Generates one patch per row from backbone hidden states `hidden` `[n, hidden_size]` (the state one position before
    the patch) -> codes `[n, patch_size, num_codebooks]`, never an empty id. Static shapes and no host
    synchronisation: compilable with `torch.compile(fullgraph=True)`.
    """
    decoder = model.local_transformer
    decoder_config = decoder.config
    n = hidden.shape[0]
    step_input = model.hidden_states_downcast(hidden).unsqueeze(1)
    storage = step_input.new_empty(2, decoder_config.num_hidden_layers, n, decoder_config.num_key_value_heads,
                                   len(plan.steps), decoder_config.head_dim)
    buffer = PatchKVBuffer(storage)
    # A list, not `layers[:n]`: slicing a ModuleList builds a new module each time (measurable per step).
    layers = list(decoder.layers)[: decoder_config.num_hidden_layers]
    emitted = []
    for step, step_plan in enumerate(plan.steps):
        buffer.step, buffer.step_index = step, step_plan.step_index
        states = step_input
        for layer in layers:
            states = layer(states, attention_mask=None, position_ids=step_plan.position_ids, past_key_values=buffer,
                           use_cache=True, position_embeddings=step_plan.rotary)
        state = decoder.norm(states[:, -1])
        logits = F.linear(state, step_plan.head_weight, step_plan.head_bias)
        codes = select_codes(logits.view(n, len(step_plan.channels), step_plan.vocab), plan.sampler.do_sample,
                             plan.warpers)
        emitted.append(codes)
        if step + 1 < len(plan.steps):
            # Sampled codes are never empty ids, so no masking: the next input is their embedding sum.
            feedback = F.embedding(codes + step_plan.embedding_offsets, plan.embedding_table).sum(dim=1)
            if model.speech_embeddings_to_local is not None:
                feedback = model.speech_embeddings_to_local(feedback)
            step_input = feedback.unsqueeze(1).to(step_input.dtype)
    return torch.cat(emitted, dim=1)[:, plan.order].view(n, plan.patch_size, plan.num_codebooks)
