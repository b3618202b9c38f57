"""`generate` and `GenerationConfig`: each field of the installed transformers' `GenerationConfig` is either honoured
(with the effect it has in transformers, checked on the outputs) or rejected with a `ValueError` naming it; the
patch decoder's `audio_do_sample` follows `do_sample` unless the caller sets it."""

import inspect

import pytest
import torch
from transformers import CompileConfig, GenerationConfig, GenerationMixin, LogitsProcessorList
from transformers.generation import WatermarkingConfig

from modeling_mimo_audio.generation_mimo_audio import HONOURED_GENERATION_FIELDS
from modeling_mimo_audio.tiny import build_tiny_model_set
from processing.generation_presets import GENERATION_PRESETS, get_generation_preset
from test_eval_mini_cli import ScriptedText
from test_generation_mimo_audio import BiasToken
from test_modeling_mimo_audio import MiMoAudioModelTester


tester = MiMoAudioModelTester()
VOCAB, EOS = tester.vocab_size, tester.eos_token_id
PROMPT = torch.tensor([[1, 2, 3]])
FIELDS = sorted(vars(GenerationConfig()))
METADATA_FIELDS = {"transformers_version", "_from_model_config"}


@pytest.fixture(scope="module")
def model():
    return tester.get_model(seed=0)


@pytest.fixture(scope="module")
def tiny_set():
    return build_tiny_model_set(seed=0)


def scored(model, steps=4, prompt=PROMPT, **kwargs):
    """`generate` with the per-step processed scores and raw logits returned."""
    return model.generate(prompt, max_new_tokens=steps, return_dict_in_generate=True, output_scores=True,
                          output_logits=True, **kwargs)


def new_ids(out, prompt=PROMPT):
    return out.sequences[0, prompt.shape[1] :].tolist()


def kept_per_step(out):
    """How many vocabulary entries each step's processed scores leave samplable."""
    return [int(torch.isfinite(s[0]).sum()) for s in out.scores]


def check_filter(model, **field):
    # Sampling with top-k off keeps the whole vocabulary; the field alone must then remove some of it.
    torch.manual_seed(0)
    assert kept_per_step(scored(model, do_sample=True, top_k=0)) == [VOCAB] * 4
    torch.manual_seed(0)
    kept = kept_per_step(scored(model, do_sample=True, top_k=0, **field))
    assert all(1 <= k < VOCAB for k in kept), kept


def check_lengths(model, name):
    if name == "max_new_tokens":
        assert model.generate(PROMPT, max_new_tokens=4).sequences.shape == (1, 7)
    else:  # max_length counts the prompt
        assert model.generate(PROMPT, max_length=5).sequences.shape == (1, 5)


def check_min_length(model, name):
    always_eos = LogitsProcessorList([BiasToken(EOS, 1e4)])
    assert new_ids(model.generate(PROMPT, max_new_tokens=6, eos_token_id=EOS, logits_processor=always_eos)) == [EOS]
    value = 5 if name == "min_length" else 2  # both ask for 2 positions before eos
    out = model.generate(PROMPT, max_new_tokens=6, eos_token_id=EOS, logits_processor=always_eos, **{name: value})
    ids = new_ids(out)
    assert len(ids) == 3 and ids[-1] == EOS and EOS not in ids[:2]


def check_max_time(model, name):
    assert model.generate(PROMPT, max_new_tokens=10).sequences.shape[1] == 13
    assert model.generate(PROMPT, max_new_tokens=10, max_time=1e-9).sequences.shape[1] == 4


def check_eos_token_id(model, name):
    script = LogitsProcessorList([ScriptedText([[5, EOS, 6, 7]])])
    assert new_ids(model.generate(PROMPT, max_new_tokens=4, logits_processor=script)) == [5, EOS, 6, 7]
    assert new_ids(model.generate(PROMPT, max_new_tokens=4, logits_processor=script, eos_token_id=EOS)) == [5, EOS]


def check_pad_token_id(model, name):
    prompts = PROMPT.repeat(2, 1)
    script = LogitsProcessorList([ScriptedText([[EOS, 5, 5], [5, 5, 5]])])
    out = model.generate(prompts, max_new_tokens=3, logits_processor=script, eos_token_id=EOS, pad_token_id=9)
    assert out.sequences[:, 3:].tolist() == [[EOS, 9, 9], [5, 5, 5]]


