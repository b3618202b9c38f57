"""Helpers shared by the task modules: the result structure, grouped accuracy, and audio loading."""

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional

import numpy as np

from ..data import load_audio


@dataclass
class TaskResult:
    """What a task returns and what the report writes.

    ``metrics``: flat ``{name: number}`` (rates and accuracies in %, other scores as defined in
    their metric); this is what ``mimo-audio eval compare`` lines up. ``breakdowns``: named tables
    ``{table: {group: {column: number}}}`` (e.g. accuracy per category). ``items``: one dict per
    item with its prediction and scores. ``plots``: which plots the report draws.
    """

    task: str
    metrics: Dict[str, float]
    items: List[Dict[str, Any]]
    breakdowns: Dict[str, Dict[str, Dict[str, float]]] = field(default_factory=dict)
    plots: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)


def percent(numerator: float, denominator: float) -> float:
    return 100.0 * numerator / denominator if denominator else float("nan")


def mean(values: Iterable[Optional[float]]) -> float:
    values = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    return float(np.mean(values)) if values else float("nan")


def grouped_accuracy(items: List[Dict[str, Any]], key: str, correct_key: str = "correct") -> Dict[str, Dict[str, float]]:
    """``{group: {"accuracy": %, "correct": n, "total": n}}`` over items that have ``key``."""
    groups: Dict[str, List[bool]] = OrderedDict()
    for item in items:
        group = item.get(key)
        if group is None:
            continue
        groups.setdefault(str(group), []).append(bool(item[correct_key]))
    return {
        group: {"accuracy": percent(sum(flags), len(flags)), "correct": sum(flags), "total": len(flags)}
        for group, flags in sorted(groups.items())
    }


def item_audio(item: Dict[str, Any], key: str = "audio"):
    """``(waveform, sampling_rate)`` of ``item[key]`` (path, audio dict or array + ``sampling_rate``)."""
    if item.get(key) is None:
        raise ValueError(f"item {item.get('id')!r} has no {key!r} field")
    return load_audio(item[key], item.get("sampling_rate"))


def require_fields(items: List[Dict[str, Any]], fields: Iterable[str], task: str) -> None:
    """Raise a clear error naming the first item that lacks a field the task needs."""
    for item in items:
        missing = [f for f in fields if item.get(f) is None]
        if missing:
            raise ValueError(
                f"{task}: item {item.get('id')!r} lacks field(s) {missing}; use a manifest with these fields "
                "or map dataset columns with --column-map"
            )
