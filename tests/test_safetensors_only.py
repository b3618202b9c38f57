"""Weights load from safetensors by default; a folder holding only pickle weights is refused unless the caller opts in."""

import os

import pytest
import torch

from modeling_mimo_audio import MiMoAudioForConditionalGeneration, MiMoAudioTokenizerModel
from modeling_mimo_audio.tiny import build_tiny_model_set


def _pickle_only_copy(model, folder):
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), os.path.join(folder, "pytorch_model.bin"))
    assert not any(name.endswith(".safetensors") for name in os.listdir(folder))


@pytest.fixture(scope="module")
def tiny_set():
    return build_tiny_model_set(seed=0)


@pytest.mark.parametrize("part", ["lm", "codec"])
def test_pickle_weights_need_an_explicit_opt_in(tiny_set, tmp_path, part):
    model, processor = tiny_set[0], tiny_set[1]
    module, cls = (model, MiMoAudioForConditionalGeneration) if part == "lm" else (
        processor.audio_tokenizer, MiMoAudioTokenizerModel)
    folder = str(tmp_path / part)
    _pickle_only_copy(module, folder)
    with pytest.raises(OSError, match="safetensors"):
        cls.from_pretrained(folder)
    loaded = cls.from_pretrained(folder, use_safetensors=False)
    for name, tensor in module.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor, msg=name)


def test_safetensors_folders_load_as_before(tiny_set, tmp_path):
    model = tiny_set[0]
    model.save_pretrained(tmp_path / "lm")
    assert os.path.isfile(tmp_path / "lm" / "model.safetensors")
    loaded = MiMoAudioForConditionalGeneration.from_pretrained(tmp_path / "lm")
    torch.testing.assert_close(loaded.lm_head.weight, model.lm_head.weight)
