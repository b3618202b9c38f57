"""`MiMoAudioStreamer`: text and speech out of `generate` while it runs.

```python
from threading import Thread

streamer = MiMoAudioStreamer(processor)
thread = Thread(target=model.generate, kwargs={**inputs, "streamer": streamer, "max_new_tokens": 400})
thread.start()
for chunk in streamer:            # MiMoAudioStreamChunk(text="...", audio=float32 [samples] at 24 kHz)
    play(chunk.audio)
thread.join()
```

transformers' audio generators hand their streamers codes; this one decodes them: the speech span's patches
(between `<|sostm|>` and `<|eostm|>`, or `<|sosp|>` and `<|eosp|>`, including a span the prompt opened, as TTS and
speech-continuation prompts do) go, `chunk_frames` codec frames at a time, through the codec's streaming decoder
(`MiMoAudioTokenizerModel.streaming_decoder`, upstream's `streaming_decode` semantics), and whatever audio it can
emit is put out at once. Concatenated, the chunks' audio is exactly what that decoder gives when fed the final codes
in the same chunks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from queue import Queue

import numpy as np
import torch
from transformers.generation.streamers import BaseStreamer

from modeling_mimo_audio.config_checks import check_token_ids


__all__ = ["MiMoAudioStreamChunk", "MiMoAudioStreamer"]


@dataclass
class MiMoAudioStreamChunk:
    """One piece of a stream: `text` (new text, special tokens removed; may be "") and `audio` (new speech, float32
    mono at the codec's rate; may be empty)."""

    text: str = ""
    audio: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))


