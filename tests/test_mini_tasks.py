"""The miniature's training examples: each stage's formats, labels on the right positions, prompts as at inference."""

import random

import numpy as np
import pytest

from processing.tokenization_mimo_audio import mimo_special_token_ids, train_bpe_tokenizer
from training_recipes.formats import IGNORE_INDEX, SpecialTokenIds
from training_recipes.mini.model import mini_lm_config, prompt_texts
from training_recipes.mini.tasks import (DECODER_HOUSE_TTS_REPEATS, SFT_ARITHMETIC_REPEATS, SFT_HOUSE_TTS_REPEATS,
                                         STAGE1_TRACE_REPEATS, arithmetic_thinking, stage_examples, style_instruction)


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


def test_arithmetic_thinking_counts_one_step_at_a_time():
    assert arithmetic_thinking("what is three plus two", "five") == "three plus two: four one, five two. three plus two is five"
    assert arithmetic_thinking("what is nine minus one", "eight") == "nine minus one: eight one. nine minus one is eight"
    assert arithmetic_thinking("what is six plus zero", "six") == "six plus zero is six"
    assert arithmetic_thinking("what is twelve minus twelve", "zero").endswith(
        "one eleven, zero twelve. twelve minus twelve is zero")
    with pytest.raises(ValueError, match="`answer`"):
        arithmetic_thinking("what is three plus two", "six")
    with pytest.raises(ValueError, match="`question`"):
        arithmetic_thinking("what is three times two", "six")
    with pytest.raises(ValueError, match="`question`"):
        arithmetic_thinking("what is 3 plus 2", "five")


def test_every_corpus_question_gets_a_counting_trace_ending_with_its_answer():
    from training_recipes.mini.corpus import arithmetic_problems

    for question, answer in arithmetic_problems():
        trace = arithmetic_thinking(question, answer)
        second = question.split()[-1]
        assert trace.endswith(f" is {answer}")
        assert trace.count(",") == max(0, ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                                           "nine", "ten"].index(second) - 1)


def test_pretraining_stages(tokenizer, special):
    rng = random.Random(0)
    stage1 = stage_examples(_row(), "pretrain_stage1", special, tokenizer.encode, rng)
    stage2 = stage_examples(_row(), "pretrain_stage2", special, tokenizer.encode, rng)
    assert len(stage1) == 2 and len(stage2) == 3
    for example in stage1 + stage2:
        patches = len(example["audio_patches"]) // 32
        assert example["input_ids"].count(special.empty) == patches
        assert example["labels"] == example["input_ids"]  # pretraining: every position is a target
    # Stage 1 listens (audio, then its transcript) and reads the transcript as plain text; no streaming segment,
    # whose text runs ahead of its audio.
    assert stage1[0]["input_ids"][0] == special.sosp and stage1[0]["input_ids"].count(special.empty) == 30 // 4 + 1
    assert _decode(tokenizer, stage1[0]["input_ids"]).endswith("the red dog sees four green birds")
    assert stage1[1]["audio_patches"] == []
    assert not any(special.sostm in example["input_ids"] for example in stage1)
    # Stage 2 adds TTS-pretraining (text, then speech streaming it) and the interleaved format.
    assert special.sostm in stage2[1]["input_ids"] and stage2[1]["input_ids"][0] != special.sostm
    assert special.sostm in stage2[2]["input_ids"]
    with pytest.raises(ValueError, match="stage must be one of"):
        stage_examples(_row(), "stage3", special, tokenizer.encode, rng)


def test_short_clips_are_asr_and_tts_pretraining_only(tokenizer, special):
    rng = random.Random(0)
    row = _row(kind="short", text="seven red", audio_codes=_codes(10))
    assert len(stage_examples(row, "pretrain_stage1", special, tokenizer.encode, rng)) == 2
    stage2 = stage_examples(row, "pretrain_stage2", special, tokenizer.encode, rng)
    assert len(stage2) == 2 and stage2[0]["input_ids"][0] == special.sosp
    (asr,) = stage_examples(row, "sft", special, tokenizer.encode, rng)
    assert _decode(tokenizer, asr["labels"]).startswith("seven red")


