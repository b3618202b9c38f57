"""Task formats, collator and packing of training_recipes, checked against hand-written expected layouts."""

import logging

import pytest
import torch

from processing.tokenization_mimo_audio import build_tiny_tokenizer, mimo_special_token_ids
from training_recipes.collator import MiMoAudioDataCollator
from training_recipes.formats import (
    SequenceBuilder,
    SpecialTokenIds,
    asr_example,
    build_example,
    captioning_example,
    continuation_example,
    conversation_example,
    interleaved_example,
    text_only_example,
    tts_example,
)
from training_recipes.packing import pack_examples


EMPTY8 = [1024, 1024, 128, 128, 128, 128, 128, 128]
# Spec A.5 toy ids: Hi=17, !=5, <|sosp|>=900, <|eosp|>=901, <|empty|>=902 (the streaming ids are unused there).
TOY = SpecialTokenIds(empty=902, sosp=900, eosp=901, sostm=903, eostm=904, eot=905)


def toy_codes(frames=8):
    """a[f, c] = 10 (c + 1) + (f + 1), as [channels, frames]."""
    return torch.tensor([[10 * (c + 1) + (f + 1) for f in range(frames)] for c in range(8)])


@pytest.fixture(scope="module")
def tok():
    tokenizer = build_tiny_tokenizer()
    ids = mimo_special_token_ids(tokenizer)
    special = SpecialTokenIds(**{k: ids[k] for k in ("empty", "sosp", "eosp", "sostm", "eostm", "eot")})

    def tokenize(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    return tokenizer, special, tokenize, ids


def test_worked_example_a5_position_by_position():
    example = SequenceBuilder(TOY).text([17]).audio(toy_codes()).text([5]).build()
    batch = MiMoAudioDataCollator(TOY, pad_token_id=0)([example])
    assert batch["input_ids"][0].tolist() == [17, 900, 902, 902, 901, 5]
    # Pretraining: every position is a label; the model shifts (h_k scores labels[k+1]).
    labels = batch["labels"][0].tolist()
    assert labels == [17, 900, 902, 902, 901, 5]
    assert labels[1:] == [900, 902, 902, 901, 5]  # targets of h0..h4, as in the A.5 list
    codes = batch["audio_codes"][0]  # [6, 4, 8]
    for pos in (0, 1, 4, 5):
        assert codes[pos].tolist() == [EMPTY8] * 4
    # Patch targets: h1 -> the patch at position 2 (frames 0-3), h2 -> position 3 (frames 4-7).
    for pos, first_frame in ((2, 0), (3, 4)):
        for f in range(4):
            assert codes[pos, f].tolist() == [10 * (c + 1) + (first_frame + f + 1) for c in range(8)]
    targets = batch["labels"][0, 1:]
    assert (targets == TOY.empty).nonzero().flatten().add(1).tolist() == [2, 3]
    assert batch["attention_mask"].tolist() == [[1] * 6]


def test_audio_clip_padded_by_repeating_last_frame():
    example = SequenceBuilder(TOY).audio(toy_codes(5)).build()
    assert example["input_ids"] == [900, 902, 902, 901]
    patches = torch.tensor(example["audio_patches"]).view(-1, 4, 8)
    last = [10 * (c + 1) + 5 for c in range(8)]
    assert patches[1].tolist() == [last, last, last, last]


def test_streaming_segment_order():
    # 7 text tokens (+ eot) and 12 patches: T(5) A(5) T(2+eot) A(5) A(2).
    example = SequenceBuilder(TOY).streaming([1, 2, 3, 4, 5, 6, 7], toy_codes(48)).build()
    E = TOY.empty
    expected = [903, 1, 2, 3, 4, 5] + [E] * 5 + [6, 7, 905] + [E] * 5 + [E] * 2 + [904]
    assert example["input_ids"] == expected
    assert example["labels"] == expected
    assert len(example["audio_patches"]) == 12 * 32


def test_streaming_leftover_text_chunks_follow_audio():
    example = SequenceBuilder(TOY).streaming(list(range(1, 13)), toy_codes(4)).build()
    E = TOY.empty
    assert example["input_ids"] == [903, 1, 2, 3, 4, 5, E, 6, 7, 8, 9, 10, 11, 12, 905, 904]


def test_asr_labels_mask_prompt(tok):
    tokenizer, special, tokenize, ids = tok
    example = asr_example(toy_codes(8), "hello world", special, tokenize)
    prompt = (tokenize("<|im_start|>user\n") + [ids["sosp"], ids["empty"], ids["empty"], ids["eosp"]]
              + tokenize("Transcribe the following voice message") + tokenize("<|im_end|>\n")
              + tokenize("<|im_start|>assistant\n") + tokenize("<think>\n\n</think>\n"))
    target = tokenize("hello world") + tokenize("<|im_end|>\n")
    assert example["input_ids"] == prompt + target
    assert example["labels"] == [-100] * len(prompt) + target
    assert len(example["audio_patches"]) == 2 * 32


def test_tts_sostm_is_a_target(tok):
    tokenizer, special, tokenize, ids = tok
    text = "Hello"
    example = tts_example(text, toy_codes(8), special, tokenize)
    prompt = (tokenize(f"<|im_start|>user\nPlease convert this text to speech: {text}<|im_end|>\n")
              + tokenize("<|im_start|>assistant\n"))
    text_ids = tokenize(text)
    assert len(text_ids) <= 5
    target = [ids["sostm"]] + text_ids + [ids["eot"], ids["empty"], ids["empty"], ids["eostm"]] + tokenize(
        "<|im_end|>\n")
    assert example["input_ids"] == prompt + target
    assert example["labels"] == [-100] * len(prompt) + target


def test_sft_thinking_trace_is_a_target_and_user_audio_is_masked(tok):
    tokenizer, special, tokenize, ids = tok
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "audio", "audio_codes": toy_codes(4)},
                                     {"type": "text", "text": "What is it?"}]},
        {"role": "assistant", "thinking": "Let me think", "content": "A dog"},
    ]
    example = conversation_example(messages, special, tokenize)
    prompt = (tokenize("<|im_start|>system\nBe brief.<|im_end|>\n") + tokenize("<|im_start|>user\n")
              + [ids["sosp"], ids["empty"], ids["eosp"]] + tokenize("What is it?") + tokenize("<|im_end|>\n")
              + tokenize("<|im_start|>assistant\n") + tokenize("<think>\n"))
    target = tokenize("Let me think") + tokenize("</think>\n") + tokenize("A dog") + tokenize("<|im_end|>\n")
    assert example["input_ids"] == prompt + target
    assert example["labels"] == [-100] * len(prompt) + target
    batch = MiMoAudioDataCollator(special, pad_token_id=0)([example])
    assert not (batch["labels"] == ids["empty"]).any()  # the user's audio gets no patch loss


