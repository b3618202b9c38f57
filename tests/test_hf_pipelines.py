"""transformers' own pipelines (`any-to-any`, `text-to-speech`, `text-to-audio`, `automatic-speech-recognition`) on a
saved tiny folder and on in-memory objects: each must give what the `"mimo-audio"` pipeline gives for the same
request (greedy decoding, so the two are comparable)."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForCTC, AutoModelForSpeechSeq2Seq, AutoModelForTextToWaveform, pipeline

import modeling_mimo_audio  # noqa: F401  (registers the classes)
from modeling_mimo_audio import MiMoAudioForConditionalGeneration
from modeling_mimo_audio.demo import synthesize_clip
from processing import task_models_mimo_audio
from processing.task_models_mimo_audio import MiMoAudioForSpeechRecognition, MiMoAudioForTextToSpeech
from processing.task_models_mimo_audio import transcript_logits
from processing.pipeline_mimo_audio import _RequestBatch

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# transformers pipelines write into a `generate_kwargs` dict they are given: every call gets its own copy.
GREEDY = {"do_sample": False, "audio_do_sample": False}


@pytest.fixture(scope="module")
def folder(model_and_processor, tmp_path_factory):
    """One Hub-style folder: model, processor, codec."""
    model, processor = model_and_processor
    path = tmp_path_factory.mktemp("folder")
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def reference(model_and_processor):
    model, processor = model_and_processor
    return pipeline("mimo-audio", model=model, processor=processor)


@pytest.fixture(scope="module")
def speech_bias(model_and_processor):
    """Generation settings under which the random model speaks: the text head always picks `<|empty|>` (with the
    speech presets' streaming layout off, which would ask for a 5-token text chunk first)."""
    _, processor = model_and_processor
    return {"sequence_bias": {(processor.special_ids["empty"],): 100.0}, "max_new_tokens": 4, "streaming_layout": False,
            **GREEDY}


@pytest.fixture(scope="module")
def clip():
    return synthesize_clip(1.0, 24000, seed=0)


# -- any-to-any ----------------------------------------------------------------------------------------------------

MESSAGES = [{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}]


@pytest.mark.parametrize("in_memory", [False, True])
def test_any_to_any_text_reply_is_the_text_dialogue_answer(folder, model_and_processor, reference, in_memory):
    model, processor = model_and_processor
    pipe = pipeline("any-to-any", model=model, processor=processor) if in_memory else pipeline("any-to-any", model=folder)
    expected = reference(MESSAGES, max_new_tokens=5, **GREEDY)["text"]
    new_text = pipe(text=MESSAGES, max_new_tokens=5, return_full_text=False, generate_kwargs=dict(GREEDY))
    assert new_text[0]["generated_text"].strip() == expected
    full = pipe(text=MESSAGES, max_new_tokens=5, generate_kwargs=dict(GREEDY))[0]["generated_text"]
    assert full[:-1] == MESSAGES and full[-1]["role"] == "assistant" and full[-1]["content"].strip() == expected


def test_any_to_any_audio_reply_with_a_speech_prompt(folder, model_and_processor, speech_bias):
    model, processor = model_and_processor
    pipe = pipeline("any-to-any", model=folder)
    out = pipe(text=MESSAGES, generation_mode="audio", speech_output=True, generate_kwargs=dict(speech_bias))
    audio = out[0]["generated_audio"]
    assert audio.dtype == np.float32 and audio.shape == (4 * 4 * 960,)  # 4 patches of 4 frames

    inputs = processor.apply_chat_template(MESSAGES, add_generation_prompt=True, speech_output=True)
    generated = model.generate(**inputs, **speech_bias)
    expected = processor.codes_to_waveforms(processor.extract_audio_codes(generated))[0]
    np.testing.assert_allclose(audio, expected.numpy(), atol=1e-5)
    # Without the spoken-reply prompt the model answers in text, and the audio request says what to pass.
    with pytest.raises(ValueError, match="speech_output=True"):
        pipe(text=MESSAGES, generation_mode="audio", generate_kwargs={"max_new_tokens": 2, **GREEDY})


def test_any_to_any_refuses_what_it_cannot_do(model_and_processor):
    model, processor = model_and_processor
    with pytest.raises(ValueError, match="continue_final_message"):
        processor.apply_chat_template(MESSAGES, continue_final_message=True)
    with pytest.raises(TypeError, match="processor_kwargs"):
        processor.apply_chat_template(MESSAGES, processor_kwargs={"truncation": True})
    inputs = processor.apply_chat_template(MESSAGES, add_generation_prompt=True)
    with pytest.raises(ValueError, match="generation_mode"):
        model.generate(**inputs, generation_mode="image", max_new_tokens=1)


def test_processor_and_pipelines_pad_prompts_on_the_left(model_and_processor):
    _, processor = model_and_processor
    assert processor.tokenizer.padding_side == "left" == processor.feature_extractor.padding_side


# -- text-to-speech / text-to-audio --------------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["text-to-speech", "text-to-audio"])
def test_tts_pipelines_speak_like_the_mimo_audio_pipeline(folder, reference, speech_bias, task):
    pipe = pipeline(task, model=folder)
    assert isinstance(pipe.model, MiMoAudioForTextToSpeech)
    out = pipe("Hello there.", generate_kwargs=dict(speech_bias))
    assert set(out) == {"audio", "sampling_rate"} and out["sampling_rate"] == 24000
    expected = reference("Hello there.", task="tts", **speech_bias)["audio"]
    assert out["audio"].dtype == np.float32 and out["audio"].shape == expected.shape == (4 * 4 * 960,)
    np.testing.assert_allclose(out["audio"], expected, atol=1e-5)


def test_tts_pipeline_batches_and_takes_instruction_and_voice(folder, reference, speech_bias, clip):
    pipe = pipeline("text-to-speech", model=folder)
    texts = ["Hello there.", "A second, longer sentence to speak."]
    batched = pipe(texts, batch_size=2, generate_kwargs=dict(speech_bias))
    singles = [pipe(text, generate_kwargs=dict(speech_bias)) for text in texts]
    for one, alone in zip(batched, singles):
        np.testing.assert_allclose(one["audio"], alone["audio"], atol=1e-5)

    style = {"instruction": "a female voice speaking quickly", "voice": clip}
    out = pipe("Hello there.", forward_params=style, generate_kwargs=dict(speech_bias))
    expected = reference("Hello there.", task="instruct_tts", **style, **speech_bias)["audio"]
    np.testing.assert_allclose(out["audio"], expected, atol=1e-5)


def test_tts_model_in_memory(folder, model_and_processor, reference, speech_bias, clip):
    model, processor = model_and_processor
    tts = AutoModelForTextToWaveform.from_pretrained(folder)
    assert isinstance(tts, MiMoAudioForTextToSpeech) and isinstance(tts, MiMoAudioForConditionalGeneration)
    pipe = pipeline("text-to-speech", model=tts, processor=processor, tokenizer=processor.tokenizer)
    expected = reference("Hi", task="tts", **speech_bias)["audio"]
    np.testing.assert_allclose(pipe("Hi", generate_kwargs=dict(speech_bias))["audio"], expected, atol=1e-5)

    # A MiMo prompt (chat, or base-model markup with audio and no <|im_start|>) is generated from as it is, as by the
    # base class: the "mimo-audio" pipeline's every task runs on this class too.
    fresh = AutoModelForTextToWaveform.from_pretrained(folder)
    pipeline("mimo-audio", model=fresh, processor=processor)("Hi", task="tts", max_new_tokens=2)
    assert fresh._processor is None  # prompts pass through without loading a second codec
    continuation = pipeline("mimo-audio", model=tts, processor=processor)
    for inputs in (processor.apply_chat_template(MESSAGES, add_generation_prompt=True),
                   continuation.preprocess(_RequestBatch([{"task": "speech_continuation", "audio": clip}]))["model_inputs"]):
        direct = model.generate(**inputs, max_new_tokens=3, **GREEDY)
        torch.testing.assert_close(tts.generate(**inputs, max_new_tokens=3, **GREEDY).sequences, direct.sequences)

    bare = MiMoAudioForTextToSpeech(model.config)
    with pytest.raises(ValueError, match="attach_processor"):
        bare.generate(input_ids=torch.tensor([[5, 6]]))
    bare.attach_processor(processor)
    assert bare.processor is processor
    with pytest.raises(TypeError, match="MiMoAudioProcessor"):
        bare.attach_processor(processor.tokenizer)
    with pytest.raises(ValueError, match="no text to speak"):
        tts.generate(input_ids=torch.tensor([[5, 6]]), attention_mask=torch.tensor([[0, 0]]))


# -- automatic-speech-recognition ----------------------------------------------------------------------------------


def test_asr_pipeline_transcribes_like_the_mimo_audio_pipeline(folder, model_and_processor, reference, clip):
    model, processor = model_and_processor
    pipe = pipeline("automatic-speech-recognition", model=folder)
    assert isinstance(pipe.model, MiMoAudioForSpeechRecognition)
    # The pipeline passes no generation arguments to a CTC-style model: the settings come from the model's config.
    pipe.model.generation_config.max_new_tokens = 6
    expected = reference(clip, task="asr", max_new_tokens=6)["text"]
    assert pipe(clip) == {"text": expected}
    assert pipe({"raw": clip, "sampling_rate": 24000}) == {"text": expected}
    assert pipe([clip, clip]) == [{"text": expected}] * 2

    for auto_class in (AutoModelForCTC, AutoModelForSpeechSeq2Seq):
        assert isinstance(auto_class.from_pretrained(folder), MiMoAudioForSpeechRecognition)


def test_asr_model_cuts_long_audio_and_reads_left_padding(folder, reference, clip, monkeypatch):
    asr = MiMoAudioForSpeechRecognition.from_pretrained(folder)
    asr.generation_config.max_new_tokens = 4
    features = asr.processor.feature_extractor([clip], sampling_rate=24000, return_tensors="pt")
    whole = asr(**features)
    assert whole.text == [reference(clip, task="asr", max_new_tokens=4)["text"]]
    # The logits spell the transcript for the pipeline: argmax, then decode (the blank id decodes to nothing).
    assert asr.processor.tokenizer.decode(whole.logits.argmax(-1)[0].tolist()) == whole.text[0]

    # A left-padded batch (as transformers' collate pads) transcribes each clip as alone.
    short = features["input_features"][..., :50]
    padded = torch.cat([torch.zeros_like(features["input_features"][..., :30]), short], dim=-1)
    mask = torch.cat([torch.zeros(1, 30, dtype=torch.long), torch.ones(1, 50, dtype=torch.long)], dim=-1)
    alone = asr(input_features=short).text
    assert asr(input_features=padded, attention_mask=mask).text == alone

    # Longer than a chunk: cut into chunks of ASR_CHUNK_FRAMES codec frames, their transcripts joined.
    monkeypatch.setattr(task_models_mimo_audio, "ASR_CHUNK_FRAMES", 10)
    codes = asr._codes(features["input_features"], features["attention_mask"])[0]
    pieces = [codes[:, s : s + 10] for s in range(0, codes.shape[1], 10)]
    expected = " ".join(
        t for t in (reference({"task": "asr", "audio": {"audio_codes": p, "codes_layout": "codebooks_frames"}},
                              max_new_tokens=4)["text"] for p in pieces) if t
    )
    assert asr(**features).text == [expected]


def test_transcript_logits():
    logits = transcript_logits([[3, 1], [2], []], blank_id=5)
    assert logits.shape == (3, 2, 6)
    assert logits.argmax(-1).tolist() == [[3, 1], [2, 5], [5, 5]]
    with pytest.raises(ValueError, match="blank id"):
        transcript_logits([[5]], blank_id=5)


def test_asr_model_refuses_bad_features(folder):
    asr = MiMoAudioForSpeechRecognition.from_pretrained(folder)
    with pytest.raises(ValueError, match="n_mels, frames"):
        asr(input_features=torch.zeros(2, 10))
    with pytest.raises(ValueError, match="mel bins"):
        asr(input_features=torch.zeros(1, 7, 10))
    with pytest.raises(ValueError, match="attention_mask"):
        asr(input_features=torch.zeros(1, asr.processor.feature_extractor.n_mels, 10),
            attention_mask=torch.ones(1, 9, dtype=torch.long))
