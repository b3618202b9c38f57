"""SpeechMMLU modality gap (paper Table 6): the same items as T2T, S2T, T2S and S2S, few-shot, base model.

Item fields: ``subject``, ``question_text``, ``question_audio``, ``answer`` (0-3 or a letter), and
``few_shot``: ``{"beginning_text", "beginning_audio", "examples": [{"question_text",
"question_audio", "answer_text", "answer_audio"}, ...]}`` (the subject's instruction and worked
examples, rendered in the item's voice; SpeechMMLU ships one such set per subject and voice).

For a mode ``XY`` (X = input, Y = output modality, ``t``/``s``) the prompt is the beginning in
modality X, then per example the question (X) and the answer (Y; speech answers are streaming
segments with their transcript), then the query question (X); the backend adds the ``[Int]:`` /
``<Spe>:`` prefix and, for speech output, ``<|sostm|>``. Upstream decodes greedily with 5-10 new
positions for text and 10-25 for speech; ``max_new_tokens`` defaults to 10 / 25.

Speech answers are transcribed by ``transcriber`` (the paper: Whisper-large-v3). The predicted
option is the first ``option X`` in the (transcribed) answer. Metrics (%): ``accuracy_t2t``,
``accuracy_s2t``, ``accuracy_t2s``, ``accuracy_s2s`` for the modes run, and ``modality_gap`` =
T2T - S2S when both ran. Each mode's generations are cached in ``run_dir/<mode>/``.
"""

import os
from typing import Any, Dict, List, Optional, Sequence

from ..cache import generate_cached, load_generated_audio
from ..metrics.answer_matching import parse_speechmmlu_option
from ..requests import Backend, GenerationRequest
from .common import TaskResult, grouped_accuracy, item_audio, percent, require_fields
from .tts import transcribe_outputs

MODES = ("t2t", "s2t", "t2s", "s2s")
DEFAULT_MAX_NEW_TOKENS = {"t": 10, "s": 25}


def answer_index(answer) -> int:
    if isinstance(answer, str) and answer.strip().lower() in ("a", "b", "c", "d"):
        return "abcd".index(answer.strip().lower())
    index = int(answer)
    if not 0 <= index <= 3:
        raise ValueError(f"SpeechMMLU `answer` must be 0-3 or A-D, got {answer!r}")
    return index


def _segment(content: Dict[str, Any], text_key: str, audio_key: str, modality: str, role: str) -> Dict[str, Any]:
    segment = {"role": role}
    if modality == "s":
        wave, sr = item_audio(content, audio_key)
        segment.update(audio=wave, sampling_rate=sr)
        if role == "output":  # a speech answer is a streaming segment: its transcript rides along
            segment["text"] = content[text_key]
    else:
        segment["text"] = content[text_key]
    return segment


def prompt_segments(item: Dict[str, Any], mode: str, num_shots: int) -> List[Dict[str, Any]]:
    """The few-shot prompt of ``item`` in ``mode`` as request segments."""
    source, target = mode[0], mode[-1]
    few_shot = item["few_shot"]
    examples = few_shot.get("examples", [])
    if num_shots > len(examples):
        raise ValueError(f"speechmmlu: item {item['id']!r} has {len(examples)} few-shot examples, {num_shots} requested")
    segments = [_segment(few_shot, "beginning_text", "beginning_audio", source, "input")]
    for example in examples[:num_shots]:
        segments.append(_segment(example, "question_text", "question_audio", source, "input"))
        segments.append(_segment(example, "answer_text", "answer_audio", target, "output"))
    segments.append(_segment(item, "question_text", "question_audio", source, "input"))
    return segments


def run(
    backend: Backend,
    items: List[Dict[str, Any]],
    run_dir: str,
    modes: Sequence[str] = MODES,
    transcriber=None,
    num_shots: int = 5,
    batch_size: int = 8,
    language: str = "en",
    max_new_tokens: Optional[Dict[str, int]] = None,
) -> TaskResult:
    """Run each mode (cached per mode) and score accuracy and the T2T - S2S gap."""
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ValueError(f"`modes` must be a non-empty subset of {MODES}, got {list(modes)}")
    if any(m.endswith("s") for m in modes) and transcriber is None:
        raise ValueError("speech-output modes (t2s, s2s) need a `transcriber` (--asr-model)")
    require_fields(items, ["subject", "question_text", "answer", "few_shot"], "speechmmlu")
    limits = {**DEFAULT_MAX_NEW_TOKENS, **(max_new_tokens or {})}
    metrics: Dict[str, float] = {"num_items": len(items)}
    rows_by_id = {item["id"]: {"id": item["id"], "subject": item["subject"], "answer": answer_index(item["answer"])} for item in items}
    breakdowns = {}
    for mode in modes:
        mode_dir = os.path.join(run_dir, mode)
        os.makedirs(mode_dir, exist_ok=True)
        target = mode[-1]

        def make_request(item, mode=mode, target=target):
            return GenerationRequest(
                id=item["id"], kind="few_shot", segments=prompt_segments(item, mode, num_shots),
                output_modality="speech" if target == "s" else "text", max_new_tokens=limits[target],
            )

        records = generate_cached(backend, items, make_request, mode_dir, batch_size, description=f"speechmmlu {mode}")
        if target == "s":
            outputs = [load_generated_audio(mode_dir, records[item["id"]]) for item in items]
            answers = transcribe_outputs(transcriber, outputs, [language] * len(items), batch_size)
        else:
            answers = [records[item["id"]]["text"] for item in items]
        mode_rows = []
        for item, answer_text in zip(items, answers):
            row = rows_by_id[item["id"]]
            predicted = parse_speechmmlu_option(answer_text, language)
            row[f"{mode}_output"] = answer_text
            row[f"{mode}_prediction"] = predicted
            row[f"{mode}_correct"] = predicted == row["answer"]
            mode_rows.append({"subject": row["subject"], "correct": row[f"{mode}_correct"]})
        metrics[f"accuracy_{mode}"] = percent(sum(r["correct"] for r in mode_rows), len(mode_rows))
        breakdowns[f"subject_{mode}"] = grouped_accuracy(mode_rows, "subject")
    if "t2t" in modes and "s2s" in modes:
        metrics["modality_gap"] = metrics["accuracy_t2t"] - metrics["accuracy_s2s"]
    return TaskResult("speechmmlu", metrics, list(rows_by_id.values()), breakdowns, plots=["bar:modes"])
