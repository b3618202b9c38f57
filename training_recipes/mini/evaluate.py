"""The miniature's measurements, through the product's own evaluation suite (`mimo-audio eval ...`).

On held-out data of the corpus (`test`: held-out texts in training voices; `test_voices`: voices never trained on):

| key | command | data |
|---|---|---|
| `codec_stoi`, `codec_pesq_wb`, `codec_mel_distance` | `eval codec` | test_voices |
| `asr_wer_test_voices`, `asr_wer_test` | `eval asr --filter kind=random` | random word sequences |
| `tts_judge_wer`, `tts_judge_wer_reference` | `eval tts --asr-model whisper-offline` | test_house: the test_voices random sequences; our speech (plain TTS speaks in the house voice) and espeak-ng's house-voice originals, same judge |
| `arithmetic_accuracy`, `arithmetic_thinking_accuracy` | `eval arithmetic` | test_voices arithmetic questions (operand pairs never trained on) |

`evaluate_mini(model_dir, corpus_dir, output_dir)` runs them and writes `output_dir/summary.json`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

__all__ = ["EVALUATIONS", "evaluate_mini", "summarize"]

# name -> (eval task, split, extra arguments, {summary key: results key}). The position caps are well above what the
# corpus needs (8 words are under 50 positions as speech, under 16 as text; the longest
# arithmetic trace is 39 tokens, its spoken answer under 10 positions) and bound a run that never stops.
EVALUATIONS = {
    "codec": ("codec", "test_voices", ["--filter", "kind=random"],
              {"codec_stoi": "stoi", "codec_pesq_wb": "pesq_wb", "codec_mel_distance": "mel_distance"}),
    "asr_test_voices": ("asr", "test_voices", ["--filter", "kind=random", "--max-new-tokens", "40"],
                        {"asr_wer_test_voices": "error_rate"}),
    "asr_test": ("asr", "test", ["--filter", "kind=random", "--max-new-tokens", "40"], {"asr_wer_test": "error_rate"}),
    "tts": ("tts", "test_house", ["--filter", "kind=random", "--asr-model", "whisper-offline", "--max-new-tokens",
                                   "120"],
            {"tts_judge_wer": "error_rate", "tts_judge_wer_reference": "judge_wer_reference"}),
    "arithmetic": ("arithmetic", "test_voices", ["--filter", "kind=arithmetic", "--max-new-tokens", "120"],
                   {"arithmetic_accuracy": "accuracy", "arithmetic_thinking_accuracy": "thinking_accuracy"}),
}


def _results(path: str) -> dict:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    return data.get("metrics", data)


def summarize(output_dir: str) -> dict:
    """The summary keys of every finished evaluation in `output_dir`."""
    summary = {}
    for name, (_, _, _, keys) in EVALUATIONS.items():
        path = os.path.join(output_dir, name, "results.json")
        if not os.path.exists(path):
            continue
        metrics = _results(path)
        for key, source in keys.items():
            summary[key] = metrics.get(source)
        summary[f"{name}_items"] = metrics.get("num_items")
    return summary


def evaluate_mini(model_dir: str, corpus_dir: str, output_dir: str, log_path: str | None = None,
                  limit: int | None = None, batch_size: int = 16, max_new_tokens: int | None = None) -> dict:
    """Runs every evaluation of `EVALUATIONS` on `model_dir` (resumable: each keeps its generation cache);
    `limit` items each, and `max_new_tokens` replacing the caps (the toy-scale run's untrained model never stops)."""
    os.makedirs(output_dir, exist_ok=True)
    for name, (task, split, extra, _) in EVALUATIONS.items():
        command = [sys.executable, "-m", "modeling_mimo_audio", "eval", task, "--model", model_dir,
                   "--dataset", os.path.join(corpus_dir, split), "--output-dir", os.path.join(output_dir, name),
                   "--batch-size", str(batch_size), *extra]
        if limit is not None:
            command += ["--limit", str(limit)]
        if max_new_tokens is not None:
            command += ["--max-new-tokens", str(max_new_tokens)]
        print("$ " + " ".join(command), flush=True)
        with open(log_path or os.devnull, "a", encoding="utf-8") as log:
            completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            log.write(completed.stdout)
        if completed.returncode != 0:
            sys.stdout.write(completed.stdout[-4000:])
            raise SystemExit(f"error: evaluation {name!r} failed (exit {completed.returncode})")
    summary = summarize(output_dir)
    with open(os.path.join(output_dir, "summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    print(json.dumps(summary, indent=2), flush=True)
    return summary
