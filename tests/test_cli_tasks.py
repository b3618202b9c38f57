"""The task commands of `mimo-audio`: demo, transcribe, speak, chat (tiny random model, no download)."""

import io
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from modeling_mimo_audio.cli import build_parser, main
from modeling_mimo_audio.demo import TINY_MODEL_NOTE, synthesize_clip

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("mimo_audio_demo_cache"))


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("clips") / "clip.wav")
    sf.write(path, synthesize_clip(1.0, 24000, seed=1), 24000)
    return path


def test_synthesize_clip_is_deterministic_and_bounded():
    clip = synthesize_clip(1.5, 24000, seed=3)
    assert clip.dtype == np.float32 and clip.shape == (36000,)
    assert np.abs(clip).max() == pytest.approx(0.5, abs=1e-6)
    np.testing.assert_array_equal(clip, synthesize_clip(1.5, 24000, seed=3))
    # Not silence and not a constant: a gliding harmonic tone has energy spread over time.
    assert clip[: 12000].std() > 0.01 and clip[-12000:].std() > 0.01
    with pytest.raises(ValueError, match="seconds"):
        synthesize_clip(0)


def test_parser_has_task_commands():
    parser = build_parser()
    for argv in (["demo"], ["transcribe", "a.wav"], ["speak", "hi", "--output", "o.wav"], ["chat"]):
        args = parser.parse_args(argv)
        assert callable(args.handler)
    with pytest.raises(SystemExit):
        parser.parse_args(["speak", "hi"])  # --output is required


def test_demo_runs_end_to_end(cache_dir, capsys):
    assert main(["demo", "--model", "tiny", "--cache-dir", cache_dir]) == 0
    output_dir = os.path.join(cache_dir, "outputs")
    printed = capsys.readouterr().out
    assert TINY_MODEL_NOTE in printed
    for name in ("load model set", "codec round trip", "ASR", "TTS", "batched call"):
        assert f"[{name}" in printed and "done in" in printed, name
    assert "timings:" in printed

    waveform, rate = sf.read(os.path.join(output_dir, "demo_input.wav"))
    assert rate == 24000 and waveform.shape == (48000,)
    roundtrip, rate = sf.read(os.path.join(output_dir, "demo_roundtrip.wav"))
    # 2 s -> about 50 frames at 25 Hz (the codec's padding adds at most one) -> 960 samples per frame.
    assert rate == 24000 and roundtrip.shape[0] % 960 == 0 and abs(roundtrip.shape[0] - 48000) <= 960
    assert np.abs(roundtrip).max() > 0
    # The TTS step of the tiny model generates patches (16 positions x 4 frames x 960 samples).
    tts, rate = sf.read(os.path.join(output_dir, "demo_tts.wav"))
    assert rate == 24000 and tts.shape[0] == 16 * 4 * 960
    assert os.path.isfile(os.path.join(output_dir, "demo_tts.wav"))
    # The model set is cached: the folder is not empty and a second run reuses it.
    assert any(name != "outputs" for name in os.listdir(cache_dir))


