"""MiMoAudioProcessor: batching, codec calls, generate round trip, decoding, saving and errors (tiny models)."""

import os

import numpy as np
import pytest
import soundfile as sf
import torch
from transformers import AutoProcessor, LogitsProcessor, LogitsProcessorList
from transformers.testing_utils import CaptureLogger

import modeling_mimo_audio  # noqa: F401  (registers the Auto classes)
from modeling_mimo_audio.tiny import build_tiny_model_set
from processing import processing_mimo_audio
from processing.processing_mimo_audio import MiMoAudioProcessor
from processing.prompts_mimo_audio import text_dialogue_conversation


@pytest.fixture(scope="module")
def tiny_set():
    return build_tiny_model_set(seed=0)


def tone(seconds, freq=220.0, sr=24000):
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def ids(processor, token):
    return processor.tokenizer.convert_tokens_to_ids(token)


class CountingCodec:
    """Wraps the codec's `encode` to count calls and batch sizes."""

    def __init__(self, codec):
        self.codec, self.calls = codec, []
        self.original = codec.encode

    def __enter__(self):
        def encode(input_features, *args, **kwargs):
            self.calls.append(input_features.shape[0])
            return self.original(input_features, *args, **kwargs)

        self.codec.encode = encode
        return self

    def __exit__(self, *exc):
        del self.codec.encode


class ForcedTokens(LogitsProcessor):
    """Forces the text token of each generation step (the tiny model is random)."""

    def __init__(self, prompt_length, schedule):
        self.prompt_length, self.schedule = prompt_length, schedule

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.prompt_length
        forced = torch.full_like(scores, -float("inf"))
        forced[:, self.schedule[min(step, len(self.schedule) - 1)]] = 0.0
        return forced


def two_clip_conversation(a, b):
    return [{"role": "user", "content": [
        {"type": "audio", "audio": a},
        {"type": "text", "text": "Which clip is higher?"},
        {"type": "audio", "audio": b, "sampling_rate": 24000},
    ]}]


def test_batch_with_two_clips_and_text_only_row(tiny_set):
    model, processor = tiny_set
    a, b = tone(0.5), tone(0.3, 440.0)
    with CountingCodec(processor.audio_tokenizer) as counter:
        out = processor.apply_chat_template(
            [two_clip_conversation(a, b), text_dialogue_conversation("Hello world!")],
            add_generation_prompt=True, thinking=True,
        )
    assert counter.calls == [2], "all clips of a batch go through the codec in one call"
    B, P = out["input_ids"].shape
    assert out["audio_codes"].shape == (B, P, 4, 8) and out["attention_mask"].shape == (B, P)
    # left padding: the text-only row is shorter, its padding is on the left, with pad id and empty codes
    mask = out["attention_mask"]
    assert mask[0].all() and not mask[1].all()
    n_pad = int((mask[1] == 0).sum())
    assert mask[1, :n_pad].sum() == 0 and mask[1, n_pad:].all()
    assert (out["input_ids"][1, :n_pad] == processor.tokenizer.pad_token_id).all()
    assert (out["audio_codes"][1, :n_pad] == torch.tensor(processor.speech_empty_ids)).all()
    # each clip's codes are those of the clip encoded alone (25 Hz: 0.5 s -> 13 frames -> 4 patches)
    empty = ids(processor, "<|empty|>")
    row = out["input_ids"][0]
    for clip in (a, b):
        alone = processor.encode_audio([clip])[0]
        sosp = (row == ids(processor, "<|sosp|>")).nonzero().flatten().tolist()
        found = [out["audio_codes"][0, s + 1 : s + 1 + alone.shape[0]] for s in sosp]
        assert any(torch.equal(f, alone) for f in found)
    assert int((row == empty).sum()) == processor.encode_audio([a])[0].shape[0] + processor.encode_audio([b])[0].shape[0]
    # ends with the thinking generation prompt
    tail = processor.tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    tail += processor.tokenizer("<think>\n", add_special_tokens=False)["input_ids"]
    assert row[-len(tail):].tolist() == tail and out["input_ids"][1, -len(tail):].tolist() == tail


