"""The miniature's training examples: each stage's formats, labels on the right positions, prompts as at inference."""

import random

import numpy as np
import pytest

from processing.tokenization_mimo_audio import mimo_special_token_ids, train_bpe_tokenizer
from training_recipes.formats import IGNORE_INDEX, SpecialTokenIds
from training_recipes.mini.model import mini_lm_config, prompt_texts
from training_recipes.mini.tasks import arithmetic_thinking, stage_examples, style_instruction


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe_tokenizer(["the red dog sees four green birds", "what is three plus four", "seven"]
                               + prompt_texts(), 400)


@pytest.fixture(scope="module")
def special(tokenizer):
    ids = mimo_special_token_ids(tokenizer)
    return SpecialTokenIds(**{k: ids[k] for k in ("empty", "sosp", "eosp", "sostm", "eostm", "eot")})


def _codes(frames, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.integers(0, 1024, (2, frames)), rng.integers(0, 128, (6, frames))]).tolist()


def _row(kind="random", **extra):
    row = {"text": "the red dog sees four green birds", "audio_codes": _codes(30), "kind": kind, "gender": "female",
           "speed": 200, "answer_text": "", "answer_codes": None}
    row.update(extra)
    return row


def _decode(tokenizer, ids):
    return tokenizer.decode([i for i in ids if i != IGNORE_INDEX])


def test_style_instruction_and_thinking_texts():
    assert style_instruction("female", 200) == ("a female voice speaking quickly",
                                                "The voice is female and the pace is fast.")
    assert style_instruction("male", 140)[0] == "a male voice speaking slowly"
    assert style_instruction("male", 170)[1].endswith("pace is normal.")
    assert arithmetic_thinking("what is three plus four", "seven") == "three plus four is seven"


def test_pretraining_stages(tokenizer, special):
    rng = random.Random(0)
    stage1 = stage_examples(_row(), "pretrain_stage1", special, tokenizer.encode, rng)
    stage2 = stage_examples(_row(), "pretrain_stage2", special, tokenizer.encode, rng)
    assert len(stage1) == len(stage2) == 3
    for example in stage1 + stage2:
        patches = len(example["audio_patches"]) // 32
        assert example["input_ids"].count(special.empty) == patches
        assert example["labels"] == example["input_ids"]  # pretraining: every position is a target
    # Stage 1 has the transcript as plain text, stage 2 a TTS-pretraining example (text, then speech streaming it).
    assert stage1[2]["audio_patches"] == []
    assert special.sostm in stage2[2]["input_ids"] and stage2[2]["input_ids"][0] != special.sostm
    with pytest.raises(ValueError, match="stage must be one of"):
        stage_examples(_row(), "stage3", special, tokenizer.encode, rng)


def test_sft_examples_match_the_inference_prompts(tokenizer, special):
    rng = random.Random(0)
    asr, asr_again, tts, instruct = stage_examples(_row(), "sft", special, tokenizer.encode, rng)
    # ASR: the target is the transcript (and the turn end), after the empty think block of the ASR prompt.
    target = _decode(tokenizer, asr["labels"])
    assert target.startswith("the red dog sees four green birds") and "<think>" not in target
    assert "<think>\n\n</think>\n" in _decode(tokenizer, asr["input_ids"])
    # TTS: the target is a streaming segment; the prompt is the default template.
    assert tts["labels"][tts["input_ids"].index(special.sostm)] == special.sostm
    assert "Please convert this text to speech: the red dog" in tokenizer.decode(tts["input_ids"])
    # Instruct-TTS: the style instruction in the prompt, a thinking trace in the target.
    assert "(a female voice speaking quickly)" in tokenizer.decode(instruct["input_ids"])
    assert "The voice is female and the pace is fast." in _decode(tokenizer, instruct["labels"])


def test_arithmetic_example_thinks_then_speaks(tokenizer, special):
    rng = random.Random(0)
    row = _row(kind="arithmetic", text="what is three plus four", answer_text="seven", answer_codes=_codes(12, 1))
    spoken, asr = stage_examples(row, "sft", special, tokenizer.encode, rng)
    target = _decode(tokenizer, spoken["labels"])
    assert "three plus four is seven" in target and "</think>" in target
    # The answer is a streaming segment of the answer's codes: 12 frames -> 3 patches, all targets.
    start = spoken["input_ids"].index(special.sostm)
    assert spoken["input_ids"][start:].count(special.empty) == 3
    assert _decode(tokenizer, asr["labels"]).startswith("what is three plus four")


def test_mini_lm_config_covers_tokenizer_and_codec(tokenizer):
    config = mini_lm_config(tokenizer, [1024, 1024] + [128] * 6)
    assert config.vocab_size >= len(tokenizer) and config.vocab_size % 64 == 0
    assert config.speech_vocab_sizes == [1025, 1025] + [129] * 6
    assert config.empty_token_id == tokenizer.convert_tokens_to_ids("<|empty|>")
