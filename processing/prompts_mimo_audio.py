"""Prompt layout of MiMo-Audio: segments, the streaming segment, and per-task prompt builders.

A MiMo-Audio sequence is a list of *segments*, each tokenized on its own (BPE never merges across a segment
boundary, exactly as upstream's `InputSegment` list):

* a text segment: its tokens, one LLM position each;
* an audio segment: `<|sosp|>`, one `<|empty|>` position per 4-frame patch, `<|eosp|>` (the "open" variant used
  for speech continuation has no `<|eosp|>`);
* a streaming segment (every *generated* speech turn): `<|sostm|>`, then 5-token text chunks (the last with
  `<|eot|>` appended) alternating with 5-patch audio chunks, leftovers of either kind, then `<|eostm|>`.

Prompts are written as *markup*: a plain string in which

* `SEGMENT_SEPARATOR` (`"\\x1e"`) separates text segments,
* `AUDIO_PLACEHOLDER` (`"<|sosp|><|empty|><|eosp|>"`) stands for the next audio clip as an audio segment,
* `OPEN_AUDIO_PLACEHOLDER` (`"<|sosp|><|empty|>"`) stands for the next clip without `<|eosp|>`,
* `"<|sostm|>\\x1f{transcript}\\x1f<|eostm|>"` stands for a streaming segment of `transcript` and the next clip,
* `TARGET_BEGIN` / `TARGET_END` (`"\\x02"` / `"\\x03"`) delimit the training targets (assistant turns).

The chat template renders conversations into this markup; the task builders below return conversations (chat
models) or markup (base model). `parse_prompt_markup` turns markup into segments, and
`MiMoAudioProcessor` tokenizes them and lays them out as `input_ids [P]`, `audio_codes [P, 4, 8]`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import torch

from modeling_mimo_audio.streaming_layout import AUDIO_CHUNK_PATCHES, TEXT_CHUNK_TOKENS


__all__ = [
    "SEGMENT_SEPARATOR",
    "AUDIO_PLACEHOLDER",
    "OPEN_AUDIO_PLACEHOLDER",
    "STREAM_TEXT_DELIMITER",
    "TARGET_BEGIN",
    "TARGET_END",
    "TextSegment",
    "AudioSegment",
    "StreamingSegment",
    "parse_prompt_markup",
    "streaming_chunks",
    "streaming_markup",
    "pad_codes_to_patches",
    "ASR_TEMPLATES",
    "TTS_TEMPLATES",
    "INSTRUCT_TTS_SYSTEM_PROMPT",
    "INSTRUCT_TTS_VOICE_SYSTEM_PROMPT",
    "SPOKEN_DIALOGUE_VOICE_PROMPT",
    "TASK_CHAT_TEMPLATE_KWARGS",
    "detect_language",
    "capitalize_if_single_case",
    "choose_template",
    "asr_conversation",
    "tts_conversation",
    "audio_understanding_conversation",
    "spoken_dialogue_conversation",
    "speech_to_text_dialogue_conversation",
    "text_dialogue_conversation",
    "in_context_learning_s2s_prompt",
    "speech_continuation_prompt",
]

SEGMENT_SEPARATOR = "\x1e"
STREAM_TEXT_DELIMITER = "\x1f"
TARGET_BEGIN = "\x02"
TARGET_END = "\x03"
AUDIO_PLACEHOLDER = "<|sosp|><|empty|><|eosp|>"
OPEN_AUDIO_PLACEHOLDER = "<|sosp|><|empty|>"


_MARKUP_RE = re.compile(
    "("
    + "|".join(
        [
            re.escape(SEGMENT_SEPARATOR),
            re.escape(TARGET_BEGIN),
            re.escape(TARGET_END),
            re.escape("<|sostm|>" + STREAM_TEXT_DELIMITER)
            + ".*?"
            + re.escape(STREAM_TEXT_DELIMITER + "<|eostm|>"),
            re.escape(AUDIO_PLACEHOLDER),
            re.escape(OPEN_AUDIO_PLACEHOLDER),
        ]
    )
    + ")",
    flags=re.DOTALL,
)


@dataclass
class TextSegment:
    """Text tokenized on its own (`add_special_tokens=False`). `target`: part of the training targets."""

    text: str
    target: bool = False


@dataclass
class AudioSegment:
    """`<|sosp|>` + one `<|empty|>` position per patch of audio clip `audio_index` [+ `<|eosp|>` if `close`]."""

    audio_index: int
    close: bool = True
    target: bool = False


@dataclass
class StreamingSegment:
    """`<|sostm|>` + interleaved 5-token transcript chunks / 5-patch chunks of clip `audio_index` + `<|eostm|>`."""

    text: str
    audio_index: int
    target: bool = False


def parse_prompt_markup(markup: str) -> list[TextSegment | AudioSegment | StreamingSegment]:
    """Splits prompt markup (see the module docstring) into segments; audio clips are numbered in order.

    Empty text segments are dropped (tokenizing "" gives no token). Raises `ValueError` on unbalanced
    `TARGET_BEGIN`/`TARGET_END` markers.
    """
    if not isinstance(markup, str):
        raise TypeError(f"`text` must be a string (prompt markup), got {type(markup).__name__}")
    segments = []
    audio_index = 0
    in_target = False
    for piece in _MARKUP_RE.split(markup):
        if not piece or piece == SEGMENT_SEPARATOR:
            continue
        if piece == TARGET_BEGIN:
            if in_target:
                raise ValueError("prompt markup: nested TARGET_BEGIN")
            in_target = True
        elif piece == TARGET_END:
            if not in_target:
                raise ValueError("prompt markup: TARGET_END without TARGET_BEGIN")
            in_target = False
        elif piece in (AUDIO_PLACEHOLDER, OPEN_AUDIO_PLACEHOLDER):
            segments.append(AudioSegment(audio_index, close=piece == AUDIO_PLACEHOLDER, target=in_target))
            audio_index += 1
        elif piece.startswith("<|sostm|>" + STREAM_TEXT_DELIMITER) and piece.endswith(
            STREAM_TEXT_DELIMITER + "<|eostm|>"
        ):
            transcript = piece[len("<|sostm|>" + STREAM_TEXT_DELIMITER) : -len(STREAM_TEXT_DELIMITER + "<|eostm|>")]
            segments.append(StreamingSegment(transcript, audio_index, target=in_target))
            audio_index += 1
        else:
            segments.append(TextSegment(piece, target=in_target))
    if in_target:
        raise ValueError("prompt markup: TARGET_BEGIN without TARGET_END")
    return segments


def streaming_markup(transcript: str) -> str:
    """Markup of a streaming segment of `transcript` and the next audio clip."""
    return "<|sostm|>" + STREAM_TEXT_DELIMITER + transcript + STREAM_TEXT_DELIMITER + "<|eostm|>"


def streaming_chunks(
    text_ids: list[int],
    num_patches: int,
    eot_id: int,
    text_chunk: int = TEXT_CHUNK_TOKENS,
    audio_chunk: int = AUDIO_CHUNK_PATCHES,
) -> list[tuple[str, list[int] | range]]:
    """Order of the chunks inside a streaming segment (without its `<|sostm|>`/`<|eostm|>`).

    The transcript `text_ids` is cut into `text_chunk`-token chunks and `<|eot|>` is appended to the last one (an
    empty transcript gives the single chunk `[eot]`); the `num_patches` patches are cut into `audio_chunk`-patch
    chunks. Chunks alternate text, audio, text, audio... while both remain; then the leftover text chunks, then the
    leftover audio chunks.

    Returns:
        list of `("text", token ids)` and `("audio", range of patch indices)`.

    Example: 7 tokens, 12 patches, chunks of 5 ->
    `[("text", t0..t4), ("audio", 0..4), ("text", t5, t6, eot), ("audio", 5..9), ("audio", 10..11)]`.
    """
    text_chunks = [list(text_ids[i : i + text_chunk]) for i in range(0, len(text_ids), text_chunk)] or [[]]
    text_chunks[-1] = text_chunks[-1] + [eot_id]
    audio_chunks = [range(i, min(i + audio_chunk, num_patches)) for i in range(0, num_patches, audio_chunk)]
    both = min(len(text_chunks), len(audio_chunks))
    order = []
    for i in range(both):
        order.append(("text", text_chunks[i]))
        order.append(("audio", audio_chunks[i]))
    order += [("text", chunk) for chunk in text_chunks[both:]]
    order += [("audio", chunk) for chunk in audio_chunks[both:]]
    return order


def pad_codes_to_patches(codes: torch.Tensor, patch_size: int = 4) -> torch.Tensor:
    """Pads `codes [frames, channels]` to a multiple of `patch_size` frames by repeating the last frame (upstream).

    Returns `[num_patches, patch_size, channels]`.
    """
    if codes.ndim != 2:
        raise ValueError(f"`codes` must be [frames, channels], got shape {tuple(codes.shape)}")
    frames = codes.shape[0]
    if frames == 0:
        raise ValueError("an audio clip encoded to 0 frames; clips must be at least one 25 Hz frame (40 ms) long")
    missing = (-frames) % patch_size
    if missing:
        codes = torch.cat([codes, codes[-1:].expand(missing, -1)], dim=0)
    return codes.reshape(-1, patch_size, codes.shape[1])


# ----------------------------------------------------------------------------------------------------------------
# Task prompts. Upstream's fixed texts, in upstream's words (they are what the model was trained on).
# ----------------------------------------------------------------------------------------------------------------

ASR_TEMPLATES = {
    "zh": [
        "请将这段语音转换为文字",
        "帮我识别这个音频文件中的内容",
        "把这段录音转成文本",
        "请转录这段语音",
        "将音频内容转换成文字格式",
        "识别并转写这段语音",
        "把语音内容写成文字",
        "转录这个音频片段",
        "将这段对话转换为文本",
        "麻烦帮我把这段录音整理成详细的文字记录",
    ],
    "en": [
        "Please transcribe this audio file",
        "Convert this speech recording to text",
        "Transcribe the following voice message",
        "Turn this audio into readable text",
        "Please convert the recording to written format",
        "Transcribe what you hear in this audio",
        "Convert this spoken content to text",
        "Please write down what is said in this recording",
        "Transcribe this voice recording",
        "Could you please help me transcribe this important recording?",
        "Would you mind converting this voice message into a readable text format?",
        "I'd really appreciate it if you could turn this audio file into a written document",
    ],
}
TTS_TEMPLATES = {
    "zh": [
        "请将这段文字转换为语音",
        "帮我把这个文本读出来",
        "将这些文字生成音频",
        "请朗读这段内容",
        "把这段话转换成语音文件",
        "生成这段文字的语音版本",
        "请用语音播报这些内容",
        "将文本转换为可听的音频",
        "帮我朗读这段文字",
        "把这些内容念出来",
    ],
    "en": [
        "Please convert this text to speech",
        "Turn this writing into audio",
        "Generate speech from this text",
        "Read this content out loud",
        "Convert these words to voice",
        "Create an audio version of this text",
        "Please vocalize this content",
        "Turn this text into audible format",
        "Help me convert this writing to speech",
        "Make this text into spoken audio",
    ],
}
# Deterministic defaults: the evaluation toolkit's fixed ASR prompts, and the first TTS template per language.
DEFAULT_ASR_TEMPLATE = {"zh": "请将这段语音转换为文字", "en": "Transcribe the following voice message"}
DEFAULT_TTS_TEMPLATE = {"zh": TTS_TEMPLATES["zh"][0], "en": TTS_TEMPLATES["en"][0]}

INSTRUCT_TTS_SYSTEM_PROMPT = "你需要根据指定的风格指令和文本内容来生成语音。"
INSTRUCT_TTS_VOICE_SYSTEM_PROMPT = "你需要根据指定的风格指令和文本内容来生成和语音prompt具有相同音色的语音。你的音色应该是："
SPOKEN_DIALOGUE_VOICE_PROMPT = "Your voice should be:"

# `apply_chat_template` keyword arguments (generation prompt kind) of each chat task.
TASK_CHAT_TEMPLATE_KWARGS = {
    "asr": {"thinking": False, "speech_output": False},
    "tts": {"thinking": False, "speech_output": True},
    "instruct_tts": {"thinking": True, "speech_output": True},
    "audio_understanding": {"thinking": False, "speech_output": False},
    "audio_understanding_thinking": {"thinking": True, "speech_output": False},
    "spoken_dialogue": {"thinking": False, "speech_output": True},
    "speech_to_text_dialogue": {"thinking": False, "speech_output": False},
    "text_dialogue": {"thinking": False, "speech_output": False},
}


def detect_language(text: str) -> str:
    """`"zh"` if `text` contains a CJK ideograph, else `"en"` (upstream's rule for picking templates)."""
    return "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"


def capitalize_if_single_case(text: str) -> str:
    """Upstream's text preprocessing: an all-lower or all-upper text becomes `str.capitalize()`d.

    Never applied silently here: pass `capitalize=True` to the builders to get upstream's behaviour.
    """
    return text.capitalize() if text.isupper() or text.islower() else text


def choose_template(
    templates: dict[str, list[str]],
    default: dict[str, str],
    language: str,
    random_template: bool = False,
    seed: int | None = None,
) -> str:
    """The fixed default template of `language`, or (with `random_template=True`) a random one, as upstream does.

    ASR templates are drawn from the mixed zh+en list (upstream), TTS ones from the text's language. `seed` makes
    the draw reproducible; `None` uses Python's global RNG.
    """
    if language not in default:
        raise ValueError(f"`language` must be one of {sorted(default)}, got {language!r}")
    if not random_template:
        return default[language]
    rng = random.Random(seed) if seed is not None else random
    return rng.choice(templates[language] if templates is TTS_TEMPLATES else templates["zh"] + templates["en"])


def _audio_part(audio) -> dict:
    """A chat content part for `audio`: a path, a 1-D waveform, a `{"audio_codes": ...}` dict or a part dict."""
    if isinstance(audio, dict):
        if audio.get("type") == "audio":
            return audio
        return {"type": "audio", **audio}
    if isinstance(audio, str):
        return {"type": "audio", "path": audio}
    return {"type": "audio", "audio": audio}


def asr_conversation(
    audio, instruction: str | None = None, language: str = "en", random_template: bool = False, seed=None
) -> list[dict]:
    """ASR: `U`, `[aud]`, `{instruction}`, `END` (+ generation prompt `A`, `<think>\\n\\n</think>\\n`).

    `instruction` defaults to the evaluation toolkit's fixed prompt of `language` ("Transcribe the following voice
    message" / "请将这段语音转换为文字"); `random_template=True` draws from upstream's mixed list as upstream does.
    """
    if instruction is None:
        instruction = choose_template(ASR_TEMPLATES, DEFAULT_ASR_TEMPLATE, language, random_template, seed)
    return [{"role": "user", "content": [_audio_part(audio), {"type": "text", "text": instruction}]}]


def tts_conversation(
    text: str,
    instruction: str | None = None,
    voice=None,
    template: str | None = None,
    language: str | None = None,
    random_template: bool = False,
    seed=None,
    capitalize: bool = False,
    natural_instruction: bool = False,
) -> list[dict]:
    """Text to speech, with an optional style `instruction` and an optional `voice` prompt (audio).

    * plain TTS: `U{template}: {text}END` (one segment) + generation prompt `A<|sostm|>`;
    * with `instruction` (instruct-TTS): system turn `INSTRUCT_TTS_SYSTEM_PROMPT`, user
      `{template}: {text}({instruction})`,
      generation prompt `A<think>\\n` (use `TASK_CHAT_TEMPLATE_KWARGS["instruct_tts"]`);
    * with `voice` as well: the system turn is `INSTRUCT_TTS_VOICE_SYSTEM_PROMPT` followed by the voice clip;
    * `natural_instruction=True`: the user turn is `text` as is (a free-form description of what to say and how).

    `template` defaults to the first of upstream's templates in the text's language. `capitalize=True` applies
    upstream's re-capitalisation (`capitalize_if_single_case`).
    """
    if not isinstance(text, str) or not text:
        raise ValueError("`text` must be a non-empty string")
    if capitalize:
        text = capitalize_if_single_case(text)
    if natural_instruction:
        user_text = text
    else:
        if template is None:
            language = language or detect_language(text)
            template = choose_template(TTS_TEMPLATES, DEFAULT_TTS_TEMPLATE, language, random_template, seed)
        user_text = f"{template}: {text}" + (f"({instruction})" if instruction is not None else "")
    if voice is not None and instruction is None and not natural_instruction:
        raise ValueError(
            "a `voice` prompt needs a style `instruction` (or `natural_instruction=True`): upstream only conditions "
            "instruct-TTS on a voice (its plain TTS prompt silently ignores one). For a voice without a style, use "
            "`spoken_dialogue_conversation(..., voice=...)` or give an instruction."
        )
    conversation = []
    if voice is not None:
        conversation.append(
            {
                "role": "system",
                "content": [{"type": "text", "text": INSTRUCT_TTS_VOICE_SYSTEM_PROMPT}, _audio_part(voice)],
            }
        )
    elif instruction is not None or natural_instruction:
        conversation.append({"role": "system", "content": [{"type": "text", "text": INSTRUCT_TTS_SYSTEM_PROMPT}]})
    conversation.append({"role": "user", "content": user_text})
    return conversation


def audio_understanding_conversation(audio, question: str) -> list[dict]:
    """Audio understanding: `U`, `[aud]`, `{question}`, `END`; thinking or not is the generation prompt's choice."""
    return [{"role": "user", "content": [_audio_part(audio), {"type": "text", "text": question}]}]


def _check_turns(turns, name):
    if not isinstance(turns, (list, tuple)) or not turns:
        raise ValueError(f"`{name}` must be a non-empty list of messages")
    for turn in turns:
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant"):
            raise ValueError(f"`{name}`: every message must be a dict with role 'user' or 'assistant', got {turn!r}")


def spoken_dialogue_conversation(turns: list[dict], system_prompt: str | None = None, voice=None) -> list[dict]:
    """Speech-to-speech dialogue; the caller owns the history.

    `turns`: messages `{"role": "user", "content": audio}` and `{"role": "assistant", "content": {"text": ...,
    "audio": ...}}` (earlier spoken answers: transcript + audio, laid out as a streaming segment). Layout (upstream
    multi-turn): optional system turn `Your voice should be:` + voice clip; user turns `U`, [`{system_prompt}`,
    `\\n\\n` on the first one], `[aud]`, `END`; assistant turns `A` + streaming segment + `END`; generation prompt
    `A<|sostm|>`.
    """
    _check_turns(turns, "turns")
    conversation = []
    if voice is not None:
        conversation.append(
            {"role": "system", "content": [{"type": "text", "text": SPOKEN_DIALOGUE_VOICE_PROMPT}, _audio_part(voice)]}
        )
    first_user = True
    for turn in turns:
        if turn["role"] == "user":
            content = []
            if system_prompt and first_user:
                content += [{"type": "text", "text": system_prompt}, {"type": "text", "text": "\n\n"}]
            content.append(_audio_part(turn["content"]))
            first_user = False
        else:
            answer = turn["content"]
            if not isinstance(answer, dict) or "text" not in answer or "audio" not in answer:
                raise ValueError(
                    "`turns`: an assistant turn of a spoken dialogue needs content {'text': ..., 'audio': ...}"
                )
            content = [{"type": "text", "text": answer["text"]}, _audio_part(answer["audio"])]
        conversation.append({"role": turn["role"], "content": content})
    return conversation


def speech_to_text_dialogue_conversation(turns: list[dict]) -> list[dict]:
    """Speech-to-text dialogue: user turns are audio, assistant turns text (`A`, `{text}`, `END`, no think block)."""
    _check_turns(turns, "turns")
    return [
        {"role": "user", "content": [_audio_part(t["content"])]}
        if t["role"] == "user"
        else {"role": "assistant", "content": [{"type": "text", "text": t["content"]}]}
        for t in turns
    ]


def text_dialogue_conversation(turns: list[dict] | str) -> list[dict]:
    """Text dialogue: `U`, `{text}`, `END` per user turn, `A`, `{text}`, `END` per assistant turn."""
    if isinstance(turns, str):
        turns = [{"role": "user", "content": turns}]
    _check_turns(turns, "turns")
    return [{"role": t["role"], "content": [{"type": "text", "text": t["content"]}]} for t in turns]


def in_context_learning_s2s_prompt(examples: list[dict], audio, instruction: str = "") -> tuple[str, list]:
    """Few-shot speech-to-speech for the base model (voice / style / speed conversion, denoising, S2ST).

    `examples`: dicts with `input_audio`, `output_audio` and `output_transcription`. Layout (upstream):
    `[Int]:{instruction}\\n`; per example `[in aud]`, `\\n`, streaming(transcript, out aud), ` \\n\\n`; then
    `[query aud]`, `\\n`, `<|sostm|>`.

    Returns `(markup, audios)` for `processor(text=markup, audio=audios)`.
    """
    if not examples:
        raise ValueError("`examples` must hold at least one example")
    sep = SEGMENT_SEPARATOR
    parts = [f"[Int]:{instruction}\n"]
    audios = []
    for i, example in enumerate(examples):
        missing = {"input_audio", "output_audio", "output_transcription"} - set(example)
        if missing:
            raise ValueError(f"`examples[{i}]` lacks {sorted(missing)}")
        parts += [AUDIO_PLACEHOLDER, "\n", streaming_markup(example["output_transcription"]), " \n\n"]
        audios += [example["input_audio"], example["output_audio"]]
    parts += [AUDIO_PLACEHOLDER, "\n", "<|sostm|>"]
    audios.append(audio)
    return sep.join(parts), audios


def speech_continuation_prompt(audio, prefix: str | None = None) -> tuple[str, list]:
    """Speech continuation for the base model: `<|sosp|>` + the prompt's patches, no `<|eosp|>`.

    No official code exists (spec A.4 [P]); `prefix` (e.g. `"<Spe>:"`, unverified) is an optional text segment before
    it. Generation then continues with patches until `<|eosp|>` or the length limit. Returns `(markup, [audio])`.
    """
    parts = ([prefix] if prefix else []) + [OPEN_AUDIO_PLACEHOLDER]
    return SEGMENT_SEPARATOR.join(parts), [audio]