def test_house_voice_rows_are_plain_tts_only(tokenizer, special):
    """Plain TTS (no style instruction) learns one voice: its SFT targets come only from `tts_house` rows, and those
    rows give nothing else."""
    rng = random.Random(0)
    row = _row(split="tts_house", gender="male", speed=160)
    assert stage_examples(row, "pretrain_stage1", special, tokenizer.encode, rng) == []
    (pretrain,) = stage_examples(row, "pretrain_stage2", special, tokenizer.encode, rng)
    assert special.sostm in pretrain["input_ids"] and pretrain["input_ids"][0] != special.sosp
    tts, *copies = stage_examples(row, "sft", special, tokenizer.encode, rng)
    assert len(copies) == SFT_HOUSE_TTS_REPEATS - 1 and all(copy == tts for copy in copies)
    assert tts["labels"][tts["input_ids"].index(special.sostm)] == special.sostm
    assert "Please convert this text to speech: the red dog" in tokenizer.decode(tts["input_ids"])
    assert tts["input_ids"].count(special.empty) == 30 // 4 + 1


def test_tts_focus_is_house_voice_plain_tts_alone(tokenizer, special):
    """The TTS-focus rounds train plain TTS in the house voice and nothing else: one copy of SFT's plain-TTS example
    per `tts_house` row, no example from any other row (ASR, instruct-TTS, arithmetic would pull the backbone back
    to the text stream)."""
    rng = random.Random(0)
    house = _row(split="tts_house", gender="male", speed=160)
    (focus,) = stage_examples(house, "tts_focus", special, tokenizer.encode, rng)
    assert focus == stage_examples(house, "sft", special, tokenizer.encode, rng)[0]
    for row in (_row(split="train"), _row(kind="arithmetic", text="what is three plus two", answer_text="five",
                                          answer_codes=_codes(8), split="train"), _row(kind="short", split="train")):
        assert stage_examples(row, "tts_focus", special, tokenizer.encode, rng) == []


def test_tts_decoder_data_is_every_speech_output_conversation_of_sft(tokenizer, special):
    """The last stage trains the patch decoder alone: it gets each SFT conversation that ends in speech (plain
    house-voice TTS, instruct-TTS in the row's voice, the spoken arithmetic answer), the same examples as SFT's, and
    nothing that ends in text (ASR)."""
    rng = random.Random(0)
    house = _row(split="tts_house", gender="male", speed=160)
    plain = stage_examples(house, "tts_decoder", special, tokenizer.encode, rng)
    assert len(plain) == DECODER_HOUSE_TTS_REPEATS
    assert all(example == stage_examples(house, "sft", special, tokenizer.encode, rng)[0] for example in plain)
    (instruct,) = stage_examples(_row(split="train"), "tts_decoder", special, tokenizer.encode, rng)
    assert instruct == stage_examples(_row(split="train"), "sft", special, tokenizer.encode, rng)[2]
    assert "(a female voice speaking quickly)" in tokenizer.decode(instruct["input_ids"])
    arithmetic = _row(kind="arithmetic", text="what is three plus four", answer_text="seven", answer_codes=_codes(12, 1),
                      split="train")
    (spoken,) = stage_examples(arithmetic, "tts_decoder", special, tokenizer.encode, rng)
    assert spoken == stage_examples(arithmetic, "sft", special, tokenizer.encode, rng)[0]
    assert stage_examples(_row(kind="short", split="train"), "tts_decoder", special, tokenizer.encode, rng) == []
    for example in (*plain, instruct, spoken):
        assert special.sostm in example["input_ids"]


def test_arithmetic_pretraining_also_listens_to_the_answer(tokenizer, special):
    rng = random.Random(0)
    row = _row(kind="arithmetic", text="what is three plus four", answer_text="seven", answer_codes=_codes(12, 1))
    question, text, answer, *traces = stage_examples(row, "pretrain_stage1", special, tokenizer.encode, rng)
    assert _decode(tokenizer, answer["input_ids"]).endswith("seven") and answer["input_ids"].count(special.empty) == 3
    # ... and reads the counting trace as plain text, which is where the counting is learned.
    assert len(traces) == STAGE1_TRACE_REPEATS
    assert all(_decode(tokenizer, t["input_ids"]) == arithmetic_thinking("what is three plus four", "seven")
               and t["audio_patches"] == [] for t in traces)
    stage2 = stage_examples(row, "pretrain_stage2", special, tokenizer.encode, rng)
    assert _decode(tokenizer, stage2[-1]["input_ids"]).endswith("three plus four is seven")


