"""Every evaluation task end to end on tiny synthetic data: the tiny random MiMo-Audio model (or a scripted fake
where exact scores are checked), caching/resume, reports and comparison. Content is meaningless; plumbing is real."""

import json
import os

import pytest

from evaluation.backend import CodecBackend, MiMoAudioBackend
from evaluation.cache import GENERATIONS_FILE, prepare_run_dir, read_generations
from evaluation.data import load_eval_dataset
from evaluation.metrics.text import utterance_error_rate
from evaluation.report import compare_runs, load_results, render_comparison, write_report
from evaluation.requests import Generation
from evaluation.scorers import load_embedder, load_transcriber
from evaluation.tasks import asr, codec, icl_s2s, judged_dialogue, mcqa, speechmmlu, tts
from evaluation.testing_utils import make_synthetic_manifest, make_tiny_asr_model, make_tiny_speaker_model
from processing.generation_presets import get_generation_preset


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from modeling_mimo_audio.tiny import build_tiny_model_set

    model, processor = build_tiny_model_set(cache_dir=str(tmp_path_factory.mktemp("tiny_set")), seed=0)
    return model, processor


@pytest.fixture(scope="module")
def text_backend(tiny):
    model, processor = tiny
    return MiMoAudioBackend(model, processor, max_new_tokens=4, generate_kwargs={"do_sample": False})


@pytest.fixture(scope="module")
def speech_backend(tiny):
    """Forces `<|empty|>` at every step so the random model emits audio patches (speech-output plumbing)."""
    model, processor = tiny
    empty = processor.tokenizer.convert_tokens_to_ids("<|empty|>")
    vocab = model.config.get_text_config().vocab_size
    suppress = [i for i in range(vocab) if i != empty]
    return MiMoAudioBackend(model, processor, max_new_tokens=4, generate_kwargs={"do_sample": False, "suppress_tokens": suppress})


@pytest.fixture(scope="module")
def scorers(tmp_path_factory):
    root = tmp_path_factory.mktemp("scorers")
    transcriber = load_transcriber(make_tiny_asr_model(str(root / "asr")))
    embedder = load_embedder(make_tiny_speaker_model(str(root / "spk")))
    return transcriber, embedder


def scripted(answers):
    """A fake backend answering each request id with a fixed text; records the ids it was asked."""

    def backend(requests):
        backend.calls.append([r.id for r in requests])
        return [Generation(text=answers[r.id]) for r in requests]

    backend.calls = []
    return backend


def _load(folder):
    return load_eval_dataset(str(folder))


def _check_report(run_dir, task, metric_keys):
    results = load_results(str(run_dir))
    assert results["task"] == task
    for key in metric_keys:
        assert key in results["metrics"], key
    for name in ("results.json", "results.md", "items.jsonl"):
        assert os.path.isfile(os.path.join(run_dir, name))
    for plot in results["plots"]:
        assert os.path.getsize(os.path.join(run_dir, plot)) > 0
    return results


# ------------------------------------------------------------------------------------------------------------- ASR
def test_asr_end_to_end_with_tiny_model(tmp_path, text_backend):
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "asr", num_items=3))
    run_dir = str(tmp_path / "run")
    prepare_run_dir(run_dir, {"task": "asr"})
    result = asr.run(text_backend, items, run_dir, batch_size=2)
    write_report(result, run_dir)
    results = _check_report(run_dir, "asr", ["error_rate", "corpus_error_rate", "wer_en", "cer_zh", "num_items"])
    assert results["metrics"]["num_items"] == 3
    assert results["plots"] == ["plots/error_rate_by_length.png"]
    rows = [json.loads(line) for line in open(os.path.join(run_dir, "items.jsonl"))]
    assert [r["language"] for r in rows] == ["en", "zh", "en"]
    generations = read_generations(run_dir)
    for row in rows:  # the reported rate is the rate of the cached hypothesis (cut at '(')
        hypothesis = generations[row["id"]]["text"].split("(")[0]
        assert row["hypothesis"] == hypothesis
        assert row["error_rate"] == pytest.approx(100 * utterance_error_rate(row["reference"], hypothesis, row["language"]))


