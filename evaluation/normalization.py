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
"""

import string
import unicodedata

# The CJK / full-width punctuation characters the protocol strips (the same set as ``zhon.hanzi.punctuation``,
# written out here so we need no extra dependency), plus all ASCII punctuation.
_CJK_PUNCTUATION = (
    "＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀｛｜｝～｟｠｢｣､\u3000、〃〈〉《》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏﹑﹔·！？｡。"
)
STRIPPED_PUNCTUATION = frozenset((string.punctuation + _CJK_PUNCTUATION).replace("'", ""))

SUPPORTED_LANGUAGES = ("en", "zh")


def strip_punctuation(text: str) -> str:
    """Remove the protocol's punctuation set (everything but the ASCII apostrophe)."""
    return "".join(ch for ch in text if ch not in STRIPPED_PUNCTUATION)


def truncate_at_parenthesis(text: str) -> str:
    """Keep only the text before the first ``(`` (upstream's ASR hypothesis post-processing)."""
    return text.split("(", 1)[0]


def _check_language(lang: str) -> None:
    if lang not in SUPPORTED_LANGUAGES:
        raise ValueError(f"`lang` must be one of {SUPPORTED_LANGUAGES}, got {lang!r}")


def normalize_tokens(text: str, lang: str) -> list:
    """Normalise ``text`` and return the list of scoring units (words for ``en``, characters for ``zh``).

    Example: ``normalize_tokens("Hello, World! Don't", "en") == ["hello", "world", "don't"]`` and
    ``normalize_tokens("你好，世界。", "zh") == ["你", "好", "世", "界"]``.
    """
    if not isinstance(text, str):
        raise TypeError(f"`text` must be a str, got {type(text).__name__}")
    _check_language(lang)
    # NFKC is deliberately NOT applied: upstream does not apply it, and it would change which
    # characters count as punctuation (e.g. full-width letters).
    text = strip_punctuation(text)
    if lang == "en":
        return text.lower().split()
    return [ch for ch in text if not ch.isspace()]


def normalize_text(text: str, lang: str) -> str:
    """Normalised text with scoring units joined by single spaces (what is handed to ``jiwer``)."""
    return " ".join(normalize_tokens(text, lang))


def detect_language(text: str) -> str:
    """``"zh"`` if the text contains any CJK unified ideograph, else ``"en"`` (used for mixed sets)."""
    for ch in text:
        if "CJK UNIFIED IDEOGRAPH" in unicodedata.name(ch, ""):
            return "zh"
    return "en"