def test_demo_runs_as_module(cache_dir, tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "modeling_mimo_audio", "demo", "--model", "tiny", "--cache-dir", cache_dir,
         "--output-dir", str(tmp_path), "--max-new-tokens", "4", "--no-progress"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "[TTS] done in" in completed.stdout
    assert (tmp_path / "demo_tts.wav").is_file()


def test_transcribe_prints_one_line_per_file(cache_dir, clip_path, capsys):
    assert main(["transcribe", clip_path, clip_path, "--model", "tiny", "--cache-dir", cache_dir, "--max-new-tokens", "6"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(clip_path)]
    assert len(lines) == 2
    # Greedy ASR of the same clip in one batch gives the same transcript twice.
    assert lines[0] == lines[1]


def test_transcribe_missing_file_is_a_clear_error(cache_dir, tmp_path, capsys):
    assert main(["transcribe", str(tmp_path / "nope.wav"), "--model", "tiny", "--cache-dir", cache_dir]) == 2
    assert capsys.readouterr().err == f"error: no such file or directory: {tmp_path / 'nope.wav'} (AUDIO)\n"


def test_speak_writes_a_wav(cache_dir, tmp_path, capsys):
    output = tmp_path / "out" / "hello.wav"
    argv = ["speak", "Hello there.", "--output", str(output), "--model", "tiny", "--cache-dir", cache_dir, "--max-new-tokens", "6"]
    assert main(argv) == 0
    assert output.is_file()
    waveform, rate = sf.read(str(output))
    assert rate == 24000
    # The tiny model is forced to speak: 6 patches of 4 frames of 960 samples.
    assert waveform.shape[0] == 6 * 4 * 960
    assert f"to {output}" in capsys.readouterr().out


def test_speak_stream_writes_the_wav_as_it_goes_and_raw_pcm_to_stdout(cache_dir, tmp_path, capsysbinary):
    output = tmp_path / "streamed.wav"
    base = ["speak", "Hello there.", "--model", "tiny", "--cache-dir", cache_dir, "--max-new-tokens", "16"]
    assert main(base + ["--output", str(output), "--stream"]) == 0
    waveform, rate = sf.read(str(output))
    assert rate == 24000 and waveform.shape == (16 * 4 * 960,) and np.isfinite(waveform).all()
    assert b"streamed 2.56 s of audio" in capsysbinary.readouterr().out

    assert main(base + ["--output", "-", "--stream"]) == 0
    captured = capsysbinary.readouterr()
    pcm = np.frombuffer(captured.out, dtype="<i2")
    assert pcm.shape == (16 * 4 * 960,)
    np.testing.assert_allclose(pcm / 32767.0, waveform, atol=2 / 32767)  # the same audio as the file
    assert b"streamed 2.56 s of audio to standard output" in captured.err

    assert main(base + ["--output", "-"]) == 2
    assert b"--output -: raw PCM on standard output needs --stream" in capsysbinary.readouterr().err


def test_speak_with_a_style_instruction_and_voice(cache_dir, clip_path, tmp_path, capsys):
    output = tmp_path / "styled.wav"
    base = ["speak", "Hello there.", "--output", str(output), "--model", "tiny", "--cache-dir", cache_dir, "--max-new-tokens", "4"]
    assert main(base + ["--voice", clip_path]) == 2
    assert "--voice needs --instruct" in capsys.readouterr().err
    assert main(base + ["--instruct", "Speak happily.", "--voice", clip_path]) == 0
    assert sf.read(str(output))[0].shape[0] > 0


def test_chat_loop_keeps_history_and_writes_speech_turns(cache_dir, clip_path, tmp_path, monkeypatch, capsys):
    out_dir = tmp_path / "chat"
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hello!\n/audio " + clip_path + "\nWhat is this?\n/quit\nignored\n"))
    argv = ["chat", "--model", "tiny", "--cache-dir", cache_dir, "--reply", "speech", "--output-dir", str(out_dir)]
    argv += ["--max-new-tokens", "6"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.count("assistant:") == 2  # two user turns before /quit
    assert f"attached {clip_path}" in printed
    assert (out_dir / "chat_turn_01.wav").is_file() and (out_dir / "chat_turn_02.wav").is_file()
    assert not (out_dir / "chat_turn_03.wav").exists()


def test_bad_max_new_tokens_is_a_clear_error(cache_dir, clip_path, capsys):
    assert main(["transcribe", clip_path, "--model", "tiny", "--cache-dir", cache_dir, "--max-new-tokens", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --max-new-tokens: expected a positive integer, got 0")


def test_chat_keeps_spoken_answers_as_codes_in_history(cache_dir, tmp_path, monkeypatch, capsys):
    """With the text head forced to `<|empty|>` every answer is speech; the next turn's prompt then carries the
    previous answer's codes as a streaming segment (checked through the prompts the pipeline receives)."""
    import torch

    from modeling_mimo_audio import cli_tasks
    from processing.pipeline_mimo_audio import MiMoAudioPipeline

    original_kwargs = cli_tasks._generation_kwargs
    seen_prompts = []

    def forcing_kwargs(args, is_tiny, tiny_default):
        from modeling_mimo_audio.demo import speech_forcing_processor
        from modeling_mimo_audio.tiny import build_tiny_model_set

        _, processor = build_tiny_model_set(cache_dir=cache_dir)
        kwargs = original_kwargs(args, is_tiny, tiny_default)
        kwargs["logits_processor"] = speech_forcing_processor(processor.special_ids["empty"])
        return kwargs

    original_preprocess, original_postprocess = MiMoAudioPipeline.preprocess, MiMoAudioPipeline.postprocess
    answers = []

    def recording_preprocess(self, requests, **kwargs):
        prepared = original_preprocess(self, requests, **kwargs)
        seen_prompts.append(prepared["model_inputs"])
        return prepared

    def recording_postprocess(self, model_outputs, **kwargs):
        results = original_postprocess(self, model_outputs, **kwargs)
        answers.extend(results)
        return results

    monkeypatch.setattr(cli_tasks, "_generation_kwargs", forcing_kwargs)
    monkeypatch.setattr(MiMoAudioPipeline, "preprocess", recording_preprocess)
    monkeypatch.setattr(MiMoAudioPipeline, "postprocess", recording_postprocess)
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hello!\nAgain?\n"))
    out_dir = tmp_path / "chat"
    argv = ["chat", "--model", "tiny", "--cache-dir", cache_dir, "--reply", "speech", "--output-dir", str(out_dir)]
    assert main(argv + ["--max-new-tokens", "3", "--no-progress"]) == 0
    first, _ = sf.read(str(out_dir / "chat_turn_01.wav"))
    assert first.shape == (3 * 4 * 960,)
    # Turn 2's prompt: the first answer's 3 patches (12 frames) inside a <|sostm|> ... <|eostm|> segment.
    second_prompt = seen_prompts[1]
    from modeling_mimo_audio.tiny import build_tiny_model_set

    _, processor = build_tiny_model_set(cache_dir=cache_dir)
    ids = second_prompt["input_ids"][0]
    assert (ids == processor.special_ids["eostm"]).sum() == 1
    start = int((ids == processor.special_ids["sostm"]).nonzero()[0])
    end = int((ids == processor.special_ids["eostm"]).nonzero()[0])
    patch_positions = start + (ids[start:end] == processor.special_ids["empty"]).nonzero().flatten()
    assert patch_positions.numel() == 3
    in_prompt = second_prompt["audio_codes"][0, patch_positions].reshape(-1, 8)
    torch.testing.assert_close(in_prompt, answers[0]["audio_codes"])
