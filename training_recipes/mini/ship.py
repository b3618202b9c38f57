"""Ship the trained miniature: one Hub-style folder (fp16 safetensors, processor, codec, model card).

`ship_folder(sft_dir, destination, work_dir)` writes `destination/` with the LM (`config.json`,
`model.safetensors`, `generation_config.json`), the processor (tokenizer + chat template, feature extractor) and
the codec in `audio_tokenizer/`, all weights in float16 (the codec's quantizer stays float32, as it is computed;
the configs say float32, so a default load computes in float32),
plus a `README.md` model card built from the run's measurements (`WORK/eval/*/results.json`, `WORK/timings.json`).
It refuses to write a folder over `MAX_SHIPPED_BYTES`.
"""

from __future__ import annotations

import glob
import json
import os
import shutil

import torch

from .model import MINI_PRESET_OVERRIDES
from .tasks import DECODER_HOUSE_TTS_REPEATS


__all__ = ["MAX_SHIPPED_BYTES", "folder_size", "ship_folder", "model_card", "target_lines"]

MAX_SHIPPED_BYTES = 40 * 1024 * 1024


def folder_size(folder: str) -> int:
    return sum(os.path.getsize(p) for p in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
               if os.path.isfile(p))


def _read_json(path: str):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _metric_lines(summary: dict) -> list[str]:
    lines = []
    for name, value in summary.items():
        lines.append(f"| {name} | {value if not isinstance(value, float) else round(value, 4)} |")
    return lines


def _voice_lines(corpus: dict) -> list[str]:
    """What the corpus info says about the house voice and the language-model-only accent voices."""
    lines = []
    house = corpus.get("house_voice")
    if house:
        style = ", read word by word (each word synthesized alone, on whole patches)" if house.get(
            "style") == "word_by_word" else ""
        lines += ["", f"Plain TTS (no style instruction) speaks in one house voice, espeak-ng `{house['voice']}` at "
                  f"{house['speed']} words/min, pitch {house['pitch']}{style} (its targets: the `tts_house` split); "
                  "instruct-TTS realises the asked gender and pace in the corpus's voices. The TTS judge's reference "
                  "is espeak-ng's house-voice rendering of the same held-out texts (`test_house`)."]
    accents = corpus.get("accent_train_voices")
    if accents:
        lines += ["", "The codec never heard the held-out accents; the language model also trained on "
                  f"{', '.join(accents)} (`train_accents`)."]
    return lines


def _provenance_lines(work_dir: str) -> list[str]:
    """`WORK/provenance.md` (how a build departed from one run of the chain, written by whoever assembled it), as
    lines of the card; none when absent."""
    path = os.path.join(work_dir, "provenance.md")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as handle:
        return [handle.read().strip(), ""]


