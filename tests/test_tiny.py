"""`build_tiny_model_set`: deterministic, offline, consistent with its tokenizer, cacheable."""

import torch

from modeling_mimo_audio import MiMoAudioForConditionalGeneration, MiMoAudioProcessor, MiMoAudioTokenizerModel
from modeling_mimo_audio.tiny import build_tiny_model_set


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_set_is_consistent_with_its_tokenizer():
    model, processor = build_tiny_model_set()
    assert isinstance(model, MiMoAudioForConditionalGeneration) and isinstance(processor, MiMoAudioProcessor)
    assert isinstance(processor.audio_tokenizer, MiMoAudioTokenizerModel)
    tok, config = processor.tokenizer, model.config
    assert config.vocab_size >= len(tok)
    assert model.get_input_embeddings().weight.shape[0] == config.vocab_size
    for name in ("empty", "sosp", "eosp", "sostm", "eostm", "eot"):
        assert getattr(config, f"{name}_token_id") == tok.convert_tokens_to_ids(f"<|{name}|>")
    assert processor.speech_empty_ids == list(config.speech_empty_ids)
    assert processor.patch_size == config.patch_size
    assert not model.training and not processor.audio_tokenizer.training


def test_same_seed_same_weights_and_global_rng_untouched():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    m1, p1 = build_tiny_model_set(seed=0)
    assert torch.equal(torch.rand(1), before), "building must not consume the global RNG"
    m2, p2 = build_tiny_model_set(seed=0)
    m3, _ = build_tiny_model_set(seed=1)
    assert _same_weights(m1, m2) and _same_weights(p1.audio_tokenizer, p2.audio_tokenizer)
    assert not _same_weights(m1, m3)


def test_cache_dir_saves_then_loads(tmp_path):
    m1, p1 = build_tiny_model_set(cache_dir=tmp_path, seed=0)
    assert (tmp_path / "seed-0" / "model" / "config.json").is_file()
    assert (tmp_path / "seed-0" / "processor" / "audio_tokenizer" / "config.json").is_file()
    m2, p2 = build_tiny_model_set(cache_dir=tmp_path, seed=0)
    assert _same_weights(m1, m2) and _same_weights(p1.audio_tokenizer, p2.audio_tokenizer)
    assert p2.tokenizer.get_vocab() == p1.tokenizer.get_vocab() and p2.chat_template == p1.chat_template
    assert not m2.training
    m0, _ = build_tiny_model_set(seed=0)
    assert _same_weights(m0, m2)


def test_tiny_model_generates():
    model, processor = build_tiny_model_set()
    inputs = processor.apply_chat_template([{"role": "user", "content": "Hello"}], add_generation_prompt=True)
    out = model.generate(**inputs, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out.sequences.shape == (1, inputs["input_ids"].shape[1] + 4)
    assert out.audio_codes.shape == (1, inputs["input_ids"].shape[1] + 4, 4, 8)
