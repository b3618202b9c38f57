"""Data preparation: (audio, text) corpora -> codec codes -> task-format examples -> packed rows, as Parquet shards.

Three steps, each a function and a sub-command:

1. `encode`: a `datasets.Dataset` whose audio column is a `datasets.Audio` feature, a file path, or an
   `{"array", "sampling_rate"}` dict -> the same rows with `audio_codes` (`[8, frames]` int lists) instead of the
   audio. The codec runs in batches (on the GPU when there is one), with a progress bar; results are written as
   Parquet shards, one file per `shard_size` rows, renamed into place only when complete, so an interrupted run
   resumes at the first missing shard.
2. `format`: rows -> examples of one task format (`training_recipes.formats.TASK_FORMATS`).
3. `pack` (optional): examples -> rows of `context_length` positions without attention across documents.

    python -m training_recipes.prepare_data encode --data corpus.jsonl --audio-column audio \\
        --codec path/to/MiMo-Audio-Tokenizer --output-dir data/codes
    python -m training_recipes.prepare_data format --data data/codes --task asr \\
        --tokenizer path/to/MiMo-Audio-7B-Instruct --output-dir data/asr --pack --context-length 8192
"""

from __future__ import annotations

import argparse
import glob
import logging
import os
from typing import Callable, Sequence

import numpy as np
import torch

from processing.audio_io import encode_waveforms, load_audio


logger = logging.getLogger(__name__)

__all__ = [
    "CodecEncoder",
    "load_rows",
    "encode_dataset",
    "format_dataset",
    "pack_dataset",
    "special_token_ids_from_tokenizer",
    "main",
]

CODEC_SAMPLING_RATE = 24000
NUM_LM_CODEBOOKS = 8


def load_waveform(value, target_sr: int = CODEC_SAMPLING_RATE) -> np.ndarray:
    """Mono float32 waveform at `target_sr` from a path, an undecoded `datasets.Audio` dict (`path`/`bytes`) or a
    decoded one (`array`, `sampling_rate`). Multi-channel audio is averaged; other rates are resampled with the
    feature extractor's resampler (so training audio is resampled exactly like inference audio), with a warning
    once per rate. The reader is :func:`processing.audio_io.load_audio`, shared by every entry point."""
    return load_audio(value, target_sr)


class CodecEncoder:
    """Waveforms (24 kHz) -> per-clip codes `[num_quantizers, frames]`, with the MiMo-Audio codec in batches.

    Args:
        codec: `MiMoAudioTokenizerModel` (frozen; put in eval mode here).
        feature_extractor: `MiMoAudioFeatureExtractor`.
        device: where the codec runs; defaults to CUDA when available.
        num_quantizers: codebooks to keep (the LM uses 8).
    """

    def __init__(self, codec, feature_extractor, device=None, num_quantizers: int = NUM_LM_CODEBOOKS):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.codec = codec.to(self.device).eval()
        self.feature_extractor = feature_extractor
        self.num_quantizers = num_quantizers

    def __call__(self, waveforms: Sequence[np.ndarray]) -> list[np.ndarray]:
        codes = encode_waveforms(self.codec, self.feature_extractor, waveforms, CODEC_SAMPLING_RATE, self.num_quantizers)
        return [clip.numpy() for clip in codes]


def load_rows(source, split: str = "train"):
    """A `datasets.Dataset` from a dataset object, a `save_to_disk` folder, or data files (json/jsonl/csv/parquet,
    globs allowed)."""
    import datasets

    if isinstance(source, datasets.Dataset):
        return source
    if isinstance(source, str) and os.path.isdir(source):
        if os.path.exists(os.path.join(source, "dataset_info.json")):
            return datasets.load_from_disk(source)
        files = sorted(glob.glob(os.path.join(source, "*.parquet")))
        if not files:
            raise ValueError(f"folder {source!r} holds neither a saved dataset nor .parquet files")
        return datasets.load_dataset("parquet", data_files=files, split=split)
    files = sorted(glob.glob(source)) if isinstance(source, str) else list(source)
    if not files:
        raise ValueError(f"no data files match {source!r}")
    extension = os.path.splitext(files[0])[1].lstrip(".")
    builder = {"jsonl": "json", "json": "json", "csv": "csv", "parquet": "parquet", "arrow": "arrow"}.get(extension)
    if builder is None:
        raise ValueError(f"data files must be .json/.jsonl/.csv/.parquet/.arrow, got {files[0]!r}")
    return datasets.load_dataset(builder, data_files=files, split=split)


