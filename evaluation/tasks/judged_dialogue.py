"""Judge-scored spoken dialogue: Big Bench Audio and MultiChallenge Audio (paper Table 8), S2T and S2S.

Item fields: ``audio`` (the user's spoken question / last turn), optional ``text`` (its
transcript, shown to the judge), ``answer`` (Big Bench Audio's reference) and/or ``criterion``
(MultiChallenge's pass criterion), optional ``history`` (earlier turns, ``[{"role": "user" |
"assistant", "text", "audio"?}]``).

``mode="s2t"`` asks for a text answer; ``mode="s2s"`` for a spoken one (optional ``voice_audio``
per item: the voice), which ``transcriber`` transcribes before judging (the paper:
Whisper-large-v3). The ``judge`` (see :mod:`evaluation.judges`) scores each answer; an item is
correct when ``score >= threshold`` (0.6 for Big Bench Audio as in the paper; use 1.0 / pass-fail
judges for MultiChallenge). Metrics: ``accuracy`` (%) and ``mean_judge_score``.
"""

from typing import Any, Dict, List, Optional

from ..cache import generate_cached, load_generated_audio
from ..judges import Judge, load_judge
from ..requests import Backend, GenerationRequest
from .common import TaskResult, item_audio, mean, percent, require_fields
from .tts import transcribe_outputs

BENCHMARK_THRESHOLDS = {"bigbench_audio": 0.6, "multichallenge": 1.0}


def run(
    backend: Backend,
    items: List[Dict[str, Any]],
    run_dir: str,
    judge: Judge,
    mode: str = "s2t",
    benchmark: str = "bigbench_audio",
    threshold: Optional[float] = None,
    transcriber=None,
    batch_size: int = 4,
    thinking: bool = False,
    language: str = "en",
) -> TaskResult:
    """Answer every item (cached in ``run_dir``), judge the answers and report accuracy."""
    if mode not in ("s2t", "s2s"):
        raise ValueError(f"`mode` must be 's2t' or 's2s', got {mode!r}")
    if benchmark not in BENCHMARK_THRESHOLDS:
        raise ValueError(f"`benchmark` must be one of {sorted(BENCHMARK_THRESHOLDS)}, got {benchmark!r}")
    if mode == "s2s" and transcriber is None:
        raise ValueError("s2s mode needs a `transcriber` (--asr-model) to transcribe spoken answers for the judge")
    if judge is None:
        raise ValueError("a `judge` is required (see evaluation.judges; no paid API is called by default)")
    judge = load_judge(judge)
    threshold = BENCHMARK_THRESHOLDS[benchmark] if threshold is None else threshold
    require_fields(items, ["audio"], benchmark)

    def make_request(item):
        wave, sr = item_audio(item)
        voice, voice_sr = item_audio(item, "voice_audio") if item.get("voice_audio") is not None else (None, None)
        history = []
        for turn in item.get("history") or []:
            turn = dict(turn)
            if turn.get("audio") is not None:
                turn["audio"], turn["sampling_rate"] = item_audio(turn, "audio")
            history.append(turn)
        return GenerationRequest(
            id=item["id"], kind="s2t_dialogue" if mode == "s2t" else "s2s_dialogue", audio=wave, sampling_rate=sr,
            history=history, thinking=thinking, prompt_audio=voice, prompt_sampling_rate=voice_sr,
        )

    records = generate_cached(backend, items, make_request, run_dir, batch_size, description=f"{benchmark} {mode}")
    if mode == "s2s":
        outputs = [load_generated_audio(run_dir, records[item["id"]]) for item in items]
        responses = transcribe_outputs(transcriber, outputs, [language] * len(items), batch_size)
    else:
        responses = [records[item["id"]]["text"] for item in items]
    rows = []
    for item, response in zip(items, responses):
        if thinking and "</think>" in response:
            response = response.split("</think>", 1)[1].strip()
        score = float(judge(item, response))
        if not 0.0 <= score <= 1.0:
            raise ValueError(f"the judge must return a score in [0, 1] or a bool, got {score} for item {item['id']!r}")
        rows.append({"id": item["id"], "response": response, "judge_score": score, "correct": score >= threshold})
    metrics = {
        "accuracy": percent(sum(r["correct"] for r in rows), len(rows)),
        "mean_judge_score": mean(r["judge_score"] for r in rows),
        "num_items": len(rows),
    }
    return TaskResult(f"{benchmark}_{mode}", metrics, rows, notes=[f"judged items are correct at score >= {threshold}"])
