"""The fixed layout of a generated speech turn (a streaming segment), as a constraint on the text head.

A streaming segment is `<|sostm|>`, then text chunks of `text_chunk` tokens (the last one ending with `<|eot|>`)
alternating with audio chunks of `audio_chunk` patches (positions whose text token is `<|empty|>`), then the leftover
audio, then `<|eostm|>` (spec A.3). Only two choices in it are the model's: which text tokens (and where `<|eot|>`
ends the transcript), and when the speech ends. Everything else is fixed by the format: a text chunk is full before
audio starts, an audio chunk is full before the next text chunk, and after `<|eot|>` only audio follows.

A large model learns the layout; a small or briefly trained one breaks it (a speech turn ended after three patches,
or text tokens spoken again after `<|eot|>`), and the rest of the turn goes wrong from there. Upstream's generation
does not enforce it; `streaming_layout=True` in `generate` (set by the speech-output presets) does, with
`StreamingLayoutLogitsProcessor`. It leaves outputs that already follow the layout unchanged.

A text-to-speech request knows its transcript: `transcripts` (`generate(streaming_transcripts=...)`, which the
`"mimo-audio"` pipeline passes for its TTS tasks) forces each row's text chunks to spell it out, then `<|eot|>`, so
the speech follows the text asked for rather than the model's copy of it (a small model miscopies words; the speech
then says the miscopied text). The model still chooses the audio and when it ends.

One case of the format is not allowed: a transcript longer than its audio, whose leftover text chunks follow each
other without audio between them. Speech is always longer than its text here (5 tokens are 1-2 s of speech, an audio
chunk 0.8 s), so the constraint always expects the next audio chunk.
"""

import torch
from transformers import LogitsProcessor


__all__ = ["TEXT_CHUNK_TOKENS", "AUDIO_CHUNK_PATCHES", "TEXT", "AUDIO", "AUDIO_OR_END", "FREE", "streaming_layout_state",
           "forced_transcript_token", "StreamingLayoutLogitsProcessor"]

# A streaming segment's chunk sizes (spec A.3); the prompt builders lay segments out with the same values.
TEXT_CHUNK_TOKENS = 5
AUDIO_CHUNK_PATCHES = 5

TEXT = "text"  # the next token must be a text token (`<|eot|>` included), not `<|empty|>` or `<|eostm|>`
AUDIO = "audio"  # the next token must be `<|empty|>` (a patch)
AUDIO_OR_END = "audio_or_end"  # `<|empty|>` or `<|eostm|>`
FREE = "free"  # outside a streaming segment: no constraint


def streaming_layout_state(tokens, empty_id: int, sostm_id: int, eostm_id: int, eot_id: int,
                           text_chunk: int = TEXT_CHUNK_TOKENS, audio_chunk: int = AUDIO_CHUNK_PATCHES) -> str:
    """
    What the layout allows next after `tokens` (a row's text tokens so far, prompt included): `TEXT`, `AUDIO`,
    `AUDIO_OR_END`, or `FREE` when the row is not inside a streaming segment (no `<|sostm|>`, or an `<|eostm|>` after
    the last one).

    >>> streaming_layout_state([9, 1, 2], empty_id=0, sostm_id=9, eostm_id=8, eot_id=7)  # 2 of 5 text tokens
    'text'
    >>> streaming_layout_state([9, 1, 2, 3, 4, 5, 0, 0], empty_id=0, sostm_id=9, eostm_id=8, eot_id=7)
    'audio'
    >>> streaming_layout_state([9, 1, 7, 0], empty_id=0, sostm_id=9, eostm_id=8, eot_id=7)
    'audio_or_end'
    """
    tokens = list(tokens)
    starts = [i for i, token in enumerate(tokens) if token == sostm_id]
    if not starts or eostm_id in tokens[starts[-1]:]:
        return FREE
    text_count = patch_count = 0
    transcript_done = False
    for token in tokens[starts[-1] + 1 :]:
        if token == empty_id:
            patch_count += 1
            text_count = 0
        else:  # a text token after audio starts the next text chunk
            patch_count = 0
            text_count += 1
            transcript_done = transcript_done or token == eot_id
    if transcript_done:
        # Right after `<|eot|>` the last audio chunk has not started yet; after that, the turn ends when the model says.
        return AUDIO_OR_END if patch_count else AUDIO
    if patch_count:
        return AUDIO if patch_count < audio_chunk else TEXT
    if text_count == 0:  # right after `<|sostm|>`
        return TEXT
    return TEXT if text_count < text_chunk else AUDIO


def forced_transcript_token(tokens, transcript, empty_id: int, sostm_id: int, eot_id: int) -> int:
    """
    The text token a row must take next when its current streaming segment spells out `transcript` (text ids, no
    `<|eot|>`): the transcript's next token, then `<|eot|>`. Call it where `streaming_layout_state` is `TEXT`.

    >>> forced_transcript_token([9, 4, 5, 0, 0], [4, 5, 6], empty_id=0, sostm_id=9, eot_id=7)  # two spelt out
    6
    >>> forced_transcript_token([9, 4, 5, 6], [4, 5, 6], empty_id=0, sostm_id=9, eot_id=7)
    7
    """
    tokens = list(tokens)
    start = max(i for i, token in enumerate(tokens) if token == sostm_id)
    spelt = sum(token != empty_id for token in tokens[start + 1 :])
    return int(transcript[spelt]) if spelt < len(transcript) else eot_id


