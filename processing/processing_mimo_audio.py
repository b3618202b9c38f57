"""Processor of MiMo-Audio: prompts (text + audio) -> LM inputs, and generated ids -> text and waveforms."""

from __future__ import annotations

import operator
import os
from functools import lru_cache

import numpy as np
import torch
from transformers import BatchFeature
from transformers.processing_utils import ProcessorMixin
from transformers.utils import logging

from modeling_mimo_audio.config_checks import check_sampling_rate, check_token_ids

from .audio_io import encode_waveforms, read_audio
from .resampling import resample_waveform
from .prompts_mimo_audio import (
    SEGMENT_SEPARATOR,
    STREAM_TEXT_DELIMITER,
    TARGET_BEGIN,
    TARGET_END,
    AudioSegment,
    TextSegment,
    parse_prompt_markup,
)
from .segment_layout import SegmentLayout, clip_to_patches
from .text_escaping import ESCAPE_OPEN, escape_conversation, tokenize_markup_text
from .tokenization_mimo_audio import ensure_mimo_special_tokens, mimo_special_token_ids


logger = logging.get_logger(__name__)

__all__ = ["MiMoAudioProcessor", "load_chat_template"]

_CHAT_TEMPLATE_FILE = os.path.join(os.path.dirname(__file__), "chat_template.jinja")
_AUDIO_TOKENIZER_SUBFOLDER = "audio_tokenizer"


def load_chat_template() -> str:
    """The default MiMo-Audio chat template (`processing/chat_template.jinja`)."""
    with open(_CHAT_TEMPLATE_FILE, encoding="utf-8") as f:
        return f.read()


@lru_cache(maxsize=8)
def _compile_chat_template(template: str):
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    return env.from_string(template)


def _render_chat_template(template: str, **variables) -> str:
    from jinja2.exceptions import TemplateError

    try:
        return _compile_chat_template(template).render(**variables)
    except TemplateError as error:
        raise ValueError(f"chat template: {error}") from error


def load_saved_audio_tokenizer(name_or_path, **kwargs):
    """
    The codec a processor saved in the `audio_tokenizer/` subfolder of a local folder or Hub repo (`kwargs` go to
    `MiMoAudioTokenizerModel.from_pretrained`, e.g. `dtype`), in eval mode; None, with a warning for a repo that
    has no such subfolder, when there is none.
    """
    from modeling_mimo_audio.modeling_mimo_audio_tokenizer import MiMoAudioTokenizerModel

    name_or_path = str(name_or_path)
    if os.path.isdir(name_or_path):
        if not os.path.isfile(os.path.join(name_or_path, _AUDIO_TOKENIZER_SUBFOLDER, "config.json")):
            return None
        return MiMoAudioTokenizerModel.from_pretrained(
            os.path.join(name_or_path, _AUDIO_TOKENIZER_SUBFOLDER), **kwargs
        ).eval()
    try:
        codec = MiMoAudioTokenizerModel.from_pretrained(name_or_path, subfolder=_AUDIO_TOKENIZER_SUBFOLDER, **kwargs)
    except OSError as error:
        logger.warning(
            f"no codec in {name_or_path}/{_AUDIO_TOKENIZER_SUBFOLDER} ({error.__class__.__name__}): audio inputs "
            "and outputs need one, pass `audio_tokenizer=`"
        )
        return None
    return codec.eval()


