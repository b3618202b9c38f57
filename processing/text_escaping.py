"""Keeping message text text: the chat template renders conversations into prompt markup (control characters and
special-token strings mark segments, audio and training targets), so every text a caller or the model wrote is
escaped before rendering and restored only when it is tokenized, as plain text.

- `escape_text(text, protected)`: each occurrence of a `protected` string (the markup's control characters, the
  escape characters themselves and, unless the caller opts in to special tokens, the tokenizer's added-token
  strings such as `<|empty|>` or `<|im_start|>`) becomes `ESCAPE_OPEN + hex(utf-8) + ESCAPE_CLOSE`, which no markup
  rule matches.
- `escape_conversation(conversation, protected)`: a copy of a conversation with every message text, text part and
  thinking escaped (audio parts untouched).
- `tokenize_markup_text(tokenizer, text, added_tokens)`: the ids of one text piece of rendered markup. A piece
  without escapes is tokenized as before (so prompts of ordinary text are unchanged); a piece with escapes is split
  at the template's own added tokens (as the tokenizer itself splits them out first), and the text between them is
  restored and tokenized with special tokens not parsed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

__all__ = ["ESCAPE_OPEN", "ESCAPE_CLOSE", "escape_text", "unescape_text", "escape_conversation",
           "tokenize_markup_text"]

# Private-use characters (U+E000, U+E001): reserved in markup; in message text they are escaped like the rest.
ESCAPE_OPEN = "\ue000"
ESCAPE_CLOSE = "\ue001"
_ESCAPED_RE = re.compile(ESCAPE_OPEN + "([0-9a-f]+)" + ESCAPE_CLOSE)


def _alternation(strings: Sequence[str]) -> re.Pattern:
    """One regex matching any of `strings`, longest first; compiled once per set of strings (a tokenizer's added
    tokens are the same for every message of every call)."""
    return _compiled_alternation(tuple(sorted(set(strings), key=lambda s: (-len(s), s))))


@lru_cache(maxsize=32)
def _compiled_alternation(strings: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(re.escape(s) for s in strings))


def escape_text(text: str, protected: Sequence[str]) -> str:
    """`text` with every `protected` string (longest first) replaced by its escape (see the module docstring)."""
    if not isinstance(text, str):
        raise TypeError(f"message text must be a string, got {type(text).__name__}")
    protected = [*protected, ESCAPE_OPEN, ESCAPE_CLOSE]
    return _alternation(protected).sub(
        lambda match: ESCAPE_OPEN + match.group().encode("utf-8").hex() + ESCAPE_CLOSE, text
    )


def unescape_text(text: str) -> str:
    """The inverse of `escape_text`."""
    return _ESCAPED_RE.sub(lambda match: bytes.fromhex(match.group(1)).decode("utf-8"), text)


def escape_conversation(conversation: Sequence[dict], protected: Sequence[str]) -> list[dict]:
    """A copy of `conversation` whose message texts (string contents, `text` parts, `thinking`) are escaped."""
    escaped = []
    for message in conversation:
        if not isinstance(message, dict):
            raise TypeError(f"a message must be a dict with 'role' and 'content', got {type(message).__name__}")
        message = dict(message)
        content = message.get("content")
        if isinstance(content, str):
            message["content"] = escape_text(content, protected)
        elif isinstance(content, (list, tuple)):
            message["content"] = [
                {**part, "text": escape_text(part["text"], protected)}
                if isinstance(part, dict) and part.get("type") == "text" and "text" in part else part
                for part in content
            ]
        if isinstance(message.get("thinking"), str):
            message["thinking"] = escape_text(message["thinking"], protected)
        escaped.append(message)
    return escaped


def tokenize_markup_text(tokenizer, text: str, added_tokens: dict[str, int]) -> list[int]:
    """Ids of one text piece of rendered markup (see the module docstring); `added_tokens` maps the tokenizer's
    added-token strings to their ids."""
    if ESCAPE_OPEN not in text:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    ids = []
    splitter = re.compile("(" + _alternation(list(added_tokens)).pattern + ")") if added_tokens else None
    for chunk in splitter.split(text) if splitter else [text]:
        if not chunk:
            continue
        if chunk in added_tokens:
            ids.append(added_tokens[chunk])
        else:
            plain = unescape_text(chunk)
            ids += tokenizer(plain, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    return ids