def test_multi_turn_all_assistant_turns_are_targets(tok):
    tokenizer, special, tokenize, ids = tok
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Bye"}]
    example = conversation_example(messages, special, tokenize)
    turn = lambda role, text: tokenize(f"<|im_start|>{role}\n{text}<|im_end|>\n")
    answer_prompt = tokenize("<|im_start|>assistant\n") + tokenize("<think>\n\n</think>\n")
    answer = lambda text: tokenize(text) + tokenize("<|im_end|>\n")
    expected_ids = turn("user", "Hi") + answer_prompt + answer("Hello") + turn("user", "Bye") + answer_prompt + answer("Bye")
    assert example["input_ids"] == expected_ids
    mask = lambda ids_: [-100] * len(ids_)
    assert example["labels"] == (mask(turn("user", "Hi")) + mask(answer_prompt) + answer("Hello")
                                 + mask(turn("user", "Bye")) + mask(answer_prompt) + answer("Bye"))


def test_captioning_and_pretraining_formats(tok):
    tokenizer, special, tokenize, ids = tok
    caption = captioning_example(toy_codes(4), "A bird", special, tokenize, question="What?")
    assert caption["labels"][-len(tokenize("A bird") + tokenize("<|im_end|>\n")):] == tokenize("A bird") + tokenize(
        "<|im_end|>\n")
    assert caption["labels"].count(-100) == len(caption["labels"]) - len(tokenize("A bird")) - 2

    text = text_only_example("hello world", special, tokenize, eos_token_id=ids["endoftext"])
    assert text["input_ids"] == text["labels"] == tokenize("hello world") + [ids["endoftext"]]

    speech = continuation_example(toy_codes(8), special)
    assert speech["input_ids"] == speech["labels"] == [ids["sosp"], ids["empty"], ids["empty"], ids["eosp"]]

    inter = interleaved_example([{"text": "Hi"}, {"audio": toy_codes(4)}, {"audio": toy_codes(4), "transcript": "ok"}],
                                special, tokenize)
    expected = (tokenize("[Int]:") + tokenize("Hi") + [ids["sosp"], ids["empty"], ids["eosp"]]
                + [ids["sostm"]] + tokenize("ok") + [ids["eot"], ids["empty"], ids["eostm"]])
    assert inter["input_ids"] == inter["labels"] == expected


