"""The "mimo-audio" pipeline on the tiny random model set: every task, batching, errors."""

import numpy as np
import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList, pipeline

import modeling_mimo_audio  # noqa: F401  (registers the pipeline)
from modeling_mimo_audio.demo import synthesize_clip
from processing.generation_presets import get_generation_preset
from processing.pipeline_mimo_audio import GenerationProgressBar, MiMoAudioPipeline, _RequestBatch, _split_thinking
from processing.prompts_mimo_audio import asr_conversation

pytestmark = pytest.mark.usefixtures("one_torch_thread")

GREEDY = {"do_sample": False, "audio_do_sample": False}


class ForceToken(LogitsProcessor):
    """Makes the text head pick `token_id` (e.g. `<|empty|>`, so that a random model generates audio patches)."""

    def __init__(self, token_id):
        self.token_id = token_id

    def __call__(self, input_ids, scores):
        forced = torch.full_like(scores, float("-inf"))
        forced[:, self.token_id] = 0.0
        return forced


@pytest.fixture(scope="module")
def pipe(model_and_processor):
    model, processor = model_and_processor
    return pipeline("mimo-audio", model=model, processor=processor)


@pytest.fixture(scope="module")
def clips():
    return synthesize_clip(1.0, 24000, seed=0), synthesize_clip(0.6, 24000, seed=1)


def speech_forcing(processor):
    return LogitsProcessorList([ForceToken(processor.special_ids["empty"])])


def test_pipeline_factory_returns_registered_class(pipe):
    assert isinstance(pipe, MiMoAudioPipeline)
    from transformers.pipelines import PIPELINE_REGISTRY

    assert PIPELINE_REGISTRY.supported_tasks["mimo-audio"]["impl"] is MiMoAudioPipeline


def test_asr_matches_processor_generate_decode(pipe, model_and_processor, clips):
    model, processor = model_and_processor
    result = pipe(clips[0], task="asr", max_new_tokens=6)
    assert set(result) == {"task", "text", "thinking", "audio", "audio_codes", "sampling_rate"}
    assert result["task"] == "asr" and result["audio"] is None and result["sampling_rate"] == 24000

    inputs = processor.apply_chat_template(asr_conversation(clips[0]), add_generation_prompt=True)
    output = model.generate(**inputs, generation_config=get_generation_preset("asr", processor, max_new_tokens=6))
    expected = processor.batch_decode(output, prompt_length=inputs["input_ids"].shape[1])[0]
    assert result["text"] == expected


def test_batched_mixed_tasks_equal_single_calls(pipe, clips):
    requests = [
        {"task": "asr", "audio": clips[0]},
        {"task": "text_dialogue", "text": "Hello, how are you?"},
        {"task": "asr", "audio": clips[1]},
        {"task": "audio_understanding", "audio": clips[1], "text": "What is this sound?"},
    ]
    batched = pipe(requests, max_new_tokens=5, **GREEDY)
    assert [r["task"] for r in batched] == ["asr", "text_dialogue", "asr", "audio_understanding"]
    singles = [pipe(request, max_new_tokens=5, **GREEDY) for request in requests]
    assert [r["text"] for r in batched] == [r["text"] for r in singles]
    # batch_size=1 runs one generate call per request, with the same results.
    one_by_one = pipe(requests, batch_size=1, max_new_tokens=5, **GREEDY)
    assert [r["text"] for r in one_by_one] == [r["text"] for r in singles]


def test_two_audio_clips_with_thinking_batched_with_text_only(pipe, clips):
    with_audio = [
        {
            "role": "user",
            "content": [
                {"type": "audio", "audio": clips[0]},
                {"type": "audio", "audio": clips[1]},
                {"type": "text", "text": "Which clip is longer?"},
            ],
        }
    ]
    text_only = [{"role": "user", "content": [{"type": "text", "text": "Tell me a joke."}]}]
    batch = _RequestBatch(
        pipe._normalize_request(c, {"thinking": True}, i) for i, c in enumerate([with_audio, text_only])
    )
    prepared = pipe.preprocess(batch)["model_inputs"]
    ids, mask = prepared["input_ids"], prepared["attention_mask"]
    special = pipe.processor.special_ids
    assert (ids[0] == special["sosp"]).sum() == 2 and (ids[1] == special["sosp"]).sum() == 0
    # 1 s and 0.6 s clips -> 25 + 1 and 15 + 1 frames -> 7 + 4 patches.
    assert (ids[0] == special["empty"]).sum() == 7 + 4
    assert mask[1, 0] == 0 and mask[:, -1].all()  # left padding
    think_open = pipe.processor.tokenizer("<think>\n", add_special_tokens=False)["input_ids"]
    assert ids[0, -len(think_open) :].tolist() == think_open == ids[1, -len(think_open) :].tolist()

    results = pipe([with_audio, text_only], thinking=True, max_new_tokens=5)
    assert len(results) == 2 and all(isinstance(r["text"], str) for r in results)
    assert all(r["audio"] is None for r in results)


