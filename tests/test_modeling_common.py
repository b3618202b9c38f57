"""The checks transformers' common model tests make, on the tiny tester config: save/load (also sharded, also
through every registered Auto class), `device_map="auto"` on CPU, bf16 loading, token-embedding resizing and a
PEFT LoRA wrap. (Attention implementations, gradient checkpointing, padding and parity are in
test_modeling_mimo_audio.py.)"""

import pytest
import torch
from transformers import (
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForCTC,
    AutoModelForMultimodalLM,
    AutoModelForSpeechSeq2Seq,
    AutoModelForTextToWaveform,
)

import modeling_mimo_audio  # noqa: F401  (registers the Auto classes)
from modeling_mimo_audio import MiMoAudioForConditionalGeneration, MiMoAudioForSpeechRecognition
from modeling_mimo_audio import MiMoAudioForTextToSpeech
from test_modeling_mimo_audio import MiMoAudioModelTester


class CommonTester(MiMoAudioModelTester):
    def prepare_config_and_inputs_for_common(self):
        """`(config, inputs)`: a two-row left-padded batch with text and audio patches, and its labels."""
        config = self.get_config()
        sequences = [self.make_sequence(config, [1, 2, 3], 3, [4, 5], seed=1),
                     self.make_sequence(config, [7], 1, [8], seed=2)]
        input_ids, audio_codes, attention_mask = self.left_pad(config, sequences)
        labels = input_ids.masked_fill(attention_mask == 0, -100)
        return config, {"input_ids": input_ids, "audio_codes": audio_codes, "attention_mask": attention_mask,
                        "labels": labels}


tester = CommonTester()


def _logits(model, inputs):
    with torch.no_grad():
        return model.eval()(**{k: v for k, v in inputs.items() if k != "labels"}).logits


@pytest.fixture(scope="module")
def model_and_inputs():
    config, inputs = tester.prepare_config_and_inputs_for_common()
    torch.manual_seed(0)
    return MiMoAudioForConditionalGeneration(config).eval(), inputs


@pytest.mark.parametrize("max_shard_size", [None, "20KB"])
def test_save_load_round_trip(model_and_inputs, tmp_path, max_shard_size):
    model, inputs = model_and_inputs
    kwargs = {} if max_shard_size is None else {"max_shard_size": max_shard_size}
    model.save_pretrained(tmp_path, **kwargs)
    shards = sorted(p.name for p in tmp_path.glob("*.safetensors"))
    assert (len(shards) > 1) == (max_shard_size is not None)
    if max_shard_size is not None:
        assert (tmp_path / "model.safetensors.index.json").is_file()
    reloaded, info = MiMoAudioForConditionalGeneration.from_pretrained(tmp_path, output_loading_info=True)
    assert all(not keys for keys in (info["missing_keys"], info["unexpected_keys"], info["mismatched_keys"]))
    torch.testing.assert_close(_logits(reloaded, inputs), _logits(model, inputs), rtol=0, atol=0)


def test_every_registered_auto_class_opens_the_saved_folder(model_and_inputs, tmp_path):
    model, inputs = model_and_inputs
    model.save_pretrained(tmp_path)
    expected = {AutoModel: MiMoAudioForConditionalGeneration, AutoModelForCausalLM: MiMoAudioForConditionalGeneration,
                AutoModelForMultimodalLM: MiMoAudioForConditionalGeneration,
                AutoModelForTextToWaveform: MiMoAudioForTextToSpeech,
                AutoModelForCTC: MiMoAudioForSpeechRecognition, AutoModelForSpeechSeq2Seq: MiMoAudioForSpeechRecognition}
    for auto_class, model_class in expected.items():
        loaded = auto_class.from_pretrained(tmp_path)
        assert type(loaded) is model_class, auto_class.__name__
        # The task classes are the same LM: the same weights give the same logits.
        torch.testing.assert_close(_logits(loaded, inputs), _logits(model, inputs), rtol=0, atol=0)


def test_device_map_auto_and_bfloat16_load(model_and_inputs, tmp_path):
    model, inputs = model_and_inputs
    model.save_pretrained(tmp_path)
    auto = MiMoAudioForConditionalGeneration.from_pretrained(tmp_path, device_map="auto")
    assert {p.device.type for p in auto.parameters()} == {"cpu"}
    torch.testing.assert_close(_logits(auto, inputs), _logits(model, inputs), rtol=0, atol=0)
    half = MiMoAudioForConditionalGeneration.from_pretrained(tmp_path, dtype=torch.bfloat16)
    assert {p.dtype for p in half.parameters()} == {torch.bfloat16}
    torch.testing.assert_close(_logits(half, inputs).float(), _logits(model, inputs), atol=0.1, rtol=0.05)


def test_resize_token_embeddings():
    config, inputs = tester.prepare_config_and_inputs_for_common()
    torch.manual_seed(0)
    model = MiMoAudioForConditionalGeneration(config).eval()
    before, old_size = _logits(model, inputs), config.vocab_size
    model.resize_token_embeddings(old_size + 10)
    assert model.config.vocab_size == old_size + 10
    assert model.get_input_embeddings().weight.shape[0] == model.get_output_embeddings().weight.shape[0] == 74
    after = _logits(model, inputs)
    assert after.shape[-1] == 74
    # Existing rows are kept: the old ids' logits do not change.
    torch.testing.assert_close(after[..., :old_size], before, rtol=0, atol=0)
    new_ids = inputs["input_ids"].clone()
    new_ids[0, -1] = old_size + 5  # a new text token
    with torch.no_grad():
        assert torch.isfinite(model(input_ids=new_ids, audio_codes=inputs["audio_codes"],
                                    attention_mask=inputs["attention_mask"]).logits).all()


def test_peft_lora_wrap_trains_only_the_adapters_and_merges(model_and_inputs):
    from peft import LoraConfig, get_peft_model

    model, inputs = model_and_inputs
    torch.manual_seed(0)
    base = MiMoAudioForConditionalGeneration(model.config)
    base.load_state_dict(model.state_dict())
    lora = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    trainable = {name for name, p in lora.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    lora.train()
    out = lora(**inputs)
    out.loss.backward()
    assert all(p.grad is not None for name, p in lora.named_parameters() if name in trainable)
    lora.eval()
    adapted = _logits(lora, inputs)
    assert not torch.allclose(adapted, _logits(model, inputs))  # the adapters change the output
    merged = lora.merge_and_unload()
    assert type(merged) is MiMoAudioForConditionalGeneration
    torch.testing.assert_close(_logits(merged, inputs), adapted, atol=1e-5, rtol=1e-5)
