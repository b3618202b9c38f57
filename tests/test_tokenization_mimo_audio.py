"""Text tokenizer handling: the tiny offline tokenizer and the MiMo special tokens."""

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoTokenizer, PreTrainedTokenizerFast
from transformers.testing_utils import CaptureLogger

from processing import tokenization_mimo_audio
from processing.tokenization_mimo_audio import (
    MIMO_AUDIO_SPECIAL_TOKENS,
    QWEN_CHAT_SPECIAL_TOKENS,
    build_tiny_tokenizer,
    ensure_mimo_special_tokens,
    load_mimo_audio_tokenizer,
    mimo_special_token_ids,
)


def test_tiny_tokenizer_is_deterministic_and_has_special_tokens():
    a, b = build_tiny_tokenizer(), build_tiny_tokenizer()
    assert a.get_vocab() == b.get_vocab()
    vocab = a.get_vocab()
    # the special tokens follow the trained vocabulary, in the released order
    expected = list(QWEN_CHAT_SPECIAL_TOKENS) + list(MIMO_AUDIO_SPECIAL_TOKENS)
    assert [vocab[t] for t in expected] == list(range(640, 651))
    assert len(a) == 651
    for token in expected:  # each is one special id, never split
        assert a(token, add_special_tokens=False)["input_ids"] == [vocab[token]]
    assert a.eos_token == "<|endoftext|>" and a.pad_token == "<|endoftext|>"


def test_tiny_tokenizer_round_trips_english_and_chinese(tmp_path):
    tok = build_tiny_tokenizer(save_directory=tmp_path)
    text = "Hello world! 今天天气怎么样？\n<think>\n\n</think>\n"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == text
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded(text, add_special_tokens=False)["input_ids"] == ids


def test_segments_do_not_merge_across_special_tokens():
    tok = build_tiny_tokenizer()
    T = lambda s: tok(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    assert T("<|im_start|>user\nHello<|im_end|>\n") == (
        [tok.convert_tokens_to_ids("<|im_start|>")] + T("user\nHello") + [tok.convert_tokens_to_ids("<|im_end|>")] + T("\n")
    )


def test_special_token_ids_are_read_from_the_tokenizer():
    tok = build_tiny_tokenizer()
    ids = mimo_special_token_ids(tok)
    assert ids["empty"] == tok.convert_tokens_to_ids("<|empty|>") == 645
    assert ids["sosp"] == 643 and ids["eot"] == 650 and ids["im_end"] == 642


def _bare_tokenizer():
    backend = Tokenizer(models.WordLevel({"hello": 0, "[UNK]": 1}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")


def test_missing_tokens_are_added_with_a_warning():
    tok = _bare_tokenizer()
    with pytest.raises(ValueError, match="ensure_mimo_special_tokens"):
        mimo_special_token_ids(tok)
    with CaptureLogger(tokenization_mimo_audio.logger) as cl:
        added = ensure_mimo_special_tokens(tok)
    assert added == list(QWEN_CHAT_SPECIAL_TOKENS) + list(MIMO_AUDIO_SPECIAL_TOKENS)
    assert "<|empty|>" in cl.out and "resize_token_embeddings" in cl.out
    ids = mimo_special_token_ids(tok)
    assert sorted(ids.values()) == list(range(2, 13))
    assert tok("hello <|empty|>", add_special_tokens=False)["input_ids"] == [0, ids["empty"]]
    with CaptureLogger(tokenization_mimo_audio.logger) as cl:
        assert ensure_mimo_special_tokens(tok) == []
    assert cl.out == ""


def test_vocab_size_is_validated():
    with pytest.raises(ValueError, match="vocab_size"):
        build_tiny_tokenizer(vocab_size=100)


def test_loading_a_tokenizer_without_the_tokens_adds_them(tmp_path):
    _bare_tokenizer().save_pretrained(tmp_path)
    with CaptureLogger(tokenization_mimo_audio.logger) as cl:
        tok = load_mimo_audio_tokenizer(tmp_path)
    assert "lacked" in cl.out
    assert tok.convert_tokens_to_ids("<|sostm|>") == mimo_special_token_ids(tok)["sostm"] != tok.unk_token_id
