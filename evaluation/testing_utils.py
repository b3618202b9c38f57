"""Tiny offline stand-ins for smoke tests: synthetic datasets and tiny random scoring models.

Nothing here downloads anything. The models are randomly initialised (their transcripts and
embeddings are meaningless) but they are real transformers models loaded through the same code
path as Whisper / WavLM checkpoints, so ``--asr-model`` / ``--speaker-model`` plumbing is exercised.
"""

import json
import os
from typing import Dict, List

import numpy as np

SAMPLING_RATE = 16000


def synthetic_clip(seconds: float = 0.6, seed: int = 0, sampling_rate: int = SAMPLING_RATE, frequency: float = 220.0) -> np.ndarray:
    """A harmonic tone with a little noise and an amplitude envelope (speech-like enough for the metrics)."""
    rng = np.random.RandomState(seed)
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    tone = sum(np.sin(2 * np.pi * frequency * k * t) / k for k in range(1, 6))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 3 * t / seconds))
    return (0.2 * tone * envelope + 0.01 * rng.randn(t.size)).astype(np.float32)


def _write_clip(folder: str, name: str, seed: int, seconds: float = 0.6, frequency: float = 220.0) -> str:
    import soundfile as sf

    os.makedirs(os.path.join(folder, "wavs"), exist_ok=True)
    relative = os.path.join("wavs", f"{name}.wav")
    sf.write(os.path.join(folder, relative), synthetic_clip(seconds, seed, frequency=frequency), SAMPLING_RATE)
    return relative


def make_synthetic_manifest(folder: str, task: str, num_items: int = 3) -> str:
    """Write ``folder/manifest.jsonl`` (+ wavs) with ``num_items`` items in the format ``task`` reads; return ``folder``."""
    from .data import write_manifest

    items: List[Dict] = []
    texts = ["Hello world, this is a test.", "你好，世界。", "Don't stop the music!", "The quick brown fox."]
    for i in range(num_items):
        clip = _write_clip(folder, f"item{i}", seed=i, frequency=180.0 + 40 * i)
        if task == "asr":
            item = {"audio": clip, "text": texts[i % len(texts)]}
        elif task == "tts":
            item = {"text": texts[i % len(texts)], "prompt_audio": clip}
        elif task == "codec":
            item = {"audio": clip}
        elif task in ("mmau", "mmar"):
            choices = ["Dog barking", "Cat meowing", "Bird singing", "Car horn"]
            item = {"audio": clip, "question": "What is the sound?", "choices": choices, "answer": choices[i % 4],
                    "category": ["sound", "music", "speech"][i % 3]}
        elif task == "mmsu":
            item = {"audio": clip, "question": "What emotion?", "choice_a": "happy", "choice_b": "sad",
                    "choice_c": "angry", "choice_d": "neutral", "answer_gt": ["happy", "sad", "angry", "neutral"][i % 4],
                    "category": ["perception", "reasoning"][i % 2]}
        elif task == "speechmmlu":
            examples = [
                {"question_text": f"Question {k}? A. x B. y C. z D. w", "question_audio": _write_clip(folder, f"q{i}_{k}", 100 + k),
                 "answer_text": "The answer is option A.", "answer_audio": _write_clip(folder, f"a{i}_{k}", 200 + k)}
                for k in range(2)
            ]
            item = {"subject": ["math", "history"][i % 2], "question_text": "Which? A. 1 B. 2 C. 3 D. 4",
                    "question_audio": clip, "answer": i % 4,
                    "few_shot": {"beginning_text": "The following are multiple choice questions.",
                                 "beginning_audio": _write_clip(folder, f"b{i}", 300), "examples": examples}}
        elif task == "icl_s2s":
            examples = [
                {"input_audio": _write_clip(folder, f"in{i}_{k}", 400 + k, seconds=0.5),
                 "output_audio": _write_clip(folder, f"out{i}_{k}", 500 + k, seconds=0.75), "output_text": "hello"}
                for k in range(2)
            ]
            item = {"audio": clip, "examples": examples, "target_audio": _write_clip(folder, f"t{i}", 600 + i), "target_text": "hello there"}
        elif task == "dialogue":
            item = {"audio": clip, "text": "What is two plus two?", "answer": "four"}
        else:
            raise ValueError(f"unknown synthetic task {task!r}")
        item["id"] = f"item{i}"
        items.append(item)
    write_manifest(items, folder)
    return folder