class StreamingLayoutLogitsProcessor(LogitsProcessor):
    """
    Masks the text-head scores that would break a streaming segment's layout (see the module docstring): per row,
    from `streaming_layout_state`, `TEXT` forbids `<|empty|>` and `<|eostm|>`, `AUDIO` allows only `<|empty|>`,
    `AUDIO_OR_END` only `<|empty|>` and `<|eostm|>`; rows outside a streaming segment are left alone, and so is a row
    whose earlier processors left no allowed token a finite score (they win the conflict).

    Args:
        empty_token_id, sostm_token_id, eostm_token_id, eot_token_id (`int`): the special text ids.
        text_chunk (`int`, defaults to 5), audio_chunk (`int`, defaults to 5): tokens per text chunk and patches per
            audio chunk (MiMo-Audio's values).
        transcripts (`list`, *optional*): one entry per batch row, `None` or the text ids (without `<|eot|>`) that
            the row's streaming segment must spell out (`forced_transcript_token`); where given, a `TEXT` position
            allows only that token.

    Call: `input_ids` `[batch, positions]` (the text ids so far), `scores` `[batch, vocab]` -> the masked scores (a
    new tensor; masked entries are `-inf`).
    """

    def __init__(self, empty_token_id: int, sostm_token_id: int, eostm_token_id: int, eot_token_id: int,
                 text_chunk: int = TEXT_CHUNK_TOKENS, audio_chunk: int = AUDIO_CHUNK_PATCHES, transcripts=None):
        for name, value in (("empty_token_id", empty_token_id), ("sostm_token_id", sostm_token_id),
                            ("eostm_token_id", eostm_token_id), ("eot_token_id", eot_token_id),
                            ("text_chunk", text_chunk), ("audio_chunk", audio_chunk)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if "chunk" in name else 0):
                raise ValueError(f"`{name}` must be a {'positive' if 'chunk' in name else 'non-negative'} int, "
                                 f"got {value!r}")
        self.ids = dict(empty_id=empty_token_id, sostm_id=sostm_token_id, eostm_id=eostm_token_id,
                        eot_id=eot_token_id)
        self.text_chunk = text_chunk
        self.audio_chunk = audio_chunk
        self.transcripts = None if transcripts is None else [
            self._check_transcript(row, transcript) for row, transcript in enumerate(transcripts)]

    def _check_transcript(self, row, transcript):
        if transcript is None:
            return None
        if isinstance(transcript, (str, bytes)) or not hasattr(transcript, "__iter__"):
            raise TypeError(f"`transcripts[{row}]` must be a list of text ids or None, "
                            f"got {type(transcript).__name__}")
        ids = list(transcript)
        special = set(self.ids.values())
        for token in ids:
            if isinstance(token, bool) or not isinstance(token, int) or token < 0 or token in special:
                raise ValueError(f"`transcripts[{row}]` must hold non-negative text ids other than the streaming "
                                 f"segment's special ids {sorted(special)}, got {token!r}")
        return ids

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        empty, eostm = self.ids["empty_id"], self.ids["eostm_id"]
        if self.transcripts is not None and len(self.transcripts) != input_ids.shape[0]:
            raise ValueError(f"`transcripts` has {len(self.transcripts)} entries for a batch of "
                             f"{input_ids.shape[0]} rows")
        allowed = torch.ones_like(scores, dtype=torch.bool)
        for row, tokens in enumerate(input_ids.tolist()):
            state = streaming_layout_state(tokens, **self.ids, text_chunk=self.text_chunk,
                                           audio_chunk=self.audio_chunk)
            transcript = None if self.transcripts is None else self.transcripts[row]
            if state == TEXT and transcript is not None:
                forced = forced_transcript_token(tokens, transcript, self.ids["empty_id"], self.ids["sostm_id"],
                                                 self.ids["eot_id"])
                if not 0 <= forced < scores.shape[-1]:
                    raise ValueError(f"`transcripts[{row}]` holds id {forced}, outside the vocabulary "
                                     f"({scores.shape[-1]} ids)")
                allowed[row] = False
                allowed[row, forced] = True
            elif state == TEXT:
                allowed[row, [empty, eostm]] = False
            elif state in (AUDIO, AUDIO_OR_END):
                allowed[row] = False
                allowed[row, empty] = True
                if state == AUDIO_OR_END:
                    allowed[row, eostm] = True
        masked = scores.masked_fill(~allowed, -float("inf"))
        # Where earlier processors left nothing the layout allows (e.g. a bias forcing one token), they win: the row
        # keeps its scores rather than sampling from nothing.
        impossible = ~torch.isfinite(masked).any(dim=-1, keepdim=True)
        return torch.where(impossible, scores, masked)
