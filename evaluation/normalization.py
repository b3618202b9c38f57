"""Text normalisation applied before WER / CER, following the evaluation protocol of the paper (spec D.3).

The protocol (upstream's ASR and TTS evaluators) is:

1. remove every ASCII punctuation character and every CJK / full-width punctuation character,
   except the apostrophe ``'`` (so ``don't`` stays one word);
2. English (``lang="en"``): lowercase, then split on whitespace -> words;
3. Chinese (``lang="zh"``): every remaining non-space character is one token (so "WER" on the
   result is the character error rate, CER).

Upstream replaces a double space by a single one once; tokenisation on whitespace makes runs of
any length equivalent, so we simply split on whitespace.

For ASR, upstream also cuts the hypothesis at its first ``(`` before scoring (the model sometimes
appends a parenthesised language tag); :func:`truncate_at_parenthesis` does that.

**Numbers (English, our addition).** Whisper writes "7" where the reference says "seven", which the
protocol above counts as an error. With ``spell_numbers=True`` (what the WER scorers of
:mod:`evaluation.metrics.text`, and so the ASR and TTS tasks, use for English by default; turn it off with
``--no-spell-numbers``), every token that is a whole number 0..100 written in digits becomes its words
("7" -> "seven", "21" -> "twenty one", "100" -> "one hundred"), and a hyphenated compound whose hyphen
the punctuation rule glued together ("twenty-one" -> "twentyone") is split again ("twenty one"). The
same rule runs on both sides, so "7" vs "seven" is a hit. Other digit strings (e.g. "2024") are kept.
Upstream does not do this; on references without digits (LibriSpeech) it can only remove errors.
"""

import re
import string
import unicodedata

# The CJK / full-width punctuation characters the protocol strips (the same set as ``zhon.hanzi.punctuation``,
# written out here so we need no extra dependency), plus all ASCII punctuation.
_CJK_PUNCTUATION = (
    "＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､\u3000、〃〈〉《》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏﹑﹔·！？｡。"
)
STRIPPED_PUNCTUATION = frozenset((string.punctuation + _CJK_PUNCTUATION).replace("'", ""))

SUPPORTED_LANGUAGES = ("en", "zh")

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
MAX_SPELLED_NUMBER = 100
_DIGITS = re.compile(r"[0-9]+")
# "twentyone" (from "twenty-one" once the hyphen is stripped) -> ("twenty", "one")
_GLUED_COMPOUNDS = {_TENS[t] + _ONES[u]: (_TENS[t], _ONES[u]) for t in range(2, 10) for u in range(1, 10)}


def number_to_words(value: int) -> str:
    """English words of a whole number 0..100: ``7`` -> ``"seven"``, ``42`` -> ``"forty two"``, ``100`` -> ``"one hundred"``."""
    value = int(value)
    if not 0 <= value <= MAX_SPELLED_NUMBER:
        raise ValueError(f"`value` must be in 0..{MAX_SPELLED_NUMBER}, got {value}")
    if value < 20:
        return _ONES[value]
    if value == 100:
        return "one hundred"
    tens, units = divmod(value, 10)
    return _TENS[tens] if units == 0 else f"{_TENS[tens]} {_ONES[units]}"


def spell_number_tokens(tokens: list) -> list:
    """English tokens with digit numbers 0..100 spelled out and glued compounds ("twentyone") split (see module docstring)."""
    out = []
    for token in tokens:
        if _DIGITS.fullmatch(token) and int(token) <= MAX_SPELLED_NUMBER:
            out += number_to_words(int(token)).split()
        elif token in _GLUED_COMPOUNDS:
            out += list(_GLUED_COMPOUNDS[token])
        else:
            out.append(token)
    return out


def canonical_language(code):
    """``"en"`` / ``"zh"`` for a language code or voice tag such as ``"en-us"``, ``"en-029"``, ``"en_GB"``,
    ``"English"``, ``"zh-CN"``, ``"cmn"``; ``None`` stays ``None``; anything else is returned lower-cased (and
    rejected later by the scorers)."""
    if code is None:
        return None
    text = str(code).strip().lower().replace("_", "-")
    if not text:
        return None
    base = text.split("-", 1)[0]
    if base in ("en", "eng", "english"):
        return "en"
    if base in ("zh", "cmn", "chinese", "mandarin", "yue"):
        return "zh"
    return text


def strip_punctuation(text: str) -> str:
    """Remove the protocol's punctuation set (everything but the ASCII apostrophe)."""
    return "".join(ch for ch in text if ch not in STRIPPED_PUNCTUATION)


def truncate_at_parenthesis(text: str) -> str:
    """Keep only the text before the first ``(`` (upstream's ASR hypothesis post-processing)."""
    return text.split("(", 1)[0]


def _check_language(lang: str) -> None:
    if lang not in SUPPORTED_LANGUAGES:
        raise ValueError(f"`lang` must be one of {SUPPORTED_LANGUAGES}, got {lang!r}")


def normalize_tokens(text: str, lang: str, spell_numbers: bool = False) -> list:
    """Normalise ``text`` and return the list of scoring units (words for ``en``, characters for ``zh``).

    Example: ``normalize_tokens("Hello, World! Don't", "en") == ["hello", "world", "don't"]`` and
    ``normalize_tokens("你好，世界。", "zh") == ["你", "好", "世", "界"]``. ``spell_numbers=True`` (English
    only) also spells digit numbers 0..100: ``normalize_tokens("It is 7.", "en", spell_numbers=True) ==
    ["it", "is", "seven"]``.
    """
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str, got {type(text).__name__}")
    _check_language(lang)
    # NFKC is deliberately NOT applied: upstream does not apply it, and it would change which
    # characters count as punctuation (e.g. full-width letters).
    text = strip_punctuation(text)
    if lang == "en":
        tokens = text.lower().split()
        return spell_number_tokens(tokens) if spell_numbers else tokens
    return [ch for ch in text if not ch.isspace()]


def normalize_text(text: str, lang: str, spell_numbers: bool = False) -> str:
    """Normalised text with scoring units joined by single spaces (what is handed to ``jiwer``)."""
    return " ".join(normalize_tokens(text, lang, spell_numbers=spell_numbers))


def detect_language(text: str) -> str:
    """``"zh"`` if the text contains any CJK unified ideograph, else ``"en"`` (used for mixed sets)."""
    for ch in text:
        if "CJK UNIFIED IDEOGRAPH" in unicodedata.name(ch, ""):
            return "zh"
    return "en"