def check_no_effect(model, name):
    # Token metadata with no decoding effect when `input_ids` are given, as in transformers' decoder-only generate.
    value = 7 if name == "bos_token_id" else None
    base = model.generate(PROMPT, max_new_tokens=4)
    assert torch.equal(model.generate(PROMPT, max_new_tokens=4, **{name: value}).sequences, base.sequences)


def check_do_sample(model, name):
    greedy = new_ids(model.generate(PROMPT, max_new_tokens=6))
    torch.manual_seed(0)
    first = new_ids(model.generate(PROMPT, max_new_tokens=6, do_sample=True, temperature=5.0, top_k=0))
    torch.manual_seed(0)
    assert new_ids(model.generate(PROMPT, max_new_tokens=6, do_sample=True, temperature=5.0, top_k=0)) == first
    assert first != greedy


def check_temperature(model, name):
    out = scored(model, do_sample=True, top_k=0, temperature=2.0)
    for scores, logits in zip(out.scores, out.logits):
        torch.testing.assert_close(scores, logits / 2.0)


def check_top_k(model, name):
    torch.manual_seed(0)
    assert kept_per_step(scored(model, do_sample=True, top_k=3)) == [3] * 4


def check_repetition_penalty(model, name):
    out = scored(model, steps=1, repetition_penalty=2.0)
    logits, scores = out.logits[0][0], out.scores[0][0]
    seen = torch.zeros(VOCAB, dtype=torch.bool)
    seen[PROMPT[0]] = True
    expected = torch.where(logits > 0, logits / 2.0, logits * 2.0)
    torch.testing.assert_close(scores[seen], expected[seen])
    torch.testing.assert_close(scores[~seen], logits[~seen])


def check_no_repeat_ngram_size(model, name):
    out = scored(model, steps=6, no_repeat_ngram_size=1)
    for step, scores in enumerate(out.scores):
        assert torch.isinf(scores[0, out.sequences[0, : 3 + step]]).all()
    ids = out.sequences[0].tolist()
    assert len(set(ids)) == len(ids)


def check_banned_token(model, name):
    # The token greedy decoding picks first must disappear from every step (from the first one only for
    # `begin_suppress_tokens`).
    token = new_ids(model.generate(PROMPT, max_new_tokens=1))[0]
    value = {"bad_words_ids": [[token]], "suppress_tokens": [token], "begin_suppress_tokens": [token]}[name]
    out = scored(model, steps=4, **{name: value})
    banned = [bool(torch.isinf(scores[0, token])) for scores in out.scores]
    assert banned == ([True, False, False, False] if name == "begin_suppress_tokens" else [True] * 4)
    assert new_ids(out)[0] != token


def check_sequence_bias(model, name):
    out = scored(model, sequence_bias={(5,): -3.0})
    others = torch.arange(VOCAB) != 5
    for scores, logits in zip(out.scores, out.logits):
        torch.testing.assert_close(scores[0, 5], logits[0, 5] - 3.0)
        assert torch.equal(scores[0, others], logits[0, others])


def check_forced_bos_token_id(model, name):
    prompt = PROMPT[:, :1]  # transformers forces the bos token when one position exists
    assert new_ids(model.generate(prompt, max_new_tokens=2, forced_bos_token_id=11), prompt)[0] == 11


def check_forced_eos_token_id(model, name):
    base = new_ids(model.generate(PROMPT, max_new_tokens=4))
    assert base[-1] != 12
    # Forced at the last position that `max_new_tokens` allows, as transformers forces it at `max_length`.
    assert new_ids(model.generate(PROMPT, max_new_tokens=4, forced_eos_token_id=12)) == base[:-1] + [12]


def check_exponential_decay_length_penalty(model, name):
    # (start 1, factor 4): the eos score is left alone up to one position past the prompt, then grows.
    out = scored(model, steps=4, eos_token_id=EOS, exponential_decay_length_penalty=(1, 4.0))
    assert out.scores[0][0, EOS] == out.logits[0][0, EOS]
    assert out.scores[-1][0, EOS] > out.logits[-1][0, EOS]


