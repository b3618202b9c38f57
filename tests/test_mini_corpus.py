"""Tests of the miniature espeak-ng speech corpus (`training_recipes.mini.corpus`)."""

import io
import json
import os
import random
import shutil
import struct
import wave

import numpy as np
import pytest

from training_recipes.mini import corpus


NUMBERS = {word: value for value, word in enumerate(corpus.NUMBER_WORDS)}
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def vocabulary():
    return set(corpus.load_vocabulary())


@pytest.fixture(scope="module")
def default_plan():
    return corpus.plan_corpus(corpus.CorpusOptions())


def test_vocabulary_file(vocabulary):
    words = corpus.load_vocabulary()
    assert 320 <= len(words) <= 360
    assert len(set(words)) == len(words)
    assert all(word.isascii() and word.isalpha() and word.islower() for word in words)
    assert set(corpus.NUMBER_WORDS) <= vocabulary
    assert corpus.NUMBER_WORDS[0] == "zero" and corpus.NUMBER_WORDS[20] == "twenty"
    # The file is exactly the lexicon, and no word sits in two categories.
    assert sorted(corpus.lexicon_words()) == sorted(words)
    assert len(set(corpus.lexicon_words())) == len(corpus.lexicon_words())
    # Homophones that ASR could not tell apart are kept out.
    assert not {"here", "hear"} <= vocabulary


def test_load_vocabulary_rejects_bad_words(tmp_path):
    path = tmp_path / "vocabulary.txt"
    path.write_text("dog\nCat\n")
    with pytest.raises(ValueError, match="line 2"):
        corpus.load_vocabulary(str(path))
    path.write_text("dog\ncat\ndog\n")
    with pytest.raises(ValueError, match="duplicate word 'dog'"):
        corpus.load_vocabulary(str(path))


def test_generated_texts_use_only_vocabulary(vocabulary, default_plan):
    rng = random.Random(0)
    for _ in range(3000):
        sentence = corpus.generate_sentence(rng)
        assert set(sentence.split()) <= vocabulary, sentence
        assert sentence == sentence.strip() and "  " not in sentence
    for _ in range(500):
        words = corpus.generate_random_sequence(rng, sorted(vocabulary)).split()
        assert 3 <= len(words) <= 8 and len(set(words)) == len(words)
        assert set(words) <= vocabulary
    for question, answer in corpus.arithmetic_problems():
        assert set(question.split()) <= vocabulary and answer in vocabulary
    for specs in default_plan.values():
        for spec in specs:
            assert set(spec.text.split()) <= vocabulary, spec
            assert spec.answer_text == "" or spec.answer_text in vocabulary


def test_articles_agree_with_the_next_word():
    rng = random.Random(1)
    for _ in range(2000):
        words = corpus.generate_sentence(rng).split()
        for article, following in zip(words, words[1:]):
            if article == "a":
                assert following[0] not in "aeiou", words
            elif article == "an":
                assert following[0] in "aeiou", words


def test_arithmetic_answers_are_correct():
    problems = corpus.arithmetic_problems()
    assert len(problems) == 11 * 11 + 66
    assert len({question for question, _ in problems}) == len(problems)
    for question, answer in problems:
        what, is_, left, operator, right = question.split()
        assert (what, is_) == ("what", "is")
        a, b = NUMBERS[left], NUMBERS[right]
        assert 0 <= a <= 10 and 0 <= b <= 10
        expected = a + b if operator == "plus" else a - b
        assert operator in ("plus", "minus") and 0 <= expected <= 20
        assert NUMBERS[answer] == expected
    assert ("what is three plus four", "seven") in problems
    assert ("what is nine minus two", "seven") in problems
    assert not any(question == "what is two minus three" for question, _ in problems)
    with pytest.raises(ValueError, match="`value`"):
        corpus.number_word(21)


def test_held_out_arithmetic_keeps_every_answer_in_training():
    train, held_out = corpus.split_arithmetic_problems(seed=0, held_out_fraction=0.2)
    assert not set(train) & set(held_out)
    assert sorted(train + held_out) == sorted(corpus.arithmetic_problems())
    assert len(held_out) == round(0.2 * len(corpus.arithmetic_problems()))
    assert {answer for _, answer in train} == set(corpus.NUMBER_WORDS)


