"""Training examples on code tensors: the segment types of spec A.3 and the task formats built from them.

An *example* is a plain dict that Arrow stores as it is and that [`MiMoAudioDataCollator`] turns into model inputs:

- `input_ids` (`list[int]`, length P): the text token of every LLM position; audio patches hold `<|empty|>`.
- `labels` (`list[int]`, length P): the text token at positions that are targets, -100 elsewhere. The model shifts
  internally (hidden state k predicts `labels[k+1]`); a kept `<|empty|>` label also makes that position's patch a
  target of the patch decoder, so masking a position masks its patch too (spec B.3).
- `audio_patches` (`list[int]`, length 32 x number of `<|empty|>` positions): the 4x8 codes of each audio patch, in
  position order, flattened `[patch, frame, channel]`. Text positions are not stored; the collator fills them with
  the per-channel empty ids.

Clip codes enter as `[num_codebooks, frames]` (the codec's `audio_codes[b]` layout; the first 8 channels are kept).

The layout is the processor's, by the same code: `SequenceBuilder` appends segments with
`processing.segment_layout.SegmentLayout`, the engine `MiMoAudioProcessor` lays out prompts with. Conversations go
through the processor's chat template into prompt markup and `processing.prompts_mimo_audio.parse_prompt_markup`
cuts it into segments (each tokenized on its own, so BPE never
merges across segment boundaries; spec A.3); the task conversations come from the processor's prompt builders
(`asr_conversation`, `tts_conversation`, ...). What lives here is the choice of segments per task and the labels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from processing.prompts_mimo_audio import (
    AUDIO_PLACEHOLDER,
    SEGMENT_SEPARATOR,
    STREAM_TEXT_DELIMITER,
    TARGET_BEGIN,
    TARGET_END,
    AudioSegment,
    StreamingSegment,
    asr_conversation,
    audio_understanding_conversation,
    parse_prompt_markup,
    streaming_markup,
    tts_conversation,
)
from processing.segment_layout import SegmentLayout, clip_to_patches
from processing.text_escaping import escape_conversation, unescape_text

# Control characters of the prompt markup: in message text they are text (escaped before rendering, restored when
# tokenized), so data holding them cannot move targets or segments.
_MARKUP_CHARACTERS = [SEGMENT_SEPARATOR, STREAM_TEXT_DELIMITER, TARGET_BEGIN, TARGET_END]


__all__ = [
    "IGNORE_INDEX",
    "SpecialTokenIds",
    "SequenceBuilder",
    "clip_to_patches",
    "markup_example",
    "render_conversation",
    "conversation_example",
    "text_only_example",
    "continuation_example",
    "interleaved_example",
    "asr_example",
    "tts_example",
    "captioning_example",
    "asr_pretrain_example",
    "tts_pretrain_example",
    "captioning_pretrain_example",
    "build_example",
    "TASK_FORMATS",
]

IGNORE_INDEX = -100
INTERLEAVED_PREFIX = "[Int]:"


@dataclass(frozen=True)
class SpecialTokenIds:
    """The text ids and per-channel audio ids a format needs.

    Args:
        empty, sosp, eosp, sostm, eostm, eot (`int`): ids of `<|empty|>`, `<|sosp|>`, `<|eosp|>`, `<|sostm|>`,
            `<|eostm|>`, `<|eot|>`.
        speech_empty_ids (`tuple[int]`): each channel's "no audio" id (`[1024, 1024, 128, ...]`).
        patch_size (`int`): frames per patch (4).
    """

    empty: int
    sosp: int
    eosp: int
    sostm: int
    eostm: int
    eot: int
    speech_empty_ids: tuple[int, ...] = (1024, 1024, 128, 128, 128, 128, 128, 128)
    patch_size: int = 4

    @property
    def num_codebooks(self) -> int:
        return len(self.speech_empty_ids)

    @classmethod
    def from_config(cls, config) -> "SpecialTokenIds":
        """Reads the ids from a `MiMoAudioConfig`; raises ValueError naming any id the config lacks."""
        names = {"empty": "empty_token_id", "sosp": "sosp_token_id", "eosp": "eosp_token_id",
                 "sostm": "sostm_token_id", "eostm": "eostm_token_id", "eot": "eot_token_id"}
        missing = [attr for attr in names.values() if getattr(config, attr, None) is None]
        if missing:
            raise ValueError(
                f"config must set {missing} (upstream configs do not carry them: pass them to from_pretrained)"
            )
        return cls(
            **{key: int(getattr(config, attr)) for key, attr in names.items()},
            speech_empty_ids=tuple(int(i) for i in config.speech_empty_ids),
            patch_size=int(config.patch_size),
        )


class SequenceBuilder:
    """Appends segments (spec A.3) with the processor's layout engine (`processing.segment_layout.SegmentLayout`)
    and builds the example: labels at the target positions, the patches flattened.

    `tokenize` maps a string to text ids without special tokens added (`tokenizer(text, add_special_tokens=False)`);
    it is called once per text segment. Text may also be given as a list of ids. Clip codes are `[num_codebooks,
    frames]`, the codec's layout.
    """

    def __init__(self, special: SpecialTokenIds, tokenize: Callable[[str], list[int]] | None = None):
        self.special = special
        self.tokenize = tokenize
        self.layout = SegmentLayout(empty=special.empty, sosp=special.sosp, eosp=special.eosp,
                                    sostm=special.sostm, eostm=special.eostm, eot=special.eot)

    def _ids(self, text) -> list[int]:
        if isinstance(text, str):
            if self.tokenize is None:
                raise ValueError("a `tokenize` function is needed to add string segments; pass token ids instead")
            return list(self.tokenize(unescape_text(text)))
        return [int(t) for t in text]

    def _patches(self, codes) -> torch.Tensor:
        return clip_to_patches(codes, self.special.patch_size, self.special.num_codebooks)

    def text(self, text, target: bool = True) -> "SequenceBuilder":
        """A text segment: a string (tokenized on its own) or a list of ids."""
        self.layout.text(self._ids(text), target)
        return self

    def audio(self, codes, target: bool = True, close: bool = True) -> "SequenceBuilder":
        """An audio ("sosp") segment: `<|sosp|>`, one `<|empty|>` per patch, `<|eosp|>` (left open if not `close`)."""
        self.layout.audio(self._patches(codes), target, close=close)
        return self

    def streaming(self, transcript, codes, target: bool = True) -> "SequenceBuilder":
        """A streaming ("sostm") segment: `<|sostm|>`, 5-token transcript chunks (`<|eot|>` closing the last one)
        alternating with 5-patch chunks (the processor's `streaming_chunks` order), `<|eostm|>`."""
        self.layout.streaming(self._ids(transcript), self._patches(codes), target)
        return self

    def segments(self, segments: Sequence, audios: Sequence, all_targets: bool = False) -> "SequenceBuilder":
        """Parsed prompt segments with the clip codes `[num_codebooks, frames]` of their audio, in order."""
        clips = [self._patches(codes) for codes in audios]
        self.layout.add_segments(segments, lambda segment: self._ids(segment.text), clips, all_targets=all_targets)
        return self

    def build(self) -> dict:
        layout = self.layout
        if not layout.tokens:
            raise ValueError("the example is empty: add at least one segment")
        patches = torch.stack(layout.patches) if layout.patches else torch.zeros(0, dtype=torch.long)
        return {
            "input_ids": list(layout.tokens),
            "labels": [token if target else IGNORE_INDEX for token, target in zip(layout.tokens, layout.targets)],
            "audio_patches": patches.long().flatten().tolist(),
        }


def markup_example(markup: str, audios: Sequence, special: SpecialTokenIds, tokenize,
                   train_on_all: bool = False) -> dict:
    """Prompt markup (the processor's format) + clip codes -> example.

    Args:
        markup: segments separated by `SEGMENT_SEPARATOR`, audio placeholders, streaming markup, target markers.
        audios: clip codes `[8, frames]`, one per audio placeholder / streaming segment, in order.
        train_on_all: every position is a target (pretraining, spec B.3); otherwise only the marked targets.
    """
    segments = parse_prompt_markup(markup)
    used = sum(isinstance(s, (AudioSegment, StreamingSegment)) for s in segments)
    if used != len(audios):
        raise ValueError(f"the markup has {used} audio segment(s) but {len(audios)} clip(s) of codes were given")
    builder = SequenceBuilder(special, tokenize).segments(segments, audios, all_targets=train_on_all)
    return builder.build()


@functools.lru_cache(maxsize=1)
def _chat_template() -> str:
    from processing.processing_mimo_audio import load_chat_template

    return load_chat_template()


def render_conversation(messages: Sequence[dict]) -> str:
    """Renders a training conversation with the processor's chat template (no generation prompt) into markup."""
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template(conversations=[list(messages)], chat_template=_chat_template(),
                                        add_generation_prompt=False)
    return rendered[0]


def _content_parts(content) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def conversation_example(messages: Sequence[dict], special: SpecialTokenIds, tokenize,
                         think_block_for_text_answers: bool = True) -> dict:
    """A chat conversation with loss on the assistant turns only (spec A.4 layout, B.3 masking).

    `messages`: `{"role": "system" | "user" | "assistant", "content": str | list of parts}`; a part is
    `{"type": "text", "text": str}` or `{"type": "audio", "audio_codes": [8, frames]}`. An assistant turn with an
    audio part is spoken: its text parts are the transcript, laid out as a streaming segment. An assistant message
    may carry `"thinking": str` (its thinking trace, a target between `<think>\\n` and `</think>\\n`).

    Masked (-100): system and user turns and each assistant turn's prompt, `<|im_start|>assistant\\n` plus
    `<think>\\n\\n</think>\\n` (text answer without thinking) or `<think>\\n` (with thinking). Targets: the thinking,
    `</think>\\n`, the answer (from `<|sostm|>` for a spoken one) and `<|im_end|>\\n`.

    `think_block_for_text_answers`: text answers without a `thinking` key get the empty think block (the evaluation
    toolkit and the public training code do; upstream inference omits it in history) — spec A.4 says train with it.
    """
    if not messages:
        raise ValueError("messages must hold at least one message")
    if not any(m.get("role") == "assistant" for m in messages):
        raise ValueError("messages must hold at least one assistant turn (the SFT target)")
    audios, prepared = [], []
    for i, message in enumerate(messages):
        parts = _content_parts(message.get("content", []))
        for j, part in enumerate(parts):
            if part.get("type") == "audio":
                if part.get("audio_codes") is None:
                    raise ValueError(f"messages[{i}] part {j}: audio parts need precomputed 'audio_codes' "
                                     "[8, frames] (encode the audio with prepare_data first)")
                audios.append(part["audio_codes"])
        message = dict(message, content=parts)
        if message.get("thinking") is None:  # Arrow stores an absent key as None
            message.pop("thinking", None)
        spoken = any(p.get("type") == "audio" for p in parts)
        if message.get("role") == "assistant" and think_block_for_text_answers and not spoken:
            message.setdefault("thinking", "")
        prepared.append(message)
    return markup_example(render_conversation(escape_conversation(prepared, _MARKUP_CHARACTERS)), audios, special,
                          tokenize)


# --- pretraining formats (spec A.4 proposals; loss on every position, B.3) ---


def text_only_example(text, special: SpecialTokenIds, tokenize=None, eos_token_id: int | None = None) -> dict:
    """Plain text (optionally closed by the tokenizer's eos)."""
    builder = SequenceBuilder(special, tokenize).text(text)
    if eos_token_id is not None:
        builder.text([eos_token_id])
    return builder.build()


def continuation_example(audio_codes, special: SpecialTokenIds, tokenize=None) -> dict:
    """Speech only: one sosp segment, closed, so the model also learns when speech ends."""
    return SequenceBuilder(special, tokenize).audio(audio_codes).build()


def interleaved_example(segments: Sequence[dict], special: SpecialTokenIds, tokenize,
                        prefix: str | None = INTERLEAVED_PREFIX) -> dict:
    """Speech-text interleaved: `[Int]:` then, in order, `{"text": str}` segments, `{"audio": codes}` sosp segments
    and `{"audio": codes, "transcript": str}` streaming segments (when a transcript exists)."""
    pieces, audios = ([prefix] if prefix else []), []
    for i, segment in enumerate(segments):
        if "audio" in segment:
            audios.append(segment["audio"])
            transcript = segment.get("transcript")
            pieces.append(AUDIO_PLACEHOLDER if transcript is None else streaming_markup(transcript))
        elif "text" in segment:
            pieces.append(segment["text"])
        else:
            raise ValueError(f"segments[{i}] must have a 'text' or an 'audio' key, got keys {sorted(segment)}")
    return markup_example(SEGMENT_SEPARATOR.join(pieces), audios, special, tokenize, train_on_all=True)


def asr_pretrain_example(audio_codes, transcript, special: SpecialTokenIds, tokenize) -> dict:
    """Pretraining ASR: the audio segment, then its transcript (spec A.4 [P]; no chat template)."""
    return SequenceBuilder(special, tokenize).audio(audio_codes).text(transcript).build()


def tts_pretrain_example(text, audio_codes, special: SpecialTokenIds, tokenize) -> dict:
    """Pretraining TTS: the text, then a streaming segment speaking it (spec A.4 [P])."""
    return SequenceBuilder(special, tokenize).text(text).streaming(text, audio_codes).build()


def captioning_pretrain_example(audio_codes, caption, special: SpecialTokenIds, tokenize) -> dict:
    """Pretraining captioning: the audio segment, then its caption (spec A.4 [P])."""
    return SequenceBuilder(special, tokenize).audio(audio_codes).text(caption).build()


# --- task formats as conversations, from the processor's prompt builders (spec A.4) ---


def asr_example(audio_codes, transcript: str, special, tokenize, instruction: str | None = None,
                language: str = "en") -> dict:
    """ASR: user `[aud]{instruction}`, assistant transcript."""
    conversation = asr_conversation({"audio_codes": audio_codes}, instruction=instruction, language=language)
    return conversation_example(conversation + [{"role": "assistant", "content": transcript}], special, tokenize)


def tts_example(text: str, audio_codes, special, tokenize, instruction: str | None = None,
                thinking: str | None = None, template: str | None = None) -> dict:
    """TTS (instruct-TTS with `instruction`, whose thinking trace is `thinking`): assistant streaming speech."""
    conversation = tts_conversation(text, instruction=instruction, template=template)
    answer = {"role": "assistant", "content": [{"type": "text", "text": text},
                                               {"type": "audio", "audio_codes": audio_codes}]}
    if thinking is not None:
        answer["thinking"] = thinking
    return conversation_example(conversation + [answer], special, tokenize)


def captioning_example(audio_codes, caption: str, special, tokenize,
                       question: str = "Describe the audio.", thinking: str | None = None) -> dict:
    """Audio captioning / understanding: user `[aud]{question}`, assistant caption (optionally with thinking)."""
    answer = {"role": "assistant", "content": caption}
    if thinking is not None:
        answer["thinking"] = thinking
    conversation = audio_understanding_conversation({"audio_codes": audio_codes}, question)
    return conversation_example(conversation + [answer], special, tokenize)


TASK_FORMATS = {
    # task name: (row, special, tokenize -> example; columns it reads)
    "text": (lambda row, s, t: text_only_example(row["text"], s, t), ("text",)),
    "continuation": (lambda row, s, t: continuation_example(row["audio_codes"], s, t), ("audio_codes",)),
    "interleaved": (lambda row, s, t: interleaved_example(
        [{"audio": row["audio_codes"], "transcript": row["text"]}], s, t), ("audio_codes", "text")),
    "asr": (lambda row, s, t: asr_example(row["audio_codes"], row["text"], s, t), ("audio_codes", "text")),
    "tts": (lambda row, s, t: tts_example(row["text"], row["audio_codes"], s, t), ("audio_codes", "text")),
    "captioning": (lambda row, s, t: captioning_example(row["audio_codes"], row["text"], s, t),
                   ("audio_codes", "text")),
    "sft": (lambda row, s, t: conversation_example(row["messages"], s, t), ("messages",)),
    "asr_pretrain": (lambda row, s, t: asr_pretrain_example(row["audio_codes"], row["text"], s, t),
                     ("audio_codes", "text")),
    "tts_pretrain": (lambda row, s, t: tts_pretrain_example(row["text"], row["audio_codes"], s, t),
                     ("audio_codes", "text")),
    "captioning_pretrain": (lambda row, s, t: captioning_pretrain_example(row["audio_codes"], row["text"], s, t),
                            ("audio_codes", "text")),
}


def build_example(task: str, row: dict, special: SpecialTokenIds, tokenize=None) -> dict:
    """Builds one example of `task` (a key of `TASK_FORMATS`) from a dataset row."""
    if task not in TASK_FORMATS:
        raise ValueError(f"task must be one of {sorted(TASK_FORMATS)}, got {task!r}")
    fn, columns = TASK_FORMATS[task]
    missing = [c for c in columns if c not in row]
    if missing:
        raise ValueError(f"task {task!r} needs the columns {list(columns)}; the row lacks {missing}")
    return fn(row, special, tokenize)
