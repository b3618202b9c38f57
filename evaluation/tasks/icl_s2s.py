"""Few-shot in-context speech-to-speech (paper §D.2, base model): voice, style, speed conversion and denoising.

Item fields: ``audio`` (the query, source speech), ``examples``: ``[{"input_audio",
"output_audio", "output_text"?}]`` (the paper uses 16; when ``output_text`` is absent it is transcribed
with ``transcriber``, as the paper does), optional ``target_audio`` (the reference answer), optional ``target_text`` (what
the output should say; for conversion tasks the source's transcript). The prompt is the paper's
``[Int]:`` layout built by the backend (spec A.4).

Metrics by ``conversion`` (each implemented; upstream computes some of them only in a separate repo
or not at all):

- ``voice``: ``speaker_similarity`` = cosine of ``speaker_embedder`` embeddings of the output and
  the **last example's output** (the target voice; the paper's choice), and ``wer`` against
  ``target_text`` (content preservation; via ``transcriber``).
- ``style`` (emotion / laughing / whisper): ``style_similarity`` = cosine of ``style_embedder``
  embeddings (an emotion model, e.g. emotion2vec or a wav2vec2 emotion classifier) of the output and
  ``target_audio`` (else the last example output), plus ``wer``.
- ``speed``: ``speed_ratio`` = output duration / source duration, ``expected_speed_ratio`` = the
  same ratio averaged over the examples (what the examples teach), ``speed_ratio_error`` (%) =
  mean of ``|ratio - expected| / expected``; plus ``wer``.
- ``denoise``: with a clean ``target_audio``: ``pesq_wb``, ``stoi``, ``mel_distance`` of output vs
  target; plus ``wer``.

Every metric whose scorer (or reference field) is missing is skipped with a note in the report.
"""

import logging
from typing import Any, Dict, List, Optional

from ..cache import generate_cached, load_generated_audio
from ..metrics.audio import multi_scale_mel_distance, resample
from ..normalization import detect_language
from ..requests import Backend, GenerationRequest
from ..scorers import Embedder, Transcriber, pairwise_similarity
from .asr import score_transcripts
from .codec import _optional_metric
from .common import TaskResult, item_audio, mean, percent, require_fields
from .tts import transcribe_outputs

logger = logging.getLogger(__name__)

CONVERSIONS = ("voice", "style", "speed", "denoise")


def _examples_with_audio(item: Dict[str, Any], transcriber: Optional[Transcriber] = None, language=None) -> List[Dict[str, Any]]:
    """Decoded examples; a missing ``output_text`` is transcribed with ``transcriber`` (the paper's practice)."""
    examples = []
    for example in item["examples"]:
        input_wave, input_sr = item_audio(example, "input_audio")
        output_wave, output_sr = item_audio(example, "output_audio")
        examples.append(
            {
                "input_audio": input_wave, "input_sampling_rate": input_sr,
                "output_audio": output_wave, "output_sampling_rate": output_sr,
                "output_text": example.get("output_text"),
            }
        )
    missing = [e for e in examples if e["output_text"] is None]
    if missing and transcriber is not None:
        by_rate: Dict[int, List[Dict[str, Any]]] = {}
        for e in missing:
            by_rate.setdefault(e["output_sampling_rate"], []).append(e)
        for rate, group in by_rate.items():
            for e, text in zip(group, transcriber([e["output_audio"] for e in group], rate, language)):
                e["output_text"] = text
    elif missing:
        logger.warning("item %r: examples without `output_text` get an empty transcript (pass an ASR model to transcribe them)", item.get("id"))
    return examples


def _similarity(embedder, outputs, references) -> List[Optional[float]]:
    scores = []
    for (out, out_sr), reference in zip(outputs, references):
        if out is None or len(out) == 0 or reference is None:
            scores.append(None)
            continue
        scores.append(pairwise_similarity(embedder, [out], [reference[0]], out_sr, reference[1])[0])
    return scores


