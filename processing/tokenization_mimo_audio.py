"""Text tokenizer handling for MiMo-Audio.

MiMo-Audio uses MiMo-7B's Qwen2 tokenizer plus eight added tokens that mark audio and streaming segments
(`<|sosp|>`, `<|eosp|>`, `<|empty|>`, `<|Human|>`, `<|SpeechLM|>`, `<|sostm|>`, `<|eostm|>`, `<|eot|>`; ids
151665-151672 in the released tokenizer). Their ids are always read from the tokenizer, never assumed.

This module also builds the tiny offline byte-level BPE tokenizer used by the tests and by
`modeling_mimo_audio.tiny`: trained with the `tokenizers` library on a small built-in English + Chinese text, with
Qwen2's pre-tokenizer regex, so segment-wise tokenization behaves like the real tokenizer.
"""

from __future__ import annotations

import os

from transformers import PreTrainedTokenizerFast
from transformers.utils import logging


logger = logging.get_logger(__name__)

__all__ = [
    "MIMO_AUDIO_SPECIAL_TOKENS",
    "QWEN_CHAT_SPECIAL_TOKENS",
    "ensure_mimo_special_tokens",
    "lm_config_token_ids",
    "load_mimo_audio_tokenizer",
    "mimo_special_token_ids",
    "build_tiny_tokenizer",
    "train_bpe_tokenizer",
]

# In the order of the released tokenizer (151665 ... 151672).
MIMO_AUDIO_SPECIAL_TOKENS = (
    "<|sosp|>",
    "<|eosp|>",
    "<|empty|>",
    "<|Human|>",
    "<|SpeechLM|>",
    "<|sostm|>",
    "<|eostm|>",
    "<|eot|>",
)
QWEN_CHAT_SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

# attribute name -> token, for `mimo_special_token_ids`.
_TOKEN_NAMES = {
    "sosp": "<|sosp|>",
    "eosp": "<|eosp|>",
    "empty": "<|empty|>",
    "human": "<|Human|>",
    "speechlm": "<|SpeechLM|>",
    "sostm": "<|sostm|>",
    "eostm": "<|eostm|>",
    "eot": "<|eot|>",
    "im_start": "<|im_start|>",
    "im_end": "<|im_end|>",
    "endoftext": "<|endoftext|>",
}

# Qwen2's pre-tokenizer split pattern: BPE merges never cross these pieces.
QWEN2_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def ensure_mimo_special_tokens(tokenizer) -> list[str]:
    """Adds the MiMo-Audio (and Qwen chat) special tokens the tokenizer lacks, in place.

    Upstream does the same when it loads a tokenizer; here it is never silent: a warning lists what was added,
    because the language model's embedding table must then cover the new ids.

    Returns:
        `list[str]`: the tokens that were added (empty when the tokenizer already had them all).
    """
    from tokenizers import AddedToken

    vocab = tokenizer.get_vocab()
    missing = [t for t in QWEN_CHAT_SPECIAL_TOKENS + MIMO_AUDIO_SPECIAL_TOKENS if t not in vocab]
    if missing:
        tokenizer.add_tokens(
            [AddedToken(t, special=True, normalized=False, single_word=False) for t in missing], special_tokens=True
        )
        logger.warning(
            f"The tokenizer lacked the MiMo-Audio special tokens {missing}; they were added with ids "
            f"{tokenizer.convert_tokens_to_ids(missing)}. Make sure the language model's vocabulary covers them "
            "(`model.resize_token_embeddings(len(tokenizer))`)."
        )
    return missing


