"""Answer extraction and matching for multiple-choice audio QA (spec D.2 / D.3).

Three scoring rules exist, one per benchmark family, all re-implemented from the behaviour of the
paper's evaluation toolkit:

**MMAU / MMAR** (choices are free-text strings, the answer is one of them):

1. thinking runs: keep the text after the first ``</think>`` (when present); then strip leading space;
2. :func:`extract_mmau_answer` picks a candidate answer string:
   a. lines of the form ``[the] correct answer|choice is[:|-] X`` or ``answer: X`` / ``answer - X``
      (case-insensitive, at a line start) give ``X``; when ``X`` is empty, the first ``**bold**``
      span after the marker, else the first non-empty line after it;
   b. failing that, every ``**bold**`` span; failing that, the first non-empty line;
   c. the **last** candidate wins. Each candidate is "cleaned": first line only, ``\\"`` -> ``"``,
      one pair of surrounding ``**``/`` ` ``/quotes removed, `` .:;!?,`` and whitespace trimmed from
      both ends, inner whitespace runs collapsed to one space;
3. :func:`match_mmau_answer`: with ``tokens(s)`` = the set of lower-cased ``\\w+`` words of ``s``,
   the prediction is correct iff it has at least one token, ``tokens(answer) ⊆ tokens(prediction)``,
   and the prediction contains none of the "distinguishing" tokens of the wrong choices
   (``tokens(choice) - tokens(answer)`` for each choice whose token set differs from the answer's).

**MMSU** (choices A-D, the answer is the text of the right choice): after the thinking cut and
removing newlines and outer space, the predicted letter is the first character if it is one of
``ABCD``, else the second-to-last character if it is (e.g. ``"The answer is (B)"`` -> ``B``), else
none. Correct iff the chosen letter's choice text equals the answer text. (Upstream keeps the
previous item's letter when an item has no parsable letter -- a bug; here such an item is wrong.)

**SpeechMMLU**: the first ``option <letter>`` (``a``-``d``, case-insensitive, optional spaces) in
the output; for Chinese, spaces are removed first and the marker is ``选项``. Index 0-3, or -1.
"""

import re
from typing import List, Optional, Sequence

_MARKERS = (
    re.compile(r"(?m)^[^\S\r\n]*(?:the\s+)?correct\s+(?:choice|answer)\s+is\s*[:\-]?\s*(.*)$", re.IGNORECASE),
    re.compile(r"(?m)^[^\S\r\n]*answer\s*[:\-]\s*(.*)$", re.IGNORECASE),
)
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_WORD = re.compile(r"\b\w+\b")


def strip_thinking(response: str, thinking: bool = True) -> str:
    """Text after the first ``</think>`` for thinking runs (left-stripped); just left-stripped otherwise."""
    if thinking and "</think>" in response:
        response = response.split("</think>", 1)[1]
    return response.lstrip()


def _clean_candidate(text: str) -> str:
    text = (text or "").strip()
    if not text:
        return ""
    text = text.splitlines()[0].strip()
    text = text.replace('\\"', '"').replace("\\'", "'")
    text = re.sub(r"^\*{1,2}(.+?)\*{1,2}$", r"\1", text)
    text = re.sub(r"^`(.+?)`$", r"\1", text)
    text = re.sub(r"^['\"](.+?)['\"]$", r"\1", text)
    text = text.strip(" \t\r\n.:;!?,")
    return re.sub(r"\s+", " ", text)


def _first_nonempty_line(text: str) -> Optional[str]:
    for line in text.splitlines():
        cleaned = _clean_candidate(line)
        if cleaned:
            return cleaned
    return None


def mmau_answer_candidates(text: Optional[str]) -> List[str]:
    """All candidate answers found in ``text`` in order (see module docstring, step 2)."""
    if not text:
        return []
    candidates = []
    for pattern in _MARKERS:
        for match in pattern.finditer(text):
            tail = _clean_candidate(match.group(1))
            if tail:
                candidates.append(tail)
                continue
            after = text[match.end() :]
            bold = _BOLD.search(after)
            if bold and _clean_candidate(bold.group(1)):
                candidates.append(_clean_candidate(bold.group(1)))
                continue
            line = _first_nonempty_line(after)
            if line:
                candidates.append(line)
    if not candidates:
        candidates = [c for c in (_clean_candidate(m.group(1)) for m in _BOLD.finditer(text)) if c]
    if not candidates:
        line = _first_nonempty_line(text)
        candidates = [line] if line else []
    return candidates


def extract_mmau_answer(text: Optional[str]) -> str:
    """The answer string the MMAU/MMAR rules read from a model output ('' when nothing is found)."""
    candidates = mmau_answer_candidates(text)
    return candidates[-1] if candidates else ""


def _tokens(text: str) -> set:
    return set(_WORD.findall(text.lower()))


def match_mmau_answer(answer: str, prediction: str, choices: Sequence[str]) -> bool:
    """MMAU/MMAR string match: all answer tokens present, no distinguishing token of a wrong choice."""
    prediction_tokens = _tokens(prediction)
    if not prediction_tokens:
        return False
    answer_tokens = _tokens(answer)
    wrong_tokens = set()
    for choice in choices:
        choice_tokens = _tokens(choice)
        if choice_tokens != answer_tokens:
            wrong_tokens |= choice_tokens - answer_tokens
    return answer_tokens <= prediction_tokens and prediction_tokens.isdisjoint(wrong_tokens)


def parse_mmsu_choice(response: str, thinking: bool = False) -> Optional[str]:
    """The letter ``A``-``D`` chosen by an MMSU response, or ``None``."""
    if thinking and "</think>" in response:
        response = response.split("</think>", 1)[1]
    predict = response.strip().replace("\n", "")
    if not predict or predict == "None":
        return None
    if predict[0] in "ABCD":
        return predict[0]
    if len(predict) > 1 and predict[-2] in "ABCD":
        return predict[-2]
    return None


def parse_speechmmlu_option(output: str, lang: str = "en") -> int:
    """Index (0-3) of the first ``option X`` / ``选项X`` in a SpeechMMLU answer, or -1."""
    if lang == "zh":
        match = re.search(r"选项\s*([abcd])", output.replace(" ", "").lower())
    elif lang == "en":
        match = re.search(r"option\s*([abcd])", output.lower())
    else:
        raise ValueError(f"`lang` must be 'en' or 'zh', got {lang!r}")
    return "abcd".index(match.group(1)) if match else -1
