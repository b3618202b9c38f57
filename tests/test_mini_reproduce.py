"""The miniature's whole chain at toy scale (`reproduce --quick`): corpus -> codec -> LM stages -> eval -> shipped
folder, then the folder through the Auto classes, the pipeline and the command line, as a user would cross the seams.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng (.ci/run installs it)")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("mini")
    shipped = work / "shipped"
    command = [sys.executable, "-m", "training_recipes.mini.reproduce", "--work-dir", str(work), "--quick",
               "--ship-to", str(shipped)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=1200)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return work, shipped, completed.stdout


def test_every_stage_ran_and_was_timed(quick_run):
    work, shipped, _ = quick_run
    with open(work / "timings.json") as handle:
        timings = json.load(handle)
    stages = ["corpus", "codec", "encode", "init", "data", "pretrain_stage1", "pretrain_stage2", "sft",
              "tts_focus_1", "sft_polish_1", "tts_focus_2", "sft_polish_2", "tts_decoder", "evaluate", "ship"]
    assert set(stages) <= set(timings) and timings["total"] > 0
    with open(work / "eval" / "summary.json") as handle:
        summary = json.load(handle)
    for key in ("codec_stoi", "codec_pesq_wb", "codec_mel_distance", "asr_wer_test_voices", "asr_wer_test",
                "tts_judge_wer", "tts_judge_wer_reference", "arithmetic_accuracy"):
        assert key in summary, key
    assert 0.0 <= summary["codec_stoi"] <= 1.0


def test_a_rerun_skips_finished_stages(quick_run):
    work, shipped, _ = quick_run
    command = [sys.executable, "-m", "training_recipes.mini.reproduce", "--work-dir", str(work), "--quick",
               "--ship-to", str(shipped), "--only", "corpus", "codec", "sft"]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    for stage in ("corpus", "codec", "sft"):
        assert f"[reproduce] {stage}: done already" in completed.stdout


def test_shipped_folder_opens_through_auto_classes_and_pipeline(quick_run):
    import numpy as np
    from transformers import AutoModelForTextToWaveform, AutoProcessor, pipeline

    import modeling_mimo_audio  # noqa: F401  (registers the Auto classes)
    from training_recipes.mini.ship import MAX_SHIPPED_BYTES, folder_size

    _, shipped, _ = quick_run
    assert folder_size(str(shipped)) <= MAX_SHIPPED_BYTES
    assert (shipped / "README.md").read_text().startswith("---")
    assert len([name for name in os.listdir(shipped / "samples") if name.endswith(".wav")]) >= 2
    model = AutoModelForTextToWaveform.from_pretrained(shipped, dtype="float32")
    processor = AutoProcessor.from_pretrained(shipped)
    # transformers' text-to-speech pipeline loads this task subclass of MiMoAudioForConditionalGeneration.
    assert type(model).__name__ == "MiMoAudioForTextToSpeech"
    assert processor.audio_tokenizer is not None
    pipe = pipeline("mimo-audio", model=model, processor=processor)
    result = pipe(np.zeros(24000, dtype=np.float32), task="asr", max_new_tokens=4)
    assert isinstance(result["text"], str)


def test_shipped_folder_through_the_command_line(quick_run, tmp_path):
    work, shipped, _ = quick_run
    samples = sorted(str(shipped / "samples" / name) for name in os.listdir(shipped / "samples"))[:2]
    completed = subprocess.run(
        [sys.executable, "-m", "modeling_mimo_audio", "transcribe", *samples, "--model", str(shipped),
         "--max-new-tokens", "4", "--no-progress"], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = completed.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == samples  # PATH<TAB>TRANSCRIPT, one line per file

    codes = tmp_path / "codes.npy"
    for command in (["codec", "encode", samples[0], str(codes)], ["codec", "decode", str(codes), str(tmp_path / "rt.wav")]):
        completed = subprocess.run([sys.executable, "-m", "modeling_mimo_audio", *command, "--audio-tokenizer",
                                    str(shipped / "audio_tokenizer"), "--no-progress"],
                                   capture_output=True, text=True, timeout=300)
        assert completed.returncode == 0, completed.stderr[-2000:]
    assert (tmp_path / "rt.wav").stat().st_size > 1000


def test_speech_rounds_chain_each_stage_from_the_one_before(tmp_path):
    """tts_focus_N trains from the stage before it on `lm/tts_focus` with tts_focus.yaml; sft_polish_N from
    tts_focus_N on SFT's data with sft_polish.yaml; the last round is what `evaluate` scores and `ship` ships."""
    from training_recipes.mini import reproduce

    calls = []
    chain = reproduce.Chain(str(tmp_path), quick=False, ship_to=None)
    chain._recipe = lambda recipe, source, config=None, data=None, output=None, extra=(): calls.append(
        (recipe, os.path.basename(source), config, data, output, extra))
    for stage in reproduce.ROUND_STAGES:
        chain.speech_round(stage)
    slower = tuple(f"learning_rates.{group}=0.0003" for group in ("patch_encoder", "llm", "patch_decoder"))
    assert calls == [("sft", "sft", "tts_focus", "tts_focus", "tts_focus_1", ()),
                     ("sft", "tts_focus_1", "sft_polish", "sft", "sft_polish_1", ()),
                     ("sft", "sft_polish_1", "tts_focus", "tts_focus", "tts_focus_2", ()),
                     ("sft", "tts_focus_2", "sft_polish", "sft", "sft_polish_2", slower)]
    for config in ("tts_focus", "sft_polish"):
        assert os.path.exists(os.path.join(reproduce.CONFIG_DIR, f"{config}.yaml"))


def test_tts_decoder_trains_the_patch_decoder_alone_from_the_last_round(tmp_path):
    """The last stage: speech output from the last polishing round with everything but the patch decoder frozen;
    its output is what `evaluate` scores and `ship` ships."""
    from training_recipes.config import load_recipe_config
    from training_recipes.mini import reproduce

    calls = []
    chain = reproduce.Chain(str(tmp_path), quick=False, ship_to=None)
    chain._recipe = lambda recipe, source, config=None, data=None, output=None, extra=(): calls.append(
        (recipe, os.path.basename(source), config, data, output, extra))
    chain.tts_decoder()
    assert calls == [("sft", "sft_polish_2", "tts_decoder", "tts_decoder", "tts_decoder", ())]
    assert reproduce.STAGES.index("tts_decoder") == reproduce.STAGES.index("sft_polish_2") + 1
    assert reproduce.FINAL_MODEL == "tts_decoder"
    config = load_recipe_config(os.path.join(reproduce.CONFIG_DIR, "tts_decoder.yaml"), recipe="sft")
    assert sorted(config.frozen_modules) == ["llm", "patch_encoder"]
    assert set(config.learning_rates) == {"patch_decoder"}
