import pytest
import torch
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList
from transformers.generation import BaseStreamer

from modeling_mimo_audio import interleaved_to_patches, patches_to_interleaved
from modeling_mimo_audio.generation_mimo_audio import use_static_caches
from modeling_mimo_audio.patch_decoding_mimo_audio import CodeSampler, build_patch_decoding_plan, select_codes
from test_modeling_mimo_audio import MiMoAudioModelTester, expected, upstream_model  # noqa: F401 (fixtures)


tester = MiMoAudioModelTester()


class ForceTokenAtSteps(LogitsProcessor):
    """Forces `token_id` at the given 0-based generation steps (steps counted from the prompt length)."""

    def __init__(self, prompt_length, steps, token_id):
        self.prompt_length, self.steps, self.token_id = prompt_length, set(int(s) for s in steps), token_id

    def __call__(self, input_ids, scores):
        if input_ids.shape[1] - self.prompt_length in self.steps:
            scores = torch.full_like(scores, -float("inf"))
            scores[:, self.token_id] = 0.0
        return scores


class BiasToken(LogitsProcessor):
    def __init__(self, token_id, bias):
        self.token_id, self.bias = token_id, bias

    def __call__(self, input_ids, scores):
        scores = scores.clone()
        scores[:, self.token_id] += self.bias
        return scores


class RecordingStreamer(BaseStreamer):
    def __init__(self):
        self.text, self.patches, self.ended = [], [], False

    def put(self, value):
        self.text.append(value)

    def put_audio_codes(self, value):
        self.patches.append(value)

    def end(self):
        self.ended = True


def test_generated_ids_under_forced_empty_schedule(upstream_model, expected):
    input_ids, audio_codes = interleaved_to_patches(torch.tensor(expected["prompt_ids"])[None])
    reference = expected["generated_ids"]
    steps = reference.shape[1] // 4
    prompt_length = input_ids.shape[1]
    forcing = LogitsProcessorList([ForceTokenAtSteps(prompt_length, expected["forced_empty_steps"], 1000)])
    out = upstream_model.generate(input_ids, audio_codes, max_new_tokens=steps, logits_processor=forcing)
    assert out.sequences.shape == (1, prompt_length + steps)
    assert out.audio_codes.shape == (1, prompt_length + steps, 4, 8)
    assert torch.equal(out.sequences[:, :prompt_length], input_ids)
    assert torch.equal(out.audio_codes[:, :prompt_length], audio_codes)
    generated = patches_to_interleaved(
        out.sequences[:, prompt_length:], out.audio_codes[:, prompt_length:], repeat_text=True
    )[0]
    assert generated.tolist() == reference.tolist()


def test_static_cache_gives_the_same_greedy_result(upstream_model, expected):
    input_ids, audio_codes = interleaved_to_patches(torch.tensor(expected["prompt_ids"])[None])
    forcing = LogitsProcessorList([ForceTokenAtSteps(input_ids.shape[1], expected["forced_empty_steps"], 1000)])
    dynamic = upstream_model.generate(input_ids, audio_codes, max_new_tokens=14, logits_processor=forcing)
    static = upstream_model.generate(
        input_ids, audio_codes, max_new_tokens=14, logits_processor=forcing, cache_implementation="static"
    )
    assert torch.equal(dynamic.sequences, static.sequences)
    assert torch.equal(dynamic.audio_codes, static.audio_codes)


@pytest.mark.parametrize("cache_implementation", [None, "static"])
def test_left_padded_batch_equals_one_at_a_time(cache_implementation):
    model = tester.get_model(seed=3)
    config = model.config
    sequences = [
        tester.make_sequence(config, [1, 2, 3, 4], 3, [5, 6], seed=1),
        tester.make_sequence(config, [7], 1, [], seed=2),
        tester.make_sequence(config, [], 2, [9, 10, 11], seed=3),
    ]
    # Push the text head towards <|empty|> so that rows mix text and generated patches.
    processors = LogitsProcessorList([BiasToken(tester.empty_token_id, 2.0)])
    kwargs = dict(max_new_tokens=8, logits_processor=processors, cache_implementation=cache_implementation)
    input_ids, audio_codes, attention_mask = tester.left_pad(config, sequences)
    batched = model.generate(input_ids, audio_codes, attention_mask=attention_mask, **kwargs)
    length = input_ids.shape[1]
    generated_patches = 0
    for b, (ids, codes) in enumerate(sequences):
        alone = model.generate(ids[None], codes[None], **kwargs)
        assert batched.sequences[b, length:].tolist() == alone.sequences[0, len(ids) :].tolist()
        assert torch.equal(batched.audio_codes[b, length:], alone.audio_codes[0, len(ids) :])
        generated_patches += int((alone.sequences[0, len(ids) :] == tester.empty_token_id).sum())
    assert generated_patches > 0


