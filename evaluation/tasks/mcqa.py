"""Multiple-choice audio QA in the MMAU, MMAR and MMSU formats (paper Tables 6 and 8), with or without thinking.

Item fields (manifest names; map Hub columns with ``column_map``): ``audio`` (or the benchmarks'
``audio_id`` / ``audio_path``), ``question``,
``choices`` (list of strings; for MMSU ``choice_a``..``choice_d`` also work), ``answer`` (the text
of the right choice; MMSU's ``answer_gt`` also works), and grouping fields: ``category`` (MMAU's
``task``: sound / music / speech; MMAR's ``modality``; MMSU's ``category``: perception / reasoning)
and optional ``sub_category``.

Prompts (spec D.3; our wording of the paper toolkit's templates, byte-identical strings):

- ``mmau`` / ``mmar``, instruct model: audio, then ``{question}\\n\\nChoice: \\n{one choice per line}\\n\\n``
  ``Choose a choices from the given N choices. Do not provide any additional explanations or
  content. Output must match exactly one of the listed choices.``
- ``mmsu``, instruct: audio, then the "Choose the most suitable answer from options A, B, C, and D"
  instruction, ``\\n\\nQuestion: {question}\\n\\nA. ..\\nB. ..\\nC. ..\\nD. ..``.
- thinking (``thinking=True``): ``You can think about the question briefly and then answer it.`` is
  appended and the model opens ``<think>\\n``; only the text after ``</think>`` is scored.
- ``mmau`` base model, ``num_shots > 0``: a few-shot prompt (``[Int]:`` + per example: audio,
  ``Question: {question}\\n\\nChoice: \\n{choices}\\n\\nMake a choice from the given N choices.``,
  ``Answer: {answer}\\n\\n``; then the query audio, question and ``\\nAnswer:``). Examples are drawn
  from the *other* items with a per-item seeded RNG (``seed``), so they do not change when a run is
  resumed (upstream samples from the not-yet-processed items, which changes on resume).

Scoring rules: :mod:`evaluation.metrics.answer_matching`. Metrics: ``accuracy`` and
``accuracy_<category>`` in %, plus tables per category and sub-category.
"""

import random
from typing import Any, Dict, List, Optional

from ..cache import generate_cached
from ..metrics.answer_matching import extract_mmau_answer, match_mmau_answer, parse_mmsu_choice, strip_thinking
from ..requests import Backend, GenerationRequest
from .common import TaskResult, grouped_accuracy, item_audio, percent, require_fields

FORMATS = ("mmau", "mmar", "mmsu")
THINK_SUFFIX = "You can think about the question briefly and then answer it."
MMSU_INSTRUCTION = (
    "Choose the most suitable answer from options A, B, C, and D to respond the question in next line, "
    "**you should only choose A or B or C or D.** Do not provide any additional explanations or content."
)


def normalize_item(item: Dict[str, Any], fmt: str) -> Dict[str, Any]:
    """Fill ``choices`` / ``answer`` / ``category`` from the benchmark's own field names."""
    item = dict(item)
    if item.get("audio") is None:
        for key in ("audio_id", "audio_path"):  # MMAU / MMAR+MMSU metadata names
            if item.get(key) is not None:
                item["audio"] = item[key]
                break
    if item.get("choices") is None and item.get("choice_a") is not None:
        item["choices"] = [item.get(f"choice_{c}") for c in "abcd" if item.get(f"choice_{c}") is not None]
    if item.get("answer") is None and item.get("answer_gt") is not None:
        item["answer"] = item["answer_gt"]
    if item.get("category") is None:
        for key in ("task", "modality"):
            if item.get(key) is not None:
                item["category"] = item[key]
                break
    if item.get("sub_category") is None:
        for key in ("sub-category", "sub-sub-category", "task_name"):
            if item.get(key) is not None:
                item["sub_category"] = item[key]
                break
    if fmt == "mmsu" and len(item.get("choices") or []) > 4:
        raise ValueError(f"mmsu: item {item.get('id')!r} has {len(item['choices'])} choices; MMSU items have at most 4")
    return item


def choices_block(choices: List[str]) -> str:
    return "".join(f"{choice}\n" for choice in choices)


def instruct_prompt(item: Dict[str, Any], fmt: str, thinking: bool) -> str:
    """The text part of the instruct-model prompt (the audio goes first)."""
    choices = item["choices"]
    if fmt == "mmsu":
        letters = "\n".join(f"{letter}. {choice}" for letter, choice in zip("ABCD", list(choices) + [None] * 4))
        text = f"{MMSU_INSTRUCTION}\n\nQuestion: {item['question']}\n\n{letters}"
    else:
        text = (
            f"{item['question']}\n\nChoice: \n{choices_block(choices)}\n"
            f"Choose a choices from the given {len(choices)} choices. Do not provide any additional explanations "
            "or content. Output must match exactly one of the listed choices."
        )
    return text + THINK_SUFFIX if thinking else text