class MiMoAudioStreamer(BaseStreamer):
    """
    Streams one generation (batch size 1): pass it as `generate(..., streamer=streamer)` (generate calls `put` with
    each new text id, `put_audio_codes` with each new patch, then `end`) and iterate it, from another thread, for
    [`MiMoAudioStreamChunk`]s; iteration ends when generation does.

    Args:
        processor ([`MiMoAudioProcessor`]): its tokenizer decodes the text, its codec (`audio_tokenizer`) the speech.
        chunk_frames (`int`, defaults to 8): codec frames (2 patches, 0.32 s) collected before each decoder push. A
            push emits audio once the decoder holds more than `lookahead_frames` frames, so the first audio comes
            after `lookahead_frames + chunk_frames` frames of speech at most; later chunks every `chunk_frames`.
        left_context_frames (`int`, defaults to 250), lookahead_frames (`int`, defaults to 40): the streaming
            decoder's past context and held-back frames (upstream's values; 40 frames = 1.6 s is the vocoder's right
            receptive field, so emitted audio never changes).
        timeout (`float`, *optional*): seconds to wait for the next chunk before the iterator raises `queue.Empty`.
    """

    def __init__(self, processor, chunk_frames: int = 8, left_context_frames: int = 250, lookahead_frames: int = 40,
                 timeout: float | None = None):
        if getattr(processor, "audio_tokenizer", None) is None:
            raise ValueError("`processor` has no codec (`audio_tokenizer`): the streamer decodes speech with it")
        if isinstance(chunk_frames, bool) or not isinstance(chunk_frames, int) or chunk_frames < 1:
            raise ValueError(f"`chunk_frames` must be a positive int, got {chunk_frames!r}")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                    or not math.isfinite(timeout) or timeout <= 0):
            raise ValueError(f"`timeout` must be None (wait forever) or a positive number of seconds, got {timeout!r}")
        self.tokenizer = processor.tokenizer
        self.special = processor.special_ids
        self.num_codebooks = len(processor.speech_empty_ids)
        self.decoder = processor.audio_tokenizer.streaming_decoder(left_context_frames, lookahead_frames)
        self.chunk_frames = chunk_frames
        self.timeout = timeout
        self.queue: Queue = Queue()
        self._stop = object()
        self.pushed_chunks: list[torch.Tensor] = []
        self._reset()

    def _reset(self):
        self.decoder.reset()
        self._prompt_seen = False
        self._in_speech = False
        self._last_id = None
        self._text_ids: list[int] = []
        self._text_sent = ""
        self._frames: list[torch.Tensor] = []  # [num_codebooks, frames] pieces not pushed yet

    # -- the generate side -------------------------------------------------------------------------------------

    def put(self, value):
        value = torch.as_tensor(value)
        check_token_ids(value, "value")
        if value.ndim == 2:
            if value.shape[0] != 1:
                raise ValueError(f"MiMoAudioStreamer streams one generation (batch size 1), got {value.shape[0]} rows")
            ids = value[0].tolist()
        elif value.ndim == 1 and value.numel() == 1:
            ids = value.tolist()
        else:
            raise ValueError(f"MiMoAudioStreamer streams one generation (batch size 1), got shape {tuple(value.shape)}")
        if not self._prompt_seen:
            # The prompt: only whether it leaves a speech span open (TTS ends with <|sostm|>, continuation inside a
            # <|sosp|> segment) matters.
            self._prompt_seen = True
            self.pushed_chunks = []  # every chunk this generation pushed to the decoder, in order (kept after end)
            for token in ids:
                self._track(token)
            return
        token = ids[0]
        self._last_id = token
        was_speech = self._in_speech
        self._track(token)
        audio = self._flush(last=True) if was_speech and not self._in_speech else None
        if token not in self.special.values():
            self._text_ids.append(token)
        self._emit(audio)

    def put_audio_codes(self, patches):
        patches = torch.as_tensor(patches)
        if patches.ndim != 3 or patches.shape[0] != 1:
            raise ValueError(f"MiMoAudioStreamer streams one generation (batch size 1): patches must be [1, "
                             f"patch_size, num_codebooks], got shape {tuple(patches.shape)}")
        if not (self._in_speech and self._last_id == self.special["empty"]):
            return
        self._frames.append(patches[0].T.long())  # [num_codebooks, patch_size]
        if sum(f.shape[1] for f in self._frames) >= self.chunk_frames:
            self._emit(self._flush(last=False))

    def end(self):
        audio = self._flush(last=True) if self._in_speech or self._frames else None
        self._emit(audio, final=True)
        self.queue.put(self._stop)
        self._reset()

    def _track(self, token: int):
        if token in (self.special["sostm"], self.special["sosp"]):
            self._in_speech = True
        elif token in (self.special["eostm"], self.special["eosp"]):
            self._in_speech = False

    def _flush(self, last: bool) -> torch.Tensor | None:
        if not self._frames and not last:
            return None
        chunk = torch.cat(self._frames, dim=1) if self._frames else torch.zeros(self.num_codebooks, 0, dtype=torch.long)
        self._frames = []
        if chunk.shape[1] == 0 and self.decoder.context is None:
            return None
        self.pushed_chunks.append(chunk)
        return self.decoder.push(chunk, last=last).float().cpu()

    def _emit(self, audio, final: bool = False):
        text = self.tokenizer.decode(self._text_ids, skip_special_tokens=True)
        # Hold back a trailing partial character (a multi-byte UTF-8 character split across tokens) until complete.
        ready = text if final else text.rstrip("\ufffd")
        new_text = ready[len(self._text_sent):] if ready.startswith(self._text_sent) else ""
        self._text_sent = ready if new_text else self._text_sent
        audio = np.zeros(0, dtype=np.float32) if audio is None else audio.numpy().astype(np.float32)
        if new_text or audio.size:
            self.queue.put(MiMoAudioStreamChunk(text=new_text, audio=audio))

    # -- the consumer side -------------------------------------------------------------------------------------

    def __iter__(self):
        return self

    def __next__(self) -> MiMoAudioStreamChunk:
        item = self.queue.get(timeout=self.timeout)
        if item is self._stop:
            raise StopIteration
        return item