def test_generated_patches_never_hold_empty_ids_and_text_positions_do():
    model = tester.get_model(seed=1)
    config = model.config
    ids, codes = tester.make_sequence(config, [1, 2], 2, [])
    processors = LogitsProcessorList([BiasToken(tester.empty_token_id, 1.5)])
    torch.manual_seed(0)
    out = model.generate(ids[None], codes[None], max_new_tokens=12, logits_processor=processors,
                         do_sample=True, audio_do_sample=True, audio_temperature=1.5, audio_top_k=0)
    new_ids, new_codes = out.sequences[0, len(ids) :], out.audio_codes[0, len(ids) :]
    empty = torch.tensor(config.speech_empty_ids)
    is_patch = new_ids == tester.empty_token_id
    assert is_patch.any() and (~is_patch).any()
    assert (new_codes[is_patch] != empty).all()
    assert (new_codes[~is_patch] == empty).all()


def test_select_codes_argmax_and_sampling_per_row_and_codebook():
    logits = torch.full((64, 2, 9), -float("inf"))
    logits[:, 0, :8] = 0.0
    logits[:, 1, :5] = 0.0  # a smaller codebook padded to 9 entries
    logits[:, 0, 3] = logits[:, 1, 1] = 5.0
    assert select_codes(logits).tolist() == [[3, 1]] * 64
    top_one = CodeSampler(do_sample=True, temperature=0.7, top_k=1)
    assert select_codes(logits, True, top_one.warpers()).tolist() == [[3, 1]] * 64
    torch.manual_seed(0)
    flat = torch.zeros(64, 2, 9)
    flat[:, :, 8] = -float("inf")  # excluded entries (empty id, padding) are never drawn
    flat[:, 1, 5:] = -float("inf")
    sampled = select_codes(flat, True, CodeSampler(do_sample=True, top_p=0.9).warpers())
    assert (sampled[:, 0] != 8).all() and (sampled[:, 1] < 5).all() and len(set(sampled[:, 0].tolist())) > 1
    torch.manual_seed(0)
    assert torch.equal(select_codes(flat, True, CodeSampler(do_sample=True, top_p=0.9).warpers()), sampled)
    with pytest.raises(ValueError, match="audio_temperature"):
        CodeSampler(do_sample=True, temperature=0.0)
    with pytest.raises(ValueError, match="audio_top_k"):
        CodeSampler(top_k=-1)


def test_patch_plan_masks_padding_and_empty_ids_and_orders_every_code():
    model = tester.get_model(seed=3)
    config = model.config
    plan = build_patch_decoding_plan(model, CodeSampler())
    assert len(plan.steps) == config.num_patch_decoder_steps
    for step, step_plan in enumerate(plan.steps):
        assert step_plan.channels == tuple(c for c, d in enumerate(config.delay_pattern) if 0 <= step - d < config.patch_size)
        bias = step_plan.head_bias.view(len(step_plan.channels), step_plan.vocab)
        for slot, channel in enumerate(step_plan.channels):
            size = config.speech_vocab_sizes[channel]
            allowed = torch.isfinite(bias[slot])
            assert allowed[:size].sum() == size - 1 and not allowed[size:].any()
            assert not allowed[config.speech_empty_ids[channel]]
    assert sorted(plan.order.tolist()) == list(range(config.patch_size * config.num_codebooks))
    # The plan follows in-place weight updates (an optimizer step) instead of decoding with stale copies.
    first = model.patch_decoding_plan()
    with torch.no_grad():
        model.local_transformer_lm_heads[0].weight.add_(1.0)
    assert model.patch_decoding_plan() is not first


def test_sampled_patches_reproducible_under_a_seed():
    model = tester.get_model(seed=4)
    hidden = torch.randn(3, model.config.hidden_size)
    settings = dict(audio_do_sample=True, audio_temperature=0.9, audio_top_k=50, audio_top_p=0.95)
    torch.manual_seed(7)
    first = model.generate_patch(hidden, **settings)
    torch.manual_seed(7)
    assert torch.equal(model.generate_patch(hidden, **settings), first)
    empty = torch.tensor(model.config.speech_empty_ids)
    assert not (first == empty).any()


