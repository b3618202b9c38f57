"""Codec reconstruction quality (paper Table 1): encode with the audio tokenizer, decode, compare.

Item fields: ``audio``. The backend answers ``reconstruct`` requests
(:class:`evaluation.backend.CodecBackend` uses the first ``num_quantizers`` RVQ layers, 8 by default
as in the paper). The reference is resampled to the reconstruction's rate (24 kHz) before scoring.

Metrics (means over items; definitions in :mod:`evaluation.metrics.audio`): ``mel_distance``
(lower is better), ``pesq_nb``, ``pesq_wb``, ``stoi`` (skipped with a note if ``pesq`` / ``pystoi``
are not installed; otherwise always present, ``nan`` / ``null`` if they failed on every item),
``speaker_similarity`` (with an ``embedder``). PESQ can fail on clips without
detectable speech; such items get ``None`` and are counted in ``num_pesq_failures``.
"""

import logging
from typing import Any, Dict, List, Optional

from ..cache import generate_cached, load_generated_audio
from ..metrics.audio import multi_scale_mel_distance, pesq_score, resample, stoi_score
from ..requests import Backend, GenerationRequest
from ..scorers import Embedder, pairwise_similarity
from .common import TaskResult, item_audio, mean, require_fields

logger = logging.getLogger(__name__)


def _optional_metric(name: str, fn, notes: List[str]):
    """Run ``fn``; if its package is missing, note it once and return None; other failures -> None."""
    try:
        return fn()
    except ImportError as err:
        message = f"{name} skipped: {err}"
        if message not in notes:
            notes.append(message)
            logger.warning(message)
    except Exception as err:  # pesq raises its own error types on silent / too short audio
        logger.warning("%s failed on one item: %s", name, err)
        return "failed"
    return None


def run(
    backend: Backend,
    items: List[Dict[str, Any]],
    run_dir: str,
    embedder: Optional[Embedder] = None,
    batch_size: int = 8,
    compute_pesq: bool = True,
    compute_stoi: bool = True,
) -> TaskResult:
    """Reconstruct every item through the codec (cached in ``run_dir``) and score it."""
    require_fields(items, ["audio"], "codec")

    def make_request(item):
        wave, sr = item_audio(item)
        return GenerationRequest(id=item["id"], kind="reconstruct", audio=wave, sampling_rate=sr)

    records = generate_cached(backend, items, make_request, run_dir, batch_size, description="codec")
    notes: List[str] = []
    rows, failures, stoi_failures = [], 0, 0
    references, outputs = [], []
    for item in items:
        ref, ref_sr = item_audio(item)
        out, out_sr = load_generated_audio(run_dir, records[item["id"]])
        if out is None:
            raise ValueError(f"the codec backend returned no audio for item {item['id']!r}")
        ref = resample(ref, ref_sr, out_sr)
        row = {"id": item["id"], "seconds": len(ref) / out_sr, "mel_distance": multi_scale_mel_distance(ref, out, out_sr)}
        for key, enabled, fn in (
            ("pesq_nb", compute_pesq, lambda: pesq_score(ref, out, out_sr, "nb")),
            ("pesq_wb", compute_pesq, lambda: pesq_score(ref, out, out_sr, "wb")),
            ("stoi", compute_stoi, lambda: stoi_score(ref, out, out_sr)),
        ):
            if not enabled:
                continue
            value = _optional_metric(key, fn, notes)
            if value == "failed":
                failures += key.startswith("pesq")
                stoi_failures += key == "stoi"  # clips too short (or too silent) for STOI
                value = None
            if value is not None:
                row[key] = value
        rows.append(row)
        references.append((ref, out_sr))
        outputs.append((out, out_sr))
    metrics = {"num_items": len(rows), "mel_distance": mean(r["mel_distance"] for r in rows)}
    skipped = {note.split(" ", 1)[0] for note in notes}  # metrics whose package is missing
    for key, enabled in (("pesq_nb", compute_pesq), ("pesq_wb", compute_pesq), ("stoi", compute_stoi)):
        if enabled and key not in skipped:  # nan (null in results.json) when it failed on every item
            metrics[key] = mean(r.get(key) for r in rows)
    if compute_pesq:
        metrics["num_pesq_failures"] = failures
    if compute_stoi:
        metrics["num_stoi_failures"] = stoi_failures
    if embedder is not None:
        for start in range(0, len(rows), batch_size):  # references were resampled to the output rate above
            chunk = slice(start, start + batch_size)
            sims = pairwise_similarity(
                embedder, [o[0] for o in outputs[chunk]], [r[0] for r in references[chunk]], outputs[start][1], outputs[start][1]
            )
            for row, sim in zip(rows[chunk], sims):
                row["speaker_similarity"] = sim
        metrics["speaker_similarity"] = mean(r["speaker_similarity"] for r in rows)
    return TaskResult("codec", metrics, rows, plots=["histogram:mel_distance"], notes=notes)