def test_sft_examples_match_the_inference_prompts(tokenizer, special):
    rng = random.Random(0)
    asr, asr_again, instruct = stage_examples(_row(), "sft", special, tokenizer.encode, rng)
    # ASR: the target is the transcript (and the turn end), after the empty think block of the ASR prompt.
    target = _decode(tokenizer, asr["labels"])
    assert target.startswith("the red dog sees four green birds") and "<think>" not in target
    assert "<think>\n\n</think>\n" in _decode(tokenizer, asr["input_ids"])
    assert "<think>\n\n</think>\n" in _decode(tokenizer, asr_again["input_ids"])
    # No plain TTS from a row in a random voice (plain TTS has the house voice); instruct-TTS keeps the row's voice.
    assert not any("Please convert this text to speech: the red dog sees four green birds<" in tokenizer.decode(e["input_ids"])
                   for e in (asr, asr_again))
    # Instruct-TTS: the style instruction in the prompt, a thinking trace in the target.
    assert "(a female voice speaking quickly)" in tokenizer.decode(instruct["input_ids"])
    assert "The voice is female and the pace is fast." in _decode(tokenizer, instruct["labels"])


def test_arithmetic_example_thinks_then_speaks(tokenizer, special):
    rng = random.Random(0)
    row = _row(kind="arithmetic", text="what is three plus four", answer_text="seven", answer_codes=_codes(12, 1))
    *spoken_copies, asr = stage_examples(row, "sft", special, tokenizer.encode, rng)
    assert len(spoken_copies) == SFT_ARITHMETIC_REPEATS
    spoken = spoken_copies[0]
    target = _decode(tokenizer, spoken["labels"])
    assert "three plus four: four one, five two, six three, seven four. three plus four is seven" in target
    assert "</think>" in target
    # The answer is a streaming segment of the answer's codes: 12 frames -> 3 patches, all targets.
    start = spoken["input_ids"].index(special.sostm)
    assert spoken["input_ids"][start:].count(special.empty) == 3
    assert _decode(tokenizer, asr["labels"]).startswith("what is three plus four")


def test_mini_lm_config_covers_tokenizer_and_codec(tokenizer):
    config = mini_lm_config(tokenizer, [1024, 1024] + [128] * 6)
    assert config.vocab_size >= len(tokenizer) and config.vocab_size % 64 == 0
    assert config.speech_vocab_sizes == [1025, 1025] + [129] * 6
    assert config.empty_token_id == tokenizer.convert_tokens_to_ids("<|empty|>")


def test_speech_embeddings_start_from_the_codec_codebooks(tokenizer):
    """After `init_speech_embeddings_from_codec`, what the patch encoder reads for a frame (the sum of its 8 code
    embeddings) is the codec's quantized latent for those codes, times one scale."""
    import torch

    from modeling_mimo_audio import MiMoAudioForConditionalGeneration, MiMoAudioTokenizerModel
    from modeling_mimo_audio.tiny import tiny_codec_config
    from training_recipes.mini.model import init_speech_embeddings_from_codec

    torch.manual_seed(0)
    codec = MiMoAudioTokenizerModel(tiny_codec_config()).eval()
    quantizer = codec.encoder.quantizer
    for codebook in quantizer.codebooks:
        codebook.embed.normal_()
        codebook.cluster_size.uniform_(0, 5)
    sizes = [codebook.embed.shape[0] for codebook in quantizer.codebooks]
    small = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2,
                 num_key_value_heads=1, local_dim=64, local_layers=1, local_attn_heads=2, local_ffn_dim=128,
                 input_local_dim=codec.config.d_model, input_local_layers=1)
    model = MiMoAudioForConditionalGeneration(mini_lm_config(tokenizer, sizes, **small))
    scale = init_speech_embeddings_from_codec(model, codec, target_rms=0.5)
    assert scale > 0

    codes = torch.stack([torch.randint(0, size, (5, 3)) for size in sizes], dim=-1)  # [5, 3 frames, 8]
    with torch.no_grad():
        summed = model._sum_speech_embeddings(codes)
        expected = sum(codebook.embed[codes[..., i]] for i, codebook in enumerate(quantizer.codebooks)) * scale
    torch.testing.assert_close(summed, expected)
    usage = quantizer.codebooks[0].cluster_size / quantizer.codebooks[0].cluster_size.sum()
    first_rms = (usage * model.speech_embeddings[0].weight[: sizes[0]].pow(2).mean(1)).sum().sqrt()
    assert abs(float(first_rms) - 0.5) < 1e-4
    assert not model.speech_embeddings[0].weight[sizes[0]:].any()  # the empty id

    wrong = MiMoAudioForConditionalGeneration(mini_lm_config(tokenizer, sizes, **{**small, "input_local_dim": 32}))
    with pytest.raises(ValueError, match="input_local_dim"):
        init_speech_embeddings_from_codec(wrong, codec)