def check_remove_invalid_values(model, name):
    def poison(module, args, output):
        return output.index_fill(-1, torch.tensor([5]), float("nan"))

    handle = model.lm_head.register_forward_hook(poison)
    try:
        assert torch.isnan(scored(model).scores[0]).any()
        out = scored(model, remove_invalid_values=True)
    finally:
        handle.remove()
    assert torch.isnan(out.logits[0]).any()
    assert not any(torch.isnan(s).any() for s in out.scores)


def check_renormalize_logits(model, name):
    assert scored(model).scores[0].logsumexp(-1).abs().item() > 1e-3
    for scores in scored(model, renormalize_logits=True).scores:
        torch.testing.assert_close(scores.logsumexp(-1), torch.zeros(1))


def check_watermarking_config(model, name):
    out = scored(model, watermarking_config=WatermarkingConfig(bias=2.0))
    shift = out.scores[-1][0] - out.logits[-1][0]
    green = torch.isclose(shift, torch.tensor(2.0))
    assert green.any() and (~green).any() and (shift[~green] == 0).all()  # the green list gets the bias


def check_outputs(model, name):
    plain = model.generate(PROMPT, max_new_tokens=3, output_scores=True, output_logits=True)
    assert plain.scores is None and plain.logits is None  # as transformers: only with return_dict_in_generate
    out = model.generate(PROMPT, max_new_tokens=3, return_dict_in_generate=True, **{
        "return_dict_in_generate": {"output_scores": True, "output_logits": True},
        "output_scores": {"output_scores": True},
        "output_logits": {"output_logits": True},
    }[name])
    assert torch.equal(out.sequences, plain.sequences)
    assert (out.scores is None) == (name == "output_logits") and (out.logits is None) == (name == "output_scores")
    if out.scores is not None:
        assert len(out.scores) == 3 and out.scores[0].shape == (1, VOCAB)
    if out.logits is not None:
        assert len(out.logits) == 3 and out.logits[0].shape == (1, VOCAB)
        with torch.no_grad():
            first = model(input_ids=PROMPT).logits[:, -1]
        torch.testing.assert_close(out.logits[0], first)


def check_cache_implementation(model, name):
    bias = LogitsProcessorList([BiasToken(tester.empty_token_id, 2.0)])
    dynamic = model.generate(PROMPT, max_new_tokens=5, logits_processor=bias, cache_implementation="dynamic")
    static = model.generate(PROMPT, max_new_tokens=5, logits_processor=bias, cache_implementation="static")
    assert torch.equal(dynamic.sequences, static.sequences) and torch.equal(dynamic.audio_codes, static.audio_codes)
    with pytest.raises(ValueError, match="cache_implementation"):
        model.generate(PROMPT, max_new_tokens=2, cache_implementation="offloaded")


def check_compile(model, name, monkeypatch):
    compiled = []

    def fake_compile(function, **options):
        compiled.append(options)
        return function

    monkeypatch.setattr(torch, "compile", fake_compile)
    config = CompileConfig(backend="eager", mode=None, dynamic=False)
    model.__dict__.pop("_mimo_compiled", None)
    try:
        model.generate(PROMPT, max_new_tokens=2, cache_implementation="static", compile_config=config,
                       disable_compile=True)
        assert compiled == []
        model.generate(PROMPT, max_new_tokens=2, cache_implementation="static", compile_config=config)
        assert [c["backend"] for c in compiled] == ["eager", "eager"]  # backbone step and patch-decoder step
    finally:
        model.__dict__.pop("_mimo_compiled", None)


def check_stop_strings(model, name, tiny_set):
    with pytest.raises(ValueError, match="stop_strings"):
        model.generate(PROMPT, max_new_tokens=2, stop_strings=["x"])
    tiny, processor = tiny_set
    tokenizer = processor.tokenizer
    script = tokenizer("hello world again").input_ids
    prompt = torch.tensor([tokenizer("a").input_ids])
    force = LogitsProcessorList([ScriptedText([script])])
    kwargs = dict(max_new_tokens=len(script), logits_processor=force, do_sample=False, eos_token_id=None)
    assert new_ids(tiny.generate(prompt, **kwargs), prompt) == script
    out = tiny.generate(prompt, stop_strings=["world"], tokenizer=tokenizer, **kwargs)
    stop = next(k for k in range(1, len(script) + 1) if "world" in tokenizer.decode(script[:k]))
    assert new_ids(out, prompt) == script[:stop] and stop < len(script)


