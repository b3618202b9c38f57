"""Prompt layouts of every MiMo-Audio task, checked token by token against layouts written by hand.

Each expected layout below is transcribed from upstream's prompt builders (src/mimo_audio/mimo_audio.py: the list of
`InputSegment`s of each task) and spec A.3/A.4: every text segment is tokenized on its own with the tokenizer
(`T(...)`), audio segments are `<|sosp|>` + one `<|empty|>` per patch + `<|eosp|>`, and streaming segments are written
out chunk by chunk.
"""

import pytest
import torch

from processing.feature_extraction_mimo_audio import MiMoAudioFeatureExtractor
from processing.processing_mimo_audio import MiMoAudioProcessor
from processing.prompts_mimo_audio import (
    AUDIO_PLACEHOLDER,
    SEGMENT_SEPARATOR,
    TASK_CHAT_TEMPLATE_KWARGS,
    AudioSegment,
    StreamingSegment,
    TextSegment,
    asr_conversation,
    audio_understanding_conversation,
    capitalize_if_single_case,
    choose_template,
    ASR_TEMPLATES,
    DEFAULT_ASR_TEMPLATE,
    in_context_learning_s2s_prompt,
    pad_codes_to_patches,
    parse_prompt_markup,
    speech_continuation_prompt,
    speech_to_text_dialogue_conversation,
    spoken_dialogue_conversation,
    streaming_chunks,
    text_dialogue_conversation,
    tts_conversation,
)
from processing.tokenization_mimo_audio import build_tiny_tokenizer


EMPTY_IDS = [1024, 1024, 128, 128, 128, 128, 128, 128]


@pytest.fixture(scope="module")
def processor():
    return MiMoAudioProcessor(MiMoAudioFeatureExtractor(), build_tiny_tokenizer())


@pytest.fixture(scope="module")
def tok(processor):
    tokenizer = processor.tokenizer

    class Tok:
        def T(self, text):
            return tokenizer(text, add_special_tokens=False)["input_ids"]

        def id(self, token):
            return tokenizer.convert_tokens_to_ids(token)

    return Tok()


def clip(frames, seed):
    """Precomputed codes [frames, 8] with valid per-channel values."""
    g = torch.Generator().manual_seed(seed)
    return torch.stack(
        [torch.randint(0, 1024 if c < 2 else 128, (frames,), generator=g) for c in range(8)], dim=1
    )


def patches_of(codes):
    """Spec A.1: pad to a multiple of 4 frames by repeating the last frame, then cut into [n, 4, 8] patches."""
    missing = (-codes.shape[0]) % 4
    padded = torch.cat([codes] + [codes[-1:]] * missing)
    return padded.reshape(-1, 4, 8)


class Expected:
    """Builds an expected layout position by position: text tokens get empty codes, patches their codes."""

    def __init__(self, tok):
        self.tok, self.ids, self.codes, self.target = tok, [], [], []

    def text(self, s, target=False):
        return self.tokens(self.tok.T(s), target)

    def tokens(self, ids, target=False):
        for i in ids:
            self.ids.append(i)
            self.codes.append(torch.tensor(EMPTY_IDS).expand(4, 8))
            self.target.append(target)
        return self

    def patches(self, patches, target=False):
        for p in patches:
            self.ids.append(self.tok.id("<|empty|>"))
            self.codes.append(p)
            self.target.append(target)
        return self

    def audio(self, codes, close=True, target=False):
        self.tokens([self.tok.id("<|sosp|>")], target)
        self.patches(patches_of(codes), target)
        if close:
            self.tokens([self.tok.id("<|eosp|>")], target)
        return self

    def check(self, out, row=0):
        mask = out["attention_mask"][row].bool()
        assert out["input_ids"][row][mask].tolist() == self.ids
        assert torch.equal(out["audio_codes"][row][mask], torch.stack(self.codes))
        if "labels" in out:
            expected_labels = [i if t else -100 for i, t in zip(self.ids, self.target)]
            assert out["labels"][row][mask].tolist() == expected_labels


def codes_part(codes):
    return {"audio_codes": codes, "codes_layout": "frames_codebooks"}  # `clip` is time first, also when square


# ------------------------------------------------------------------------------------------ pure helpers
def test_streaming_chunks_interleave_with_leftover_audio():
    order = streaming_chunks([1, 2, 3, 4, 5, 6, 7], num_patches=12, eot_id=99)
    assert order == [
        ("text", [1, 2, 3, 4, 5]),
        ("audio", range(0, 5)),
        ("text", [6, 7, 99]),
        ("audio", range(5, 10)),
        ("audio", range(10, 12)),
    ]