def test_asr_scores_and_resumes_after_interruption(tmp_path):
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "asr", num_items=3))
    answers = {"item0": "hello world this is a test (English)", "item1": "你好世届", "item2": "don't stop"}
    run_dir = str(tmp_path / "run")
    prepare_run_dir(run_dir, {"task": "asr"})

    def interrupted(requests):
        if interrupted.calls:
            raise KeyboardInterrupt
        interrupted.calls.append(1)
        return [Generation(text=answers[r.id]) for r in requests]

    interrupted.calls = []
    with pytest.raises(KeyboardInterrupt):
        asr.run(interrupted, items, run_dir, batch_size=2)
    assert sorted(read_generations(run_dir)) == ["item0", "item1"]
    with open(os.path.join(run_dir, GENERATIONS_FILE), "a") as f:
        f.write('{"id": "item2", "te')  # a write cut by the interruption
    backend = scripted(answers)
    result = asr.run(backend, items, run_dir, batch_size=2)
    assert backend.calls == [["item2"]]  # only the missing item is generated again
    # item0: 0/6; item1 (CER): 1/4; item2: 'the music' deleted: 2/4
    assert result.metrics["error_rate"] == pytest.approx(100 * (0 + 0.25 + 0.5) / 3)
    assert result.metrics["corpus_error_rate"] == pytest.approx(100 * 3 / 14)
    assert result.metrics["wer_en"] == pytest.approx(25.0)
    assert result.metrics["cer_zh"] == pytest.approx(25.0)


def test_run_dir_refuses_generations_from_other_settings(tmp_path):
    run_dir = str(tmp_path / "run")
    prepare_run_dir(run_dir, {"task": "asr", "model": "a"})
    prepare_run_dir(run_dir, {"task": "asr", "model": "a"})  # same settings: fine
    with pytest.raises(ValueError, match="model"):
        prepare_run_dir(run_dir, {"task": "asr", "model": "b"})
    prepare_run_dir(run_dir, {"task": "asr", "model": "b"}, overwrite=True)


# ------------------------------------------------------------------------------------------------------------- TTS
def test_tts_end_to_end(tmp_path, speech_backend, scorers):
    transcriber, embedder = scorers
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "tts", num_items=2))
    run_dir = str(tmp_path / "run")
    result = tts.run(speech_backend, items, run_dir, transcriber=transcriber, embedder=embedder, batch_size=2)
    write_report(result, run_dir)
    results = _check_report(run_dir, "tts", ["error_rate", "corpus_error_rate", "speaker_similarity", "num_no_audio"])
    assert results["metrics"]["num_no_audio"] == 0
    assert -1.0 <= results["metrics"]["speaker_similarity"] <= 1.0
    assert all(os.path.isfile(os.path.join(run_dir, r["audio_path"])) for r in read_generations(run_dir).values())


def test_tts_without_audio_counts_full_deletions(tmp_path):
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "tts", num_items=1))
    result = tts.run(scripted({"item0": "no speech"}), items, str(tmp_path / "run"), transcriber=lambda w, sr, lang: ["x"] * len(w))
    assert result.metrics["num_no_audio"] == 1
    assert result.metrics["error_rate"] == pytest.approx(100.0)


# ------------------------------------------------------------------------------------------------------------- codec
def test_codec_end_to_end(tmp_path, tiny, scorers):
    _, processor = tiny
    _, embedder = scorers
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "codec", num_items=2))
    run_dir = str(tmp_path / "run")
    backend = CodecBackend(processor.feature_extractor, processor.audio_tokenizer, num_quantizers=8)
    result = codec.run(backend, items, run_dir, embedder=embedder, batch_size=2)
    write_report(result, run_dir)
    results = _check_report(run_dir, "codec", ["mel_distance", "speaker_similarity", "num_items"])
    assert results["metrics"]["mel_distance"] > 0
    for key in ("pesq_nb", "pesq_wb", "stoi"):  # present when the optional packages are, else noted
        assert key in results["metrics"] or any(key in note for note in results["notes"])