HONOURED_CHECKS = {
    "max_new_tokens": check_lengths,
    "max_length": check_lengths,
    "min_length": check_min_length,
    "min_new_tokens": check_min_length,
    "max_time": check_max_time,
    "stop_strings": check_stop_strings,
    "eos_token_id": check_eos_token_id,
    "pad_token_id": check_pad_token_id,
    "bos_token_id": check_no_effect,
    "do_sample": check_do_sample,
    "temperature": check_temperature,
    "top_k": check_top_k,
    "top_p": lambda model, name: check_filter(model, top_p=0.5),
    "min_p": lambda model, name: check_filter(model, min_p=0.3),
    "top_h": lambda model, name: check_filter(model, top_h=0.3),
    "typical_p": lambda model, name: check_filter(model, typical_p=0.5),
    "epsilon_cutoff": lambda model, name: check_filter(model, epsilon_cutoff=0.02),
    "eta_cutoff": lambda model, name: check_filter(model, eta_cutoff=0.05),
    "repetition_penalty": check_repetition_penalty,
    "no_repeat_ngram_size": check_no_repeat_ngram_size,
    "bad_words_ids": check_banned_token,
    "suppress_tokens": check_banned_token,
    "begin_suppress_tokens": check_banned_token,
    "sequence_bias": check_sequence_bias,
    "forced_bos_token_id": check_forced_bos_token_id,
    "forced_eos_token_id": check_forced_eos_token_id,
    "exponential_decay_length_penalty": check_exponential_decay_length_penalty,
    "remove_invalid_values": check_remove_invalid_values,
    "renormalize_logits": check_renormalize_logits,
    "watermarking_config": check_watermarking_config,
    "return_dict_in_generate": check_outputs,
    "output_scores": check_outputs,
    "output_logits": check_outputs,
    "cache_implementation": check_cache_implementation,
    "compile_config": check_compile,
    "disable_compile": check_compile,
}

# A value of each rejected field that would change decoding; its neutral values (unset, transformers' default) pass.
REJECTED_VALUES = {
    "num_beams": 2,
    "num_return_sequences": 2,
    "early_stopping": True,
    "length_penalty": 0.5,
    "num_beam_groups": 2,
    "diversity_penalty": 0.5,
    "constraints": [object()],
    "force_words_ids": [[5]],
    "low_memory": True,
    "penalty_alpha": 0.6,
    "dola_layers": "high",
    "guidance_scale": 1.5,
    "encoder_repetition_penalty": 1.3,
    "encoder_no_repeat_ngram_size": 2,
    "decoder_start_token_id": 0,
    "token_healing": True,
    "use_cache": False,
    "cache_config": {"backend": "quanto"},
    "max_cache_len": 64,
    "prefill_chunk_size": 2,
    "continuous_batching_config": {"block_size": 16},
    "output_attentions": True,
    "output_hidden_states": True,
    "is_assistant": True,
    "num_assistant_tokens": 5,
    "num_assistant_tokens_schedule": "heuristic",
    "assistant_confidence_threshold": 0.1,
    "prompt_lookup_num_tokens": 3,
    "max_matching_ngram_size": 2,
    "assistant_early_exit": 1,
    "assistant_lookbehind": 3,
    "target_lookbehind": 3,
    "assistant_ensemble_weight": 0.5,
    "speculation_type": "medusa",
    "use_mtp": True,
}


def test_every_honoured_field_has_a_behaviour_check():
    assert set(HONOURED_CHECKS) == set(HONOURED_GENERATION_FIELDS)
    assert not set(REJECTED_VALUES) & set(HONOURED_GENERATION_FIELDS)