def load_mimo_audio_tokenizer(pretrained_model_name_or_path, **kwargs):
    """`AutoTokenizer.from_pretrained` + `ensure_mimo_special_tokens`: a tokenizer lacking the MiMo-Audio tokens gets
    them added, with a warning."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(pretrained_model_name_or_path, **kwargs)
    ensure_mimo_special_tokens(tokenizer)
    return tokenizer


def mimo_special_token_ids(tokenizer) -> dict[str, int]:
    """Ids of the MiMo-Audio special tokens, read from `tokenizer`.

    Returns a dict with keys `sosp`, `eosp`, `empty`, `human`, `speechlm`, `sostm`, `eostm`, `eot`, `im_start`,
    `im_end`, `endoftext`. Raises `ValueError` naming the missing tokens (call `ensure_mimo_special_tokens` first).
    """
    vocab = tokenizer.get_vocab()
    missing = [tok for tok in _TOKEN_NAMES.values() if tok not in vocab]
    if missing:
        raise ValueError(
            f"`tokenizer` lacks the MiMo-Audio special tokens {missing}; call `ensure_mimo_special_tokens(tokenizer)`"
        )
    return {name: int(vocab[tok]) for name, tok in _TOKEN_NAMES.items()}


def lm_config_token_ids(tokenizer) -> dict[str, int]:
    """The token-id keyword arguments of a `MiMoAudioConfig` whose text vocabulary is `tokenizer`'s:
    `empty_token_id`, `sosp_token_id`, ..., `eot_token_id`, `eos_token_id`, `pad_token_id`."""
    ids = mimo_special_token_ids(tokenizer)
    kwargs = {f"{name}_token_id": ids[name] for name in ("empty", "sosp", "eosp", "sostm", "eostm", "eot")}
    kwargs.update(eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    return kwargs


# A small built-in bilingual text: enough merges for readable tiny-model tests, small enough to train in ~0.1 s.
_TINY_CORPUS = """\
Please transcribe this audio file. Convert this speech recording to text.
Transcribe the following voice message. Turn this audio into readable text.
Please convert this text to speech. Generate speech from this text. Read this content out loud.
What is the weather like today? It is sunny and warm, a good day for a walk in the park.
The quick brown fox jumps over the lazy dog. Hello world! How are you? I am fine, thank you.
You can think about the question briefly and then answer it. Choose the most suitable answer.
Your voice should be: calm, clear and friendly. Speak slowly and with a happy tone.
<think>
Let me think about this question.
</think>
The answer is A. Question: Which sound is heard? Choice: A. dog B. cat C. bird D. car
user assistant system
[Int]: <Spe>: Answer: Make a choice from the given choices.
1 2 3 4 5 6 7 8 9 10 100 2025
请将这段语音转换为文字。帮我识别这个音频文件中的内容。把这段录音转成文本。
请将这段文字转换为语音。帮我把这个文本读出来。请朗读这段内容。
你需要根据指定的风格指令和文本内容来生成语音。你的音色应该是：
今天天气怎么样？今天天气很好，阳光明媚，适合出去散步。北京是中国的首都。
你好，很高兴认识你。谢谢你的帮助。这个问题的答案是什么？
"""


def build_tiny_tokenizer(vocab_size: int = 640, save_directory: str | os.PathLike | None = None):
    """Builds a tiny, deterministic byte-level BPE tokenizer with MiMo-Audio's special tokens. No download.

    The base vocabulary (256 byte symbols + merges, `vocab_size` in total) is trained on a small built-in English +
    Chinese text with Qwen2's pre-tokenizer; then `<|endoftext|>`, `<|im_start|>`, `<|im_end|>` and the eight MiMo
    tokens are appended, in that order, as special tokens. `<|endoftext|>` is the eos and pad token, as in Qwen2.

    Args:
        vocab_size (`int`, *optional*, defaults to 640):
            Size of the trained BPE vocabulary, before the 11 special tokens.
        save_directory (`str`, *optional*):
            If given, the tokenizer is also saved there.

    Returns:
        `PreTrainedTokenizerFast`
    """
    return train_bpe_tokenizer(_TINY_CORPUS.splitlines(), vocab_size, save_directory)


def train_bpe_tokenizer(texts, vocab_size: int, save_directory: str | os.PathLike | None = None):
    """Trains a byte-level BPE tokenizer on `texts` (an iterable of strings) with Qwen2's pre-tokenizer, then
    appends `<|endoftext|>`, `<|im_start|>`, `<|im_end|>` and the eight MiMo-Audio tokens as special tokens (in that
    order; `<|endoftext|>` is eos and pad). Deterministic for the same texts.

    Args:
        texts: the training text, e.g. a corpus's transcripts plus the prompt texts the tasks use.
        vocab_size (`int`): size of the BPE vocabulary (256 byte symbols + merges), before the 11 special tokens.
        save_directory (`str`, *optional*): if given, the tokenizer is also saved there.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 300:
        raise ValueError(f"`vocab_size` must be an int >= 300 (256 byte symbols + merges), got {vocab_size!r}")
    backend = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        show_progress=False,
        special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(texts, trainer=trainer)
    backend.add_special_tokens(
        [
            AddedToken(t, special=True, normalized=False, single_word=False)
            for t in QWEN_CHAT_SPECIAL_TOKENS + MIMO_AUDIO_SPECIAL_TOKENS
        ]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    if save_directory is not None:
        tokenizer.save_pretrained(save_directory)
    return tokenizer
