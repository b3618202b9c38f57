"""TTS: intelligibility (WER/CER of an ASR transcript of the speech) and speaker similarity (Seed-TTS-Eval, Table 8).

Item fields: ``text`` (what to say), optional ``language``, optional ``instruction`` (a style
instruction: instruct-TTS), optional ``prompt_audio`` (a voice prompt, e.g. Seed-TTS-Eval's prompt
wav), optional ``reference_audio`` (the similarity reference; defaults to ``prompt_audio``), optional
``audio`` (a recording of ``text``, e.g. the mini corpus' espeak-ng original). ``language`` may be a tag
such as ``en-us`` (read as ``en``); other fields are ignored.

MiMo-Audio conditions on a voice prompt only in instruct-TTS, so ``prompt_audio`` is sent to the
model only together with an ``instruction``; otherwise (upstream's Seed-TTS-Eval run, which sends
no voice) it only serves as the similarity reference.

Scoring: the synthesized speech is transcribed by ``transcriber`` (see :mod:`evaluation.scorers`;
the paper uses Whisper-large-v3 for English and Paraformer-zh for Chinese) and scored against
``text`` exactly like ASR (mean per-utterance error rate, plus corpus rate). ``speaker_similarity``
is the mean cosine similarity of ``embedder`` embeddings of the output and the reference (only when
an embedder is given and items have a reference). Items that produced no audio are scored with an
empty transcript (100 % deletions) and counted in ``num_no_audio``.

**The judge on the references.** When items carry ``audio`` (a recording of ``text``), the same
``transcriber`` also transcribes those recordings, scored the same way: ``judge_wer_reference`` (mean
per-utterance WER/CER, the counterpart of ``error_rate``) and ``judge_corpus_wer_reference`` (the
counterpart of ``corpus_error_rate``), over the items that have ``audio`` (``num_reference_audio``). So
the synthesized speech is reported next to how well the judge hears the originals, on the same items.

Upstream converts Paraformer's output to simplified Chinese (``zhconv``); plug a transcriber that
does so if yours may output traditional characters.
"""

from typing import Any, Dict, List, Optional

from ..cache import generate_cached, load_generated_audio
from ..requests import Backend, GenerationRequest
from ..scorers import Embedder, Transcriber, pairwise_similarity
from .asr import item_language, score_transcripts
from .common import TaskResult, item_audio, mean, require_fields


def transcribe_outputs(transcriber: Transcriber, waves_and_rates, languages, batch_size: int = 8) -> List[str]:
    """Transcribe generated audio (``None`` entries -> ``""``), grouping calls by rate and language."""
    texts = [""] * len(waves_and_rates)
    groups: Dict[tuple, List[int]] = {}
    for index, ((wave, sr), lang) in enumerate(zip(waves_and_rates, languages)):
        if wave is not None and len(wave) > 0:
            groups.setdefault((sr, lang), []).append(index)
    for (sr, lang), indices in groups.items():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            outputs = transcriber([waves_and_rates[i][0] for i in chunk], sr, lang)
            for i, text in zip(chunk, outputs):
                texts[i] = text
    return texts


def similarity_to_references(embedder: Embedder, outputs, references) -> List[Optional[float]]:
    """Cosine similarity of each output to its reference (``None`` where either side is missing)."""
    scores: List[Optional[float]] = [None] * len(outputs)
    pairs = [i for i, (o, r) in enumerate(zip(outputs, references)) if o[0] is not None and len(o[0]) and r is not None]
    for i in pairs:
        (out_wave, out_sr), (ref_wave, ref_sr) = outputs[i], references[i]
        scores[i] = pairwise_similarity(embedder, [out_wave], [ref_wave], out_sr, ref_sr)[0]
    return scores


def run(
    backend: Backend,
    items: List[Dict[str, Any]],
    run_dir: str,
    transcriber: Transcriber,
    embedder: Optional[Embedder] = None,
    batch_size: int = 8,
    language: Optional[str] = None,
    spell_numbers: bool = True,
) -> TaskResult:
    """Synthesize every item (cached in ``run_dir``), transcribe it and score WER / speaker similarity."""
    require_fields(items, ["text"], "tts")
    if transcriber is None:
        raise ValueError("tts needs a `transcriber` (an ASR model, e.g. --asr-model openai/whisper-large-v3)")

    def language_of(item):
        return item_language(item, language)

    def make_request(item):
        with_voice = item.get("prompt_audio") is not None and item.get("instruction") is not None
        prompt, prompt_sr = item_audio(item, "prompt_audio") if with_voice else (None, None)
        return GenerationRequest(
            id=item["id"], kind="tts", text=item["text"], language=language_of(item),
            instruction=item.get("instruction"), prompt_audio=prompt, prompt_sampling_rate=prompt_sr,
        )

    records = generate_cached(backend, items, make_request, run_dir, batch_size, description="tts")
    outputs = [load_generated_audio(run_dir, records[item["id"]]) for item in items]
    languages = [language_of(item) for item in items]
    transcripts = transcribe_outputs(transcriber, outputs, languages, batch_size)
    scored, metrics = score_transcripts(items, transcripts, language, spell_numbers=spell_numbers)
    metrics["num_no_audio"] = sum(wave is None or len(wave) == 0 for wave, _ in outputs)
    for row, (wave, sr) in zip(scored, outputs):
        row["output_seconds"] = len(wave) / sr if wave is not None else 0.0
    with_audio = [i for i, item in enumerate(items) if item.get("audio") is not None]
    if with_audio:
        recordings = [item_audio(items[i]) for i in with_audio]
        heard = transcribe_outputs(transcriber, recordings, [languages[i] for i in with_audio], batch_size)
        reference_rows, reference_metrics = score_transcripts([items[i] for i in with_audio], heard, language,
                                                              spell_numbers=spell_numbers)
        for i, transcript, reference_row in zip(with_audio, heard, reference_rows):
            scored[i]["reference_audio_transcript"] = transcript
            scored[i]["reference_audio_error_rate"] = reference_row["error_rate"]
        metrics["judge_wer_reference"] = reference_metrics["error_rate"]
        metrics["judge_corpus_wer_reference"] = reference_metrics["corpus_error_rate"]
        metrics["num_reference_audio"] = len(with_audio)
    if embedder is not None:
        references = []
        for item in items:
            key = "reference_audio" if item.get("reference_audio") is not None else "prompt_audio"
            references.append(item_audio(item, key) if item.get(key) is not None else None)
        similarities = similarity_to_references(embedder, outputs, references)
        for row, sim in zip(scored, similarities):
            row["speaker_similarity"] = sim
        metrics["speaker_similarity"] = mean(similarities)
    return TaskResult("tts", metrics, scored, plots=["error_rate_by_length"])