def run(
    backend: Backend,
    items: List[Dict[str, Any]],
    run_dir: str,
    conversion: str = "voice",
    transcriber: Optional[Transcriber] = None,
    speaker_embedder: Optional[Embedder] = None,
    style_embedder: Optional[Embedder] = None,
    batch_size: int = 4,
    language: Optional[str] = None,
    max_new_tokens: Optional[int] = None,
) -> TaskResult:
    """Run the few-shot conversion for every item (cached in ``run_dir``) and score it."""
    if conversion not in CONVERSIONS:
        raise ValueError(f"`conversion` must be one of {CONVERSIONS}, got {conversion!r}")
    require_fields(items, ["audio", "examples"], "icl_s2s")
    notes: List[str] = []

    def make_request(item):
        wave, sr = item_audio(item)
        return GenerationRequest(
            id=item["id"], kind="icl_s2s", audio=wave, sampling_rate=sr,
            examples=_examples_with_audio(item, transcriber, item.get("language") or language),
            max_new_tokens=max_new_tokens,
        )

    records = generate_cached(backend, items, make_request, run_dir, batch_size, description=f"icl_s2s {conversion}")
    outputs = [load_generated_audio(run_dir, records[item["id"]]) for item in items]
    rows = [{"id": item["id"], "text": records[item["id"]]["text"], "has_audio": out is not None} for item, out in zip(items, outputs)]
    metrics: Dict[str, float] = {"num_items": len(items), "num_no_audio": sum(o[0] is None or len(o[0]) == 0 for o in outputs)}

    with_text = [i for i, item in enumerate(items) if item.get("target_text")]
    if transcriber is not None and with_text:
        langs = [items[i].get("language") or language or detect_language(items[i]["target_text"]) for i in with_text]
        transcripts = transcribe_outputs(transcriber, [outputs[i] for i in with_text], langs, batch_size)
        scored, text_metrics = score_transcripts(
            [{**items[i], "text": items[i]["target_text"], "language": lang} for i, lang in zip(with_text, langs)], transcripts
        )
        metrics["wer"] = text_metrics["error_rate"]
        for i, row in zip(with_text, scored):
            rows[i].update(transcript=row["hypothesis"], wer=row["error_rate"])
    else:
        notes.append("wer skipped: needs --asr-model and items with `target_text`")

    def last_example_output(item):
        return item_audio(item["examples"][-1], "output_audio")

    if conversion == "voice":
        if speaker_embedder is None:
            notes.append("speaker_similarity skipped: needs --speaker-model")
        else:
            sims = _similarity(speaker_embedder, outputs, [last_example_output(item) for item in items])
            metrics["speaker_similarity"] = mean(sims)
            for row, sim in zip(rows, sims):
                row["speaker_similarity"] = sim
    elif conversion == "style":
        if style_embedder is None:
            notes.append("style_similarity skipped: needs --style-model (an emotion embedding model)")
        else:
            references = [item_audio(item, "target_audio") if item.get("target_audio") is not None else last_example_output(item) for item in items]
            sims = _similarity(style_embedder, outputs, references)
            metrics["style_similarity"] = mean(sims)
            for row, sim in zip(rows, sims):
                row["style_similarity"] = sim
    elif conversion == "speed":
        def seconds(entry, key):
            wave, sr = item_audio(entry, key)
            return len(wave) / sr

        errors = []
        for item, (out, out_sr), row in zip(items, outputs, rows):
            src, src_sr = item_audio(item)
            expected = mean(seconds(e, "output_audio") / seconds(e, "input_audio") for e in item["examples"])
            ratio = (len(out) / out_sr) / (len(src) / src_sr) if out is not None and len(out) else None
            row.update(speed_ratio=ratio, expected_speed_ratio=expected)
            errors.append(percent(abs(ratio - expected), expected) if ratio is not None else None)
            row["speed_ratio_error"] = errors[-1]
        metrics["speed_ratio"] = mean(r["speed_ratio"] for r in rows)
        metrics["expected_speed_ratio"] = mean(r["expected_speed_ratio"] for r in rows)
        metrics["speed_ratio_error"] = mean(errors)
    elif conversion == "denoise":
        from ..metrics.audio import pesq_score, stoi_score

        scored_any = False
        for item, (out, out_sr), row in zip(items, outputs, rows):
            if item.get("target_audio") is None or out is None or len(out) == 0:
                continue
            ref, ref_sr = item_audio(item, "target_audio")
            ref = resample(ref, ref_sr, out_sr)
            scored_any = True
            row["mel_distance"] = multi_scale_mel_distance(ref, out, out_sr)
            for key, fn in (("pesq_wb", lambda: pesq_score(ref, out, out_sr, "wb")), ("stoi", lambda: stoi_score(ref, out, out_sr))):
                value = _optional_metric(key, fn, notes)
                row[key] = value if value != "failed" else None
        if scored_any:
            for key in ("mel_distance", "pesq_wb", "stoi"):
                if any(row.get(key) is not None for row in rows):
                    metrics[key] = mean(row.get(key) for row in rows)
        else:
            notes.append("denoising metrics skipped: items need a clean `target_audio`")
    return TaskResult(f"icl_s2s_{conversion}", metrics, rows, plots=[], notes=notes)
