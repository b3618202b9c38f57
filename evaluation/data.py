"""Evaluation data: Hugging Face datasets (local path or Hub id) and a manifest format for local folders.

**Manifest format.** A folder holding ``manifest.jsonl`` (or a path to any ``.jsonl`` file): one
JSON object per line, one item per object. Every field named ``audio``, ``*_audio``, ``audio_id``,
``audio_path`` or ``audio_filepath`` that holds a string is a path to an audio file, relative to the manifest's folder (absolute paths work too);
that rule also applies inside lists of objects (e.g. few-shot ``examples``). Each task documents
the fields it reads; ``id`` is optional (the line number is used otherwise) but keeps cached
generations valid if you reorder the file. Example (ASR)::

    {"id": "utt1", "audio": "wavs/utt1.wav", "text": "Hello world.", "language": "en"}

**Hub / ``datasets`` folders.** ``load_eval_dataset("openslr/librispeech_asr", split="test", config="clean")``
calls :func:`datasets.load_dataset` (a ``save_to_disk`` folder goes through :func:`datasets.load_from_disk`). ``Audio`` columns are read undecoded (path + bytes) and decoded
with ``soundfile`` here, at their native rate: the processor's feature extractor resamples to 24 kHz
(so ``datasets``' optional ``torchcodec`` decoder is not needed). ``column_map`` renames columns to
the names a task expects (e.g. ``{"sentence": "text"}``). Only local paths work without network.
"""

import json
import logging
import os
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from processing.audio_io import read_audio

logger = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.jsonl"


# Audio path fields of the benchmarks' own metadata (MMAU `audio_id`, MMAR / MMSU `audio_path`) count too.
_EXTRA_AUDIO_KEYS = ("audio_id", "audio_path", "audio_filepath")


def _is_audio_key(key: str) -> bool:
    return key == "audio" or key.endswith("_audio") or key in _EXTRA_AUDIO_KEYS


def _resolve_audio_paths(value: Any, base_dir: str) -> Any:
    if isinstance(value, dict):
        return {
            k: (os.path.join(base_dir, v) if _is_audio_key(k) and isinstance(v, str) and not os.path.isabs(v) else _resolve_audio_paths(v, base_dir))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_resolve_audio_paths(v, base_dir) for v in value]
    return value


def read_manifest(path: str) -> List[Dict[str, Any]]:
    """Read a manifest (folder with ``manifest.jsonl`` or a ``.jsonl`` file) into a list of items."""
    if os.path.isdir(path):
        path = os.path.join(path, MANIFEST_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no manifest at {path!r} (expected a folder with {MANIFEST_NAME} or a .jsonl file)")
    base_dir = os.path.dirname(os.path.abspath(path))
    items = []
    with open(path, encoding="utf-8") as f:
        for line_number, line in enumerate(f):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{line_number + 1}: not valid JSON ({err})") from err
            if not isinstance(item, dict):
                raise ValueError(f"{path}:{line_number + 1}: each line must be a JSON object")
            item = _resolve_audio_paths(item, base_dir)
            item.setdefault("id", str(line_number))
            item["id"] = str(item["id"])
            items.append(item)
    return items


def write_manifest(items: List[Dict[str, Any]], folder: str) -> str:
    """Write ``items`` as ``folder/manifest.jsonl`` (audio fields must already be relative or absolute paths)."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, MANIFEST_NAME)
    with open(path, "w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    return path


def load_eval_dataset(
    source: str,
    split: Optional[str] = None,
    config: Optional[str] = None,
    column_map: Optional[Dict[str, str]] = None,
    limit: Optional[int] = None,
) -> List[Dict[str, Any]]:
    """Load evaluation items from a manifest or via ``datasets.load_dataset`` (see module docstring)."""
    if not isinstance(source, str) or not source:
        raise ValueError(f"`source` must be a manifest path, a dataset folder or a Hub id, got {source!r}")
    if source.endswith(".jsonl") or os.path.isfile(os.path.join(source, MANIFEST_NAME)):
        items = read_manifest(source)
    else:
        items = _load_with_datasets(source, split, config)
    if column_map:
        items = [{column_map.get(k, k): v for k, v in item.items()} for item in items]
    if limit is not None:
        items = items[:limit]
    ids = [item["id"] for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError(f"item ids in {source!r} are not unique; give every item a distinct `id`")
    return items


def _load_with_datasets(source: str, split: Optional[str], config: Optional[str]) -> List[Dict[str, Any]]:
    import datasets

    if os.path.isfile(os.path.join(source, "dataset_info.json")) or os.path.isfile(os.path.join(source, "dataset_dict.json")):
        loaded = datasets.load_from_disk(source)  # a `save_to_disk` folder
        if isinstance(loaded, datasets.DatasetDict) and split:
            loaded = loaded[split]
    elif split:
        loaded = datasets.load_dataset(source, config, split=split)
    else:
        loaded = datasets.load_dataset(source, config)
    if isinstance(loaded, datasets.DatasetDict):
        if len(loaded) != 1:
            raise ValueError(f"{source!r} has splits {list(loaded)}; pass `split=` to choose one")
        loaded = next(iter(loaded.values()))
    for name, feature in loaded.features.items():
        if isinstance(feature, datasets.Audio):
            loaded = loaded.cast_column(name, datasets.Audio(decode=False))
    items = []
    for index, row in enumerate(loaded):
        row = dict(row)
        row["id"] = str(row.get("id", index))
        items.append(row)
    return items


def load_audio(value: Any, sampling_rate: Optional[int] = None) -> Tuple[np.ndarray, int]:
    """Decode one audio value to ``(mono float32 waveform, sampling_rate)``, without resampling.

    ``value`` may be a file path, a ``datasets`` audio dict (``path``/``bytes`` or ``array`` +
    ``sampling_rate``), or an array (then ``sampling_rate`` is required). Multi-channel audio is
    averaged to mono. This is :func:`processing.audio_io.read_audio`, the reader every entry point shares.
    """
    return read_audio(value, sampling_rate)