def base_question(item: Dict[str, Any]) -> str:
    choices = item["choices"]
    return f"Question: {item['question']}\n\nChoice: \n{choices_block(choices)}\nMake a choice from the given {len(choices)} choices."


def few_shot_segments(item, examples) -> List[Dict[str, Any]]:
    """Segments of the base-model few-shot prompt: (audio, question, answer) per example, then the query."""
    segments = []
    for example in examples:
        wave, sr = item_audio(example)
        segments.append({"role": "input", "audio": wave, "sampling_rate": sr})
        segments.append({"role": "input", "text": base_question(example)})
        segments.append({"role": "input", "text": f"Answer: {example['answer']}\n\n"})
    wave, sr = item_audio(item)
    segments.append({"role": "input", "audio": wave, "sampling_rate": sr})
    segments.append({"role": "input", "text": base_question(item)})
    segments.append({"role": "input", "text": "\nAnswer:"})
    return segments


def sample_examples(items, item, num_shots: int, seed: int):
    # Sorted by id so that the draw depends only on the item set, not on the file order or on a resume.
    others = sorted((other for other in items if other["id"] != item["id"]), key=lambda other: other["id"])
    if num_shots > len(others):
        raise ValueError(f"`num_shots`={num_shots} but only {len(others)} other items to draw examples from")
    return random.Random(f"{seed}:{item['id']}").sample(others, num_shots)


def is_correct(item: Dict[str, Any], response: str, fmt: str, thinking: bool):
    """``(prediction, correct)`` under the format's rule."""
    if fmt == "mmsu":
        letter = parse_mmsu_choice(response, thinking=thinking)
        index = "ABCD".index(letter) if letter else None
        correct = index is not None and index < len(item["choices"]) and item["choices"][index] == item["answer"]
        return letter, correct
    prediction = extract_mmau_answer(strip_thinking(response, thinking))
    return prediction, match_mmau_answer(item["answer"], prediction, item["choices"])


def run(
    backend: Backend,
    items: List[Dict[str, Any]],
    run_dir: str,
    fmt: str = "mmau",
    thinking: bool = False,
    num_shots: int = 0,
    seed: int = 42,
    batch_size: int = 8,
    max_new_tokens: Optional[int] = None,
) -> TaskResult:
    """Answer every item (cached in ``run_dir``) and score accuracy overall and per category."""
    if fmt not in FORMATS:
        raise ValueError(f"`fmt` must be one of {FORMATS}, got {fmt!r}")
    if num_shots and (thinking or fmt != "mmau"):
        raise ValueError("few-shot prompting (`num_shots` > 0) is the base-model MMAU protocol: use fmt='mmau' without thinking")
    items = [normalize_item(item, fmt) for item in items]
    require_fields(items, ["audio", "question", "choices", "answer"], fmt)

    def make_request(item):
        if num_shots:
            segments = few_shot_segments(item, sample_examples(items, item, num_shots, seed))
            return GenerationRequest(id=item["id"], kind="few_shot", segments=segments, max_new_tokens=max_new_tokens)
        wave, sr = item_audio(item)
        return GenerationRequest(
            id=item["id"], kind="audio_qa", audio=wave, sampling_rate=sr,
            text=instruct_prompt(item, fmt, thinking), thinking=thinking, max_new_tokens=max_new_tokens,
        )

    records = generate_cached(backend, items, make_request, run_dir, batch_size, description=fmt)
    rows = []
    for item in items:
        response = records[item["id"]]["text"]
        prediction, correct = is_correct(item, response, fmt, thinking)
        rows.append(
            {
                "id": item["id"], "category": item.get("category"), "sub_category": item.get("sub_category"),
                "answer": item["answer"], "response": response, "prediction": prediction, "correct": bool(correct),
            }
        )
    metrics = {"accuracy": percent(sum(r["correct"] for r in rows), len(rows)), "num_items": len(rows)}
    breakdowns = {"category": grouped_accuracy(rows, "category")}
    for group, stats in breakdowns["category"].items():
        metrics[f"accuracy_{group}"] = stats["accuracy"]
    if any(r["sub_category"] is not None for r in rows):
        breakdowns["sub_category"] = grouped_accuracy(rows, "sub_category")
    return TaskResult(fmt + ("_think" if thinking else ""), metrics, rows, breakdowns, plots=["bar:category"])