def make_tiny_asr_model(folder: str, seed: int = 0) -> str:
    """Save a tiny random CTC ASR model (Wav2Vec2ForCTC + character tokenizer) usable by ``--asr-model``."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC, Wav2Vec2Processor

    os.makedirs(folder, exist_ok=True)
    vocab = {"<pad>": 0, "<unk>": 1, "|": 2, **{ch: i + 3 for i, ch in enumerate("abcdefghijklmnopqrstuvwxyz'")}}
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    tokenizer = Wav2Vec2CTCTokenizer(os.path.join(folder, "vocab.json"), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|")
    feature_extractor = Wav2Vec2FeatureExtractor(sampling_rate=SAMPLING_RATE, return_attention_mask=True)
    config = Wav2Vec2Config(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
        pad_token_id=0,
    )
    torch.manual_seed(seed)
    Wav2Vec2ForCTC(config).save_pretrained(folder)
    Wav2Vec2Processor(feature_extractor=feature_extractor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def make_tiny_speaker_model(folder: str, seed: int = 0) -> str:
    """Save a tiny random ``WavLMForXVector`` + feature extractor usable by ``--speaker-model``."""
    import torch
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMForXVector

    os.makedirs(folder, exist_ok=True)
    config = WavLMConfig(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, conv_dim=(16, 16),
        conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2,
        tdnn_dim=(16, 16), tdnn_kernel=(3, 1), tdnn_dilation=(1, 1), xvector_output_dim=8, num_buckets=16, max_bucket_distance=20,
    )
    torch.manual_seed(seed)
    WavLMForXVector(config).save_pretrained(folder)
    Wav2Vec2FeatureExtractor(sampling_rate=SAMPLING_RATE, return_attention_mask=True).save_pretrained(folder)
    return folder


# ------------------------------------------------------------------------------------------------------------------
# A miniature corpus in the layout of `training_recipes.mini.corpus` (espeak-ng speech in Parquet shards)
# ------------------------------------------------------------------------------------------------------------------

MINI_CORPUS_RATE = 24000
# split -> (kind, text, answer_text, voice); a few rows of each kind the evaluation reads.
MINI_CORPUS_ROWS = {
    "test": [
        ("random", "red dog seven house", "", "en-us+m1"),
        ("random", "small bird twelve trees", "", "en-gb+f2"),
    ],
    "test_voices": [
        ("random", "green cat runs four", "", "en-029+m1"),
        ("arithmetic", "what is three plus four", "seven", "en-us+m3"),
        ("random", "the big horse jumps", "", "en-gb+f3"),
        ("arithmetic", "what is nine minus six", "three", "en-029+f2"),
    ],
}


def espeak_available() -> bool:
    import shutil

    return shutil.which("espeak-ng") is not None


def espeak_wav_bytes(text: str, voice: str = "en-us", speed: int = 160, pitch: int = 50,
                     sampling_rate: int = MINI_CORPUS_RATE) -> bytes:
    """``text`` spoken by espeak-ng, resampled to ``sampling_rate``, as 16-bit PCM WAV bytes (the corpus' storage)."""
    import io
    import subprocess

    import soundfile as sf

    from .metrics.audio import resample

    result = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", text],
        check=True, capture_output=True,
    )
    wave, rate = sf.read(io.BytesIO(result.stdout), dtype="float32")
    wave = resample(wave, rate, sampling_rate).astype(np.float32)
    wave = 0.9 * wave / max(1e-6, float(np.max(np.abs(wave))))
    buffer = io.BytesIO()
    sf.write(buffer, wave, sampling_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def make_mini_corpus(folder: str, rows: Dict = None, shard_size: int = 2) -> str:
    """Write a miniature corpus ``folder/{split}/shard-{k:05d}.parquet`` (columns as the mini corpus: ``id``,
    ``audio`` / ``answer_audio`` as ``{"bytes", "path"}``, ``text``, ``kind``, ``answer_text``, ``voice``,
    ``language``, ``gender``, ``speed``, ``pitch``, ``split``) spoken by espeak-ng; return ``folder``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    audio_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema([
        ("id", pa.string()), ("audio", audio_type), ("text", pa.string()), ("kind", pa.string()),
        ("answer_text", pa.string()), ("answer_audio", audio_type), ("voice", pa.string()),
        ("language", pa.string()), ("gender", pa.string()), ("speed", pa.int32()), ("pitch", pa.int32()),
        ("split", pa.string()),
    ])
    for split, specs in (rows or MINI_CORPUS_ROWS).items():
        os.makedirs(os.path.join(folder, split), exist_ok=True)
        table_rows = []
        for index, (kind, text, answer, voice) in enumerate(specs):
            language, variant = voice.split("+", 1)
            speed, pitch = 150 + 10 * index, 40 + 5 * index
            row_id = f"{split}-{index:06d}"
            spoken = text + "?" if kind == "arithmetic" else text
            table_rows.append({
                "id": row_id,
                "audio": {"bytes": espeak_wav_bytes(spoken, voice, speed, pitch), "path": f"{row_id}.wav"},
                "text": text, "kind": kind, "answer_text": answer,
                "answer_audio": {"bytes": espeak_wav_bytes(answer, voice, speed, pitch), "path": f"{row_id}-answer.wav"}
                if answer else None,
                "voice": voice, "language": language, "gender": "female" if variant.startswith("f") else "male",
                "speed": speed, "pitch": pitch, "split": split,
            })
        for shard, start in enumerate(range(0, len(table_rows), shard_size)):
            table = pa.Table.from_pylist(table_rows[start : start + shard_size], schema=schema)
            pq.write_table(table, os.path.join(folder, split, f"shard-{shard:05d}.parquet"))
    return folder
