"""ASR: word error rate (English) / character error rate (Chinese), paper Table 8 (LibriSpeech, AISHELL-1).

Item fields: ``audio``, ``text`` (reference), optional ``language`` (``en``/``zh``, or a tag such as
``en-us`` / ``en-029`` read as its base language; else the task's ``language`` argument, else detected
from the reference). Other fields are ignored. The hypothesis is cut at its first ``(`` and both sides
are normalised as in :mod:`evaluation.normalization` (English: digit numbers 0..100 spelled out on both
sides unless ``spell_numbers=False``, so "7" vs "seven" is no error).

Metrics (all in %): ``error_rate`` = mean of per-utterance rates (the paper's number; WER for
English items, CER for Chinese ones), ``corpus_error_rate`` = total edits / total reference units,
and the same two per language (``wer_en`` / ``corpus_wer_en``, ``cer_zh`` / ``corpus_cer_zh``).
"""

from typing import Any, Dict, List, Optional

from ..cache import generate_cached
from ..metrics.text import error_counts
from ..normalization import canonical_language, detect_language, truncate_at_parenthesis
from ..requests import Backend, GenerationRequest
from .common import TaskResult, item_audio, mean, percent, require_fields

UNIT = {"en": "wer", "zh": "cer"}


def item_language(item: Dict[str, Any], default_language: Optional[str] = None) -> str:
    """``"en"`` / ``"zh"`` of an item: its ``language`` field (``en-us`` -> ``en``), else ``default_language``,
    else detected from its ``text``."""
    return (canonical_language(item.get("language")) or canonical_language(default_language)
            or detect_language(item.get("text") or ""))


def score_transcripts(items: List[Dict[str, Any]], hypotheses: List[str], default_language: Optional[str] = None,
                      spell_numbers: bool = True):
    """Per-item error counts and the summary metrics for (reference, hypothesis) pairs (shared with TTS)."""
    scored, metrics = [], {}
    for item, hypothesis in zip(items, hypotheses):
        lang = item_language(item, default_language)
        counts = error_counts(item["text"], hypothesis, lang, spell_numbers=spell_numbers)
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
    spell_numbers: bool = True,
) -> TaskResult:
    """Transcribe every item with ``backend`` (cached in ``run_dir``) and score it."""
    require_fields(items, ["audio", "text"], "asr")

    def make_request(item):
        wave, sr = item_audio(item)
        return GenerationRequest(id=item["id"], kind="asr", audio=wave, sampling_rate=sr, language=item_language(item, language))

    records = generate_cached(backend, items, make_request, run_dir, batch_size, description="asr")
    hypotheses = [truncate_at_parenthesis(records[item["id"]]["text"]) for item in items]
    scored, metrics = score_transcripts(items, hypotheses, language, spell_numbers=spell_numbers)
    return TaskResult("asr", metrics, scored, plots=["error_rate_by_length"])