def test_voices():
    assert len(corpus.TRAIN_VOICES) == len(set(corpus.TRAIN_VOICES)) >= 60
    assert not set(corpus.TRAIN_VOICES) & set(corpus.HELD_OUT_VOICES)
    train_languages = {voice.partition("+")[0] for voice in corpus.TRAIN_VOICES}
    train_variants = {voice.partition("+")[2] for voice in corpus.TRAIN_VOICES}
    held_out_languages = {voice.partition("+")[0] for voice in corpus.HELD_OUT_VOICES}
    assert "en-029" in held_out_languages and "en-029" not in train_languages
    # The language model hears en-029's other variants and every plain accent; the held-out voices stay unheard.
    assert not set(corpus.ACCENT_TRAIN_VOICES) & set(corpus.HELD_OUT_VOICES)
    assert {"en-029+m2", "en-us", "en-gb-scotland"} <= set(corpus.ACCENT_TRAIN_VOICES)
    # Some held-out voices combine an accent and a variant that are each seen in training, but never together.
    unseen_combinations = [voice for voice in corpus.HELD_OUT_VOICES if voice.partition("+")[0] in train_languages]
    assert unseen_combinations
    assert all(voice.partition("+")[2] in train_variants for voice in unseen_combinations)
    assert corpus.voice_gender("en-us+f3") == "female" and corpus.voice_gender("en-029+m1") == "male"
    assert corpus.voice_gender("en-us") == "male"  # espeak-ng's plain voices are male
    for bad in ("klingon", "en-us+x1", "en-us+"):
        with pytest.raises(ValueError, match="`voice`"):
            corpus.voice_gender(bad)


def test_plan_splits(default_plan):
    plan = default_plan
    assert {split: len(specs) for split, specs in plan.items()} == {
        "train": 6000, "train_extra": 20000, "validation": 200, "test": 200, "test_voices": 200,
        "train_accents": 4000, "tts_house": 8000, "test_house": 150, "train_speeds": 6000}
    assert {spec.voice for spec in plan["train_accents"]} == set(corpus.ACCENT_TRAIN_VOICES)
    # train_speeds: the training voices at rates outside the other splits' 130-210 words/minute too.
    assert {spec.voice for spec in plan["train_speeds"]} == set(corpus.TRAIN_VOICES + corpus.ACCENT_TRAIN_VOICES)
    speeds = [spec.speed for spec in plan["train_speeds"]]
    assert min(speeds) == 90 and max(speeds) == 300
    assert sum(speed < 130 for speed in speeds) > 1000 and sum(speed > 210 for speed in speeds) > 2000
    for split in ("tts_house", "test_house"):
        assert {(spec.voice, spec.speed, spec.pitch) for spec in plan[split]} == {
            (corpus.HOUSE_VOICE, corpus.HOUSE_SPEED, corpus.HOUSE_PITCH)}, split
    # The TTS judge's reference: the held-out random sequences again, in the house voice.
    assert [spec.text for spec in plan["test_house"]] == [
        spec.text for spec in plan["test_voices"] if spec.kind == "random"]
    held_out = set(corpus.HELD_OUT_VOICES)
    for split in ("train", "train_extra", "validation", "test"):
        assert not {spec.voice for spec in plan[split]} & held_out, split
        assert not {spec.language for spec in plan[split]} & set(corpus.HELD_OUT_LANGUAGES), split
    assert {spec.voice for spec in plan["test_voices"]} == held_out

    train_texts = {spec.text for split in corpus.TRAINING_SPLITS for spec in plan[split]}
    for split in ("validation", "test", "test_voices", "test_house"):
        assert not {spec.text for spec in plan[split]} & train_texts, split
    assert {spec.kind for spec in plan["test"]} == {"random"}
    assert {spec.kind for spec in plan["test_voices"]} == {"random", "arithmetic"}
    assert {spec.kind for spec in plan["train"]} == {"sentence", "random", "arithmetic"}
    extra = plan["train_extra"]
    assert {spec.kind for spec in extra} == {"sentence", "random", "short"}
    assert abs(sum(spec.kind == "short" for spec in extra) / len(extra) - 0.4) < 0.01
    short_lengths = {len(spec.text.split()) for spec in extra if spec.kind == "short"}
    assert short_lengths == {1, 2, 3}
    assert {len(spec.text.split()) for spec in extra if spec.kind == "random"} == set(range(3, 9))
    arithmetic_share = sum(spec.kind == "arithmetic" for spec in plan["train"]) / len(plan["train"])
    assert abs(arithmetic_share - 0.15) < 0.01

    for specs in plan.values():
        for spec in specs:
            assert (spec.answer_text != "") == (spec.kind == "arithmetic")
            assert spec.gender == corpus.voice_gender(spec.voice)
            assert spec.language == spec.voice.partition("+")[0]
            low, high = (90, 300) if spec.split == "train_speeds" else (130, 210)
            assert low <= spec.speed <= high and 30 <= spec.pitch <= 70
    assert len({spec.id for specs in plan.values() for spec in specs}) == sum(map(len, plan.values()))