# ------------------------------------------------------------------------------------------------------------- MCQA
def test_mmau_scores_per_category(tmp_path):
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "mmau", num_items=3))
    # answers: item0 Dog barking (sound), item1 Cat meowing (music), item2 Bird singing (speech)
    backend = scripted({"item0": "The correct answer is: Dog barking", "item1": "Bird singing", "item2": "**Bird singing**"})
    result = mcqa.run(backend, items, str(tmp_path / "run"), fmt="mmau")
    assert result.metrics["accuracy"] == pytest.approx(200 / 3)
    assert result.metrics["accuracy_sound"] == 100.0
    assert result.metrics["accuracy_music"] == 0.0
    assert result.breakdowns["category"]["speech"] == {"accuracy": 100.0, "correct": 1, "total": 1}


def test_mmau_thinking_prompt_and_scoring(tmp_path):
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "mmau", num_items=1))
    seen = []

    def backend(requests):
        seen.extend(requests)
        return [Generation(text="<think>\nmaybe a cat meowing\n</think>\nDog barking")]

    result = mcqa.run(backend, items, str(tmp_path / "run"), fmt="mmau", thinking=True)
    assert result.metrics["accuracy"] == 100.0
    request = seen[0]
    assert request.kind == "audio_qa" and request.thinking
    assert request.text == (
        "What is the sound?\n\nChoice: \nDog barking\nCat meowing\nBird singing\nCar horn\n\n"
        "Choose a choices from the given 4 choices. Do not provide any additional explanations or content. "
        "Output must match exactly one of the listed choices.You can think about the question briefly and then answer it."
    )


def test_mmsu_prompt_and_letter_scoring(tmp_path):
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "mmsu", num_items=2))  # answers: happy (A), sad (B)
    seen = []

    def backend(requests):
        seen.extend(requests)
        return [Generation(text={"item0": "A", "item1": "The answer is (C)"}[r.id]) for r in requests]

    result = mcqa.run(backend, items, str(tmp_path / "run"), fmt="mmsu")
    assert result.metrics["accuracy"] == 50.0
    assert result.metrics["accuracy_perception"] == 100.0 and result.metrics["accuracy_reasoning"] == 0.0
    assert seen[0].text.endswith("Question: What emotion?\n\nA. happy\nB. sad\nC. angry\nD. neutral")


def test_mmau_few_shot_and_mmar_with_tiny_model(tmp_path, text_backend):
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "mmau", num_items=3))
    seen = []

    def recording(requests):
        seen.extend(requests)
        return text_backend(requests)

    result = mcqa.run(recording, items, str(tmp_path / "few"), fmt="mmau", num_shots=2, batch_size=3)
    assert result.metrics["num_items"] == 3 and 0.0 <= result.metrics["accuracy"] <= 100.0
    segments = seen[0].segments
    assert seen[0].kind == "few_shot" and len(segments) == 2 * 3 + 3
    assert segments[-1]["text"] == "\nAnswer:" and segments[2]["text"].startswith("Answer: ")
    # the examples of an item never include the item itself and do not depend on the processing order
    again = mcqa.sample_examples(items, items[0], 2, seed=42)
    assert [e["id"] for e in again] == [e["id"] for e in mcqa.sample_examples(list(reversed(items)), items[0], 2, seed=42)]
    assert "item0" not in [e["id"] for e in again]
    run_dir = str(tmp_path / "mmar")
    write_report(mcqa.run(text_backend, items, run_dir, fmt="mmar", batch_size=3), run_dir)
    _check_report(run_dir, "mmar", ["accuracy", "accuracy_sound"])


