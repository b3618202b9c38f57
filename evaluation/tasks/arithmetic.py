"""Spoken arithmetic with thinking (the mini corpus' ``arithmetic`` rows): a spoken question, a thinking trace,
then a spoken answer.

Item fields: ``audio`` (the spoken question, e.g. "what is three plus four"), ``answer_text`` (the answer, e.g.
"seven"; number words or digits), optional ``text`` (the question's transcript: used for the ``operation``
breakdown and shown in ``items.jsonl``), optional ``answer_audio`` (the answer spoken by the dataset's voice: the
transcriber's own accuracy on it is reported as a reference), optional ``voice``. Rows without an ``answer_text``
(the corpus' ``random`` / ``sentence`` rows) are not arithmetic items; the CLI leaves them out.

Request: a spoken dialogue with thinking (``s2s_dialogue``, ``thinking=True``): the conversation
``[{"role": "user", "content": [{"type": "audio", ...}]}]`` is rendered with
``apply_chat_template(..., add_generation_prompt=True, thinking=True, speech_output=True)`` (generation prompt
``<|im_start|>assistant\\n<think>\\n``), so the model writes its thinking ("three plus four is seven"),
``</think>``, then a streaming speech segment whose text channel is the answer. See
:class:`evaluation.backend.MiMoAudioBackend`. The CLI decodes the text channel greedily (``do_sample=False``)
unless ``--generate-kwargs`` says otherwise; the speech patches keep the dialogue preset's sampler.

Scoring (every text normalised as for English WER, with digit numbers spelled out, see
:mod:`evaluation.normalization`, so "7", "Seven." and "seven" are the same answer):

- ``accuracy``: % of items whose answer (the text channel after ``</think>``) equals ``answer_text``; an output
  that never closes its thinking block has no answer (wrong; counted in ``num_unclosed_thinking``);
- ``thinking_accuracy``: % whose thinking trace ends with ``answer_text`` (its final word(s));
- ``answer_thinking_agreement``: % whose answer equals the thinking trace's final word(s) (consistency, right or
  wrong);
- with a ``transcriber`` (``--asr-model``, e.g. ``whisper-offline``): ``spoken_answer_accuracy``, % whose spoken
  answer, as transcribed, equals ``answer_text``, and ``judge_accuracy_reference``, the same on the dataset's
  ``answer_audio`` (how well the transcriber hears the reference voice on these items);
- ``num_items``, ``num_no_audio`` (no speech generated), ``num_unclosed_thinking``; breakdown by ``operation``
  (``plus`` / ``minus``, read from ``text``).
"""

import re
from typing import Any, Dict, List, Optional, Tuple

from ..cache import generate_cached, load_generated_audio
from ..normalization import canonical_language, normalize_tokens
from ..requests import Backend, GenerationRequest
from ..scorers import Transcriber
from .common import TaskResult, grouped_accuracy, item_audio, percent, require_fields
from .tts import transcribe_outputs

_OPERATIONS = ("plus", "minus", "times", "divided")


def answer_tokens(text: Optional[str]) -> List[str]:
    """Normalised English tokens of an answer, digits 0..100 spelled out: ``"7."`` -> ``["seven"]``."""
    return normalize_tokens(text or "", "en", spell_numbers=True)


def split_thinking(text: str) -> Tuple[str, Optional[str]]:
    """``(thinking, answer)`` of an output generated after a ``<think>\\n`` prompt; ``answer`` is ``None`` when the
    thinking block was never closed (the whole output is thinking then)."""
    text = text or ""
    if "</think>" not in text:
        return text.replace("<think>", "").strip(), None
    thinking, answer = text.split("</think>", 1)
    return thinking.replace("<think>", "").strip(), answer.strip()


def is_arithmetic_item(item: Dict[str, Any]) -> bool:
    """Whether an item is an arithmetic question: it has an ``answer_text`` (and, where given, ``kind == "arithmetic"``)."""
    if item.get("kind") is not None and item.get("kind") != "arithmetic":
        return False
    return bool(str(item.get("answer_text") or "").strip())


def _operation(question: Optional[str]) -> Optional[str]:
    words = set(re.findall(r"[a-z]+", (question or "").lower()))
    for name in _OPERATIONS:
        if name in words:
            return name
    return None


def _ends_with(tokens: List[str], suffix: List[str]) -> bool:
    return bool(suffix) and len(tokens) >= len(suffix) and tokens[-len(suffix):] == suffix


