"""Generation cache: model outputs are appended to ``generations.jsonl`` so an interrupted run resumes.

Layout of a run folder::

    RUN/run_config.json     what produced the generations (task, model, dataset, settings)
    RUN/generations.jsonl   one line per finished item: {"id", "text", "audio_path"?, "sampling_rate"?}
    RUN/audio/<id>.wav      speech outputs (none for an item that generated no speech)

A batch's lines are written (and flushed) only after the whole batch is generated, so killing the
run loses at most the batch in flight; a half-written last line is ignored with a warning. Running
again with the same settings skips every cached id. Running with *different* settings into the same
folder is refused (mixing generations of two models would corrupt the scores) unless ``overwrite``.
"""

import json
import logging
import os
import re
import shutil
from typing import Any, Callable, Dict, List, Optional

import numpy as np
from tqdm.auto import tqdm

from .requests import Backend, Generation, GenerationRequest, run_backend

logger = logging.getLogger(__name__)

GENERATIONS_FILE = "generations.jsonl"
RUN_CONFIG_FILE = "run_config.json"


def _safe_filename(item_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", item_id)[:150]


def read_generations(run_dir: str) -> Dict[str, Dict[str, Any]]:
    """Cached generations of a run folder, by item id (a truncated last line is skipped)."""
    path = os.path.join(run_dir, GENERATIONS_FILE)
    records = {}
    if not os.path.isfile(path):
        return records
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            logger.warning("%s line %d is incomplete (interrupted write?); that item will be generated again", path, number + 1)
            continue
        records[str(record["id"])] = record
    return records


def prepare_run_dir(run_dir: str, run_config: Dict[str, Any], overwrite: bool = False) -> None:
    """Create ``run_dir`` or check that its cached generations come from the same ``run_config``."""
    config_path = os.path.join(run_dir, RUN_CONFIG_FILE)
    if overwrite and os.path.isdir(run_dir):
        for name in (GENERATIONS_FILE, RUN_CONFIG_FILE):
            if os.path.exists(os.path.join(run_dir, name)):
                os.remove(os.path.join(run_dir, name))
        shutil.rmtree(os.path.join(run_dir, "audio"), ignore_errors=True)
    os.makedirs(run_dir, exist_ok=True)
    normalized = json.loads(json.dumps(run_config, sort_keys=True, default=str))
    if os.path.isfile(config_path):
        with open(config_path, encoding="utf-8") as f:
            previous = json.load(f)
        if previous != normalized:
            changed = sorted(k for k in set(previous) | set(normalized) if previous.get(k) != normalized.get(k))
            raise ValueError(
                f"{run_dir!r} holds generations made with different settings (differs in: {', '.join(changed)}); "
                "pass --overwrite (overwrite=True) or choose another output folder"
            )
    else:
        with open(config_path, "w", encoding="utf-8") as f:
            json.dump(normalized, f, indent=2, sort_keys=True)


def _save_audio(run_dir: str, item_id: str, generation: Generation) -> Optional[str]:
    if generation.audio is None:
        return None
    import soundfile as sf

    wave = np.asarray(generation.audio, dtype=np.float32).reshape(-1)
    if wave.size == 0:  # no speech generated: recorded as no audio (tasks count it, e.g. `num_no_audio`)
        return None
    relative = os.path.join("audio", _safe_filename(item_id) + ".wav")
    os.makedirs(os.path.join(run_dir, "audio"), exist_ok=True)
    sf.write(os.path.join(run_dir, relative), wave, int(generation.sampling_rate))
    return relative


def generate_cached(
    backend: Backend,
    items: List[Dict[str, Any]],
    make_request: Callable[[Dict[str, Any]], GenerationRequest],
    run_dir: str,
    batch_size: int = 8,
    description: str = "generating",
) -> Dict[str, Dict[str, Any]]:
    """Generate every item not cached in ``run_dir`` (in batches, with a progress bar); return all records by id.

    ``make_request`` builds the request of one item (called only for items still to generate, so
    audio is decoded lazily).
    """
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1, got {batch_size}")
    os.makedirs(run_dir, exist_ok=True)
    records = read_generations(run_dir)
    pending = [item for item in items if item["id"] not in records]
    if records and pending:
        logger.info("resuming: %d of %d items already generated in %s", len(items) - len(pending), len(items), run_dir)
    path = os.path.join(run_dir, GENERATIONS_FILE)
    with tqdm(total=len(items), initial=len(items) - len(pending), desc=description, unit="item") as progress:
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            requests = [make_request(item) for item in batch]
            generations = run_backend(backend, requests)
            lines = []
            for item, generation in zip(batch, generations):
                record = {"id": item["id"], "text": generation.text}
                audio_path = _save_audio(run_dir, item["id"], generation)
                if audio_path is not None:
                    record.update(audio_path=audio_path, sampling_rate=int(generation.sampling_rate))
                records[item["id"]] = record
                lines.append(json.dumps(record, ensure_ascii=False) + "\n")
            with open(path, "a", encoding="utf-8") as f:
                f.writelines(lines)
                f.flush()
                os.fsync(f.fileno())
            progress.update(len(batch))
    return records


def load_generated_audio(run_dir: str, record: Dict[str, Any]):
    """``(waveform, sampling_rate)`` of a record's speech output, or ``(None, None)`` if it produced none."""
    if not record.get("audio_path"):
        return None, None
    import soundfile as sf

    from .data import load_audio

    path = os.path.join(run_dir, record["audio_path"])
    if sf.info(path).frames == 0:  # an empty clip cached by an older version
        return None, None
    return load_audio(path)
