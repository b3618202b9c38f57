import os

import numpy as np
import pytest
import soundfile as sf

from modeling_mimo_audio.cli import main


def run(argv):
    return main(argv)


@pytest.fixture(scope="module")
def expected(upstream_tokenizer_dir):
    return np.load(os.path.join(upstream_tokenizer_dir, "expected.npz"))


def test_encode_then_decode_one_file(tmp_path, upstream_tokenizer_dir, expected):
    wav_path = tmp_path / "clip.wav"
    sf.write(wav_path, expected["wav_1"], 24000, subtype="FLOAT")
    codes_path = tmp_path / "clip.npy"
    assert run(["codec", "encode", str(wav_path), str(codes_path), "--audio-tokenizer", upstream_tokenizer_dir]) == 0
    codes = np.load(codes_path)
    assert codes.dtype == np.int64
    np.testing.assert_array_equal(codes, expected["codes_1"][:8])

    out_path = tmp_path / "decoded.wav"
    assert run(["codec", "decode", str(codes_path), str(out_path), "--audio-tokenizer", upstream_tokenizer_dir]) == 0
    audio, rate = sf.read(out_path, dtype="float32")
    assert rate == 24000
    np.testing.assert_allclose(audio, expected["decoded_1"][0, 0], atol=1e-4)  # 16-bit PCM step is 3e-5


def test_folders_and_stereo_input(tmp_path, upstream_tokenizer_dir, expected):
    clips = tmp_path / "clips"
    clips.mkdir()
    sf.write(clips / "a.flac", np.stack([expected["wav_1"]] * 2, axis=1), 24000, subtype="PCM_24")
    sf.write(clips / "b.wav", expected["wav_0"], 24000, subtype="FLOAT")
    (clips / "notes.txt").write_text("ignored")
    codes_dir = tmp_path / "codes"
    status = run(["codec", "encode", str(clips), str(codes_dir), "--audio-tokenizer", upstream_tokenizer_dir,
                  "--num-quantizers", "4", "--no-progress"])
    assert status == 0
    assert sorted(os.listdir(codes_dir)) == ["a.npy", "b.npy"]
    np.testing.assert_array_equal(np.load(codes_dir / "b.npy"), expected["codes_0"][:4])
    assert np.load(codes_dir / "a.npy").shape == (4, 18)

    wavs = tmp_path / "wavs"
    assert run(["codec", "decode", str(codes_dir), str(wavs), "--audio-tokenizer", upstream_tokenizer_dir]) == 0
    assert sorted(os.listdir(wavs)) == ["a.wav", "b.wav"]
    assert sf.info(wavs / "b.wav").frames == 63 * 960


def test_long_file_is_encoded_segment_by_segment_with_the_whole_files_codes(tmp_path, upstream_tokenizer_dir):
    """`codec encode` reads a long file one 60 s codec segment at a time (memory does not grow with the file); the
    codes equal the codec's on the whole file's features, a 16 kHz file's too (read whole and resampled)."""
    import torch

    from modeling_mimo_audio import MiMoAudioFeatureExtractor, MiMoAudioTokenizerModel

    codec = MiMoAudioTokenizerModel.from_pretrained(upstream_tokenizer_dir).eval()
    extractor = MiMoAudioFeatureExtractor.from_tokenizer_config(codec.config)
    for rate, seconds in ((24000, 130.3), (16000, 61.0)):
        wave = np.random.default_rng(rate).standard_normal(int(seconds * rate)).astype(np.float32) * 0.1
        stereo = np.stack([wave, wave * 0.5], axis=1)
        wav_path, codes_path = tmp_path / f"long{rate}.wav", tmp_path / f"long{rate}.npy"
        sf.write(wav_path, stereo, rate, subtype="FLOAT")
        assert run(["codec", "encode", str(wav_path), str(codes_path), "--audio-tokenizer", upstream_tokenizer_dir]) == 0
        with torch.inference_mode():
            features = extractor(stereo.T.copy(), sampling_rate=rate)
            whole = codec.encode(features["input_features"], features["attention_mask"], 8).audio_codes[0].numpy()
        np.testing.assert_array_equal(np.load(codes_path), whole)

    # Decoding a long code file: independent 60 s (1500-frame) chunks written one after the other, as upstream
    # decodes long audio.
    codes = np.load(tmp_path / "long24000.npy")
    assert codes.shape[1] > 3000
    out_path = tmp_path / "long.wav"
    assert run(["codec", "decode", str(tmp_path / "long24000.npy"), str(out_path), "--audio-tokenizer",
                upstream_tokenizer_dir]) == 0
    with torch.inference_mode():
        chunks = [codec.decode(torch.from_numpy(codes[:, s : s + 1500])).audio_values[0, 0].numpy()
                  for s in range(0, codes.shape[1], 1500)]
    audio, rate = sf.read(out_path, dtype="float32")
    assert rate == 24000 and audio.shape == (codes.shape[1] * 960,)
    np.testing.assert_allclose(audio, np.concatenate(chunks), atol=1e-4)  # 16-bit PCM step is 3e-5