def run(
    backend: Backend,
    items: List[Dict[str, Any]],
    run_dir: str,
    transcriber: Optional[Transcriber] = None,
    batch_size: int = 8,
    language: Optional[str] = None,
) -> TaskResult:
    """Ask every question (cached in ``run_dir``), score the answer, the thinking trace and (with a transcriber)
    the spoken answer."""
    require_fields(items, ["audio", "answer_text"], "arithmetic")
    empty = [item["id"] for item in items if not answer_tokens(str(item["answer_text"]))]
    if empty:
        raise ValueError(f"arithmetic: items {empty[:5]} have an empty `answer_text` (not arithmetic rows?); "
                         "filter them out, e.g. --filter kind=arithmetic")
    judge_language = canonical_language(language) or "en"

    def make_request(item):
        wave, sr = item_audio(item)
        return GenerationRequest(id=item["id"], kind="s2s_dialogue", audio=wave, sampling_rate=sr, thinking=True,
                                 language=canonical_language(item.get("language")) or judge_language)

    records = generate_cached(backend, items, make_request, run_dir, batch_size, description="arithmetic")
    outputs = [load_generated_audio(run_dir, records[item["id"]]) for item in items]
    rows = []
    for item, (wave, sr) in zip(items, outputs):
        thinking, answer = split_thinking(records[item["id"]]["text"])
        reference = answer_tokens(str(item["answer_text"]))
        predicted = answer_tokens(answer) if answer is not None else []
        thought = answer_tokens(thinking)
        thinking_final = thought[-len(reference):] if thought else []
        rows.append({
            "id": item["id"],
            "question": item.get("text"),
            "operation": _operation(item.get("text")),
            "answer_text": item["answer_text"],
            "thinking": thinking,
            "answer": answer,
            "answer_normalized": " ".join(predicted),
            "correct": answer is not None and predicted == reference,
            "thinking_final": " ".join(thinking_final),
            "thinking_correct": _ends_with(thought, reference),
            "answer_thinking_agree": answer is not None and bool(predicted) and predicted == thinking_final,
            "output_seconds": len(wave) / sr if wave is not None else 0.0,
            **({"voice": item["voice"]} if item.get("voice") is not None else {}),
        })
    n = len(rows)
    metrics = {
        "accuracy": percent(sum(r["correct"] for r in rows), n),
        "thinking_accuracy": percent(sum(r["thinking_correct"] for r in rows), n),
        "answer_thinking_agreement": percent(sum(r["answer_thinking_agree"] for r in rows), n),
    }
    notes = ["answers are compared after English WER normalisation with digits 0..100 spelled out (7 == seven)"]
    if transcriber is not None:
        transcripts = transcribe_outputs(transcriber, outputs, [judge_language] * n, batch_size)
        for row, item, transcript in zip(rows, items, transcripts):
            row["spoken_transcript"] = transcript
            row["spoken_correct"] = answer_tokens(transcript) == answer_tokens(str(item["answer_text"]))
        metrics["spoken_answer_accuracy"] = percent(sum(r["spoken_correct"] for r in rows), n)
        with_reference = [i for i, item in enumerate(items) if item.get("answer_audio") is not None]
        if with_reference:
            references = [item_audio(items[i], "answer_audio") for i in with_reference]
            heard = transcribe_outputs(transcriber, references, [judge_language] * len(references), batch_size)
            for i, transcript in zip(with_reference, heard):
                rows[i]["reference_answer_transcript"] = transcript
                rows[i]["reference_answer_correct"] = answer_tokens(transcript) == answer_tokens(str(items[i]["answer_text"]))
            metrics["judge_accuracy_reference"] = percent(sum(rows[i]["reference_answer_correct"] for i in with_reference),
                                                          len(with_reference))
    metrics.update(
        num_items=n,
        num_no_audio=sum(wave is None or len(wave) == 0 for wave, _ in outputs),
        num_unclosed_thinking=sum(r["answer"] is None for r in rows),
    )
    breakdowns = {}
    by_operation = grouped_accuracy(rows, "operation")
    if by_operation:
        breakdowns["operation"] = by_operation
    return TaskResult("arithmetic", metrics, rows, breakdowns=breakdowns,
                      plots=["bar:operation"] if by_operation else [], notes=notes)