def test_tts_returns_waveform_of_generated_patches(pipe, model_and_processor):
    model, processor = model_and_processor
    progress = GenerationProgressBar(total=5, disable=True)
    forcing = speech_forcing(processor)
    result = pipe("Hello there.", task="tts", max_new_tokens=5, logits_processor=forcing, streamer=progress)
    assert progress.steps == 5
    codes = result["audio_codes"]
    assert codes.shape == (5 * 4, 8) and codes.dtype == torch.long
    assert (codes < torch.tensor(model.config.speech_empty_ids)).all()  # empty ids are never generated
    assert result["audio"].dtype == np.float32 and result["audio"].shape == (5 * 4 * 960,)
    with torch.no_grad():
        direct = processor.audio_tokenizer.decode(codes.T[None]).audio_values[0, 0]
    np.testing.assert_allclose(result["audio"], direct.numpy(), atol=1e-5)


def test_tts_variants_build_upstream_prompts(pipe, clips):
    tokenizer = pipe.processor.tokenizer

    def prompt_text(request):
        prepared = pipe.preprocess(_RequestBatch([pipe._normalize_request(request, {}, 0)]))["model_inputs"]
        return tokenizer.decode(prepared["input_ids"][0])

    plain = prompt_text({"task": "tts", "text": "Good morning."})
    assert plain.startswith("<|im_start|>user\n") and plain.endswith("<|im_start|>assistant\n<|sostm|>")
    assert ": Good morning.<|im_end|>" in plain
    instruct = prompt_text({"task": "instruct_tts", "text": "Good morning.", "instruction": "whisper"})
    assert instruct.startswith("<|im_start|>system\n") and "Good morning.(whisper)<|im_end|>" in instruct
    assert instruct.endswith("<|im_start|>assistant\n<think>\n")
    voiced = prompt_text({"task": "instruct_tts", "text": "Good morning.", "instruction": "calm", "voice": clips[1]})
    assert "<|sosp|>" in voiced and voiced.endswith("<think>\n")
    with pytest.raises(ValueError, match="instruction"):
        prompt_text({"task": "instruct_tts", "text": "Good morning."})