def test_generate_then_decode_text_and_audio(tiny_set):
    model, processor = tiny_set
    inputs = processor.apply_chat_template(
        [two_clip_conversation(tone(0.4), tone(0.2, 330.0)), text_dialogue_conversation("Hi")],
        add_generation_prompt=True, thinking=True,
    )
    P = inputs["input_ids"].shape[1]
    word = processor.tokenizer("Hello", add_special_tokens=False)["input_ids"]
    schedule = word + [ids(processor, t) for t in ("<|sostm|>", "<|empty|>", "<|empty|>", "<|empty|>", "<|eostm|>")]
    schedule.append(ids(processor, "<|im_end|>"))
    out = model.generate(**inputs, max_new_tokens=len(schedule) + 2, do_sample=False,
                         eos_token_id=[ids(processor, "<|im_end|>")],
                         logits_processor=LogitsProcessorList([ForcedTokens(P, schedule)]))
    assert processor.batch_decode(out, prompt_length=P) == ["Hello", "Hello"]
    codes = processor.extract_audio_codes(out, prompt_length=P)
    start = P + len(word) + 1
    for b in range(2):
        assert torch.equal(codes[b], out.audio_codes[b, start : start + 3].reshape(12, 8))
    waves = processor.decode_audio(out, prompt_length=P)
    assert [w.shape for w in waves] == [torch.Size([12 * 960])] * 2
    assert all(torch.isfinite(w).all() for w in waves)


def test_extract_audio_codes_span_rules(tiny_set):
    _, processor = tiny_set
    sostm, eostm, empty, eot = (ids(processor, t) for t in ("<|sostm|>", "<|eostm|>", "<|empty|>", "<|eot|>"))
    text = processor.tokenizer("Hi", add_special_tokens=False)["input_ids"][0]
    sequences = torch.tensor([
        [text, empty, sostm, text, empty, eot, empty, eostm, empty],  # span after <|sostm|> up to <|eostm|>
        [empty, text, empty, empty, eostm, empty, text, text, text],  # no <|sostm|>: from the start to <|eostm|>
    ])
    codes = torch.arange(2 * 9 * 32).reshape(2, 9, 4, 8)
    clips = processor.extract_audio_codes({"sequences": sequences, "audio_codes": codes})
    assert torch.equal(clips[0], torch.cat([codes[0, 4], codes[0, 6]]))
    assert torch.equal(clips[1], torch.cat([codes[1, 0], codes[1, 2], codes[1, 3]]))
    # prompt_length skips the prompt
    clips = processor.extract_audio_codes({"sequences": sequences, "audio_codes": codes}, prompt_length=3)
    assert torch.equal(clips[0], torch.cat([codes[0, 4], codes[0, 6]]))
    assert torch.equal(clips[1], torch.cat([codes[1, 3]]))


def test_batch_decode_removes_special_tokens(tiny_set):
    _, processor = tiny_set
    tok = processor.tokenizer
    row = tok("<|empty|>Hello<|eot|> world<|eostm|><|im_end|>", add_special_tokens=False)["input_ids"]
    assert processor.batch_decode(torch.tensor([row])) == ["Hello world"]
    assert processor.decode(torch.tensor(row)) == "Hello world"