class MiMoAudioProcessor(ProcessorMixin):
    r"""
    Builds MiMo-Audio's language-model inputs from prompts with text and audio, and turns generated ids back into
    text and waveforms.

    Inputs are laid out as the LM expects them: `input_ids [B, P]` (one text token per LLM position; audio patches
    hold `<|empty|>`), `audio_codes [B, P, patch_size, num_codebooks]` (the 4 frames x 8 RVQ codes of each patch; text
    positions hold the per-codebook `speech_empty_ids`) and `attention_mask [B, P]`, left-padded. Every text segment
    is tokenized on its own, as upstream does (see `processing/prompts_mimo_audio.py` for the prompt markup).

    Args:
        feature_extractor ([`MiMoAudioFeatureExtractor`]):
            Waveform -> log-mel features for the codec.
        tokenizer ([`PreTrainedTokenizerBase`]):
            MiMo's Qwen2 text tokenizer. Missing MiMo special tokens are added (with a warning).
        audio_tokenizer ([`MiMoAudioTokenizerModel`], *optional*):
            The audio codec (waveform <-> RVQ codes). Without it, audio must be given as precomputed codes and
            `decode_audio` is unavailable. Saved in the `audio_tokenizer/` subfolder by `save_pretrained`.
        chat_template (`str`, *optional*):
            Jinja chat template rendering prompt markup; defaults to `processing/chat_template.jinja`.
        patch_size (`int`, *optional*, defaults to 4):
            Audio frames per LLM position (upstream `group_size`).
        speech_empty_ids (`list[int]`, *optional*, defaults to `[1024, 1024, 128, 128, 128, 128, 128, 128]`):
            Per-codebook "no audio" id placed at text positions of `audio_codes`; its length is the number of
            codebooks the LM uses.
    """

    def __init__(
        self,
        feature_extractor,
        tokenizer,
        audio_tokenizer=None,
        chat_template=None,
        patch_size: int = 4,
        speech_empty_ids: list[int] | None = None,
    ):
        if chat_template is None:
            chat_template = load_chat_template()
        # The stock check only knows a fixed list of codec classes; ours is validated in `_set_audio_tokenizer`.
        super().__init__(feature_extractor, tokenizer, chat_template=chat_template)
        self._set_audio_tokenizer(audio_tokenizer)
        ensure_mimo_special_tokens(self.tokenizer)
        self.special_ids = mimo_special_token_ids(self.tokenizer)
        if not isinstance(patch_size, int) or patch_size < 1:
            raise ValueError(f"`patch_size` must be a positive int, got {patch_size!r}")
        self.patch_size = patch_size
        self.speech_empty_ids = list(speech_empty_ids or [1024, 1024] + [128] * 6)
        # transformers' pipelines pad batched prompts on the tokenizer's side and refuse a feature extractor that
        # names another side; MiMo-Audio generates from left-padded prompts. (The feature extractor's own batches
        # always pad at the end, whatever this attribute says: the codec reads frames from the start.)
        self.tokenizer.padding_side = "left"
        self.feature_extractor.padding_side = "left"

    # ------------------------------------------------------------------ codec handling / saving
    def check_argument_for_proper_class(self, argument_name, argument):
        if argument_name == "audio_tokenizer":
            from transformers.modeling_utils import PreTrainedModel

            is_codec = hasattr(argument, "encode") and hasattr(argument, "decode")
            if not (isinstance(argument, PreTrainedModel) and is_codec):
                raise TypeError(
                    f"`audio_tokenizer` must be an audio codec model with `encode` and `decode` (e.g. "
                    f"MiMoAudioTokenizerModel), got {type(argument).__name__}"
                )
            return type(argument)
        return super().check_argument_for_proper_class(argument_name, argument)

    def _set_audio_tokenizer(self, audio_tokenizer):
        if audio_tokenizer is not None:
            self.check_argument_for_proper_class("audio_tokenizer", audio_tokenizer)
        self._audio_tokenizer = audio_tokenizer

    @property
    def audio_tokenizer(self):
        """The codec (`MiMoAudioTokenizerModel`) or `None`. Kept out of the base class's serialisation, which would
        deep-copy it and store a path that may not resolve; `save_pretrained` saves it in `audio_tokenizer/`."""
        return self._audio_tokenizer

    @audio_tokenizer.setter
    def audio_tokenizer(self, value):
        self._set_audio_tokenizer(value)

    @property
    def num_codebooks(self) -> int:
        return len(self.speech_empty_ids)

    @property
    def sampling_rate(self) -> int:
        return int(self.feature_extractor.sampling_rate)

    @property
    def model_input_names(self):
        return ["input_ids", "audio_codes", "attention_mask"]

    def to_dict(self):
        # The codec is saved as a model in `audio_tokenizer/`, not deep-copied into a path reference.
        codec = self.__dict__.pop("_audio_tokenizer", None)
        try:
            output = super().to_dict()
        finally:
            self.__dict__["_audio_tokenizer"] = codec
        output.pop("special_ids", None)
        return output

    def save_pretrained(self, save_directory, push_to_hub: bool = False, **kwargs):
        """Saves tokenizer, feature extractor, `processor_config.json`, `chat_template.jinja` and (if any) the codec
        in `save_directory/audio_tokenizer/`."""
        files = super().save_pretrained(save_directory, push_to_hub=push_to_hub, **kwargs)
        if self.audio_tokenizer is not None:
            self.audio_tokenizer.save_pretrained(os.path.join(save_directory, _AUDIO_TOKENIZER_SUBFOLDER))
        return files

    @classmethod
    def from_pretrained(
        cls, pretrained_model_name_or_path, audio_tokenizer=None, load_audio_tokenizer: bool = True, **kwargs
    ):
        """Loads a saved processor; the codec comes from `audio_tokenizer` or, if `load_audio_tokenizer`, from the
        `audio_tokenizer/` subfolder of the local folder or Hub repo when there is one."""
        processor = super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        if audio_tokenizer is None and load_audio_tokenizer:
            audio_tokenizer = load_saved_audio_tokenizer(
                pretrained_model_name_or_path, **{k: kwargs[k] for k in ("dtype", "device_map") if k in kwargs}
            )
        processor._set_audio_tokenizer(audio_tokenizer)
        return processor

    # ------------------------------------------------------------------ audio inputs
    def _read_codes(self, value, layout, where: str) -> torch.Tensor:
        """
        Precomputed codes -> LongTensor `[C, frames]` (the codec's layout, the one the layout engine takes). Both
        layouts are read, told apart by which axis has the `C` codebooks: `[frames, C]` (time first) and the codec's
        own `[C, frames]` (what `mimo-audio codec encode` writes). A `[C, C]` array is ambiguous and needs `"codes_layout": "frames_codebooks"` or
        `"codebooks_frames"` in its part. Every code must lie in its codebook, `[0, speech_empty_ids[c])`.
        """
        name = f"`audio_codes` of {where}"
        try:
            codes = torch.as_tensor(np.asarray(value) if isinstance(value, (list, tuple)) else value)
        except (TypeError, ValueError, RuntimeError) as error:
            raise TypeError(f"{name} must be an integer array [frames, {self.num_codebooks}], got {error}") from error
        if codes.dtype.is_floating_point or codes.is_complex() or codes.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer codes, got dtype {codes.dtype}")
        c = self.num_codebooks
        if codes.ndim != 2 or c not in codes.shape:
            raise ValueError(
                f"{name} must be [frames, {c}] or the codec's [{c}, frames] ({c} codebooks, no more), got shape "
                f"{tuple(codes.shape)}"
            )
        layouts = ("frames_codebooks", "codebooks_frames")
        if layout is not None and layout not in layouts:
            raise ValueError(f"`codes_layout` of {where} must be one of {layouts}, got {layout!r}")
        if layout is None:
            if codes.shape[0] == codes.shape[1]:
                raise ValueError(
                    f"{name} has the ambiguous shape {tuple(codes.shape)}: add \"codes_layout\": "
                    f"\"frames_codebooks\" ([frames, codebooks]) or \"codebooks_frames\" (the codec's) to the part"
                )
            layout = layouts[0] if codes.shape[1] == c else layouts[1]
        if codes.shape[1 if layout == layouts[0] else 0] != c:
            raise ValueError(f"{name} has shape {tuple(codes.shape)}, which is not {layout} with {c} codebooks")
        codes = (codes.T if layout == layouts[0] else codes).long()
        sizes = torch.tensor(self.speech_empty_ids, device=codes.device)[:, None]
        bad = (codes < 0) | (codes >= sizes)
        if bool(bad.any()):
            channel, frame = (int(i) for i in bad.nonzero()[0])
            raise ValueError(
                f"{name} holds {int(codes[channel, frame])} at frame {frame} of codebook {channel}, outside "
                f"[0, {self.speech_empty_ids[channel]})"
            )
        return codes

    def _load_audio_item(self, item, sampling_rate, where: str = "an audio part"):
        """-> ("codes", LongTensor [C, frames]) or ("wave", float32 ndarray at the extractor's rate)."""
        if isinstance(item, dict):
            if "audio_codes" in item:
                return "codes", self._read_codes(item["audio_codes"], item.get("codes_layout"), where)
            if "path" in item or "url" in item:
                return self._load_audio_item(item.get("path", item.get("url")), sampling_rate)
            for key in ("audio", "array"):
                if key in item:
                    return self._load_audio_item(item[key], item.get("sampling_rate", sampling_rate))
            raise ValueError(f"an audio part needs 'path', 'audio' (array) or 'audio_codes', got keys {sorted(item)}")
        if isinstance(item, (str, os.PathLike)):
            wave, sr = read_audio(item)
        else:
            if sampling_rate is None:
                logger.warning_once(
                    f"no sampling rate given for an audio array: assuming {self.sampling_rate} Hz. Pass "
                    "`sampling_rate=` (or a {'audio': array, 'sampling_rate': sr} part) to avoid silently wrong features."
                )
                sampling_rate = self.sampling_rate
            wave, sr = read_audio(item, sampling_rate)  # same checks as the feature extractor
        if sr != self.sampling_rate:
            logger.warning(f"resampling an audio clip from {sr} Hz to {self.sampling_rate} Hz")
            wave = resample_waveform(torch.from_numpy(wave), sr, self.sampling_rate).numpy()
        return "wave", wave

    @torch.no_grad()
    def encode_audio(self, waveforms: list) -> list[torch.Tensor]:
        """Encodes 1-D waveforms (at the extractor's rate) with the codec in ONE batched call.

        Returns one `[num_patches, patch_size, num_codebooks]` tensor per clip, padded to whole patches by repeating
        the last frame (upstream).
        """
        if not waveforms:
            return []
        if self.audio_tokenizer is None:
            raise ValueError(
                "waveform audio needs the codec: build the processor with `audio_tokenizer=` or pass precomputed "
                "codes as {'audio_codes': LongTensor [8, frames]} (the codec's layout; [frames, 8] is read too)"
            )
        codes = encode_waveforms(
            self.audio_tokenizer, self.feature_extractor, waveforms, self.sampling_rate, self.num_codebooks
        )
        return [clip_to_patches(clip, self.patch_size, self.num_codebooks) for clip in codes]

    def _prepare_audio(self, audio_per_sample, rate):
        """Nested list of audio items -> nested list of `[num_patches, patch_size, C]` tensors (one codec call)."""
        loaded = [
            [self._load_audio_item(item, rate, f"audio part {i} of sample {b}") for i, item in enumerate(sample)]
            for b, sample in enumerate(audio_per_sample)
        ]
        waves = [value for sample in loaded for kind, value in sample if kind == "wave"]
        encoded = iter(self.encode_audio(waves))
        return [
            [
                next(encoded) if kind == "wave" else clip_to_patches(value, self.patch_size, self.num_codebooks)
                for kind, value in sample
            ]
            for sample in loaded
        ]

    # ------------------------------------------------------------------ layout
    def _layout(self, segments, text_ids, clips) -> SegmentLayout:
        """One row's segments -> its positions (the layout engine the training formats share)."""
        ids = self.special_ids
        layout = SegmentLayout(empty=ids["empty"], sosp=ids["sosp"], eosp=ids["eosp"], sostm=ids["sostm"],
                               eostm=ids["eostm"], eot=ids["eot"])
        return layout.add_segments(segments, lambda segment: text_ids[id(segment)], clips)

    def empty_patch(self) -> torch.Tensor:
        """`[1, patch_size, C]` patch of per-codebook empty ids (what text positions hold in `audio_codes`)."""
        return torch.tensor(self.speech_empty_ids, dtype=torch.long).expand(1, self.patch_size, -1).clone()

    def __call__(
        self,
        text: str | list[str] | None = None,
        audio=None,
        sampling_rate: int | None = None,
        return_labels: bool = False,
        padding_side: str = "left",
        return_tensors: str = "pt",
        **kwargs,
    ) -> BatchFeature:
        """Lays out prompt markup (see `prompts_mimo_audio.py`) with its audio clips.

        Args:
            text (`str` or `list[str]`): prompt markup, one per batch row. Each `<|sosp|><|empty|><|eosp|>` is
                replaced by the next audio clip; `\\x1e` separates segments that are tokenized separately.
            audio: the clips, in placeholder order: a flat list over the whole batch, or one list per row. Each is
                a file path, a 1-D waveform at `sampling_rate` (default: the extractor's 24 kHz; other rates are
                resampled with a warning), a dict `{"audio": array, "sampling_rate": sr}`, or precomputed codes
                `{"audio_codes": LongTensor [frames, 8]}` or in the codec's `[8, frames]` layout (a square `[8, 8]`
                clip needs `"codes_layout": "frames_codebooks"` or `"codebooks_frames"`; codes outside their
                codebook are refused). All waveforms of the batch go through the codec in one call.
            return_labels (`bool`): also return `labels [B, P]` = `input_ids` inside the markup's target spans
                (assistant turns), -100 elsewhere.
            padding_side (`str`): `"left"` (default, for generation) or `"right"`.

        Returns:
            `BatchFeature` with `input_ids` long `[B, P]`, `audio_codes` long `[B, P, patch_size, C]`,
            `attention_mask` long `[B, P]` (1 = real) and, if asked, `labels` long `[B, P]`.
        """
        if kwargs:
            raise TypeError(f"MiMoAudioProcessor.__call__ got unexpected arguments {sorted(kwargs)}")
        if text is None:
            raise ValueError("`text` is required (prompt markup; see `apply_chat_template` for conversations)")
        if return_tensors not in ("pt", None):
            raise ValueError(f"`return_tensors` must be 'pt', got {return_tensors!r}")
        if padding_side not in ("left", "right"):
            raise ValueError(f"`padding_side` must be 'left' or 'right', got {padding_side!r}")
        if not isinstance(text, (str, list, tuple)):
            raise TypeError(f"`text` must be a string (prompt markup) or a list of strings, got {type(text).__name__}")
        if not isinstance(text, str) and not all(isinstance(t, str) for t in text):
            kinds = sorted({type(t).__name__ for t in text if not isinstance(t, str)})
            raise TypeError(f"`text` must be a string (prompt markup) or a list of strings, got a list holding {kinds}")
        texts = [text] if isinstance(text, str) else list(text)
        if not texts:
            raise ValueError("`text` is an empty list")
        segments = [parse_prompt_markup(t) for t in texts]
        empty_rows = [row for row, row_segments in enumerate(segments) if not row_segments]
        if empty_rows:
            raise ValueError(f"`text` row(s) {empty_rows} hold no prompt (empty markup): every row needs at least "
                             "one position")
        counts = [sum(not isinstance(s, TextSegment) for s in row) for row in segments]
        audio_per_sample = self._split_audio(audio, counts)
        clips = self._prepare_audio(audio_per_sample, sampling_rate)

        pieces = [(id(s), s.text) for row in segments for s in row if not isinstance(s, AudioSegment)]
        plain = [(key, piece) for key, piece in pieces if ESCAPE_OPEN not in piece]
        encoded = self.tokenizer([p for _, p in plain], add_special_tokens=False)["input_ids"] if plain else []
        text_ids = {key: list(ids) for (key, _), ids in zip(plain, encoded)}
        # Pieces holding escaped message text (see `apply_chat_template`) keep that text plain text.
        escaped = [(key, piece) for key, piece in pieces if key not in text_ids]
        if escaped:
            added = {token.content: index for index, token in self.tokenizer.added_tokens_decoder.items()}
            for key, piece in escaped:
                text_ids[key] = tokenize_markup_text(self.tokenizer, piece, added)

        rows = [self._layout(row, text_ids, row_clips) for row, row_clips in zip(segments, clips)]
        return self._pad(rows, return_labels, padding_side)

    def _split_audio(self, audio, counts):
        total = sum(counts)
        if audio is None:
            audio = []
        elif not isinstance(audio, (list, tuple)):
            audio = [audio]
        is_clip_list = lambda a: isinstance(a, (list, tuple)) and not (a and isinstance(a[0], (int, float)))
        if len(audio) == len(counts) and all(is_clip_list(a) for a in audio):
            for i, (row, n) in enumerate(zip(audio, counts)):
                if len(row) != n:
                    raise ValueError(
                        f"row {i} of `text` has {n} audio placeholder(s) but {len(row)} audio clip(s) were given"
                    )
            return [list(row) for row in audio]
        if len(audio) != total:
            raise ValueError(f"`text` has {total} audio placeholder(s) but {len(audio)} audio clip(s) were given")
        out, start = [], 0
        for n in counts:
            out.append(list(audio[start : start + n]))
            start += n
        return out

    def _pad(self, rows, return_labels, padding_side):
        # Built in numpy and converted once: many small torch allocations are slow on some hosts.
        length = max(len(row) for row in rows)
        batch = len(rows)
        pad_id = self.tokenizer.pad_token_id
        if pad_id is None:
            pad_id = self.special_ids["endoftext"]
        input_ids = np.full((batch, length), pad_id, dtype=np.int64)
        audio_codes = np.empty((batch, length, self.patch_size, self.num_codebooks), dtype=np.int64)
        audio_codes[...] = np.asarray(self.speech_empty_ids, dtype=np.int64)
        attention_mask = np.zeros((batch, length), dtype=np.int64)
        labels = np.full((batch, length), -100, dtype=np.int64)
        for b, row in enumerate(rows):
            n = len(row)
            offset = length - n if padding_side == "left" else 0
            input_ids[b, offset : offset + n] = row.tokens
            attention_mask[b, offset : offset + n] = 1
            labels[b, offset : offset + n] = np.where(row.targets, row.tokens, -100) if n else []
            if row.patches:
                positions = np.asarray(row.patch_positions, dtype=np.int64)
                audio_codes[b, offset + positions] = torch.stack(row.patches).numpy()
        data = {
            "input_ids": torch.from_numpy(input_ids),
            "audio_codes": torch.from_numpy(audio_codes),
            "attention_mask": torch.from_numpy(attention_mask),
        }
        if return_labels:
            data["labels"] = torch.from_numpy(labels)
        return BatchFeature(data=data)

    # ------------------------------------------------------------------ chat template
    def apply_chat_template(
        self,
        conversation,
        chat_template: str | None = None,
        add_generation_prompt: bool = False,
        tokenize: bool = True,
        return_dict: bool = True,
        return_labels: bool = False,
        thinking: bool | list[bool] = False,
        speech_output: bool | list[bool] = False,
        sampling_rate: int | None = None,
        padding_side: str = "left",
        return_tensors: str | None = "pt",
        continue_final_message: bool = False,
        processor_kwargs: dict | None = None,
        parse_special_tokens: bool = False,
        **kwargs,
    ):
        """Renders one conversation (list of messages) or a batch of them and lays them out for the LM.

        Messages: `{"role": "system"|"user"|"assistant", "content": str | list of parts}`; parts are
        `{"type": "text", "text": ...}` and `{"type": "audio", "path"|"audio"|"audio_codes": ...}` (an `"audio"`
        array may come with `"sampling_rate"`). An assistant turn with an audio part is a spoken turn: its text parts
        are the audio's transcript and are laid out with it as a streaming segment. An assistant message may carry
        `"thinking"`: a string (laid out as `<think>\\n`, thinking, `</think>\\n`) or `""` (`<think>\\n\\n</think>\\n`).
        A user/system `content` given as a plain string is ONE segment with its `<|im_start|>`/`<|im_end|>` (as
        upstream's TTS prompt); a list gives one segment per part.

        Args:
            add_generation_prompt (`bool`): append the assistant generation prompt.
            thinking (`bool` or one per conversation): the generation prompt opens a thinking block (`<think>\\n`)
                instead of the empty one (`<think>\\n\\n</think>\\n`).
            speech_output (`bool` or one per conversation): the answer is speech: generation prompt
                `<|im_start|>assistant\\n<|sostm|>` (or `...<think>\\n` with `thinking`, instruct-TTS).
            tokenize (`bool`): `False` returns the rendered markup string(s) instead of tensors.
            return_labels (`bool`): add `labels` (targets = assistant turns after their generation prompt, through
                `<|im_end|>\\n`, as upstream's fine-tuning code).
            parse_special_tokens (`bool`, defaults to `False`): message text is always text: control characters
                and special-token strings in it (`<|empty|>`, `<|im_start|>`, ...) are tokenized as the plain text
                they spell, never as markup or special tokens (see `processing/text_escaping.py`). `True` lets
                special-token strings in message text become those tokens (control characters stay text).
            continue_final_message (`bool`): only `False`: continuing a prefilled assistant message is not supported
                (transformers' `any-to-any` pipeline sets it when the last message is the assistant's).
            processor_kwargs (`dict`, *optional*): `sampling_rate` and/or `padding_side`, as transformers' pipelines
                pass them (`padding=True` is accepted: batches are always padded to the longest).

        See `processing/prompts_mimo_audio.py` for the builders of every task's conversation.
        """
        if kwargs:
            raise TypeError(f"apply_chat_template got unexpected arguments {sorted(kwargs)}")
        if continue_final_message:
            raise ValueError(
                "`continue_final_message=True` (continuing a prefilled assistant message) is not supported: end the "
                "conversation with a user turn"
            )
        for name, value in (processor_kwargs or {}).items():
            if name == "sampling_rate":
                sampling_rate = value
            elif name == "padding_side":
                padding_side = value
            elif name == "padding" and value in (True, "longest"):
                continue
            else:
                raise TypeError(
                    f"`processor_kwargs` may hold `sampling_rate`, `padding_side` and `padding=True`, got "
                    f"{name}={value!r}"
                )
        if not return_dict and tokenize:
            raise ValueError("`return_dict=False` is not supported: the layout has several tensors")
        if isinstance(conversation, (list, tuple)) and conversation and isinstance(conversation[0], dict):
            conversations, single = [conversation], True
        elif (
            isinstance(conversation, (list, tuple))
            and conversation
            and all(isinstance(c, (list, tuple)) for c in conversation)
        ):
            conversations, single = list(conversation), False
        else:
            raise ValueError("`conversation` must be a list of messages (dicts) or a list of such lists")
        template = chat_template or self.chat_template
        if isinstance(template, dict):
            template = template.get("default")
        if not template:
            raise ValueError("no chat template: pass `chat_template=`")

        def per_conversation(value, name):
            if isinstance(value, (list, tuple)):
                if len(value) != len(conversations):
                    raise ValueError(f"`{name}` has {len(value)} entries for {len(conversations)} conversations")
                return list(value)
            return [value] * len(conversations)

        markup_strings = [SEGMENT_SEPARATOR, STREAM_TEXT_DELIMITER, TARGET_BEGIN, TARGET_END]
        if not parse_special_tokens:
            markup_strings += [token.content for token in self.tokenizer.added_tokens_decoder.values()]
        thinking_flags = per_conversation(thinking, "thinking")
        speech_flags = per_conversation(speech_output, "speech_output")
        markups, audios = [], []
        for conv, think, speech in zip(conversations, thinking_flags, speech_flags):
            audios.append(self._collect_audio_parts(conv))  # checks every message and part first
            markups.append(
                _render_chat_template(
                    template,
                    messages=escape_conversation(conv, markup_strings),
                    add_generation_prompt=add_generation_prompt,
                    thinking=bool(think),
                    speech_output=bool(speech),
                )
            )
        if not tokenize:
            return markups[0] if single else markups
        return self(
            text=markups,
            audio=audios,
            sampling_rate=sampling_rate,
            return_labels=return_labels,
            padding_side=padding_side,
            return_tensors=return_tensors,
        )

    @staticmethod
    def _collect_audio_parts(conversation) -> list:
        parts = []
        for i, message in enumerate(conversation):
            if not isinstance(message, dict) or "role" not in message or "content" not in message:
                raise ValueError(f"message {i} must be a dict with 'role' and 'content', got {message!r}")
            content = message["content"]
            if isinstance(content, str):
                continue
            if not isinstance(content, (list, tuple)):
                raise TypeError(f"message {i}: 'content' must be a string or a list of parts, got "
                                f"{type(content).__name__}")
            for j, part in enumerate(content):
                if not isinstance(part, dict) or part.get("type") not in ("text", "audio"):
                    raise ValueError(f"message {i}, part {j}: expected {{'type': 'text', 'text': ...}} or "
                                     f"{{'type': 'audio', ...}}, got {part!r}"[:300])
                if part["type"] == "text" and not isinstance(part.get("text"), str):
                    raise TypeError(f"message {i}, part {j}: a text part's 'text' must be a string, got "
                                    f"{type(part.get('text')).__name__}")
            audio_parts = [p for p in content if p["type"] == "audio"]
            if message["role"] == "assistant" and len(audio_parts) > 1:
                raise ValueError(f"message {i}: an assistant turn holds at most one audio part (its spoken answer)")
            parts += audio_parts
        return parts

    # ------------------------------------------------------------------ outputs
    @staticmethod
    def _sequences_and_codes(generated):
        if isinstance(generated, (torch.Tensor, np.ndarray, list)):  # ids alone, as tokenizers' decode takes them
            return generated, None
        if isinstance(generated, tuple) and generated and isinstance(generated[0], torch.Tensor):
            # `ModelOutput.to_tuple()`, as transformers' pipelines hand back one row of a batch.
            return generated[0], generated[1] if len(generated) > 1 else None
        if isinstance(generated, dict) or hasattr(generated, "sequences"):
            get = generated.get if isinstance(generated, dict) else lambda k: getattr(generated, k, None)
            return get("sequences"), get("audio_codes")
        raise TypeError(f"expected generate's output or a tensor of ids, got {type(generated).__name__}")

    def _checked_sequences(self, sequences, prompt_length: int = 0) -> torch.Tensor:
        """`sequences` as a `[B, L]` tensor of non-negative integer ids, and `0 <= prompt_length <= L` (a negative
        `prompt_length` would slice from the end). Ids past the tokenizer's vocabulary stay allowed: the model's
        embedding is padded beyond it (its unused rows decode to no text, as in transformers)."""
        if sequences is None:
            raise ValueError("`generated` has no `sequences`")
        sequences = torch.as_tensor(sequences)
        if sequences.ndim == 1:
            sequences = sequences[None]
        if sequences.ndim != 2:
            raise ValueError(f"`generated` must be [batch, length] ids, got shape {tuple(sequences.shape)}")
        check_token_ids(sequences, "generated")
        try:  # numpy / 0-d torch integers too, as pipelines may hand them back
            length = None if isinstance(prompt_length, bool) else operator.index(prompt_length)
        except TypeError:
            length = None
        if length is None or not 0 <= length <= sequences.shape[1]:
            raise ValueError(
                f"`prompt_length` must be an int from 0 to the sequence length ({sequences.shape[1]}), got {prompt_length!r}"
            )
        return sequences

    def batch_decode(self, generated, prompt_length: int = 0, skip_special_tokens: bool = True, **kwargs) -> list[str]:
        """Text of each row of `generated` (generate's output or a `[B, L]` tensor), from `prompt_length` on.

        Special tokens (`<|empty|>`, `<|eot|>`, `<|eostm|>`, `<|im_end|>`, padding, ...) are removed and the text is
        stripped, like upstream's output. `<think>...</think>` is plain text and is kept.
        """
        sequences = self._checked_sequences(self._sequences_and_codes(generated)[0], prompt_length)
        texts = self.tokenizer.batch_decode(
            sequences[:, prompt_length:].tolist(), skip_special_tokens=skip_special_tokens, **kwargs
        )
        return [t.strip() for t in texts]

    def decode(self, generated, prompt_length: int = 0, **kwargs) -> str:
        """Text of a single row (see `batch_decode`)."""
        sequences, _ = self._sequences_and_codes(generated)
        sequences = torch.as_tensor(sequences)
        if sequences.ndim == 2:
            if sequences.shape[0] != 1:
                raise ValueError("`decode` takes one row; use `batch_decode` for a batch")
            sequences = sequences[0]
        return self.batch_decode(sequences[None], prompt_length=prompt_length, **kwargs)[0]

    def post_process_multimodal_output(self, generated_outputs, skip_special_tokens: bool = True,
                                       generation_mode: str | None = None, **kwargs):
        """
        What transformers' `any-to-any` pipeline returns for `generate`'s output (or a `[B, L]` tensor of ids).

        Args:
            generated_outputs: [`MiMoAudioGenerateOutput`] (or `sequences` alone for text).
            generation_mode (`str`, *optional*): `"text"` (default) -> `list[str]`, the text of each row (see
                `batch_decode`, but not stripped); `"audio"` -> `list[np.ndarray]`, each row's generated speech as a
                1-D float32 waveform at `sampling_rate` (see `decode_audio`). A row that generated no speech raises:
                the prompt has to ask for a spoken reply (`speech_output=True`).
        """
        if generation_mode in (None, "text"):
            # Not stripped (unlike `batch_decode`): the pipeline cuts the decoded prompt off the decoded output.
            sequences = self._checked_sequences(self._sequences_and_codes(generated_outputs)[0])
            return self.tokenizer.batch_decode(sequences.tolist(), skip_special_tokens=skip_special_tokens, **kwargs)
        if generation_mode != "audio":
            raise ValueError(f"`generation_mode` must be 'text' or 'audio', got {generation_mode!r}")
        clips = self.extract_audio_codes(generated_outputs)
        silent = [row for row, clip in enumerate(clips) if clip.shape[0] == 0]
        if silent:
            raise ValueError(
                f"generation_mode='audio', but rows {silent} generated no speech: render the conversation with a "
                f"spoken-reply prompt (`speech_output=True`; in the any-to-any pipeline, "
                f"`pipe(messages, generation_mode='audio', speech_output=True)`)"
            )
        return [wave.numpy().astype(np.float32) for wave in self.codes_to_waveforms(clips)]

    def extract_audio_codes(self, generated, prompt_length: int = 0) -> list[torch.Tensor]:
        """Generated speech codes of each row: `[frames, C]` long tensors (possibly 0 frames).

        The span is the patches between the first `<|sostm|>` and the next `<|eostm|>` of the generated part (or
        all generated patches when there is no `<|sostm|>`, e.g. when the prompt ends with it), keeping positions whose
        text token is `<|empty|>`, like upstream.
        """
        sequences, audio_codes = self._sequences_and_codes(generated)
        if audio_codes is None:
            raise ValueError("`generated` has no `audio_codes`; pass generate's output")
        sequences = self._checked_sequences(sequences, prompt_length)
        ids = self.special_ids
        out = []
        for b in range(sequences.shape[0]):
            seq, codes = sequences[b, prompt_length:].cpu(), audio_codes[b, prompt_length:].cpu()
            starts = (seq == ids["sostm"]).nonzero()
            start = int(starts[0]) + 1 if len(starts) else 0
            ends = (seq[start:] == ids["eostm"]).nonzero()
            end = start + int(ends[0]) if len(ends) else seq.shape[0]
            keep = seq[start:end] == ids["empty"]
            patches = codes[start:end][keep]
            out.append(patches.reshape(-1, patches.shape[-1]).long())
        return out

    @torch.no_grad()
    def decode_audio(self, generated, prompt_length: int = 0, chunk_frames: int | None = 1500) -> list[torch.Tensor]:
        """One 1-D float waveform (at `sampling_rate`) per row of generate's output, decoded by the codec in one
        batched call. Rows without generated speech give an empty tensor (and a warning). See `codes_to_waveforms`
        for `chunk_frames`."""
        if self.audio_tokenizer is None:
            raise ValueError("`decode_audio` needs the codec: build the processor with `audio_tokenizer=`")
        clips = self.extract_audio_codes(generated, prompt_length)
        return self.codes_to_waveforms(clips, chunk_frames=chunk_frames)

    @torch.no_grad()
    def codes_to_waveforms(self, clips: list[torch.Tensor], chunk_frames: int | None = 1500,
                           max_chunks_per_call: int = 8) -> list[torch.Tensor]:
        """Decodes `[frames, C]` code tensors with the codec -> list of 1-D float CPU tensors (960 samples a frame).

        Like upstream, clips are decoded in independent chunks of `chunk_frames` frames (1500 = 60 s) whose audio is
        concatenated without crossfade; `None` decodes each clip whole. The chunks of all clips go through the codec
        in batched calls of at most `max_chunks_per_call` chunks (8 = 8 min of audio), so memory does not grow with
        the total length.
        """
        if self.audio_tokenizer is None:
            raise ValueError("decoding audio needs the codec: build the processor with `audio_tokenizer=`")
        if chunk_frames is not None and (not isinstance(chunk_frames, int) or chunk_frames < 1):
            raise ValueError(f"`chunk_frames` must be a positive int or None, got {chunk_frames!r}")
        if isinstance(max_chunks_per_call, bool) or not isinstance(max_chunks_per_call, int) or max_chunks_per_call < 1:
            raise ValueError(f"`max_chunks_per_call` must be a positive int, got {max_chunks_per_call!r}")
        if not isinstance(clips, (list, tuple)):
            raise TypeError(f"`clips` must be a list of code tensors [frames, {self.num_codebooks}], got "
                            f"{type(clips).__name__}")
        for i, codes in enumerate(clips):
            if not isinstance(codes, torch.Tensor) or codes.dtype.is_floating_point or codes.dtype == torch.bool:
                raise TypeError(f"`clips[{i}]` must be an integer tensor [frames, {self.num_codebooks}], got "
                                f"{getattr(codes, 'dtype', type(codes).__name__)}")
            if codes.dim() != 2 or codes.shape[1] != self.num_codebooks:
                raise ValueError(f"`clips[{i}]` must be [frames, {self.num_codebooks}] (time first, as "
                                 f"`extract_audio_codes` returns), got shape {tuple(codes.shape)}")
        empty_rows = [i for i, c in enumerate(clips) if c.shape[0] == 0]
        if empty_rows:
            logger.warning(f"rows {empty_rows} have no generated speech: their waveform is empty")
        pieces = []  # (row, codes [frames, C])
        for i, codes in enumerate(clips):
            step = chunk_frames or max(codes.shape[0], 1)
            pieces += [(i, codes[s : s + step]) for s in range(0, codes.shape[0], step)]
        waves = [[] for _ in clips]
        param = next(self.audio_tokenizer.parameters()) if pieces else None
        for first in range(0, len(pieces), max_chunks_per_call):
            group = pieces[first : first + max_chunks_per_call]
            longest = max(p.shape[0] for _, p in group)
            batch = torch.zeros((len(group), group[0][1].shape[1], longest), dtype=torch.long)
            mask = torch.zeros((len(group), longest), dtype=torch.long)
            for k, (_, codes) in enumerate(group):
                batch[k, :, : codes.shape[0]] = codes.T
                mask[k, : codes.shape[0]] = 1
            decoded = self.audio_tokenizer.decode(batch.to(param.device), audio_codes_mask=mask.to(param.device))
            values, values_mask = decoded.audio_values.float().cpu(), decoded.audio_values_mask.cpu()
            for k, (i, _) in enumerate(group):
                waves[i].append(values[k, 0, : int(values_mask[k].sum())])
        return [torch.cat(w) if w else torch.zeros(0) for w in waves]

    def save_audio(self, audio, saving_path, sampling_rate: int | None = None):
        """Writes waveform(s) (1-D tensors/arrays, or a list) to wav path(s) at `sampling_rate` (default 24 kHz)."""
        import soundfile as sf

        audios = audio if isinstance(audio, (list, tuple)) else [audio]
        paths = saving_path if isinstance(saving_path, (list, tuple)) else [saving_path]
        if len(audios) != len(paths):
            raise ValueError(f"got {len(audios)} waveform(s) but {len(paths)} path(s)")
        rate = check_sampling_rate(self.sampling_rate if sampling_rate is None else sampling_rate)
        for i, (wave, path) in enumerate(zip(audios, paths)):
            if isinstance(wave, torch.Tensor):
                wave = wave.detach().float().cpu().numpy()
            wave = np.asarray(wave, dtype=np.float32)
            if wave.ndim == 2 and 1 in wave.shape:
                wave = wave.reshape(-1)  # [1, samples] or [samples, 1]: one channel
            if wave.ndim != 1:
                raise ValueError(f"`audio[{i}]` must be a mono waveform [samples], got shape {wave.shape}")
            sf.write(str(path), wave, rate)