def test_streaming_chunks_leftover_text_and_exact_multiples():
    order = streaming_chunks(list(range(10, 22)), num_patches=5, eot_id=99)
    assert order == [
        ("text", [10, 11, 12, 13, 14]),
        ("audio", range(0, 5)),
        ("text", [15, 16, 17, 18, 19]),
        ("text", [20, 21, 99]),
    ]
    # a transcript of exactly 5 tokens: <|eot|> joins that chunk (6 tokens), it does not start a new one
    assert streaming_chunks([1, 2, 3, 4, 5], 3, 99) == [("text", [1, 2, 3, 4, 5, 99]), ("audio", range(0, 3))]
    assert streaming_chunks([], 2, 99) == [("text", [99]), ("audio", range(0, 2))]


def test_pad_codes_to_patches_repeats_last_frame():
    codes = torch.arange(6 * 8).reshape(6, 8)
    patches = pad_codes_to_patches(codes, 4)
    assert patches.shape == (2, 4, 8)
    assert patches[1, 1].tolist() == codes[5].tolist() and patches[1, 2].tolist() == codes[5].tolist()
    assert patches[1, 3].tolist() == codes[5].tolist()
    with pytest.raises(ValueError, match="0 frames"):
        pad_codes_to_patches(torch.zeros(0, 8, dtype=torch.long))


def test_parse_prompt_markup():
    markup = "a" + SEGMENT_SEPARATOR + "b" + AUDIO_PLACEHOLDER + "\x02<|sostm|>\x1fhi\x1f<|eostm|>c\x03<|sosp|><|empty|>"
    assert parse_prompt_markup(markup) == [
        TextSegment("a"),
        TextSegment("b"),
        AudioSegment(0),
        StreamingSegment("hi", 1, target=True),
        TextSegment("c", target=True),
        AudioSegment(2, close=False),
    ]
    with pytest.raises(ValueError, match="TARGET_END"):
        parse_prompt_markup("a\x03")
    with pytest.raises(ValueError, match="TARGET_BEGIN"):
        parse_prompt_markup("\x02a")


def test_templates_are_deterministic_unless_asked():
    assert choose_template(ASR_TEMPLATES, DEFAULT_ASR_TEMPLATE, "en") == "Transcribe the following voice message"
    a = choose_template(ASR_TEMPLATES, DEFAULT_ASR_TEMPLATE, "en", random_template=True, seed=3)
    b = choose_template(ASR_TEMPLATES, DEFAULT_ASR_TEMPLATE, "en", random_template=True, seed=3)
    assert a == b and a in ASR_TEMPLATES["en"] + ASR_TEMPLATES["zh"]
    draws = {choose_template(ASR_TEMPLATES, DEFAULT_ASR_TEMPLATE, "en", True, seed=s) for s in range(30)}
    assert len(draws) > 5


def test_no_silent_recapitalisation(processor):
    conv = tts_conversation("hello world")
    assert conv[0]["content"] == "Please convert this text to speech: hello world"
    conv = tts_conversation("hello world", capitalize=True)
    assert conv[0]["content"] == "Please convert this text to speech: Hello world"
    assert capitalize_if_single_case("HELLO") == "Hello" and capitalize_if_single_case("McDonald") == "McDonald"


# ------------------------------------------------------------------------------------------ task layouts
def test_asr_layout(processor, tok):
    audio = clip(10, 0)
    out = processor.apply_chat_template(asr_conversation(codes_part(audio)), add_generation_prompt=True,
                                        **TASK_CHAT_TEMPLATE_KWARGS["asr"])
    e = Expected(tok).text("<|im_start|>user\n").audio(audio).text("Transcribe the following voice message")
    e.text("<|im_end|>\n").text("<|im_start|>assistant\n").text("<think>\n\n</think>\n")
    e.check(out)
    # 10 frames -> 3 patches, the last one padded with 2 copies of frame 9
    assert out["audio_codes"][0, 6, 2:].tolist() == [audio[9].tolist()] * 2  # positions: 3 text, <|sosp|>, 3 patches


def test_tts_layout(processor, tok):
    out = processor.apply_chat_template(tts_conversation("Good morning."), add_generation_prompt=True,
                                        **TASK_CHAT_TEMPLATE_KWARGS["tts"])
    e = Expected(tok).text("<|im_start|>user\nPlease convert this text to speech: Good morning.<|im_end|>\n")
    e.text("<|im_start|>assistant\n<|sostm|>").check(out)
    zh = processor.apply_chat_template(tts_conversation("今天天气很好"), add_generation_prompt=True,
                                       **TASK_CHAT_TEMPLATE_KWARGS["tts"])
    e = Expected(tok).text("<|im_start|>user\n请将这段文字转换为语音: 今天天气很好<|im_end|>\n")
    e.text("<|im_start|>assistant\n<|sostm|>").check(zh)


