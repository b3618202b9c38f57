"""Metrics used by the evaluation tasks; each module documents its exact definitions."""

from .answer_matching import (
    extract_mmau_answer,
    match_mmau_answer,
    parse_mmsu_choice,
    parse_speechmmlu_option,
    strip_thinking,
)
from .audio import (
    cosine_similarity,
    duration_ratio,
    multi_scale_mel_distance,
    pesq_score,
    resample,
    stoi_score,
)
from .text import ErrorCounts, corpus_error_rate, error_counts, mean_utterance_error_rate, utterance_error_rate

__all__ = [
    "ErrorCounts",
    "corpus_error_rate",
    "cosine_similarity",
    "duration_ratio",
    "error_counts",
    "extract_mmau_answer",
    "match_mmau_answer",
    "mean_utterance_error_rate",
    "multi_scale_mel_distance",
    "parse_mmsu_choice",
    "parse_speechmmlu_option",
    "pesq_score",
    "resample",
    "stoi_score",
    "strip_thinking",
    "utterance_error_rate",
]