def test_build_example_errors(tok):
    tokenizer, special, tokenize, ids = tok
    with pytest.raises(ValueError, match="task must be one of"):
        build_example("karaoke", {}, special, tokenize)
    with pytest.raises(ValueError, match="lacks"):
        build_example("asr", {"text": "x"}, special, tokenize)
    with pytest.raises(ValueError, match="audio codes must be"):
        SequenceBuilder(special).audio(torch.zeros(3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="assistant"):
        conversation_example([{"role": "user", "content": "hi"}], special, tokenize)
    with pytest.raises(ValueError, match="audio_codes"):
        conversation_example([{"role": "user", "content": [{"type": "audio", "path": "a.wav"}]},
                              {"role": "assistant", "content": "x"}], special, tokenize)


def test_collator_pads_right_and_masks_padding():
    short = SequenceBuilder(TOY).text([1, 2]).build()
    long = SequenceBuilder(TOY).text([3]).audio(toy_codes(4)).build()
    batch = MiMoAudioDataCollator(TOY, pad_token_id=7, pad_to_multiple_of=8)([short, long])
    assert batch["input_ids"].tolist() == [[1, 2] + [7] * 6, [3, 900, 902, 901] + [7] * 4]
    assert batch["attention_mask"].tolist() == [[1, 1] + [0] * 6, [1] * 4 + [0] * 4]
    assert batch["labels"].tolist() == [[1, 2] + [-100] * 6, [3, 900, 902, 901] + [-100] * 4]
    assert batch["audio_codes"].shape == (2, 8, 4, 8)
    assert batch["audio_codes"][1, 2, 0].tolist() == [10 * (c + 1) + 1 for c in range(8)]
    assert batch["audio_codes"][0].eq(torch.tensor(EMPTY8)).all()


def test_collator_rejects_inconsistent_patches():
    bad = {"input_ids": [902, 902], "labels": [902, 902], "audio_patches": [0] * 32}
    with pytest.raises(ValueError, match="stored audio patches"):
        MiMoAudioDataCollator(TOY, pad_token_id=0)([bad])
    with pytest.raises(ValueError, match="multiple of"):
        MiMoAudioDataCollator(TOY, pad_token_id=0)([{"input_ids": [1], "audio_patches": [0] * 5}])


@pytest.mark.parametrize("example, error, pattern", [
    ({"input_ids": [1.5, 2]}, TypeError, "`input_ids` must hold integers, got dtype torch.float32"),
    ({"input_ids": [1, 2], "labels": [1]}, ValueError, r"`labels` must be 2 values \(one per position\)"),
    ({"input_ids": [1, 2], "labels": [1, 2, 3]}, ValueError, "`labels` must be 2 values"),
    ({"input_ids": [1, 2], "labels": [True, False]}, TypeError, "`labels` must hold integers"),
    ({"input_ids": [1, 2], "position_ids": [0]}, ValueError, "`position_ids` must be 2 values"),
])
def test_collator_refuses_rather_than_truncates_or_broadcasts(example, error, pattern):
    with pytest.raises(error, match=pattern):
        MiMoAudioDataCollator(TOY, pad_token_id=0)([example])


def test_packing_masks_document_starts_and_restarts_positions(caplog):
    a = SequenceBuilder(TOY).text([1, 2, 3]).build()
    b = SequenceBuilder(TOY).audio(toy_codes(4)).build()
    c = SequenceBuilder(TOY).text(list(range(10, 20))).build()
    with caplog.at_level(logging.WARNING):
        rows = list(pack_examples([a, b, c], context_length=8, empty_token_id=TOY.empty))
    assert [row["input_ids"] for row in rows] == [[1, 2, 3, 900, 902, 901], list(range(10, 18))]
    assert rows[0]["labels"] == [1, 2, 3, -100, 902, 901]
    assert rows[0]["position_ids"] == [0, 1, 2, 0, 1, 2]
    assert rows[0]["document_lengths"] == [3, 3]
    assert len(rows[0]["audio_patches"]) == 32
    assert "truncated 1 example" in caplog.text
    with pytest.raises(ValueError, match="context_length"):
        list(pack_examples([c], context_length=8, empty_token_id=TOY.empty, truncate=False))
    batch = MiMoAudioDataCollator(TOY, pad_token_id=0)(rows)
    assert "attention_mask" not in batch
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0, 1, 2, 0, 1], list(range(8))]
    assert batch["labels"][0, 6:].tolist() == [-100, -100]