def test_tts_speaks_the_requested_text_unless_told_otherwise(pipe, clips):
    tokenizer = pipe.processor.tokenizer

    def prepared(request):
        return pipe.preprocess(_RequestBatch([pipe._normalize_request(request, {}, 0)]))

    ids = tokenizer("Good morning.", add_special_tokens=False)["input_ids"]
    assert prepared({"task": "tts", "text": "Good morning."})["transcripts"] == [ids]
    assert prepared({"task": "instruct_tts", "text": "Good morning.", "instruction": "calm"})["transcripts"] == [ids]
    assert prepared({"task": "tts", "text": "Good morning.", "force_transcript": False})["transcripts"] is None
    assert prepared({"task": "asr", "audio": clips[0]})["transcripts"] is None
    with pytest.raises(TypeError, match="force_transcript: expected a bool"):
        prepared({"task": "tts", "text": "Good morning.", "force_transcript": "yes"})

    # Random weights write random text; the pipeline's TTS turn spells out the request (then `<|eot|>`), in 5-token
    # chunks with 5 patches after each.
    length = len(ids) + 1 + 5 * (len(ids) // 5)
    result = pipe("Good morning.", task="tts", max_new_tokens=length, **GREEDY)
    assert result["text"].strip() == tokenizer.decode(ids, skip_special_tokens=True).strip()
    free = pipe("Good morning.", task="tts", max_new_tokens=length, force_transcript=False, **GREEDY)
    assert free["text"] != result["text"]


def test_spoken_dialogue_multi_turn_history_with_generated_codes(pipe, model_and_processor, clips):
    model, processor = model_and_processor
    first = pipe(
        {"task": "spoken_dialogue", "audio": clips[0]}, max_new_tokens=3, logits_processor=speech_forcing(processor)
    )
    assert first["audio_codes"].shape == (12, 8)
    history = [
        {"role": "user", "content": clips[0]},
        {"role": "assistant", "content": {"text": "Hi.", "audio": {"audio_codes": first["audio_codes"]}}},
    ]
    request = {"task": "spoken_dialogue", "audio": clips[1], "history": history}
    prepared = pipe.preprocess(_RequestBatch([pipe._normalize_request(request, {}, 0)]))["model_inputs"]
    ids, codes = prepared["input_ids"][0], prepared["audio_codes"][0]
    special = processor.special_ids
    sostm = (ids == special["sostm"]).nonzero().flatten().tolist()
    eostm = (ids == special["eostm"]).nonzero().flatten().tolist()
    assert len(sostm) == 2 and len(eostm) == 1  # the history's streaming segment + the generation prompt
    # The earlier answer's patches sit, in order, at the <|empty|> positions of its streaming segment.
    span = torch.arange(sostm[0], eostm[0])
    patches = codes[span[ids[span] == special["empty"]]]
    torch.testing.assert_close(patches.reshape(-1, 8), first["audio_codes"])

    second = pipe(request, max_new_tokens=3)
    assert second["task"] == "spoken_dialogue" and second["audio"] is not None


def test_speech_to_text_and_text_dialogue_history(pipe, clips):
    s2t = pipe(
        {"task": "speech_to_text_dialogue", "audio": clips[1], "history": [{"role": "user", "content": clips[0]},
                                                                           {"role": "assistant", "content": "Yes."}]},
        max_new_tokens=4,
    )  # fmt: skip
    text = pipe(
        {"task": "text_dialogue", "text": "And then?", "history": [{"role": "user", "content": "Hi"},
                                                                  {"role": "assistant", "content": "Hello!"}]},
        max_new_tokens=4,
    )  # fmt: skip
    assert s2t["audio"] is None and text["audio"] is None


def test_base_model_tasks(pipe, model_and_processor, clips):
    model, processor = model_and_processor
    examples = [{"input_audio": clips[0], "output_audio": clips[1], "output_transcription": "a short reply"}]
    request = {"task": "in_context_learning_s2s", "audio": clips[1], "examples": examples}
    prepared = pipe.preprocess(_RequestBatch([pipe._normalize_request(request, {}, 0)]))["model_inputs"]
    assert prepared["input_ids"][0, -1] == processor.special_ids["sostm"]
    icl = pipe(request, max_new_tokens=2, logits_processor=speech_forcing(processor))
    assert icl["audio_codes"].shape == (8, 8)

    request = {"task": "speech_continuation", "audio": clips[0]}
    prepared = pipe.preprocess(_RequestBatch([pipe._normalize_request(request, {}, 0)]))["model_inputs"]
    assert prepared["input_ids"][0, -1] == processor.special_ids["empty"]  # open audio segment, no <|eosp|>
    continuation = pipe(request, max_new_tokens=2, logits_processor=speech_forcing(processor))
    assert continuation["audio"].shape == (2 * 4 * 960,)


def test_audio_dict_input_is_resampled(pipe, clips, caplog):
    at_16k = {"array": synthesize_clip(1.0, 16000, seed=0), "sampling_rate": 16000}
    result = pipe(at_16k, task="asr", max_new_tokens=2)
    assert isinstance(result["text"], str)


def test_raw_audio_dict_reads_as_the_array_dict(pipe):
    """transformers' ASR-pipeline dict `{"raw", "sampling_rate"}` is the same input as datasets' `{"array", ...}`."""
    samples = synthesize_clip(1.0, 16000, seed=1)

    def prompt(audio):
        request = pipe._normalize_request(audio, {"task": "asr"}, 0)
        return pipe.preprocess(_RequestBatch([request]))["model_inputs"]

    from_array = prompt({"array": samples, "sampling_rate": 16000})
    from_raw = prompt({"raw": samples, "sampling_rate": 16000})
    assert from_array.keys() == from_raw.keys()
    for key in from_array:
        if isinstance(from_array[key], torch.Tensor):
            assert torch.equal(from_array[key], from_raw[key]), key
    resampled = pipe(dict(raw=samples, sampling_rate=16000), task="asr", max_new_tokens=2)
    assert resampled == pipe(dict(array=samples, sampling_rate=16000), task="asr", max_new_tokens=2)


def test_split_thinking():
    assert _split_thinking("<think>\nhmm\n</think>\nA") == ("hmm", "A")
    assert _split_thinking("no block") == (None, "no block")


def test_bad_inputs_give_clear_errors(pipe, clips):
    with pytest.raises(ValueError, match="task"):
        pipe(clips[0], task="translate")
    with pytest.raises(ValueError, match="no task"):
        pipe(clips[0])
    with pytest.raises(ValueError, match="`text`"):
        pipe({"task": "audio_understanding", "audio": clips[0]})
    with pytest.raises(ValueError, match="unknown request fields"):
        pipe({"task": "asr", "audio": clips[0], "langauge": "en"})
    with pytest.raises(TypeError, match="unexpected arguments"):
        pipe(clips[0], task="asr", temprature=0.3)
    with pytest.raises(TypeError, match="audio"):
        pipe({"task": "asr", "audio": 3.5})
    with pytest.raises(ValueError, match="batch_size"):
        pipe([clips[0]], task="asr", batch_size=0)
    with pytest.raises(ValueError, match="reply"):
        pipe([{"role": "user", "content": "hi"}], reply="video")


def test_one_batch_mixes_tts_prompt_kinds(pipe):
    """Plain TTS (`A<|sostm|>`) and instruct-TTS (`A<think>\\n`) requests share a generate call, each with its own
    generation prompt."""
    requests = [
        {"task": "tts", "text": "Good morning."},
        {"task": "tts", "text": "Good morning.", "instruction": "whisper"},
    ]
    batch = _RequestBatch(pipe._normalize_request(r, {}, i) for i, r in enumerate(requests))
    ids = pipe.preprocess(batch)["model_inputs"]["input_ids"]
    tokenizer = pipe.processor.tokenizer
    assert tokenizer.decode(ids[0]).endswith("<|im_start|>assistant\n<|sostm|>")
    assert tokenizer.decode(ids[1]).endswith("<|im_start|>assistant\n<think>\n")
    results = pipe(requests, max_new_tokens=3)
    assert [r["task"] for r in results] == ["tts", "tts"]


def test_unlabelled_arrays_warn_in_the_processor_but_not_through_the_pipeline(pipe, clips):
    import logging

    from transformers.testing_utils import CaptureLogger

    from processing import processing_mimo_audio

    logging.Logger.warning_once.cache_clear()  # the warning is once per process
    with CaptureLogger(processing_mimo_audio.logger) as through_pipeline:
        pipe(clips[0], task="asr", max_new_tokens=1)  # documented: bare arrays are at 24 kHz
    assert "no sampling rate" not in through_pipeline.out
    with CaptureLogger(processing_mimo_audio.logger) as direct:
        pipe.processor(text="<|sosp|><|empty|><|eosp|>", audio=[clips[0]])
    assert "no sampling rate given for an audio array: assuming 24000 Hz" in direct.out


def test_stream_true_yields_chunks_of_the_same_generation(pipe, model_and_processor):
    model, processor = model_and_processor
    forcing = speech_forcing(processor)
    chunks = list(pipe("Hello there.", task="tts", stream=True, max_new_tokens=16, logits_processor=forcing))
    audio = np.concatenate([c.audio for c in chunks])
    whole = pipe("Hello there.", task="tts", max_new_tokens=16, logits_processor=forcing)
    assert audio.shape == whole["audio"].shape == (16 * 4 * 960,)
    with pytest.raises(ValueError, match="one input"):
        pipe(["a", "b"], task="tts", stream=True)
    with pytest.raises(ValueError, match="own streamer"):
        pipe("a", task="tts", stream=True, progress=True)


def test_checkpoint_preset_overrides_tune_its_presets(pipe, clips, monkeypatch):
    # A checkpoint's generation config may tune a task preset for itself (`preset_overrides`); other presets and a
    # caller's own keyword arguments are unaffected.
    seen = []
    original = pipe.model.generate

    def spy(*args, **kwargs):
        sampler = {k: v for k, v in kwargs.items() if k.startswith("audio_") and k != "audio_codes"}
        seen.append((kwargs["generation_config"], sampler))
        return original(*args, **kwargs)

    monkeypatch.setattr(pipe.model, "generate", spy)
    monkeypatch.setattr(pipe.model.generation_config, "preset_overrides", {"tts": {"audio_temperature": 0.25}},
                        raising=False)
    pipe("Good morning.", task="tts", max_new_tokens=4)
    pipe({"task": "asr", "audio": clips[0]}, max_new_tokens=4)
    pipe("Good morning.", task="tts", max_new_tokens=4, audio_temperature=0.7)
    (tts_config, _), (asr_config, _), (_, caller) = seen
    assert tts_config.audio_temperature == 0.25
    assert asr_config.audio_temperature == get_generation_preset("asr", pipe.processor).audio_temperature == 0.9
    assert caller == {"audio_temperature": 0.7}  # passed to generate on top of the tuned preset

    monkeypatch.setattr(pipe.model.generation_config, "preset_overrides", {"speak": {"audio_temperature": 0.2}})
    with pytest.raises(ValueError, match="preset_overrides.*unknown presets \\['speak'\\]"):
        pipe("Good morning.", task="tts", max_new_tokens=4)
    monkeypatch.setattr(pipe.model.generation_config, "preset_overrides", {"tts": 0.3})
    with pytest.raises(ValueError, match="preset_overrides"):
        pipe("Good morning.", task="tts", max_new_tokens=4)
