"""Word / character error rates.

Definitions (``S``, ``D``, ``I`` = substitutions, deletions, insertions of the minimum-edit alignment
between the normalised reference and hypothesis; ``N`` = number of reference units, words for
English and characters for Chinese, see :mod:`evaluation.normalization`):

- utterance error rate = ``(S + D + I) / N`` for one utterance;
- **mean utterance error rate** (what the paper and upstream report) = the arithmetic mean of the
  utterance error rates. Utterances whose reference normalises to nothing (``N = 0``) have no
  defined rate: they are left out of the mean and counted in ``num_empty_references``;
- **corpus error rate** = ``sum(S + D + I) / sum(N)`` over all utterances, the definition of
  ``evaluate.load("wer")`` / ``jiwer.wer`` on lists. Long utterances weigh more.

English scoring spells digit numbers 0..100 out on both sides first (``spell_numbers=True``, the
default of every function here; see :mod:`evaluation.normalization`), so Whisper's "7" matches "seven".

``evaluate``'s ``wer``/``cer`` modules are scripts fetched from the Hub at first use, which breaks
offline; we call ``jiwer`` (the library those scripts wrap) directly, so nothing touches the network.
"""

from dataclasses import asdict, dataclass
from typing import Iterable, Optional

from ..normalization import normalize_text


@dataclass
class ErrorCounts:
    """Edit counts of one utterance (or a sum of them)."""

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    hits: int = 0

    @property
    def reference_length(self) -> int:
        return self.substitutions + self.deletions + self.hits

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    def __add__(self, other: "ErrorCounts") -> "ErrorCounts":
        return ErrorCounts(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.hits + other.hits,
        )

    def to_dict(self) -> dict:
        return asdict(self)


def error_counts(reference: str, hypothesis: str, lang: str, normalize: bool = True, spell_numbers: bool = True) -> ErrorCounts:
    """Align ``hypothesis`` to ``reference`` (after the protocol's normalisation) and count edits.

    ``spell_numbers`` (English): digit numbers 0..100 become words on both sides before aligning.
    """
    import jiwer

    if normalize:
        reference = normalize_text(reference, lang, spell_numbers=spell_numbers)
        hypothesis = normalize_text(hypothesis, lang, spell_numbers=spell_numbers)
    ref_units, hyp_units = reference.split(), hypothesis.split()
    if not ref_units:
        return ErrorCounts(insertions=len(hyp_units))
    if not hyp_units:
        return ErrorCounts(deletions=len(ref_units))
    out = jiwer.process_words(reference, hypothesis)
    return ErrorCounts(out.substitutions, out.deletions, out.insertions, out.hits)


def utterance_error_rate(reference: str, hypothesis: str, lang: str, spell_numbers: bool = True) -> Optional[float]:
    """``(S + D + I) / N`` for one utterance; ``None`` when the reference normalises to nothing."""
    counts = error_counts(reference, hypothesis, lang, spell_numbers=spell_numbers)
    if counts.reference_length == 0:
        return None
    return counts.errors / counts.reference_length


def _paired(references: Iterable[str], hypotheses: Iterable[str]):
    for name, value in (("references", references), ("hypotheses", hypotheses)):
        if isinstance(value, (str, bytes)):  # a bare string would be scored character by character
            raise TypeError(f"`{name}` must be a list of strings (one per utterance), got a single {type(value).__name__}")
    references, hypotheses = list(references), list(hypotheses)
    if len(references) != len(hypotheses):
        raise ValueError(
            f"`references` and `hypotheses` must have the same length, got {len(references)} and {len(hypotheses)}"
        )
    if not references:
        raise ValueError("`references` is empty: an error rate needs at least one reference")
    return references, hypotheses


def mean_utterance_error_rate(references, hypotheses, lang: str, spell_numbers: bool = True) -> dict:
    """Mean of per-utterance error rates (upstream's number). Returns ``{"value", "num_scored", "num_empty_references"}``.

    Raises ``ValueError`` when no reference has a word left after normalisation (the mean is undefined)."""
    references, hypotheses = _paired(references, hypotheses)
    rates = [utterance_error_rate(r, h, lang, spell_numbers=spell_numbers) for r, h in zip(references, hypotheses)]
    scored = [r for r in rates if r is not None]
    if not scored:
        raise ValueError(f"every one of the {len(rates)} `references` is empty after normalisation: no error rate")
    return {
        "value": sum(scored) / len(scored),
        "num_scored": len(scored),
        "num_empty_references": len(rates) - len(scored),
    }


def corpus_error_rate(references, hypotheses, lang: str, spell_numbers: bool = True) -> dict:
    """``sum(S+D+I) / sum(N)`` (``evaluate``'s WER definition) with the summed counts.

    Raises ``ValueError`` when the references hold no word after normalisation (``N = 0``: the rate is undefined)."""
    references, hypotheses = _paired(references, hypotheses)
    total = ErrorCounts()
    for r, h in zip(references, hypotheses):
        total = total + error_counts(r, h, lang, spell_numbers=spell_numbers)
    n = total.reference_length
    if not n:
        raise ValueError(f"the {len(references)} `references` hold no word after normalisation: no error rate")
    return {"value": total.errors / n, **total.to_dict(), "reference_length": n}