def model_card(work_dir: str, size_bytes: int, parameters: dict) -> str:
    timings = _read_json(os.path.join(work_dir, "timings.json")) or {}
    corpus = _read_json(os.path.join(work_dir, "corpus", "corpus_info.json")) or {}
    summary = _read_json(os.path.join(work_dir, "eval", "summary.json")) or {}
    metrics = _metric_lines(summary)
    sizes = corpus.get("sizes") or corpus.get("split_sizes") or {}
    held_out = corpus.get("held_out_voices") or []
    lines = [
        "---",
        "library_name: transformers",
        "license: apache-2.0",
        "language: [en]",
        "pipeline_tag: text-to-speech",
        "tags: [mimo-audio, audio, speech-recognition, text-to-speech, espeak-ng, miniature]",
        "---",
        "",
        "# MiMo-Audio mini",
        "",
        "A miniature MiMo-Audio (codec + language model + processor) trained from scratch on one 2-core CPU with",
        "this project's own recipes, on English speech synthesized by espeak-ng from a 350-word vocabulary. It is",
        "the default model of every `mimo-audio` command, so each one does real work offline. It understands and",
        "speaks only that vocabulary, in espeak-ng's voices: a demonstration that the recipes train a working",
        "MiMo-Audio end to end, not a general speech model.",
        "",
        "```python",
        "import modeling_mimo_audio",
        "from transformers import AutoModelForTextToWaveform, AutoProcessor",
        "folder = modeling_mimo_audio.mini_model_path()",
        "model = AutoModelForTextToWaveform.from_pretrained(folder, dtype='float32')",
        "processor = AutoProcessor.from_pretrained(folder)",
        "```",
        "",
        "## Parts",
        "",
        f"- codec (`audio_tokenizer/`): {parameters['codec'] / 1e6:.1f}M parameters, 24 kHz, 25 Hz, 8 RVQ levels "
        "(1024, 1024, 128 x 6)",
        f"- language model: {parameters['lm'] / 1e6:.1f}M parameters (Qwen2 backbone, patch encoder, patch decoder)",
        "- text tokenizer: byte-level BPE trained on the corpus text and the prompt texts, with MiMo-Audio's "
        "special tokens",
        f"- folder size: {size_bytes / 2**20:.1f} MiB (float16 safetensors)",
        "",
        "## Training data",
        "",
        f"espeak-ng English voices and variants, speeds and pitches (`training_recipes/mini/corpus.py`); split sizes "
        f"{json.dumps(sizes) if sizes else '(see corpus_info.json)'}; held-out voices (never trained on): "
        f"{', '.join(held_out) if held_out else 'see corpus_info.json'}.",
        *_voice_lines(corpus),
        "",
        "## Training",
        "",
        "```bash",
        "python -m training_recipes.mini.reproduce --work-dir runs/mini \\",
        "    --ship-to modeling_mimo_audio/pretrained/mimo-audio-mini",
        "```",
        "",
        "Stages: corpus -> codec (`training_recipes.train_codec`, configs/mini/codec.yaml) -> codes -> tokenizer and "
        "random LM -> `pretrain_stage1` -> `pretrain_stage2` -> `sft` -> two rounds of `tts_focus` + `sft_polish` "
        "-> `tts_decoder` (configs/mini/) -> evaluation -> this folder.",
        "The LM's speech embeddings start from the codec's codebooks (`init_speech_embeddings_from_codec`); stage 1 "
        "is ASR-pretraining (with short 1-3-word clips) and plain text (transcripts, arithmetic traces); stage 2 adds "
        "TTS-pretraining, interleaved "
        "speech-text and the audio losses; SFT uses the released chat formats (ASR, TTS, instruct-TTS, spoken "
        "arithmetic with a `<think>` trace that counts the answer out). Each `tts_focus` round trains plain TTS in "
        "the house voice alone with the text loss weighed 1, so that the LM learns which word it is speaking; each "
        "`sft_polish` round runs SFT's mix again at the released weights (text 100), which brings ASR back. The last "
        "stage, `tts_decoder`, trains the patch decoder alone on SFT's speech-output conversations (house-voice TTS "
        f"x{DECODER_HOUSE_TTS_REPEATS}, instruct-TTS, spoken arithmetic answers) with the backbone, text head and "
        "patch encoder frozen, so ASR and everything the model writes stay exactly the last polishing round's.",
        "",
        "Wall time per stage on a 2-core CPU (s): " + (json.dumps(timings) if timings else "(not recorded)")
        + " (a stage resumed from an earlier build records only the part it ran).",
        "",
        *_provenance_lines(work_dir),
        "## Measured (held-out clips and voices)",
        "",
    ]
    if metrics:
        lines += ["| metric | value |", "| --- | --- |", *metrics]
    else:
        lines.append("(no evaluation results in this run)")
    lines += ["", "Numbers come from `mimo-audio eval` (see `training_recipes/mini/evaluate.py`), with this folder's "
              "generation settings: the task presets of `processing.generation_presets`, except where "
              "`generation_config.json` tunes them for this model (`preset_overrides`: "
              f"{json.dumps(MINI_PRESET_OVERRIDES)}; e.g. plain TTS samples its patches at a lower temperature than "
              "the released 0.9, which the Whisper judge hears better).", ""]
    lines += ["## Limitations", "",
              "English espeak-ng speech of the 350-word vocabulary only. The Whisper tiny.en judge is itself weak on "
              "word lists (see its WER on the originals above).", ""]
    targets = target_lines(summary)
    if targets:
        lines += ["Targets of the project (issue \"miniature MiMo-Audio\"):", "", "| target | measured | met |",
                  "| --- | --- | --- |", *targets, ""]
    lm_minutes = sum(seconds for stage, seconds in timings.items()
                     if stage.startswith(("pretrain_stage", "sft", "tts_focus", "tts_decoder"))) / 60
    if any(line.endswith("| no |") for line in targets):
        lines += [f"The language model had about {lm_minutes:.0f} minutes of training on 2 CPU cores; where a target "
                  "is missed above, more training steps are what it lacks most (see docs/mini.md in the project)."]
    return "\n".join(lines) + "\n"