@pytest.mark.parametrize(
    "make_argv, message",
    [
        (lambda d, t: ["codec", "encode", str(d / "missing.wav"), str(d / "o.npy"), "--audio-tokenizer", t],
         "no such file or directory"),
        (lambda d, t: ["codec", "encode", str(d / "clip.wav"), str(d / "o.npy"), "--audio-tokenizer", str(d / "no")],
         "(--audio-tokenizer)"),
        (lambda d, t: ["codec", "encode", str(d / "clip.wav"), str(d / "o.npy"), "--audio-tokenizer", str(d)],
         "no config.json"),
        (lambda d, t: ["codec", "encode", str(d / "clip.wav"), str(d / "o.npy"), "--audio-tokenizer", t,
                       "--num-quantizers", "30"], "num-quantizers"),
        (lambda d, t: ["codec", "encode", str(d / "broken.wav"), str(d / "o.npy"), "--audio-tokenizer", t],
         "cannot read audio"),
        (lambda d, t: ["codec", "decode", str(d / "float.npy"), str(d / "o.wav"), "--audio-tokenizer", t],
         "integer codes"),
        (lambda d, t: ["codec", "decode", str(d / "big.npy"), str(d / "o.wav"), "--audio-tokenizer", t],
         "outside the codebooks"),
        (lambda d, t: ["codec", "decode", str(d / "empty"), str(d / "out"), "--audio-tokenizer", t], "no .npy files"),
    ],
)
def test_errors_are_one_line_messages(tmp_path, upstream_tokenizer_dir, expected, capsys, make_argv, message):
    sf.write(tmp_path / "clip.wav", expected["wav_1"], 24000)
    (tmp_path / "broken.wav").write_bytes(b"not audio")
    np.save(tmp_path / "float.npy", np.zeros((8, 4), dtype=np.float32))
    np.save(tmp_path / "big.npy", np.full((8, 4), 5000, dtype=np.int64))
    (tmp_path / "empty").mkdir()
    assert run(make_argv(tmp_path, upstream_tokenizer_dir)) == 2
    err = capsys.readouterr().err
    last_line = err.strip().splitlines()[-1]  # earlier lines may be the weight-loading progress bar
    assert last_line.startswith("error:") and message in last_line
    assert "Traceback" not in err


def test_default_audio_tokenizer_is_the_shipped_miniature(tmp_path):
    import modeling_mimo_audio

    if not modeling_mimo_audio.mini_model_available():
        pytest.skip("the miniature is not shipped in this checkout")
    wav, codes = tmp_path / "a.wav", tmp_path / "a.npy"
    sf.write(str(wav), (0.1 * np.sin(np.arange(24000) / 10.0)).astype(np.float32), 24000)
    assert run(["codec", "encode", str(wav), str(codes), "--no-progress"]) == 0
    loaded = np.load(codes)
    assert loaded.shape[0] == 8 and abs(loaded.shape[1] - 25) <= 1