def test_rows_stop_independently_and_are_padded():
    model = tester.get_model(seed=2)
    config = model.config
    sequences = [tester.make_sequence(config, [1, 2, 3], 1, [4], seed=1),
                 tester.make_sequence(config, [5], 1, [6, 7], seed=2)]
    input_ids, audio_codes, attention_mask = tester.left_pad(config, sequences)
    length = input_ids.shape[1]

    class StopRowZeroAtStep2(LogitsProcessor):
        def __call__(self, ids, scores):
            scores = scores.clone()
            scores[:, tester.eos_token_id] = -float("inf")
            if ids.shape[1] - length == 2:
                scores[0] = -float("inf")
                scores[0, tester.eos_token_id] = 0.0
            return scores

    out = model.generate(input_ids, audio_codes, attention_mask=attention_mask, max_new_tokens=6,
                         eos_token_id=[tester.eos_token_id, 999], pad_token_id=0,
                         logits_processor=LogitsProcessorList([StopRowZeroAtStep2()]))
    assert out.sequences.shape == (2, length + 6)
    assert out.sequences[0, length + 2] == tester.eos_token_id
    assert out.sequences[0, length + 3 :].tolist() == [0, 0, 0]
    assert (out.audio_codes[0, length + 3 :] == torch.tensor(config.speech_empty_ids)).all()
    assert (out.sequences[1, length:] != 0).all()


def test_all_rows_stopping_ends_generation_and_min_new_tokens_delays_it():
    model = tester.get_model(seed=2)
    ids = torch.tensor([[1, 2, 3]])
    always_eos = LogitsProcessorList([BiasToken(tester.eos_token_id, 1e4)])
    out = model.generate(ids, max_new_tokens=5, eos_token_id=tester.eos_token_id, logits_processor=always_eos)
    assert out.sequences[0, 3:].tolist() == [tester.eos_token_id]
    # min_new_tokens masks eos before the user's processors run, so the bias cannot force it early.
    generation_config = GenerationConfig(max_new_tokens=5, min_new_tokens=3, eos_token_id=tester.eos_token_id)
    processors = model.build_text_logits_processor(generation_config, 3)
    scores = processors(torch.tensor([[1, 2, 3, 4]]), torch.zeros(1, tester.vocab_size))
    assert scores[0, tester.eos_token_id] == -float("inf")
    out = model.generate(ids, generation_config=generation_config, logits_processor=always_eos)
    assert out.sequences.shape[1] == 3 + 4
    assert (out.sequences[0, 3:6] != tester.eos_token_id).all()
    assert out.sequences[0, 6] == tester.eos_token_id


def test_max_new_tokens_counts_positions_and_streamer_sees_each_one():
    model = tester.get_model()
    ids, codes = tester.make_sequence(model.config, [1], 1, [2])
    streamer = RecordingStreamer()
    processors = LogitsProcessorList([BiasToken(tester.empty_token_id, 3.0)])
    out = model.generate(ids[None], codes[None], max_new_tokens=4, streamer=streamer, logits_processor=processors)
    assert out.sequences.shape == (1, len(ids) + 4) and out.audio_codes.shape == (1, len(ids) + 4, 4, 3)
    assert streamer.ended and len(streamer.text) == 1 + 4 and len(streamer.patches) == 4
    assert torch.equal(streamer.text[0], ids[None])
    assert torch.cat(streamer.text[1:]).tolist() == out.sequences[0, len(ids) :].tolist()
    assert torch.equal(torch.stack([p[0] for p in streamer.patches]), out.audio_codes[0, len(ids) :])


def test_stopping_criteria_see_text_ids():
    model = tester.get_model()
    seen = []

    class StopAtLength(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            seen.append(input_ids.shape)
            return torch.full((input_ids.shape[0],), input_ids.shape[1] >= 5, dtype=torch.bool)

    out = model.generate(torch.tensor([[1, 2]]), max_new_tokens=10, stopping_criteria=StoppingCriteriaList([StopAtLength()]))
    assert out.sequences.shape == (1, 5)
    assert seen[0] == (1, 3)


def test_sampling_is_reproducible_with_a_seed():
    model = tester.get_model()
    ids = torch.tensor([[1, 2, tester.sosp_token_id]])
    kwargs = dict(max_new_tokens=6, do_sample=True, temperature=1.3, top_p=0.9, audio_do_sample=True)
    torch.manual_seed(5)
    first = model.generate(ids, **kwargs)
    torch.manual_seed(5)
    second = model.generate(ids, **kwargs)
    assert torch.equal(first.sequences, second.sequences) and torch.equal(first.audio_codes, second.audio_codes)


def test_generate_rejects_bad_arguments():
    model = tester.get_model()
    ids = torch.tensor([[1, 2]])
    with pytest.raises(ValueError, match="unknown arguments.*not_an_option"):
        model.generate(ids, not_an_option=3)
    with pytest.raises(ValueError, match="num_beams"):
        model.generate(ids, num_beams=2)
    with pytest.raises(ValueError, match="input_ids"):
        model.generate(ids[0])
    with pytest.raises(ValueError, match="attention_mask"):
        model.generate(ids, attention_mask=torch.ones(1, 3))


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"local_dim": 24, "local_attn_heads": 2, "delay_pattern": [0, 2, 2]},
        {"delay_pattern": [1, 3, 0]},  # step 0 emits only codebook 2; unordered delays
        {"delay_pattern": [2, 3, 2]},  # steps 0 and 1 emit nothing
    ],
)
def test_greedy_patch_agrees_with_teacher_forced_logits(overrides):
    # The training path (one teacher-forced pass) and the sampling loop must be the same computation.
    model = tester.get_model(seed=4, **overrides)
    assert (model.speech_embeddings_to_local is not None) == ("local_dim" in overrides)
    hidden = torch.randn(5, model.config.hidden_size)
    with torch.no_grad():
        patches = model.generate_patch(hidden)
        logits = model.patch_decoder_logits(hidden, patches)
    for c, channel_logits in enumerate(logits):
        channel_logits = channel_logits.clone()
        channel_logits[..., model.config.speech_empty_ids[c]] = -float("inf")
        assert torch.equal(channel_logits.argmax(-1), patches[..., c])