def test_instruct_tts_layout(processor, tok):
    conv = tts_conversation("Good morning.", instruction="happy and fast")
    out = processor.apply_chat_template(conv, add_generation_prompt=True, **TASK_CHAT_TEMPLATE_KWARGS["instruct_tts"])
    e = Expected(tok).text("<|im_start|>system\n").text("你需要根据指定的风格指令和文本内容来生成语音。")
    e.text("<|im_end|>\n")
    e.text("<|im_start|>user\nPlease convert this text to speech: Good morning.(happy and fast)<|im_end|>\n")
    e.text("<|im_start|>assistant\n<think>\n").check(out)


def test_instruct_tts_with_voice_prompt_layout(processor, tok):
    voice = clip(9, 1)
    conv = tts_conversation("Good morning.", instruction="calm", voice=codes_part(voice))
    out = processor.apply_chat_template(conv, add_generation_prompt=True, **TASK_CHAT_TEMPLATE_KWARGS["instruct_tts"])
    e = Expected(tok).text("<|im_start|>system\n")
    e.text("你需要根据指定的风格指令和文本内容来生成和语音prompt具有相同音色的语音。你的音色应该是：")
    e.audio(voice).text("<|im_end|>\n")
    e.text("<|im_start|>user\nPlease convert this text to speech: Good morning.(calm)<|im_end|>\n")
    e.text("<|im_start|>assistant\n<think>\n").check(out)
    with pytest.raises(ValueError, match="instruction"):
        tts_conversation("Good morning.", voice=codes_part(voice))


@pytest.mark.parametrize("thinking", [False, True])
def test_audio_understanding_layout(processor, tok, thinking):
    audio = clip(8, 2)
    conv = audio_understanding_conversation(codes_part(audio), "What sound is heard?")
    out = processor.apply_chat_template(conv, add_generation_prompt=True, thinking=thinking)
    e = Expected(tok).text("<|im_start|>user\n").audio(audio).text("What sound is heard?").text("<|im_end|>\n")
    e.text("<|im_start|>assistant\n").text("<think>\n" if thinking else "<think>\n\n</think>\n").check(out)


def test_spoken_dialogue_single_turn_layout(processor, tok):
    voice, question = clip(4, 3), clip(7, 4)
    conv = spoken_dialogue_conversation([{"role": "user", "content": codes_part(question)}],
                                        system_prompt="Be brief.", voice=codes_part(voice))
    out = processor.apply_chat_template(conv, add_generation_prompt=True, **TASK_CHAT_TEMPLATE_KWARGS["spoken_dialogue"])
    e = Expected(tok).text("<|im_start|>system\n").text("Your voice should be:").audio(voice).text("<|im_end|>\n")
    e.text("<|im_start|>user\n").text("Be brief.").text("\n\n").audio(question).text("<|im_end|>\n")
    e.text("<|im_start|>assistant\n<|sostm|>").check(out)


def test_spoken_dialogue_multi_turn_layout_and_labels(processor, tok):
    q1, a1, q2 = clip(5, 5), clip(47, 6), clip(4, 7)  # a1: 47 frames -> 12 patches
    answer = "Hello world, how are you today?"
    conv = spoken_dialogue_conversation([
        {"role": "user", "content": codes_part(q1)},
        {"role": "assistant", "content": {"text": answer, "audio": codes_part(a1)}},
        {"role": "user", "content": codes_part(q2)},
    ])
    out = processor.apply_chat_template(conv, add_generation_prompt=True, return_labels=True,
                                        **TASK_CHAT_TEMPLATE_KWARGS["spoken_dialogue"])
    t = tok.T(answer)
    assert 10 < len(t) <= 15, "the hand-written chunking below assumes 11-15 transcript tokens"
    p = patches_of(a1)
    assert p.shape[0] == 12
    e = Expected(tok).text("<|im_start|>user\n").audio(q1).text("<|im_end|>\n").text("<|im_start|>assistant\n")
    # streaming segment (spec A.3): <|sostm|> T1 A1 T2 A2 T3+<|eot|> A3 <|eostm|>, then <|im_end|>\n -- all targets
    e.tokens([tok.id("<|sostm|>")], True)
    e.tokens(t[0:5], True).patches(p[0:5], True)
    e.tokens(t[5:10], True).patches(p[5:10], True)
    e.tokens(t[10:] + [tok.id("<|eot|>")], True).patches(p[10:12], True)
    e.tokens([tok.id("<|eostm|>")], True).text("<|im_end|>\n", True)
    e.text("<|im_start|>user\n").audio(q2).text("<|im_end|>\n").text("<|im_start|>assistant\n<|sostm|>")
    e.check(out)


