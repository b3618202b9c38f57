"""ASR: word error rate (English) / character error rate (Chinese), paper Table 8 (LibriSpeech, AISHELL-1).

Item fields: ``audio``, ``text`` (reference), optional ``language`` (``en``/``zh``; else the task's
``language`` argument, else detected from the reference). The hypothesis is cut at its first ``(``
and both sides are normalised as in :mod:`evaluation.normalization`.

Metrics (all in %): ``error_rate`` = mean of per-utterance rates (the paper's number; WER for
English items, CER for Chinese ones), ``corpus_error_rate`` = total edits / total reference units,
and the same two per language (``wer_en`` / ``corpus_wer_en``, ``cer_zh`` / ``corpus_cer_zh``).
"""

from typing import Any, Dict, List, Optional

from ..cache import generate_cached
from ..metrics.text import error_counts
from ..normalization import detect_language, truncate_at_parenthesis
from ..requests import Backend, GenerationRequest
from .common import TaskResult, item_audio, mean, percent, require_fields

UNIT = {"en": "wer", "zh": "cer"}


def score_transcripts(items: List[Dict[str, Any]], hypotheses: List[str], default_language: Optional[str] = None):
    """Per-item error counts and the summary metrics for (reference, hypothesis) pairs (shared with TTS)."""
    scored, metrics = [], {}
    for item, hypothesis in zip(items, hypotheses):
        lang = item.get("language") or default_language or detect_language(item["text"])
        counts = error_counts(item["text"], hypothesis, lang)
        n = counts.reference_length
        scored.append(
            {
                "id": item["id"],
                "language": lang,
                "reference": item["text"],
                "hypothesis": hypothesis,
                "error_rate": percent(counts.errors, n) if n else None,
                "reference_length": n,
                **counts.to_dict(),
            }
        )

    def summarize(rows, prefix):
        errors = sum(r["substitutions"] + r["deletions"] + r["insertions"] for r in rows)
        total = sum(r["reference_length"] for r in rows)
        metrics[prefix] = mean(r["error_rate"] for r in rows)
        metrics["corpus_" + prefix] = percent(errors, total)

    summarize(scored, "error_rate")
    for lang, unit in UNIT.items():
        rows = [r for r in scored if r["language"] == lang]
        if rows:
            summarize(rows, f"{unit}_{lang}")
    metrics["num_items"] = len(scored)
    metrics["num_empty_references"] = sum(r["error_rate"] is None for r in scored)
    return scored, metrics


def run(
    backend: Backend,
    items: List[Dict[str, Any]],
    run_dir: str,
    batch_size: int = 8,
    language: Optional[str] = None,
) -> TaskResult:
    """Transcribe every item with ``backend`` (cached in ``run_dir``) and score it."""
    require_fields(items, ["audio", "text"], "asr")

    def make_request(item):
        wave, sr = item_audio(item)
        lang = item.get("language") or language or detect_language(item["text"])
        return GenerationRequest(id=item["id"], kind="asr", audio=wave, sampling_rate=sr, language=lang)

    records = generate_cached(backend, items, make_request, run_dir, batch_size, description="asr")
    hypotheses = [truncate_at_parenthesis(records[item["id"]]["text"]) for item in items]
    scored, metrics = score_transcripts(items, hypotheses, language)
    return TaskResult("asr", metrics, scored, plots=["error_rate_by_length"])