def test_compiled_static_path_matches_eager():
    # Dynamo tracing with the "eager" backend: checks the compiled step functions (static shapes, one graph each:
    # `fullgraph=True` raises on any graph break, no recompilation between steps) without paying for inductor's
    # code generation.
    import torch._dynamo
    from transformers import CompileConfig

    model = tester.get_model(seed=6)
    sequences = [tester.make_sequence(model.config, [1, 2], 2, [3], seed=1),
                 tester.make_sequence(model.config, [4], 1, [], seed=2)]
    input_ids, audio_codes, attention_mask = tester.left_pad(model.config, sequences)
    kwargs = dict(attention_mask=attention_mask, max_new_tokens=5,
                  logits_processor=LogitsProcessorList([BiasToken(tester.empty_token_id, 2.0)]))
    eager = model.generate(input_ids, audio_codes, **kwargs)
    torch._dynamo.reset()
    with torch._dynamo.config.patch(error_on_recompile=True):
        compiled = model.generate(input_ids, audio_codes, cache_implementation="static",
                                  compile_config=CompileConfig(backend="eager", mode=None, dynamic=False, fullgraph=True),
                                  **kwargs)
    assert torch.equal(eager.sequences, compiled.sequences)
    assert torch.equal(eager.audio_codes, compiled.audio_codes)
    assert (compiled.sequences[:, input_ids.shape[1]:] == tester.empty_token_id).any()
    # Batch 1: the prefill's last state has a batch stride of its own, which must not compile the patch decoder a
    # second time (a compiled graph guards on strides, even of a size-1 dimension).
    # Every position a patch, the first one from the prefill's state.
    one = dict(kwargs, attention_mask=attention_mask[:1],
               logits_processor=LogitsProcessorList([BiasToken(tester.empty_token_id, 1e4)]))
    eager = model.generate(input_ids[:1], audio_codes[:1], **one)
    torch._dynamo.reset()
    with torch._dynamo.config.patch(error_on_recompile=True):
        compiled = model.generate(input_ids[:1], audio_codes[:1], cache_implementation="static",
                                  compile_config=CompileConfig(backend="eager", mode=None, dynamic=False, fullgraph=True),
                                  **one)
    assert torch.equal(eager.audio_codes, compiled.audio_codes)


def test_fast_path_is_the_cuda_default_and_can_be_switched_off():
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert use_static_caches(GenerationConfig(), cuda, 100, 8192)
    assert not use_static_caches(GenerationConfig(), cpu, 100, 8192)  # CPU: eager unless asked
    assert use_static_caches(GenerationConfig(cache_implementation="static"), cpu, 100, 8192)
    assert not use_static_caches(GenerationConfig(cache_implementation="dynamic"), cuda, 100, 8192)
    assert not use_static_caches(GenerationConfig(disable_compile=True), cuda, 100, 8192)
    # A default must not turn a long request into an error: past the context the eager loop runs.
    assert not use_static_caches(GenerationConfig(), cuda, 9000, 8192)


def test_generated_tensors_can_feed_a_training_step():
    # generate decodes under inference mode; what it returns must still work with autograd (e.g. TRL's online RL
    # computes log-probabilities of the generated sequences with gradients).
    model = tester.get_model(seed=5)
    input_ids, audio_codes = tester.make_sequence(model.config, [1, 2, 3], 1, [], seed=3)
    out = model.generate(input_ids[None], audio_codes[None], max_new_tokens=3, return_dict_in_generate=True,
                         output_scores=True)
    assert not out.sequences.is_inference() and not out.audio_codes.is_inference()
    assert not any(score.is_inference() for score in out.scores)
    model.train()
    loss = model(input_ids=out.sequences, audio_codes=out.audio_codes, labels=out.sequences).loss
    loss.backward()
    assert model.lm_head.weight.grad is not None