def test_plan_is_deterministic(default_plan):
    assert corpus.plan_corpus(corpus.CorpusOptions()) == default_plan
    smaller = corpus.plan_corpus(corpus.CorpusOptions(num_train=100, num_train_extra=50))
    for split in ("validation", "test", "test_voices"):
        assert smaller[split] == default_plan[split]
    # Growing the language-model-only split leaves the codec's training split unchanged.
    assert corpus.plan_corpus(corpus.CorpusOptions(num_train_extra=50))["train"] == default_plan["train"]
    other_seed = corpus.plan_corpus(corpus.CorpusOptions(seed=1))
    assert [spec.text for spec in other_seed["test"]] != [spec.text for spec in default_plan["test"]]


def test_options_errors_name_the_argument():
    with pytest.raises(ValueError, match="`num_train`"):
        corpus.CorpusOptions(num_train=-1)
    with pytest.raises(ValueError, match="`workers`"):
        corpus.CorpusOptions(workers=0)
    with pytest.raises(ValueError, match="`speed_range`"):
        corpus.CorpusOptions(speed_range=(210, 130))
    with pytest.raises(ValueError, match="`arithmetic_fraction`"):
        corpus.CorpusOptions(arithmetic_fraction=0.8, random_fraction=0.5)
    with pytest.raises(ValueError, match="`extra_short_fraction`"):
        corpus.CorpusOptions(extra_short_fraction=0.7, extra_random_fraction=0.5)
    with pytest.raises(ValueError, match="`num_train_extra`"):
        corpus.CorpusOptions(num_train_extra=-2)
    with pytest.raises(ValueError, match="`split`"):
        corpus.CorpusOptions().split_size("dev")
    quick = corpus.CorpusOptions.quick()
    assert (quick.num_train, quick.num_train_extra, quick.num_validation, quick.num_test,
            quick.num_test_voices) == (64, 32, 16, 16, 16)