@pytest.mark.parametrize("name", FIELDS)
def test_generation_config_field_is_honoured_or_rejected_by_name(name, model, request, monkeypatch):
    if name in HONOURED_GENERATION_FIELDS:
        check = HONOURED_CHECKS[name]
        extra = {"tiny_set": request.getfixturevalue("tiny_set")} if check is check_stop_strings else {}
        if check is check_compile:
            extra["monkeypatch"] = monkeypatch
        check(model, name, **extra)
        return
    if name in METADATA_FIELDS:
        return
    # A field transformers added since: classify it in generation_mimo_audio and here.
    assert name in REJECTED_VALUES, f"GenerationConfig field {name!r} is neither honoured nor rejected"
    value = REJECTED_VALUES[name]
    with pytest.raises(ValueError, match=f"`{name}="):
        model.generate(PROMPT, max_new_tokens=2, **{name: value})
    config = GenerationConfig(max_new_tokens=2)
    setattr(config, name, value)  # a saved or hand-built config reaches `generate` without `validate`
    with pytest.raises(ValueError, match=f"`{name}="):
        model.generate(PROMPT, generation_config=config)
    neutral = GenerationConfig._get_default_generation_params().get(name)
    assert model.generate(PROMPT, max_new_tokens=2, **{name: neutral}).sequences.shape == (1, 5)


def test_transformers_private_builders_keep_the_signatures_generate_uses():
    # `generate` calls these private transformers helpers by keyword; a rename or removal must fail here.
    expected = {
        GenerationMixin._get_logits_processor: {"generation_config", "input_ids_seq_length", "logits_processor",
                                                "device", "model_kwargs"},
        GenerationMixin._get_stopping_criteria: {"generation_config", "stopping_criteria", "tokenizer"},
        GenerationMixin._prepare_special_tokens: {"generation_config", "kwargs_has_attention_mask", "device",
                                                  "batch_size"},
    }
    for function, names in expected.items():
        assert names <= set(inspect.signature(function).parameters), function.__name__
    defaults = GenerationConfig._get_default_generation_params()
    assert (defaults["top_k"], defaults["do_sample"], defaults["max_length"]) == (50, False, 20)
    config = GenerationConfig(eos_token_id=[EOS, 4])
    tester.get_model()._prepare_special_tokens(config, True, device="cpu")
    assert config._eos_token_tensor.tolist() == [EOS, 4] and int(config._pad_token_tensor) == EOS


def test_presets_leave_audio_do_sample_to_the_caller(tiny_set):
    _, processor = tiny_set
    for name in GENERATION_PRESETS:
        assert getattr(get_generation_preset(name, processor), "audio_do_sample", None) is None, name


def _audio_runs(model, prompt, seeds, **kwargs):
    force_patches = LogitsProcessorList([BiasToken(model.config.empty_token_id, 1e4)])
    runs = []
    for seed in seeds:
        torch.manual_seed(seed)
        out = model.generate(prompt, max_new_tokens=3, logits_processor=force_patches, **kwargs)
        assert (out.sequences[0, prompt.shape[1] :] == model.config.empty_token_id).all()
        runs.append(out.audio_codes[0, prompt.shape[1] :])
    return runs


def test_audio_do_sample_follows_do_sample_unless_set(tiny_set):
    model, processor = tiny_set
    prompt = torch.tensor([processor.tokenizer("a").input_ids])
    stored = model.generation_config
    # As the shipped checkpoint's generation_config.json stores it: a sampling default for both heads.
    model.generation_config = get_generation_preset("default", processor, audio_do_sample=True)
    try:
        first, second = _audio_runs(model, prompt, [0, 1])
        assert not torch.equal(first, second)  # the model's defaults sample the patches
        first, second = _audio_runs(model, prompt, [0, 1], do_sample=False)
        assert torch.equal(first, second)  # the caller's do_sample=False makes the patches greedy too
        first, second = _audio_runs(model, prompt, [0, 1], generation_config=get_generation_preset("asr", processor))
        assert torch.equal(first, second)  # a greedy preset: greedy patches
        first, second = _audio_runs(model, prompt, [0, 1], do_sample=False, audio_do_sample=True)
        assert not torch.equal(first, second)  # the caller's audio_do_sample wins
        tts = get_generation_preset("tts", processor)
        first, second = _audio_runs(model, prompt, [0, 1], generation_config=tts)
        assert not torch.equal(first, second)  # a sampling preset samples the patches
    finally:
        model.generation_config = stored
