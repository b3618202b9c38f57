"""`mimo-audio eval` as a new user runs it: tiny model, tiny manifest, progress, resume, reports, compare."""

import json
import os

import pytest

from evaluation.testing_utils import make_synthetic_manifest, make_tiny_asr_model, make_tiny_speaker_model
from modeling_mimo_audio.cli import main


@pytest.fixture(autouse=True)
def tiny_cache(tmp_path_factory, monkeypatch):
    # the CLI caches the tiny demo model set; keep it out of the home folder
    import modeling_mimo_audio.demo as demo

    monkeypatch.setattr(demo, "DEFAULT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "tiny_demo_cache"))


def _run(argv):
    # These tests exercise the plumbing on the tiny random set (the default model is the shipped miniature).
    if argv[:1] == ["eval"] and argv[1:2] != ["compare"] and "--model" not in argv:
        argv = [*argv, "--model", "tiny"]
    return main(argv)


def test_eval_asr_writes_reports_and_resumes_after_interruption(tmp_path, capsys, monkeypatch):
    from evaluation.backend import MiMoAudioBackend

    data = make_synthetic_manifest(str(tmp_path / "data"), "asr", num_items=3)
    out = str(tmp_path / "run_a")
    argv = ["eval", "asr", "--dataset", data, "--output-dir", out, "--batch-size", "2", "--max-new-tokens", "3"]

    original = MiMoAudioBackend.__call__
    calls = []

    def interrupt_second_batch(self, requests):
        calls.append([r.id for r in requests])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, requests)

    monkeypatch.setattr(MiMoAudioBackend, "__call__", interrupt_second_batch)
    with pytest.raises(KeyboardInterrupt):
        _run(argv)
    lines = open(os.path.join(out, "generations.jsonl")).read().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["item0", "item1"]
    assert not os.path.exists(os.path.join(out, "results.json"))

    calls.clear()
    monkeypatch.setattr(MiMoAudioBackend, "__call__", lambda self, requests: (calls.append([r.id for r in requests]), original(self, requests))[1])
    capsys.readouterr()
    assert _run(argv) == 0
    assert calls == [["item2"]]  # resumed: only the missing item
    captured = capsys.readouterr()
    assert "asr: " in captured.err and "3/3" in captured.err  # tqdm progress bar
    assert "TINY model" in captured.err
    assert "| error_rate |" in captured.out
    results = json.load(open(os.path.join(out, "results.json")))
    assert results["task"] == "asr" and results["metrics"]["num_items"] == 3
    assert results["run_config"]["max_new_tokens"] == 3 and results["run_config"]["task"] == "asr"
    assert os.path.isfile(os.path.join(out, "plots", "error_rate_by_length.png"))
    assert "# asr" in open(os.path.join(out, "results.md")).read()

    # other settings into the same folder are refused; --overwrite starts afresh
    capsys.readouterr()
    assert _run(argv[:-1] + ["2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --output-dir:") and "max_new_tokens" in err and "--overwrite" in err

    # a second run, then compare side by side
    out_b = str(tmp_path / "run_b")
    assert _run(["eval", "asr", "--dataset", data, "--output-dir", out_b, "--max-new-tokens", "2", "--limit", "2"]) == 0
    capsys.readouterr()
    assert _run(["eval", "compare", out, out_b, "--output", str(tmp_path / "cmp.md")]) == 0
    table = capsys.readouterr().out
    assert "| metric | run_a | run_b | delta (B - A) |" in table
    assert "| num_items | 3 | 2 | -1 |" in table
    assert open(tmp_path / "cmp.md").read().strip() == table.strip()


def test_eval_tts_and_codec_with_scoring_models(tmp_path, capsys):
    from modeling_mimo_audio.tiny import build_tiny_model_set
    import modeling_mimo_audio.demo as demo

    model, processor = build_tiny_model_set(cache_dir=demo.DEFAULT_CACHE_DIR, seed=0)
    empty = processor.tokenizer.convert_tokens_to_ids("<|empty|>")
    force_speech = {"do_sample": False, "suppress_tokens": [i for i in range(model.config.get_text_config().vocab_size) if i != empty]}
    asr_model = make_tiny_asr_model(str(tmp_path / "asr_model"))
    speaker_model = make_tiny_speaker_model(str(tmp_path / "spk_model"))

    data = make_synthetic_manifest(str(tmp_path / "tts_data"), "tts", num_items=2)
    out = str(tmp_path / "tts_run")
    rc = _run([
        "eval", "tts", "--dataset", data, "--output-dir", out, "--max-new-tokens", "3",
        "--generate-kwargs", json.dumps(force_speech), "--asr-model", asr_model, "--speaker-model", speaker_model,
    ])
    assert rc == 0
    metrics = json.load(open(os.path.join(out, "results.json")))["metrics"]
    assert metrics["num_no_audio"] == 0 and "speaker_similarity" in metrics and "error_rate" in metrics

    data = make_synthetic_manifest(str(tmp_path / "codec_data"), "codec", num_items=2)
    out = str(tmp_path / "codec_run")
    assert _run(["eval", "codec", "--dataset", data, "--output-dir", out, "--no-pesq", "--no-stoi"]) == 0
    results = json.load(open(os.path.join(out, "results.json")))
    assert set(results["metrics"]) == {"num_items", "mel_distance"}
    assert results["plots"] == ["plots/histogram_mel_distance.png"]


def test_eval_cli_errors_are_clear(tmp_path, capsys):
    data = make_synthetic_manifest(str(tmp_path / "data"), "dialogue", num_items=1)
    with pytest.raises(SystemExit) as exit_info:  # --judge is required: no judge (and no paid API) by default
        _run(["eval", "bigbench-audio", "--dataset", data, "--output-dir", str(tmp_path / "o")])
    assert exit_info.value.code == 2 and "--judge" in capsys.readouterr().err
    assert _run(["eval", "compare", str(tmp_path / "nope"), str(tmp_path / "nope2")]) == 2
    assert capsys.readouterr().err == f"error: no such file or directory: {tmp_path / 'nope'} (RUN_A)\n"
    (tmp_path / "unfinished").mkdir()
    assert _run(["eval", "compare", str(tmp_path / "unfinished"), str(tmp_path / "unfinished")]) == 2
    assert "results.json" in capsys.readouterr().err
    assert _run(["eval", "asr", "--dataset", data, "--output-dir", str(tmp_path / "o"), "--column-map", "broken"]) == 2
    assert capsys.readouterr().err.startswith("error: --column-map: expected SRC=DST")