def test_backend_presets_take_the_checkpoint_tuning_under_the_caller(tmp_path, text_backend, monkeypatch):
    """The backend's own preset builds (few-shot, spoken dialogue) apply the checkpoint's `preset_overrides`, as
    the pipeline does for its task presets; the caller's fields still win."""
    model = text_backend.model
    monkeypatch.setattr(model.generation_config, "preset_overrides",
                        {"few_shot_mmau": {"top_k": 7}, "spoken_dialogue_eval": {"audio_temperature": 0.25}},
                        raising=False)
    dialogue = text_backend._preset("spoken_dialogue_eval", max_new_tokens=4)
    assert dialogue.audio_temperature == 0.25 and dialogue.max_new_tokens == 4
    assert text_backend._preset("spoken_dialogue_eval", audio_temperature=0.5).audio_temperature == 0.5
    assert text_backend._preset("asr").audio_temperature == get_generation_preset("asr", text_backend.processor).audio_temperature

    seen = []
    original = model.generate
    monkeypatch.setattr(model, "generate", lambda *a, **k: (seen.append(k["generation_config"]), original(*a, **k))[1])
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "mmau", num_items=2))
    mcqa.run(text_backend, items, str(tmp_path / "few"), fmt="mmau", num_shots=1, batch_size=2)
    assert seen and all(config.top_k == 7 for config in seen)


# ------------------------------------------------------------------------------------------------------------- SpeechMMLU
def test_speechmmlu_all_modes_and_gap(tmp_path, text_backend, speech_backend):
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "speechmmlu", num_items=2))  # answers 0, 1

    def backend(requests):
        return (speech_backend if requests[0].output_modality == "speech" else text_backend)(requests)

    def transcriber(waves, sampling_rate, language):
        assert all(len(w) > 0 for w in waves)
        return ["I think option B."] * len(waves)

    run_dir = str(tmp_path / "run")
    result = speechmmlu.run(backend, items, run_dir, transcriber=transcriber, num_shots=2, batch_size=2)
    write_report(result, run_dir)
    results = _check_report(run_dir, "speechmmlu", ["accuracy_t2t", "accuracy_s2t", "accuracy_t2s", "accuracy_s2s", "modality_gap"])
    assert results["metrics"]["accuracy_t2s"] == 50.0 and results["metrics"]["accuracy_s2s"] == 50.0  # item1 is B
    assert results["metrics"]["modality_gap"] == pytest.approx(results["metrics"]["accuracy_t2t"] - 50.0)
    for mode in ("t2t", "s2t", "t2s", "s2s"):
        assert len(read_generations(os.path.join(run_dir, mode))) == 2


def test_speechmmlu_prompt_layout(tmp_path):
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "speechmmlu", num_items=1))
    s2s = speechmmlu.prompt_segments(items[0], "s2s", num_shots=2)
    t2s = speechmmlu.prompt_segments(items[0], "t2s", num_shots=1)
    assert [("audio" in s, s["role"]) for s in s2s] == [(True, "input"), (True, "input"), (True, "output"), (True, "input"), (True, "output"), (True, "input")]
    assert s2s[2]["text"] == "The answer is option A."  # a spoken answer carries its transcript
    assert [("audio" in s) for s in t2s] == [False, False, True, False]