def encode_dataset(dataset, encoder: Callable[[list], list], output_dir: str, audio_column: str = "audio",
                   batch_size: int = 8, shard_size: int = 1024):
    """Encodes `dataset[audio_column]` into an `audio_codes` column, writing Parquet shards to `output_dir`.

    `encoder` maps a list of 24 kHz waveforms to a list of `[channels, frames]` codes (a [`CodecEncoder`]). Shards
    already in `output_dir` are kept (resume); a shard is written to a temporary name and renamed when complete.
    Returns the encoded dataset (all shards).
    """
    import datasets
    from tqdm.auto import tqdm

    if audio_column not in dataset.column_names:
        raise ValueError(f"audio_column {audio_column!r} is not a column of the dataset {dataset.column_names}")
    if batch_size < 1 or shard_size < 1:
        raise ValueError(f"batch_size and shard_size must be >= 1, got {batch_size} and {shard_size}")
    if isinstance(dataset.features[audio_column], datasets.Audio):
        # Decode ourselves (soundfile): datasets' own decoder needs torchcodec, and we control the resampling.
        dataset = dataset.cast_column(audio_column, datasets.Audio(decode=False))
    os.makedirs(output_dir, exist_ok=True)

    def encode_batch(batch):
        waveforms = [load_waveform(value) for value in batch[audio_column]]
        codes = encoder(waveforms)
        batch["audio_codes"] = [np.asarray(c)[:NUM_LM_CODEBOOKS].astype(np.int16).tolist() for c in codes]
        return batch

    num_shards = max(1, -(-len(dataset) // shard_size))
    paths = [os.path.join(output_dir, f"codes-{i:05d}-of-{num_shards:05d}.parquet") for i in range(num_shards)]
    todo = [i for i, path in enumerate(paths) if not os.path.exists(path)]
    if len(todo) < num_shards:
        logger.info("resuming: %d of %d shards already in %s", num_shards - len(todo), num_shards, output_dir)
    for i in tqdm(todo, desc="encoding audio (shards)", unit="shard"):
        shard = dataset.select(range(i * shard_size, min((i + 1) * shard_size, len(dataset))))
        shard = shard.map(encode_batch, batched=True, batch_size=batch_size, remove_columns=[audio_column],
                          desc=f"shard {i}", load_from_cache_file=False)
        partial = paths[i] + ".partial"
        shard.to_parquet(partial)
        os.replace(partial, paths[i])
    return datasets.load_dataset("parquet", data_files=paths, split="train")


def special_token_ids_from_tokenizer(tokenizer, config=None):
    """`SpecialTokenIds` from the tokenizer's MiMo tokens (and the model config's per-channel empty ids)."""
    from processing.tokenization_mimo_audio import mimo_special_token_ids

    from .formats import SpecialTokenIds

    ids = mimo_special_token_ids(tokenizer)
    extra = {}
    if config is not None:
        extra = {"speech_empty_ids": tuple(config.speech_empty_ids), "patch_size": config.patch_size}
    return SpecialTokenIds(**{k: ids[k] for k in ("empty", "sosp", "eosp", "sostm", "eostm", "eot")}, **extra)


def format_dataset(dataset, task: str, special, tokenizer, num_proc: int | None = None):
    """Rows -> examples of `task` (`input_ids`, `labels`, `audio_patches`); other columns are dropped.

    `task="mixed"` reads each row's task from its `task` column.
    """
    from .formats import build_example

    def tokenize(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def build(row):
        row_task = task if task != "mixed" else row.get("task")
        return build_example(row_task, row, special, tokenize)

    return dataset.map(build, remove_columns=dataset.column_names, num_proc=num_proc, desc=f"formatting ({task})")


def pack_dataset(dataset, context_length: int, empty_token_id: int):
    """Examples -> packed rows (see `training_recipes.packing.pack_examples`)."""
    import datasets

    from .packing import pack_examples

    columns = ["input_ids", "labels", "audio_patches"]

    def rows():
        yield from pack_examples(dataset.select_columns(columns), context_length, empty_token_id)

    return datasets.Dataset.from_generator(rows)


def _write_shards(dataset, output_dir: str, shard_size: int):
    os.makedirs(output_dir, exist_ok=True)
    num_shards = max(1, -(-len(dataset) // shard_size))
    for i in range(num_shards):
        shard = dataset.select(range(i * shard_size, min((i + 1) * shard_size, len(dataset))))
        shard.to_parquet(os.path.join(output_dir, f"examples-{i:05d}-of-{num_shards:05d}.parquet"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training_recipes.prepare_data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    enc = sub.add_parser("encode", help="audio -> codec codes (Parquet shards, resumable)")
    enc.add_argument("--data", required=True, help="data files (json/jsonl/csv/parquet, globs) or a dataset folder")
    enc.add_argument("--audio-column", default="audio")
    enc.add_argument("--codec", required=True, help="MiMo-Audio-Tokenizer folder (codec + feature extractor)")
    enc.add_argument("--output-dir", required=True)
    enc.add_argument("--batch-size", type=int, default=8)
    enc.add_argument("--shard-size", type=int, default=1024)
    enc.add_argument("--device", default=None)
    fmt = sub.add_parser("format", help="codes (+ text) -> task-format examples, optionally packed")
    fmt.add_argument("--data", required=True)
    fmt.add_argument("--task", required=True,
                     help="text, continuation, interleaved, asr_pretrain, tts_pretrain, captioning_pretrain "
                          "(pretraining: loss everywhere), asr, tts, captioning, sft (chat: loss on the assistant), "
                          "or mixed (each row's `task` column)")
    fmt.add_argument("--tokenizer", required=True, help="folder of the MiMo-Audio text tokenizer")
    fmt.add_argument("--output-dir", required=True)
    fmt.add_argument("--pack", action="store_true")
    fmt.add_argument("--context-length", type=int, default=8192)
    fmt.add_argument("--shard-size", type=int, default=4096)
    fmt.add_argument("--num-proc", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)

    if args.step == "encode":
        from modeling_mimo_audio import MiMoAudioFeatureExtractor, MiMoAudioTokenizerModel

        codec = MiMoAudioTokenizerModel.from_pretrained(args.codec)
        # Upstream codec folders have no preprocessor_config.json: the front end follows from the codec's config.
        feature_extractor = MiMoAudioFeatureExtractor.from_tokenizer_config(codec.config)
        encoder = CodecEncoder(codec, feature_extractor, device=args.device)
        encode_dataset(load_rows(args.data), encoder, args.output_dir, args.audio_column, args.batch_size,
                       args.shard_size)
        return 0
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    special = special_token_ids_from_tokenizer(tokenizer)
    examples = format_dataset(load_rows(args.data), args.task, special, tokenizer, args.num_proc)
    if args.pack:
        examples = pack_dataset(examples, args.context_length, special.empty)
    _write_shards(examples, args.output_dir, args.shard_size)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
