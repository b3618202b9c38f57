"""One error style for every `mimo-audio` sub-command: `error: <what and which argument>` on stderr, exit status 2 for
usage errors (checked before any model loads) and 1 for failures while running, no traceback unless `--debug`."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from modeling_mimo_audio.cli import main
from modeling_mimo_audio.cli_arguments import EXIT_FAILURE, EXIT_USAGE, UsageError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def no_model_loads(monkeypatch):
    """Usage errors are found before anything loads: loading the LM set or the codec fails the test."""
    import modeling_mimo_audio.demo as demo
    from modeling_mimo_audio.modeling_mimo_audio_tokenizer import MiMoAudioTokenizerModel

    def refuse(*args, **kwargs):
        pytest.fail("a model was loaded before the usage error was reported")

    monkeypatch.setattr(demo, "load_model_and_processor", refuse)
    monkeypatch.setattr(MiMoAudioTokenizerModel, "from_pretrained", refuse)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    sf.write(folder / "clip.wav", (0.1 * np.sin(np.arange(12000) / 7.0)).astype(np.float32), 24000)
    sf.write(folder / "empty.wav", np.zeros(0, np.float32), 24000)
    (folder / "broken.wav").write_bytes(b"this is not a RIFF file")
    (folder / "a_file").write_text("not a folder")
    (folder / "a_folder").mkdir()
    np.save(folder / "no_frames.npy", np.zeros((8, 0), np.int64))
    return folder


def _usage_error(argv, capsys, *fragments):
    """Runs `argv`, expects exit status 2 and exactly one `error: ...` line naming each of `fragments`."""
    capsys.readouterr()
    assert main(argv) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.err.startswith("error: "), captured.err
    assert captured.err.count("\n") == 1, captured.err  # one line: no traceback, no progress bars before it
    for fragment in fragments:
        assert fragment in captured.err, (fragment, captured.err)
    assert "Traceback" not in captured.err
    return captured.err


# --- the model arguments that every model command shares ------------------------------------------------------------


@pytest.mark.parametrize("command", [["demo"], ["transcribe", "CLIP"], ["speak", "hi", "-o", "OUT"], ["chat"]])
@pytest.mark.parametrize(
    "extra, fragments",
    [
        (["--model", "./no_such_model"], ["no such file or directory: ./no_such_model (--model)"]),
        (["--model", "runs/mini/no/checkpoint"], ["no such file or directory: runs/mini/no/checkpoint (--model)"]),
        (["--model", "tiny", "--audio-tokenizer", "/no/codec"],
         ["no such file or directory: /no/codec (--audio-tokenizer)"]),
        (["--model", "tiny", "--audio-tokenizer", "FOLDER"], ["--audio-tokenizer", "--model tiny"]),
        (["--text-tokenizer", "FOLDER"], ["--text-tokenizer", "upstream"]),
        (["--max-new-tokens", "0"], ["--max-new-tokens: expected a positive integer, got 0"]),
        (["--dtype", "float33"], ["--dtype", "float33"]),
        (["--device", "warp-drive"], ["--device", "warp-drive"]),
        (["--model", "FOLDER"], ["--model", "no config.json"]),
        (["--model", "tiny", "--cache-dir", "CLIP"], ["--cache-dir: expected a folder"]),
    ],
)
def test_model_arguments_of_every_model_command(command, extra, fragments, files, tmp_path, capsys, no_model_loads):
    values = {"CLIP": str(files / "clip.wav"), "OUT": str(tmp_path / "o.wav"), "FOLDER": str(files / "a_folder")}
    argv = [values.get(a, a) for a in command + extra]
    _usage_error(argv, capsys, *fragments)


def test_a_well_formed_hub_id_is_left_to_the_loader_and_its_failure_names_the_model(monkeypatch, capsys, files):
    import modeling_mimo_audio.demo as demo

    def offline(*args, **kwargs):
        raise OSError("We couldn't connect to 'https://huggingface.co' to load the files")

    monkeypatch.setattr(demo, "load_model_and_processor", offline)
    assert main(["transcribe", str(files / "clip.wav"), "--model", "someone/some-model"]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert err.startswith("error: cannot load the model set (--model someone/some-model): We couldn't connect")
    assert "--debug" in err and "Traceback" not in err


# --- each command's own arguments -----------------------------------------------------------------------------------


def test_transcribe_input_files(files, capsys, no_model_loads):
    _usage_error(["transcribe", str(files / "clip.wav"), str(files / "nope.wav")], capsys,
                 f"no such file or directory: {files / 'nope.wav'} (AUDIO)")  # fmt: skip
    err = _usage_error(["transcribe", str(files / "empty.wav")], capsys, "AUDIO", "empty", "no samples")
    assert "NaN" not in err
    _usage_error(["transcribe", str(files / "broken.wav")], capsys, "AUDIO: cannot read audio file")
    _usage_error(["transcribe", str(files / "a_folder")], capsys, "AUDIO: expected a file")
    _usage_error(["transcribe", str(files / "clip.wav"), "--batch-size", "0"], capsys, "--batch-size")


def test_speak_arguments(files, tmp_path, capsys, no_model_loads):
    out = str(tmp_path / "o.wav")
    clip = str(files / "clip.wav")
    # --voice without --instruct is refused before the model loads (it was refused only after loading)
    _usage_error(["speak", "hi", "-o", out, "--voice", clip], capsys, "--voice needs --instruct")
    _usage_error(["speak", "hi", "-o", out, "--instruct", "Happy.", "--voice", str(files / "nope.wav")], capsys,
                 "(--voice)")  # fmt: skip
    _usage_error(["speak", "hi", "-o", out, "--instruct", "Happy.", "--voice", str(files / "empty.wav")], capsys,
                 "--voice", "empty")  # fmt: skip
    _usage_error(["speak", "  ", "-o", out], capsys, "TEXT")
    _usage_error(["speak", "hi", "-o", str(files / "a_folder")], capsys, "--output", "is a folder")
    _usage_error(["speak", "hi", "-o", str(tmp_path / "o.xyz")], capsys, "--output", "'XYZ'")
    assert not os.path.exists(out)


def test_chat_arguments_and_a_bad_path_inside_the_conversation(files, capsys, no_model_loads):
    _usage_error(["chat", "--audio", str(files / "nope.wav")], capsys, "(--audio)")
    _usage_error(["chat", "--output-dir", str(files / "a_file")], capsys, "--output-dir", "is a file")


def test_codec_arguments(files, tmp_path, capsys, no_model_loads):
    out = str(tmp_path / "o.npy")
    # An empty wav is an empty file, not "NaN or infinite samples".
    err = _usage_error(["codec", "encode", str(files / "empty.wav"), out], capsys, "INPUT", "empty", "no samples")
    assert "NaN" not in err
    _usage_error(["codec", "encode", str(files / "nope.wav"), out], capsys, "no such file or directory", "(INPUT)")
    _usage_error(["codec", "encode", str(files / "clip.wav"), out, "--num-quantizers", "0"], capsys, "--num-quantizers")
    _usage_error(["codec", "encode", str(files / "clip.wav"), out, "--num-quantizers", "99"], capsys,
                 "--num-quantizers: expected 1 to")  # fmt: skip
    _usage_error(["codec", "encode", str(files / "clip.wav"), out, "--audio-tokenizer", "./nope"], capsys,
                 "no such file or directory: ./nope (--audio-tokenizer)")  # fmt: skip
    _usage_error(["codec", "encode", str(files / "clip.wav"), out, "--device", "warp-drive"], capsys, "--device")
    _usage_error(["codec", "decode", str(files / "no_frames.npy"), str(tmp_path / "o.wav")], capsys,
                 "INPUT", "0 frames")  # fmt: skip
    _usage_error(["codec", "decode", str(files / "broken.wav"), str(tmp_path / "o.wav")], capsys,
                 "INPUT: cannot read codes file")  # fmt: skip
    assert not os.path.exists(out)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    from evaluation.testing_utils import make_synthetic_manifest

    return make_synthetic_manifest(str(tmp_path_factory.mktemp("eval_data")), "asr", num_items=1)


@pytest.mark.parametrize(
    "task, extra, fragments",
    [
        ("asr", ["--dataset", "./no_data"], ["no such file or directory: ./no_data (--dataset)"]),
        ("asr", ["--batch-size", "0"], ["--batch-size: expected a positive integer"]),
        ("asr", ["--limit", "0"], ["--limit"]),
        ("asr", ["--max-new-tokens", "-3"], ["--max-new-tokens"]),
        ("asr", ["--model", "./nope"], ["no such file or directory: ./nope (--model)"]),
        ("asr", ["--filter", "no_operator"], ["--filter"]),
        ("asr", ["--filter", "colour=red"], ["--filter", "colour"]),
        ("asr", ["--output-dir", "FILE"], ["--output-dir", "is a file"]),
        ("tts", [], ["--asr-model: required by eval tts"]),
        ("tts", ["--asr-model", "./no_asr"], ["no such file or directory: ./no_asr (--asr-model)"]),
        ("speechmmlu", ["--modes", "t2t,x2y"], ["--modes", "x2y"]),
        ("mmau", ["--num-shots", "-1"], ["--num-shots"]),
        ("codec", ["--num-quantizers", "0"], ["--num-quantizers"]),
        ("bigbench-audio", ["--judge", "no_such_judge"], ["--judge", "no_such_judge"]),
        ("bigbench-audio", ["--judge", "no_such_module_xyz:judge"], ["--judge", "no_such_module_xyz"]),
    ],
)
def test_eval_task_arguments(task, extra, fragments, manifest, files, tmp_path, capsys, no_model_loads):
    argv = ["eval", task, "--dataset", manifest, "--output-dir", str(tmp_path / "run"), "--model", "tiny"]
    argv += [str(files / "a_file") if a == "FILE" else a for a in extra]  # later options win
    _usage_error(argv, capsys, *fragments)


def test_eval_generation_settings_that_conflict_with_the_run_folder(manifest, tmp_path, capsys, no_model_loads):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run_config.json").write_text(json.dumps({"task": "asr", "max_new_tokens": 99}))
    _usage_error(["eval", "asr", "--dataset", manifest, "--output-dir", str(run), "--model", "tiny"], capsys,
                 "--output-dir", "--overwrite")  # fmt: skip


def test_eval_compare_and_convert_paths(files, tmp_path, capsys, no_model_loads):
    _usage_error(["eval", "compare", str(files / "a_folder"), str(tmp_path / "nope")], capsys, "RUN_A", "results.json")
    _usage_error(["eval", "compare", str(files / "a_file"), str(tmp_path / "nope")], capsys,
                 f"no such file or directory: {tmp_path / 'nope'} (RUN_B)")  # fmt: skip
    convert = ["convert", "--audio-tokenizer-dir", str(files / "a_folder"), "--output-dir", str(tmp_path / "out")]
    _usage_error(convert + ["--lm-dir", "./no_lm"], capsys, "no such file or directory: ./no_lm (--lm-dir)")
    _usage_error(convert + ["--lm-dir", str(files / "a_folder"), "--dtype", "float33"], capsys, "--dtype")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["speak", "hi"], "--output"),  # a required option
        (["chat", "--reply", "song"], "--reply"),  # a choice
        (["eval", "asr", "--dataset", "d", "--output-dir", "o", "--generate-kwargs", "{oops"], "--generate-kwargs"),
        (["eval", "asr", "--dataset", "d", "--output-dir", "o", "--generate-kwargs", "[1]"], "JSON object"),
        (["codec", "encode", "a.wav", "a.npy", "--num-quantizers", "eight"], "--num-quantizers"),
        (["no-such-command"], "no-such-command"),
    ],
)
def test_argparse_errors_have_the_same_style(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("error: ") and fragment in err and "usage:" not in err, err


# --- runtime failures and --debug -----------------------------------------------------------------------------------


def test_a_failure_while_running_is_exit_1_and_debug_shows_the_traceback(files, monkeypatch, capsys):
    from modeling_mimo_audio import cli_tasks

    def broken_pipeline(model, processor):
        raise KeyError("feature_extractor")

    monkeypatch.setattr(cli_tasks, "_load", lambda args: (None, None, False))  # the failure comes after loading
    monkeypatch.setattr(cli_tasks, "_pipeline", broken_pipeline)
    argv = ["transcribe", str(files / "clip.wav"), "--no-progress"]
    assert main(argv) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "error: KeyError: 'feature_extractor' (run again with --debug for the traceback)"
    assert "Traceback" not in err
    for debug_argv in (["--debug", *argv], [*argv, "--debug"]):  # anywhere on the command line
        with pytest.raises(KeyError, match="feature_extractor"):
            main(debug_argv)


def test_debug_re_raises_a_usage_error(files):
    with pytest.raises(UsageError, match=r"\(AUDIO\)"):
        main(["transcribe", str(files / "nope.wav"), "--debug"])


def _module(*argv):
    return subprocess.run([sys.executable, "-m", "modeling_mimo_audio", *argv], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_the_real_command_line_exit_status_and_stderr(files, tmp_path):
    missing = str(tmp_path / "nope.wav")
    completed = _module("transcribe", missing)
    assert completed.returncode == EXIT_USAGE
    assert completed.stderr == f"error: no such file or directory: {missing} (AUDIO)\n"
    assert completed.stdout == ""
    completed = _module("speak", "hi", "-o", str(tmp_path / "o.wav"), "--voice", str(files / "clip.wav"), "--debug")
    assert completed.returncode == 1  # the interpreter's status for an uncaught exception
    assert "Traceback" in completed.stderr and "UsageError: --voice needs --instruct" in completed.stderr