def target_lines(summary: dict) -> list[str]:
    """Markdown rows `| target | measured | met |` for the targets the summary has numbers for."""
    rows = []

    def row(target, value, met):
        rows.append(f"| {target} | {value} | {'yes' if met else 'no'} |")

    if summary.get("asr_wer_test_voices") is not None:
        wer = summary["asr_wer_test_voices"]
        row("ASR WER <= 10 % (held-out voices)", f"{wer:.1f} %", wer <= 10)
    if summary.get("codec_stoi") is not None:
        row("codec STOI >= 0.85 (held-out voices)", f"{summary['codec_stoi']:.3f}", summary["codec_stoi"] >= 0.85)
    if summary.get("tts_judge_wer") is not None and summary.get("tts_judge_wer_reference") is not None:
        ours, reference = summary["tts_judge_wer"], summary["tts_judge_wer_reference"]
        row("TTS judge WER <= originals' + 10", f"{ours:.1f} % (originals {reference:.1f} %)", ours <= reference + 10)
    if summary.get("arithmetic_accuracy") is not None:
        accuracy = summary["arithmetic_accuracy"]
        row("spoken arithmetic >= 80 %", f"{accuracy:.1f} %", accuracy >= 80)
    return rows


def write_samples(corpus_dir: str, folder: str, count: int = 2) -> dict:
    """Copies `count` held-out-voice clips of random word sequences and one arithmetic question from the corpus's
    `test_voices` split into `folder` (16-bit wavs, for the demo and the model card) with `transcripts.json`."""
    import pyarrow.parquet as pq

    files = sorted(glob.glob(os.path.join(corpus_dir, "test_voices", "*.parquet")))
    if not files:
        return {}
    rows = pq.read_table(files[0], columns=["audio", "text", "kind", "voice"]).to_pylist()
    chosen = [r for r in rows if r["kind"] == "random"][:count] + [r for r in rows if r["kind"] == "arithmetic"][:1]
    os.makedirs(folder, exist_ok=True)
    transcripts = {}
    for index, row in enumerate(chosen, start=1):
        name = f"sample_{index}{'_arithmetic' if row['kind'] == 'arithmetic' else ''}.wav"
        with open(os.path.join(folder, name), "wb") as handle:
            handle.write(row["audio"]["bytes"])
        transcripts[name] = {"text": row["text"], "voice": row["voice"]}
    with open(os.path.join(folder, "transcripts.json"), "w", encoding="utf-8") as handle:
        json.dump(transcripts, handle, indent=2)
    return transcripts


def ship_folder(sft_dir: str, destination: str, work_dir: str) -> str:
    """Writes the shipped folder (see the module docstring); returns `destination`."""
    from modeling_mimo_audio import MiMoAudioForConditionalGeneration
    from processing.processing_mimo_audio import MiMoAudioProcessor

    model = MiMoAudioForConditionalGeneration.from_pretrained(sft_dir, dtype=torch.float32).eval()
    processor = MiMoAudioProcessor.from_pretrained(sft_dir)
    parameters = {"lm": sum(p.numel() for p in model.parameters()),
                  "codec": sum(p.numel() for p in processor.audio_tokenizer.parameters())}
    staging = destination.rstrip("/") + ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    model.to(torch.float16).save_pretrained(staging)
    processor.audio_tokenizer = processor.audio_tokenizer.to(torch.float16)
    processor.save_pretrained(staging)
    # Weights are stored in float16 to stay small; the configs say float32 so that a default `from_pretrained`
    # (dtype "auto") computes in float32, which is what CPU inference wants.
    for config_path in (os.path.join(staging, "config.json"), os.path.join(staging, "audio_tokenizer", "config.json")):
        with open(config_path, encoding="utf-8") as handle:
            config = json.load(handle)
        config["dtype"] = "float32"
        with open(config_path, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2, sort_keys=True)
    write_samples(os.path.join(work_dir, "corpus"), os.path.join(staging, "samples"))
    size = folder_size(staging)
    if size > MAX_SHIPPED_BYTES:
        raise ValueError(f"the shipped folder would be {size / 2**20:.1f} MiB, over the "
                         f"{MAX_SHIPPED_BYTES / 2**20:.0f} MiB budget")
    with open(os.path.join(staging, "README.md"), "w", encoding="utf-8") as handle:
        handle.write(model_card(work_dir, size, parameters))
    for name in ("eval/summary.json", "timings.json"):
        source = os.path.join(work_dir, name)
        if os.path.exists(source):
            shutil.copy(source, os.path.join(staging, "training_" + os.path.basename(name)))
    shutil.rmtree(destination, ignore_errors=True)
    os.replace(staging, destination)
    return destination