def test_speech_to_text_dialogue_layout(processor, tok):
    q1, q2 = clip(4, 8), clip(6, 9)
    conv = speech_to_text_dialogue_conversation([
        {"role": "user", "content": codes_part(q1)},
        {"role": "assistant", "content": "Sure."},
        {"role": "user", "content": codes_part(q2)},
    ])
    out = processor.apply_chat_template(conv, add_generation_prompt=True, thinking=True)
    e = Expected(tok).text("<|im_start|>user\n").audio(q1).text("<|im_end|>\n")
    e.text("<|im_start|>assistant\n").text("Sure.").text("<|im_end|>\n")
    e.text("<|im_start|>user\n").audio(q2).text("<|im_end|>\n").text("<|im_start|>assistant\n").text("<think>\n")
    e.check(out)


def test_text_dialogue_layout(processor, tok):
    conv = text_dialogue_conversation([
        {"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "How are you?"},
    ])
    out = processor.apply_chat_template(conv, add_generation_prompt=True)
    e = Expected(tok).text("<|im_start|>user\n").text("Hi!").text("<|im_end|>\n")
    e.text("<|im_start|>assistant\n").text("Hello.").text("<|im_end|>\n")
    e.text("<|im_start|>user\n").text("How are you?").text("<|im_end|>\n")
    e.text("<|im_start|>assistant\n").text("<think>\n\n</think>\n").check(out)


def test_in_context_learning_s2s_layout(processor, tok):
    ex_in, ex_out, query = clip(4, 10), clip(22, 11), clip(5, 12)  # ex_out: 22 frames -> 6 patches
    markup, audios = in_context_learning_s2s_prompt(
        [{"input_audio": codes_part(ex_in), "output_audio": codes_part(ex_out), "output_transcription": "Good day"}],
        codes_part(query), instruction="Convert the voice.",
    )
    out = processor(text=markup, audio=audios)
    t = tok.T("Good day")
    assert len(t) <= 5
    p = patches_of(ex_out)
    e = Expected(tok).text("[Int]:Convert the voice.\n").audio(ex_in).text("\n")
    e.tokens([tok.id("<|sostm|>")]).tokens(t + [tok.id("<|eot|>")]).patches(p[0:5]).patches(p[5:6])
    e.tokens([tok.id("<|eostm|>")]).text(" \n\n")
    e.audio(query).text("\n").text("<|sostm|>").check(out)


def test_speech_continuation_layout(processor, tok):
    audio = clip(12, 13)
    markup, audios = speech_continuation_prompt(codes_part(audio))
    out = processor(text=markup, audio=audios)
    Expected(tok).audio(audio, close=False).check(out)


def test_sft_labels_cover_assistant_turns_only(processor, tok):
    """Spec B.3 / upstream fine-tuning code: targets start after the generation prompt and end with <|im_end|>\\n."""
    audio = clip(8, 14)
    conv = [
        {"role": "user", "content": [{"type": "audio", **codes_part(audio)}, {"type": "text", "text": "Describe."}]},
        {"role": "assistant", "content": "A dog barks.", "thinking": "It sounds like a dog."},
    ]
    out = processor.apply_chat_template(conv, return_labels=True)
    e = Expected(tok).text("<|im_start|>user\n").audio(audio).text("Describe.").text("<|im_end|>\n")
    e.text("<|im_start|>assistant\n").text("<think>\n")
    e.text("It sounds like a dog.", True).text("</think>\n", True).text("A dog barks.", True)
    e.text("<|im_end|>\n", True).check(out)
    conv[1] = {"role": "assistant", "content": "A dog barks.", "thinking": ""}
    out = processor.apply_chat_template(conv, return_labels=True)
    e = Expected(tok).text("<|im_start|>user\n").audio(audio).text("Describe.").text("<|im_end|>\n")
    e.text("<|im_start|>assistant\n").text("<think>\n\n</think>\n").text("A dog barks.", True)
    e.text("<|im_end|>\n", True).check(out)


def test_tts_training_targets_include_sostm_and_patches(processor, tok):
    speech = clip(20, 15)  # 5 patches
    conv = tts_conversation("Good day") + [
        {"role": "assistant", "content": [{"type": "text", "text": "Good day"}, {"type": "audio", "audio_codes": speech}]}
    ]
    out = processor.apply_chat_template(conv, return_labels=True)
    e = Expected(tok).text("<|im_start|>user\nPlease convert this text to speech: Good day<|im_end|>\n")
    e.text("<|im_start|>assistant\n")
    e.tokens([tok.id("<|sostm|>")] + tok.T("Good day") + [tok.id("<|eot|>")], True).patches(patches_of(speech), True)
    e.tokens([tok.id("<|eostm|>")], True).text("<|im_end|>\n", True).check(out)
    # the patches are audio targets: their labels are <|empty|>
    labels = out["labels"][0]
    assert int((labels == tok.id("<|empty|>")).sum()) == 5
