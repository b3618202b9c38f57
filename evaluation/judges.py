"""Pluggable judges for judge-scored dialogue benchmarks (Big Bench Audio, MultiChallenge).

A judge is any callable ``judge(item: dict, response: str) -> float | bool`` returning a score in
``[0, 1]`` (or pass/fail); the task counts an item correct when the score reaches its threshold.
``item`` holds the benchmark fields (question ``text``, reference ``answer``, MultiChallenge's
``criterion``, ``history``...).

The paper used GPT-4o-mini (Big Bench Audio, correct when score >= 0.6) and GPT-4o (MultiChallenge,
pass/fail). **No paid API is ever called by default**: write a judge function that calls the
service you trust and pass it as ``--judge my_module:my_judge`` (or as a callable in Python).
Built in, offline:

- ``contains``: 1.0 iff the normalised reference answer (lower-cased, punctuation removed, spaces
  collapsed) occurs in the normalised response. A cheap proxy for tests and smoke runs; it is not
  the paper's judge and its numbers are not comparable to the paper's.
"""

import importlib
import re
from typing import Any, Callable, Dict, Union

Judge = Callable[[Dict[str, Any], str], Union[float, bool]]


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]", " ", text.lower())).strip()


def contains_judge(item: Dict[str, Any], response: str) -> float:
    """1.0 when the normalised reference ``item["answer"]`` appears in the normalised response."""
    reference = item.get("answer")
    if reference is None:
        raise ValueError(f"the 'contains' judge needs an `answer` field (item {item.get('id')!r})")
    reference = _normalize(str(reference))
    return float(bool(reference) and f" {reference} " in f" {_normalize(response)} ")


BUILTIN_JUDGES = {"contains": contains_judge}


def load_judge(spec: Union[str, Judge]) -> Judge:
    """A judge from a callable, a built-in name (``contains``) or an import path ``module:function``."""
    if callable(spec):
        return spec
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"`judge` must be a callable, a built-in name {sorted(BUILTIN_JUDGES)} or 'module:function', got {spec!r}")
    if spec in BUILTIN_JUDGES:
        return BUILTIN_JUDGES[spec]
    if ":" not in spec:
        raise ValueError(f"unknown judge {spec!r}: use one of {sorted(BUILTIN_JUDGES)} or 'module:function'")
    module_name, function_name = spec.split(":", 1)
    judge = getattr(importlib.import_module(module_name), function_name, None)
    if not callable(judge):
        raise ValueError(f"{spec!r} does not name a callable")
    return judge
