import io
import math

import numpy as np
import pytest
import soundfile as sf
import torch

from processing.audio_io import load_audio, read_audio


def tone(seconds, rate, freq=220.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_every_source_kind_reads_the_same_mono_samples(tmp_path):
    left, right = tone(0.1, 16000), tone(0.1, 16000, freq=330.0)
    stereo = np.stack([left, right], axis=1)  # [samples, channels], as files store it
    path = tmp_path / "a.wav"
    sf.write(path, stereo, 16000, subtype="FLOAT")
    buffer = io.BytesIO()
    sf.write(buffer, stereo, 16000, format="WAV", subtype="FLOAT")
    mono = (left + right) / 2

    sources = [
        (str(path), None),
        (path, None),  # os.PathLike
        ({"path": str(path)}, None),
        ({"bytes": buffer.getvalue()}, None),
        ({"array": stereo.T, "sampling_rate": 16000}, None),  # datasets' decoded [channels, samples]
        ({"raw": stereo.T, "sampling_rate": 16000}, None),  # transformers' ASR-pipeline dict
        (stereo, 16000),
        (torch.from_numpy(stereo.T.copy()), 16000),
        (list(mono), 16000),
    ]
    for value, rate in sources:
        wave, sr = read_audio(value, rate)
        assert sr == 16000 and wave.dtype == np.float32 and wave.shape == mono.shape
        np.testing.assert_allclose(wave, mono, atol=1e-6)


def test_load_audio_resamples_to_the_target_rate():
    wave = load_audio({"array": tone(0.5, 16000), "sampling_rate": 16000}, 24000)
    assert wave.shape == (math.ceil(0.5 * 16000 * 24000 / 16000),)
    same = load_audio(tone(0.5, 24000), 24000, sampling_rate=24000)
    np.testing.assert_array_equal(same, tone(0.5, 24000))


def test_bad_audio_gets_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        read_audio(str(tmp_path / "missing.wav"))
    with pytest.raises(ValueError, match="`sampling_rate` is required"):
        read_audio(tone(0.1, 24000))
    with pytest.raises(ValueError, match="needs 'sampling_rate'"):
        read_audio({"array": tone(0.1, 24000)})
    with pytest.raises(ValueError, match="'raw' needs 'sampling_rate'"):
        read_audio({"raw": tone(0.1, 24000)})
    with pytest.raises(ValueError, match="both 'array' and 'raw'"):
        read_audio({"array": tone(0.1, 24000), "raw": tone(0.1, 24000), "sampling_rate": 24000})
    with pytest.raises(ValueError, match="needs 'array'"):
        read_audio({"text": "hi"})
    with pytest.raises(TypeError, match="float samples"):
        read_audio((tone(0.1, 24000) * 32767).astype(np.int16), 24000)
    with pytest.raises(TypeError, match="audio must be a file path"):
        read_audio(3.5)
    (tmp_path / "junk.wav").write_bytes(b"not audio at all")
    with pytest.raises(ValueError, match="cannot read audio"):
        read_audio(str(tmp_path / "junk.wav"))


def test_a_file_with_nan_samples_is_refused_by_name(tmp_path):
    path = tmp_path / "broken.wav"
    samples = np.zeros(2400, np.float32)
    samples[1000] = np.nan
    sf.write(path, samples, 24000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"broken\.wav' holds NaN or infinite samples \(first at sample 1000\)"):
        read_audio(str(path))
    with pytest.raises(ValueError, match="bytes holds NaN"):
        read_audio({"bytes": path.read_bytes()})