# ------------------------------------------------------------------------------------------------------------- ICL S2S
@pytest.mark.parametrize("conversion, keys", [
    ("voice", ["speaker_similarity", "wer"]),
    ("style", ["style_similarity", "wer"]),
    ("speed", ["speed_ratio", "expected_speed_ratio", "speed_ratio_error"]),
    ("denoise", ["mel_distance"]),
])
def test_icl_s2s_conversions(tmp_path, speech_backend, scorers, conversion, keys):
    transcriber, embedder = scorers
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "icl_s2s", num_items=2))
    run_dir = str(tmp_path / "run")
    result = icl_s2s.run(
        speech_backend, items, run_dir, conversion=conversion, transcriber=transcriber,
        speaker_embedder=embedder, style_embedder=embedder, batch_size=2,
    )
    write_report(result, run_dir)
    results = _check_report(run_dir, f"icl_s2s_{conversion}", keys + ["num_items", "num_no_audio"])
    assert results["metrics"]["num_no_audio"] == 0
    if conversion == "speed":  # examples: 0.75 s out of 0.5 s in
        assert results["metrics"]["expected_speed_ratio"] == pytest.approx(1.5)
        out = [r for r in read_generations(run_dir).values()][0]
        assert out["sampling_rate"] == 24000


# ------------------------------------------------------------------------------------------------------------- judged dialogue
def test_bigbench_s2t_with_contains_judge_and_custom_judge(tmp_path, text_backend):
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "dialogue", num_items=2))
    backend = scripted({"item0": "It is four.", "item1": "It is five."})
    result = judged_dialogue.run(backend, items, str(tmp_path / "a"), judge="contains")
    assert result.metrics["accuracy"] == 50.0 and result.metrics["mean_judge_score"] == 0.5
    result = judged_dialogue.run(backend, items, str(tmp_path / "b"), judge=lambda item, response: 0.6, benchmark="bigbench_audio")
    assert result.metrics["accuracy"] == 100.0  # 0.6 reaches the paper's threshold
    result = judged_dialogue.run(backend, items, str(tmp_path / "c"), judge=lambda item, response: 0.6, benchmark="multichallenge")
    assert result.metrics["accuracy"] == 0.0  # pass/fail benchmark
    run_dir = str(tmp_path / "tiny")
    write_report(judged_dialogue.run(text_backend, items, run_dir, judge="contains", batch_size=2), run_dir)
    _check_report(run_dir, "bigbench_audio_s2t", ["accuracy", "mean_judge_score"])


def test_multichallenge_s2s_transcribes_before_judging(tmp_path, speech_backend):
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "dialogue", num_items=1))
    judged = []

    def judge(item, response):
        judged.append(response)
        return True

    result = judged_dialogue.run(
        speech_backend, items, str(tmp_path / "run"), judge=judge, mode="s2s", benchmark="multichallenge",
        transcriber=lambda waves, sr, lang: ["spoken four"] * len(waves),
    )
    assert judged == ["spoken four"] and result.metrics["accuracy"] == 100.0
    with pytest.raises(ValueError, match="transcriber"):
        judged_dialogue.run(speech_backend, items, str(tmp_path / "x"), judge=judge, mode="s2s")


# ------------------------------------------------------------------------------------------------------------- compare
def test_compare_two_runs(tmp_path):
    items = _load(make_synthetic_manifest(str(tmp_path / "data"), "mmau", num_items=3))
    for name, answers in (("a", ["Dog barking", "x", "x"]), ("b", ["Dog barking", "Cat meowing", "x"])):
        run_dir = str(tmp_path / name)
        backend = scripted(dict(zip(["item0", "item1", "item2"], answers)))
        write_report(mcqa.run(backend, items, run_dir, fmt="mmau"), run_dir)
    comparison = compare_runs(str(tmp_path / "a"), str(tmp_path / "b"))
    rows = {row[0]: row for row in comparison["rows"]}
    assert rows["accuracy"][1:] == [pytest.approx(100 / 3), pytest.approx(200 / 3), pytest.approx(100 / 3)]
    assert rows["accuracy_music"][1:] == [0.0, 100.0, 100.0]
    assert rows["category/music accuracy"][3] == 100.0
    table = render_comparison(comparison, "A", "B")
    assert "| accuracy | 33.33 | 66.67 | +33.33 |" in table


def test_missing_fields_give_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="lacks field"):
        asr.run(scripted({}), [{"id": "1", "audio": "x.wav"}], str(tmp_path / "run"))