def _streaming_wav(samples: np.ndarray, rate: int) -> bytes:
    """A WAV as `espeak-ng --stdout` writes it: placeholder sizes in the RIFF and data headers."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(samples.astype("<i2").tobytes())
    data = bytearray(buffer.getvalue())
    data[4:8] = struct.pack("<I", 0x7FFFF000)
    data[40:44] = struct.pack("<I", 0x7FFFF000)
    return bytes(data)


def test_wav_round_trip_and_streaming_header():
    samples = (np.sin(np.arange(2205) / 5.0) * 16000).astype(np.int16)
    waveform, rate = corpus.parse_wav_bytes(_streaming_wav(samples, 22050))
    assert rate == 22050 and waveform.dtype == np.float32
    np.testing.assert_allclose(waveform, samples / 32768.0, atol=1e-6)
    encoded = corpus.encode_wav_pcm16(waveform, 24000)
    decoded = corpus.decode_audio_bytes({"bytes": encoded, "path": "x.wav"})
    np.testing.assert_allclose(decoded, waveform, atol=1e-4)
    with pytest.raises(ValueError, match="22050 Hz"):
        corpus.decode_audio_bytes(_streaming_wav(samples, 22050))
    with pytest.raises(ValueError, match="RIFF"):
        corpus.parse_wav_bytes(b"not a wav file")


def test_trim_silence_keeps_padding():
    rate = 1000
    waveform = np.zeros(3000, dtype=np.float32)
    waveform[1000:1500] = 0.5
    trimmed = corpus.trim_silence(waveform, rate, padding_ms=50)
    assert trimmed.size == 500 + 2 * 50
    # Speech that starts at the first sample still gets its leading padding.
    trimmed = corpus.trim_silence(waveform[1000:], rate, padding_ms=50)
    assert trimmed.size == 600 and np.all(trimmed[:50] == 0)
    silent = np.zeros(100, dtype=np.float32)
    assert corpus.trim_silence(silent, rate).size == 100


def test_missing_espeak_gives_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(corpus.shutil, "which", lambda name: None)
    message = "espeak-ng is not installed: apt-get install espeak-ng"
    with pytest.raises(RuntimeError, match=message):
        corpus.require_espeak()
    with pytest.raises(RuntimeError, match=message):
        corpus.build_corpus(str(tmp_path / "out"), corpus.CorpusOptions.quick())
    assert corpus.main(["--out", str(tmp_path / "out"), "--quick"]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@needs_espeak
def test_house_voice_reads_word_by_word_on_whole_patches():
    dog, cat = corpus.speak_word_by_word("dog"), corpus.speak_word_by_word("cat")
    assert dog.size % corpus.PATCH_SAMPLES == 0 and cat.size % corpus.PATCH_SAMPLES == 0
    # A word sounds the same wherever it stands: its samples are those of the word alone.
    np.testing.assert_array_equal(corpus.speak_word_by_word("cat dog cat"), np.concatenate([cat, dog, cat]))
    # Each word keeps its own silence on either side (30 ms), the rest of its last patch is silence.
    alone = corpus.speak("dog", corpus.HOUSE_VOICE, corpus.HOUSE_SPEED, corpus.HOUSE_PITCH, padding_ms=30.0)
    np.testing.assert_array_equal(dog[: alone.size], alone)
    assert not dog[alone.size :].any() and dog.size - alone.size < corpus.PATCH_SAMPLES
    with pytest.raises(ValueError, match="at least one word"):
        corpus.speak_word_by_word("  ")


@needs_espeak
def test_tiny_build_loads_and_resumes(tmp_path):
    out = str(tmp_path / "corpus")
    options = corpus.CorpusOptions(num_train=6, num_train_extra=3, num_validation=2, num_test=2, num_test_voices=3,
                                   num_train_accents=2, num_tts_house=2, num_train_speeds=2, shard_size=4,
                                   workers=1)
    stats = corpus.build_corpus(out, options, progress=False)
    assert stats["written"] == 10 and stats["skipped"] == 0 and stats["rows"] == 24

    shards = {split: sorted(os.listdir(os.path.join(out, split))) for split in corpus.SPLITS}
    assert shards == {"train": ["shard-00000.parquet", "shard-00001.parquet"],
                      "train_extra": ["shard-00000.parquet"], "validation": ["shard-00000.parquet"], "test": ["shard-00000.parquet"],
                      "test_voices": ["shard-00000.parquet"], "train_accents": ["shard-00000.parquet"],
                      "tts_house": ["shard-00000.parquet"], "test_house": ["shard-00000.parquet"],
                      "train_speeds": ["shard-00000.parquet"]}
    with open(os.path.join(out, "corpus_info.json")) as handle:
        info = json.load(handle)
    assert info["complete"] and info["sizes"] == {"train": 6, "train_extra": 3, "validation": 2, "test": 2,
                                                  "test_voices": 3, "train_accents": 2, "tts_house": 2,
                                                  "test_house": 2, "train_speeds": 2}
    assert info["held_out_voices"] == list(corpus.HELD_OUT_VOICES) and info["sampling_rate"] == 24000

    plan = corpus.plan_corpus(options)
    cache = str(tmp_path / "cache")
    for split in corpus.SPLITS:
        dataset = corpus.load_corpus(out, split, cache_dir=cache)
        assert dataset.features["audio"].sampling_rate == 24000 and not dataset.features["audio"].decode
        assert set(dataset.column_names) == {"id", "audio", "text", "kind", "answer_text", "answer_audio", "voice",
                                             "language", "gender", "speed", "pitch", "split"}
        assert dataset["id"] == [spec.id for spec in plan[split]]
        assert dataset["text"] == [spec.text for spec in plan[split]]
        for row in dataset:
            assert row["split"] == split and row["audio"]["path"] == row["id"] + ".wav"
            waveform = corpus.decode_audio_bytes(row["audio"])  # checks the 24 kHz rate
            words = len(row["text"].split())
            # Plausible length: at least ~0.1 s per word, at most ~1 s per word, plus the padding.
            assert 0.1 * words < waveform.size / 24000 < 1.0 * words + 0.5, (row["text"], waveform.size)
            assert 0.05 < np.abs(waveform).max() < 0.995  # headroom: never clipped to 16 bits
            if split in corpus.HOUSE_SPLITS:  # the house voice reads word by word, on whole patches
                assert waveform.size % corpus.PATCH_SAMPLES == 0
                # 16-bit storage: rounding, and the reader scales by 1/32768 where the writer used 32767.
                np.testing.assert_allclose(waveform, corpus.speak_word_by_word(row["text"]), atol=2 / 32767)
            if row["kind"] == "arithmetic":
                answer = corpus.decode_audio_bytes(row["answer_audio"])
                assert row["answer_text"] in corpus.NUMBER_WORDS and 0.1 < answer.size / 24000 < 1.5
            else:
                assert row["answer_audio"] is None and row["answer_text"] == ""
    assert "arithmetic" in corpus.load_corpus(out, "test_voices", cache_dir=cache)["kind"]

    # A rerun skips every complete shard.
    paths = [os.path.join(out, split, name) for split, names in shards.items() for name in names]
    mtimes = {path: os.stat(path).st_mtime_ns for path in paths}
    stats = corpus.build_corpus(out, options, progress=False)
    assert stats["written"] == 0 and stats["skipped"] == 10 and stats["rows"] == 0
    assert {path: os.stat(path).st_mtime_ns for path in paths} == mtimes

    # A corpus built before a split existed (its info records neither the split nor its option) resumes: only the
    # new split is synthesized.
    shutil.rmtree(os.path.join(out, "train_accents"))
    info_path = os.path.join(out, "corpus_info.json")
    with open(info_path) as handle:
        older = json.load(handle)
    del older["fingerprints"]["train_accents"], older["options"]["num_train_accents"]
    with open(info_path, "w") as handle:
        json.dump(older, handle)
    stats = corpus.build_corpus(out, options, progress=False)
    assert stats["written"] == 1 and stats["skipped"] == 9 and stats["rows"] == 2
    mtimes = {path: os.stat(path).st_mtime_ns for path in paths}

    # After losing a shard, only that shard is synthesized again (here with two worker processes).
    lost = os.path.join(out, "train", "shard-00001.parquet")
    os.remove(lost)
    stats = corpus.build_corpus(out, corpus.CorpusOptions(**{**options.__dict__, "workers": 2}), progress=False)
    assert stats["written"] == 1 and stats["skipped"] == 9 and stats["rows"] == 2
    assert all(os.stat(path).st_mtime_ns == mtime for path, mtime in mtimes.items() if path != lost)
    assert corpus.load_corpus(out, "train", cache_dir=str(tmp_path / "cache2"))["id"] == [
        spec.id for spec in plan["train"]]
    assert not [name for name in os.listdir(os.path.join(out, "train")) if name.startswith(".")]

    # A rerun with other options into the same directory is refused.
    with pytest.raises(ValueError, match="`out_dir`"):
        corpus.build_corpus(out, corpus.CorpusOptions(**{**options.__dict__, "seed": 1}), progress=False)
