"""The shipped miniature MiMo-Audio does real work: it is the default of the commands and pipelines, it transcribes
held-out voices, speaks, and its codec reconstructs speech."""

import json
import os
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest

import modeling_mimo_audio
from modeling_mimo_audio.mini import MINI_MODEL_DIR

pytestmark = pytest.mark.skipif(not modeling_mimo_audio.mini_model_available(),
                                reason="the miniature is not shipped in this checkout")


@pytest.fixture(scope="module")
def mini():
    from transformers import AutoModelForTextToWaveform, AutoProcessor

    model = AutoModelForTextToWaveform.from_pretrained(MINI_MODEL_DIR, dtype="float32").eval()
    processor = AutoProcessor.from_pretrained(MINI_MODEL_DIR)
    return model, processor


@pytest.fixture(scope="module")
def samples():
    folder = os.path.join(MINI_MODEL_DIR, "samples")
    with open(os.path.join(folder, "transcripts.json")) as handle:
        transcripts = json.load(handle)
    return {os.path.join(folder, name): entry["text"] for name, entry in transcripts.items()}


def test_shipped_folder_is_small_and_complete():
    from training_recipes.mini.ship import MAX_SHIPPED_BYTES, folder_size

    assert folder_size(MINI_MODEL_DIR) <= MAX_SHIPPED_BYTES
    for name in ("config.json", "model.safetensors", "generation_config.json", "processor_config.json",
                 "tokenizer.json", "README.md", "audio_tokenizer/config.json", "audio_tokenizer/model.safetensors"):
        assert os.path.isfile(os.path.join(MINI_MODEL_DIR, name)), name


def test_the_commands_default_to_the_miniature():
    from modeling_mimo_audio.demo import load_model_and_processor

    model, processor, is_tiny = load_model_and_processor(None)
    assert not is_tiny and model.dtype.is_floating_point and str(model.dtype) == "torch.float32"
    assert model.config.hidden_size == 256
    tiny, _, is_tiny = load_model_and_processor("tiny")
    assert is_tiny and tiny.config.hidden_size == 64


# The shipped model's measured WER on held-out voices is in its model card; this bound only catches a model that
# stopped listening (the first, undertrained miniature scored about 105 %).
HELD_OUT_WER_BOUND = 0.5


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_transcribes_fresh_clips_of_held_out_voices(mini, tmp_path):
    """New espeak-ng clips (seeded random vocabulary sequences, voices never trained on) through the ASR pipeline."""
    from transformers import pipeline

    from evaluation.metrics.text import corpus_error_rate
    from training_recipes.mini.corpus import (HELD_OUT_VOICES, SAMPLING_RATE, encode_wav_pcm16,
                                              generate_random_sequence, load_vocabulary, speak)

    rng = random.Random(20261201)
    vocabulary = load_vocabulary()
    texts, paths = [], []
    for index, voice in enumerate(HELD_OUT_VOICES[:8]):
        text = generate_random_sequence(rng, vocabulary, 3, 6)
        path = tmp_path / f"clip_{index}.wav"
        path.write_bytes(encode_wav_pcm16(speak(text, voice, rng.randint(150, 190), rng.randint(35, 65)), SAMPLING_RATE))
        texts.append(text)
        paths.append(str(path))
    model, processor = mini
    pipe = pipeline("mimo-audio", model=model, processor=processor)
    hypotheses = [result["text"] for result in pipe(paths, task="asr")]
    wer = corpus_error_rate(texts, hypotheses, "en")["value"]
    assert wer <= HELD_OUT_WER_BOUND, list(zip(texts, hypotheses))


def test_tts_samples_at_the_miniatures_own_temperature(mini):
    from processing.generation_presets import checkpoint_preset_overrides
    from training_recipes.mini.model import MINI_PRESET_OVERRIDES

    model, _ = mini
    assert model.generation_config.preset_overrides == MINI_PRESET_OVERRIDES
    assert checkpoint_preset_overrides(model.generation_config, "tts") == {"audio_temperature": 0.3}
    assert checkpoint_preset_overrides(model.generation_config, "asr") == {}


def test_speaks(mini):
    from transformers import pipeline

    model, processor = mini
    pipe = pipeline("mimo-audio", model=model, processor=processor)
    spoken = pipe("one two three", task="tts", do_sample=False)
    audio = spoken["audio"]
    assert spoken["sampling_rate"] == 24000 and 0.2 < audio.shape[0] / 24000 < 10.0
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0.01


def test_codec_reconstructs_speech(mini, samples):
    from pystoi import stoi

    from processing.audio_io import load_audio

    _, processor = mini
    path = next(iter(samples))
    from processing.audio_io import encode_waveforms

    wave = load_audio(path, 24000)
    codes = encode_waveforms(processor.audio_tokenizer, processor.feature_extractor, [wave], 24000, 8)[0]
    assert codes.shape[0] == 8
    decoded = processor.audio_tokenizer.decode(codes[None]).audio_values[0, 0].float().numpy()[: wave.shape[0]]
    decoded = np.pad(decoded, (0, wave.shape[0] - decoded.shape[0]))
    assert stoi(wave, decoded, 24000) > 0.75


def test_transcribe_command_without_model_arguments(samples):
    paths = sorted(samples)[:2]
    completed = subprocess.run([sys.executable, "-m", "modeling_mimo_audio", "transcribe", *paths, "--no-progress"],
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = completed.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == paths


def test_tts_conditioning_benchmark(capsys):
    """`benchmarks/mini_tts_conditioning.py`: the same clips scored with their own texts twice give equal losses (the
    "other text" side only swaps texts), and the script prints its table without touching RESULTS.md."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
    import mini_tts_conditioning as bench
    from training_recipes.mini.corpus import speak_word_by_word

    texts = bench.house_texts(3)
    waves = [speak_word_by_word(text) for text in texts]
    same = bench.audio_losses(MINI_MODEL_DIR, [texts[0]] * 3, [waves[0]] * 3, batch_size=2)
    np.testing.assert_allclose(same["right"], same["wrong"], rtol=1e-6)
    differ = bench.audio_losses(MINI_MODEL_DIR, texts, waves, batch_size=2)
    assert differ["right"] != differ["wrong"] and all(np.isfinite(differ["right"] + differ["wrong"]))
    with pytest.raises(ValueError, match="--num-clips"):
        bench.house_texts(1)
    results = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks", "RESULTS.md")
    before = os.path.getmtime(results)
    assert bench.main(["--num-clips", "2", "--no-save"]) == 0
    assert "| c0 own text |" in capsys.readouterr().out and os.path.getmtime(results) == before