def test_save_and_reload_through_auto_classes(tiny_set, tmp_path):
    _, processor = tiny_set
    processor.save_pretrained(tmp_path)
    assert os.path.isfile(tmp_path / "chat_template.jinja")
    assert os.path.isfile(tmp_path / "audio_tokenizer" / "config.json")
    reloaded = AutoProcessor.from_pretrained(tmp_path)
    assert isinstance(reloaded, MiMoAudioProcessor)
    assert reloaded.chat_template == processor.chat_template
    assert reloaded.speech_empty_ids == processor.speech_empty_ids and reloaded.patch_size == processor.patch_size
    assert reloaded.tokenizer.get_vocab() == processor.tokenizer.get_vocab()
    state, state2 = processor.audio_tokenizer.state_dict(), reloaded.audio_tokenizer.state_dict()
    assert state.keys() == state2.keys() and all(torch.equal(state[k], state2[k]) for k in state)
    conv = two_clip_conversation(tone(0.3), tone(0.2))
    a = processor.apply_chat_template(conv, add_generation_prompt=True)
    b = reloaded.apply_chat_template(conv, add_generation_prompt=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    without = MiMoAudioProcessor.from_pretrained(tmp_path, load_audio_tokenizer=False)
    assert without.audio_tokenizer is None


def test_processor_without_codec_takes_codes_and_rejects_waveforms(tiny_set):
    _, processor = tiny_set
    bare = MiMoAudioProcessor(processor.feature_extractor, processor.tokenizer)
    conv = [{"role": "user", "content": [{"type": "audio", "audio_codes": torch.zeros(5, 8, dtype=torch.long)}]}]
    out = bare.apply_chat_template(conv)
    assert int((out["input_ids"][0] == ids(bare, "<|empty|>")).sum()) == 2
    with pytest.raises(ValueError, match="codec"):
        bare.apply_chat_template([{"role": "user", "content": [{"type": "audio", "audio": tone(0.2)}]}])
    with pytest.raises(ValueError, match="codec"):
        bare.decode_audio({"sequences": torch.zeros(1, 2, dtype=torch.long), "audio_codes": torch.zeros(1, 2, 4, 8)})


def test_bad_inputs_raise_clear_errors(tiny_set):
    _, processor = tiny_set
    with pytest.raises(ValueError, match="placeholder"):
        processor(text="<|sosp|><|empty|><|eosp|>", audio=[])
    with pytest.raises(ValueError, match="audio_codes"):
        processor(text="<|sosp|><|empty|><|eosp|>", audio=[{"audio_codes": torch.zeros(5, 3, dtype=torch.long)}])
    with pytest.raises(ValueError, match="roles"):
        processor.apply_chat_template([{"role": "tool", "content": "x"}])
    with pytest.raises(TypeError, match="audio must be a file path"):
        processor(text="<|sosp|><|empty|><|eosp|>", audio=[object()])
    with pytest.raises(ValueError, match="not found"):
        processor(text="<|sosp|><|empty|><|eosp|>", audio=["/nonexistent/file.wav"])
    pcm = (tone(0.2) * 32767).astype(np.int16)
    with pytest.raises(TypeError, match="float samples"):
        processor(text="<|sosp|><|empty|><|eosp|>", audio=[pcm], sampling_rate=24000)
    with pytest.raises(ValueError, match="NaN"):
        processor(text="<|sosp|><|empty|><|eosp|>", audio=[np.full(2400, np.nan, np.float32)], sampling_rate=24000)


def test_stereo_in_either_layout_is_averaged_to_mono(tiny_set):
    _, processor = tiny_set
    left, right = tone(0.4, freq=200.0), tone(0.4, freq=330.0)
    markup = "<|sosp|><|empty|><|eosp|>"
    mono = processor(text=markup, audio=[(left + right) / 2], sampling_rate=24000)["audio_codes"]
    channels_first = processor(text=markup, audio=[np.stack([left, right])], sampling_rate=24000)["audio_codes"]
    samples_first = processor(text=markup, audio=[np.stack([left, right], axis=1)], sampling_rate=24000)["audio_codes"]
    assert torch.equal(channels_first, mono)
    assert torch.equal(samples_first, mono)


def test_resampling_warns_and_files_load(tiny_set, tmp_path):
    _, processor = tiny_set
    path = tmp_path / "a.wav"
    sf.write(path, tone(0.4, sr=16000, freq=200.0), 16000)
    with CaptureLogger(processing_mimo_audio.logger) as cl:
        out = processor(text="<|sosp|><|empty|><|eosp|>", audio=[str(path)])
    assert "resampling" in cl.out
    assert int((out["input_ids"][0] == ids(processor, "<|empty|>")).sum()) == 3  # 0.4 s -> 10 frames -> 3 patches


def test_right_padding_and_labels(tiny_set):
    _, processor = tiny_set
    conv_long = text_dialogue_conversation([{"role": "user", "content": "Hello world!"},
                                            {"role": "assistant", "content": "Hi."}])
    conv_short = text_dialogue_conversation([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yes."}])
    out = processor.apply_chat_template([conv_long, conv_short], return_labels=True, padding_side="right")
    mask = out["attention_mask"]
    assert mask[1, 0] == 1 and mask[1, -1] == 0
    assert (out["labels"][mask == 0] == -100).all()
    expected = processor.tokenizer("Yes.", add_special_tokens=False)["input_ids"]
    expected += processor.tokenizer("<|im_end|>\n", add_special_tokens=False)["input_ids"]
    assert [t for t in out["labels"][1].tolist() if t != -100] == expected


def test_save_audio_writes_wav(tiny_set, tmp_path):
    _, processor = tiny_set
    wave = torch.linspace(-0.5, 0.5, 2400)
    processor.save_audio([wave], [tmp_path / "x.wav"])
    data, sr = sf.read(tmp_path / "x.wav")
    assert sr == 24000 and data.shape == (2400,)
    np.testing.assert_allclose(data, wave.numpy(), atol=1e-4)


def test_chunked_decoding_matches_decoding_each_chunk_alone(tiny_set):
    """Upstream decodes in independent 1500-frame chunks; `chunk_frames` reproduces that, batched."""
    _, processor = tiny_set
    g = torch.Generator().manual_seed(0)
    clip = torch.stack([torch.randint(0, 1024 if c < 2 else 128, (10,), generator=g) for c in range(8)], 1)
    chunked = processor.codes_to_waveforms([clip, clip[:3]], chunk_frames=4)
    codec = processor.audio_tokenizer
    alone = [codec.decode(part.T[None]).audio_values[0, 0] for part in (clip[0:4], clip[4:8], clip[8:10])]
    torch.testing.assert_close(chunked[0], torch.cat(alone), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(chunked[1], codec.decode(clip[:3].T[None]).audio_values[0, 0], atol=1e-5, rtol=1e-5)
    whole = processor.codes_to_waveforms([clip], chunk_frames=None)[0]
    assert whole.shape == (10 * 960,)


def test_generation_presets_follow_spec_section_e(tiny_set):
    from processing.generation_presets import get_generation_preset

    model, processor = tiny_set
    eos, im_end, eostm, sosp, eosp = (ids(processor, t) for t in
                                      ("<|endoftext|>", "<|im_end|>", "<|eostm|>", "<|sosp|>", "<|eosp|>"))
    asr = get_generation_preset("asr", processor)
    assert asr.do_sample is False and asr.eos_token_id == [eos, im_end] and asr.max_new_tokens == 8192
    assert (asr.audio_temperature, asr.audio_top_p, asr.audio_top_k) == (0.9, 0.95, 0)
    tts = get_generation_preset("tts", processor)
    assert (tts.do_sample, tts.temperature, tts.top_p, tts.top_k) == (True, 0.6, 1.0, 0)
    # Upstream's task samplers have no top-k: the text processors built from the preset must not add one.
    from transformers import TopKLogitsWarper

    tts_processors = model.build_text_logits_processor(tts, prompt_length=1)
    assert not any(isinstance(p, TopKLogitsWarper) for p in tts_processors)
    assert tts.eos_token_id == [eos, eostm, im_end]
    dialogue = get_generation_preset("spoken_dialogue_eval", processor)
    assert (dialogue.temperature, dialogue.top_p, dialogue.audio_temperature) == (0.3, 0.95, 0.7)
    assert get_generation_preset("audio_understanding", processor).temperature == 0.3
    assert get_generation_preset("text_dialogue", processor).temperature == 0.4
    assert get_generation_preset("in_context_learning_s2s", processor).eos_token_id == [eos, eostm]
    assert get_generation_preset("few_shot_mmau", processor).eos_token_id == [eos, sosp]
    assert get_generation_preset("speech_continuation", processor).eos_token_id == [eos, eosp]
    default = get_generation_preset("default", processor, max_new_tokens=7)
    assert (default.temperature, default.top_k, default.top_p, default.audio_top_k) == (0.6, 50, 0.95, 50)
    assert default.max_new_tokens == 7
    with pytest.raises(ValueError, match="unknown generation preset"):
        get_generation_preset("karaoke", processor)


def test_saved_codec_is_found_in_a_local_folder_or_a_hub_repo(tiny_set, tmp_path, monkeypatch):
    from modeling_mimo_audio import MiMoAudioTokenizerModel
    from processing.processing_mimo_audio import load_saved_audio_tokenizer

    _, processor = tiny_set
    assert load_saved_audio_tokenizer(str(tmp_path)) is None  # a local folder without `audio_tokenizer/`
    processor.save_pretrained(tmp_path / "saved")
    local = load_saved_audio_tokenizer(tmp_path / "saved")
    assert isinstance(local, MiMoAudioTokenizerModel) and not local.training

    calls = []

    def from_hub(cls, name, subfolder=None, **kwargs):  # stands in for the Hub: no network in tests
        calls.append((name, subfolder))
        if name == "someone/without-codec":
            raise OSError("404: no audio_tokenizer/config.json")
        return processor.audio_tokenizer

    monkeypatch.setattr(MiMoAudioTokenizerModel, "from_pretrained", classmethod(from_hub))
    assert load_saved_audio_tokenizer("someone/mimo-audio-hf") is processor.audio_tokenizer
    with CaptureLogger(processing_mimo_audio.logger) as captured:
        assert load_saved_audio_tokenizer("someone/without-codec") is None
    assert "no codec" in captured.out
    assert calls == [("someone/mimo-audio-hf", "audio_tokenizer"), ("someone/without-codec", "audio_tokenizer")]