def test_conversation_examples_match_the_processor_layout():
    """The training layout (codes given, no codec) equals `MiMoAudioProcessor.apply_chat_template(return_labels=True)`
    position by position: same template, same segments, same labels."""
    from modeling_mimo_audio.tiny import build_tiny_model_set

    model, processor = build_tiny_model_set(seed=0)
    special = SpecialTokenIds.from_config(model.config)

    def tokenize(text):
        return processor.tokenizer(text, add_special_tokens=False)["input_ids"]

    generator = torch.Generator().manual_seed(0)
    question = torch.randint(0, 128, (8, 10), generator=generator)
    answer = torch.randint(0, 128, (8, 23), generator=generator)
    conversation = [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "audio", "audio_codes": question}, {"type": "text", "text": "What?"}]},
        {"role": "assistant", "thinking": "Let me think", "content": "A dog"},
        {"role": "user", "content": "Say it"},
        {"role": "assistant", "thinking": "", "content": "It is a dog"},
        {"role": "user", "content": "Aloud"},
        {"role": "assistant", "content": [{"type": "text", "text": "A dog barks loudly at night"},
                                          {"type": "audio", "audio_codes": answer}]},
    ]
    example = conversation_example(conversation, special, tokenize)
    batch = MiMoAudioDataCollator(special, pad_token_id=processor.tokenizer.pad_token_id)([example])
    # One clip layout, the codec's [8, frames], for both; the processor also reads time-first codes.
    time_first = [
        dict(m, content=[dict(p, audio_codes=p["audio_codes"].T) if p.get("type") == "audio" else p
                         for p in m["content"]]) if isinstance(m["content"], list) else m
        for m in conversation
    ]
    reference = processor.apply_chat_template([conversation], return_labels=True)
    from_time_first = processor.apply_chat_template([time_first], return_labels=True)
    for key in ("input_ids", "labels", "audio_codes"):
        assert torch.equal(from_time_first[key], reference[key]), key
        assert torch.equal(batch[key], reference[key]), key


def test_pretraining_task_formats_train_everywhere(tok):
    tokenizer, special, tokenize, ids = tok
    codes = toy_codes(8)
    audio = [ids["sosp"], ids["empty"], ids["empty"], ids["eosp"]]
    asr = build_example("asr_pretrain", {"audio_codes": codes, "text": "hello"}, special, tokenize)
    assert asr["input_ids"] == asr["labels"] == audio + tokenize("hello")
    caption = build_example("captioning_pretrain", {"audio_codes": codes, "text": "a dog"}, special, tokenize)
    assert caption["input_ids"] == caption["labels"] == audio + tokenize("a dog")
    tts = build_example("tts_pretrain", {"audio_codes": codes, "text": "Hi"}, special, tokenize)
    streaming = [ids["sostm"]] + tokenize("Hi") + [ids["eot"], ids["empty"], ids["empty"], ids["eostm"]]
    assert tts["input_ids"] == tts["labels"] == tokenize("Hi") + streaming
    assert len(tts["audio_patches"]) == 2 * 32


def test_processor_and_formats_share_one_layout_engine():
    """Not two implementations that happen to agree: both lay out positions with `SegmentLayout`."""
    from processing import processing_mimo_audio, segment_layout
    from training_recipes import formats

    assert formats.SegmentLayout is segment_layout.SegmentLayout
    assert processing_mimo_audio.SegmentLayout is segment_layout.SegmentLayout
    assert formats.clip_to_patches is segment_layout.clip_to_patches is processing_mimo_audio.clip_to_patches
    assert isinstance(SequenceBuilder(TOY).layout, segment_layout.SegmentLayout)
