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

**Parquet shards.** ``source`` may also be a ``.parquet`` file, a glob of them (``"DIR/test_voices/shard-*.parquet"``),
a folder holding ``*.parquet`` files (e.g. a split folder of the mini corpus, ``DIR/test_voices``), or a folder
with one sub-folder of shards per split (the mini corpus root ``DIR``, with ``split="test_voices"``), or a
folder in the Hub's naming (``DIR/test.parquet``, ``DIR/data/test-00000-of-00001.parquet``, with ``split="test"``). Shards are
read with ``pyarrow`` (no ``datasets`` cache copy, no ``torchcodec``): ``datasets.Audio`` columns arrive as their
stored ``{"bytes", "path"}`` structs and are decoded with ``soundfile`` by :func:`load_audio`; every other column
(``kind``, ``voice``, ``speed``, ...) is kept on the item unchanged. Rows are read in file order (files sorted by
name); ``id`` comes from the ``id`` column, else the row number.

**Filters.** ``filters`` keeps items whose column equals (``COLUMN=VALUE``) or differs from (``COLUMN!=VALUE``) a
value, compared as strings after ``column_map``. Several filters on the same column are alternatives (OR) for
``=``, all must hold (AND) for ``!=``; filters on different columns must all hold. A column no item has is an
error (a typo would otherwise silently keep or drop everything). Filters run before ``limit``.
"""

import glob
import json
import logging
import os
import re
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

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


def parse_filters(specs: Optional[Sequence[str]]) -> List[Tuple[str, str, str]]:
    """``["kind=random", "voice!=en-us+m3"]`` -> ``[("kind", "=", "random"), ("voice", "!=", "en-us+m3")]``."""
    parsed = []
    for spec in specs or []:
        if not isinstance(spec, str) or "=" not in spec:
            raise ValueError(f"--filter: expected COLUMN=VALUE or COLUMN!=VALUE, got {spec!r}")
        column, value = spec.split("=", 1)
        operator = "="
        if column.endswith("!"):
            column, operator = column[:-1], "!="
        column = column.strip()
        if not column:
            raise ValueError(f"--filter: no column name in {spec!r}")
        parsed.append((column, operator, value.strip()))
    return parsed


def _filter_predicate(filters: Sequence[Tuple[str, str, str]]) -> Optional[Callable[[Dict[str, Any]], bool]]:
    if not filters:
        return None
    wanted: Dict[str, set] = {}
    unwanted: Dict[str, set] = {}
    for column, operator, value in filters:
        (wanted if operator == "=" else unwanted).setdefault(column, set()).add(value)

    def as_text(value):
        return "" if value is None else str(value)

    def keep(item):
        return all(as_text(item.get(c)) in values for c, values in wanted.items()) and all(
            as_text(item.get(c)) not in values for c, values in unwanted.items()
        )

    return keep


def load_eval_dataset(
    source: str,
    split: Optional[str] = None,
    config: Optional[str] = None,
    column_map: Optional[Dict[str, str]] = None,
    limit: Optional[int] = None,
    filters: Optional[Sequence] = None,
    where: Optional[Callable[[Dict[str, Any]], bool]] = None,
) -> List[Dict[str, Any]]:
    """Load evaluation items from a manifest, Parquet shards, or via ``datasets.load_dataset`` (see module docstring).

    ``filters``: ``COLUMN=VALUE`` / ``COLUMN!=VALUE`` strings (or parsed ``(column, op, value)`` triples);
    ``where``: an extra predicate on an item (a task's own selection). Both apply after ``column_map`` and
    before ``limit``.
    """
    if not isinstance(source, str) or not source:
        raise ValueError(f"`source` must be a manifest path, a dataset folder or a Hub id, got {source!r}")
    filters = [f if isinstance(f, tuple) else parse_filters([f])[0] for f in (filters or [])]
    parquet_files = find_parquet_files(source, split)
    if parquet_files is not None:
        rows: Iterable[Dict[str, Any]] = _iter_parquet_rows(parquet_files)
    elif source.endswith(".jsonl") or os.path.isfile(os.path.join(source, MANIFEST_NAME)):
        rows = read_manifest(source)
    else:
        rows = _load_with_datasets(source, split, config)
    keep = _filter_predicate(filters)
    seen_columns = set()
    items = []
    for item in rows:
        if column_map:
            item = {column_map.get(k, k): v for k, v in item.items()}
        seen_columns.update(item)
        if keep is not None and not keep(item):
            continue
        if where is not None and not where(item):
            continue
        items.append(item)
        if limit is not None and len(items) >= limit:
            break
    missing = sorted({column for column, _, _ in filters} - seen_columns)
    if missing:
        raise ValueError(f"--filter: no item of {source!r} has column(s) {missing}; columns: {sorted(seen_columns)}")
    ids = [item["id"] for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError(f"item ids in {source!r} are not unique; give every item a distinct `id`")
    return items


def _is_glob(source: str) -> bool:
    return any(ch in source for ch in "*?[")


def find_parquet_files(source: str, split: Optional[str] = None) -> Optional[List[str]]:
    """The Parquet files ``source`` names (see the module docstring), or ``None`` when it is not a Parquet source.

    Raises a ``ValueError`` when ``source`` is a Parquet source but the split cannot be resolved.
    """
    if _is_glob(source):
        files = sorted(f for f in glob.glob(source, recursive=True) if f.endswith(".parquet") and os.path.isfile(f))
        if not files:
            raise FileNotFoundError(f"--dataset {source!r}: the pattern matches no .parquet file")
        if split:
            raise ValueError(f"--split {split!r} does not apply to a glob of files ({source!r}); name the split's files")
        return files
    if os.path.isfile(source):
        if source.endswith(".parquet"):
            if split:
                raise ValueError(f"--split {split!r} does not apply to a single file ({source!r})")
            return [source]
        return None
    if not os.path.isdir(source) or os.path.isfile(os.path.join(source, MANIFEST_NAME)):
        return None
    direct = sorted(glob.glob(os.path.join(source, "*.parquet")))
    split_dirs = sorted(
        name for name in os.listdir(source)
        if os.path.isdir(os.path.join(source, name)) and glob.glob(os.path.join(source, name, "*.parquet"))
    )
    if split:
        if split in split_dirs:  # the corpus layout: DIR/{split}/shard-*.parquet
            return sorted(glob.glob(os.path.join(source, split, "*.parquet")))
        # the Hub layout: DIR/{split}.parquet, DIR/{split}-00000-of-00001.parquet, DIR/data/{split}-*.parquet
        candidates = direct + [f for d in split_dirs for f in sorted(glob.glob(os.path.join(source, d, "*.parquet")))]
        named = [f for f in candidates if _names_split(f, split)]
        if named:
            return named
        if direct or split_dirs:
            known = split_dirs + sorted({_file_split(f) for f in candidates if _file_split(f)} - set(split_dirs))
            raise ValueError(f"--dataset {source!r} has no split {split!r}" + (f"; its splits: {known}" if known else ""))
        return None
    if direct:
        named = {_file_split(f) for f in direct}
        if None not in named and len(named) > 1:
            raise ValueError(f"--dataset {source!r} holds the splits {sorted(named)}; pass --split to choose one")
        return direct
    if split_dirs:
        if len(split_dirs) == 1:
            return sorted(glob.glob(os.path.join(source, split_dirs[0], "*.parquet")))
        raise ValueError(f"--dataset {source!r} holds the splits {split_dirs}; pass --split to choose one")
    return None


_HUB_SPLIT_FILE = re.compile(r"^(train|validation|valid|dev|test|eval)(?:-[^/]*)?\.parquet$")


def _file_split(path: str) -> Optional[str]:
    """The standard split a Hub-style file name says (``test-00000-of-00001.parquet`` -> ``"test"``), else ``None``."""
    match = _HUB_SPLIT_FILE.match(os.path.basename(path))
    return match.group(1) if match else None


def _names_split(path: str, split: str) -> bool:
    """Whether a file name is of split ``split``: ``{split}.parquet`` or ``{split}-*.parquet``."""
    name = os.path.basename(path)
    return name == f"{split}.parquet" or (name.startswith(f"{split}-") and name.endswith(".parquet"))


def _iter_parquet_rows(files: Sequence[str], batch_rows: int = 64) -> Iterator[Dict[str, Any]]:
    """Rows of ``files`` as dicts (read in small batches, so ``limit`` stops early), with string ``id``s."""
    import pyarrow.parquet as pq

    index = 0
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
            for row in batch.to_pylist():
                row["id"] = str(row["id"]) if row.get("id") is not None else str(index)
                index += 1
                yield row


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
