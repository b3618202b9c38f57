"""Chunk-by-chunk decoding of MiMo-Audio codes (upstream `MiMoAudioTokenizer.streaming_decode`)."""

import torch

from .layers_mimo_audio_tokenizer import as_tensor


class MiMoAudioTokenizerStreamingDecoder:
    """
    Decodes one stream of codes chunk by chunk. Create it with
    `MiMoAudioTokenizerModel.streaming_decoder(left_context_frames, lookahead_frames)`.

    Each `push` appends the chunk's quantized states to the kept context, decodes the whole context and returns the
    waveform from the last emitted sample up to `lookahead_frames` frames before the end (the vocoder's right
    receptive field, so emitted audio no longer changes). After a call that emits audio, the context is cut to its
    last `left_context_frames` frames. `push(chunk, last=True)` returns everything still owed. These are upstream's
    semantics exactly, including its corner case: while the context is no longer than `lookahead_frames`, nothing
    is emitted and the emitted position is reset to the context's start.
    """

    def __init__(self, model, left_context_frames: int = 250, lookahead_frames: int = 40):
        for name, value in (("left_context_frames", left_context_frames), ("lookahead_frames", lookahead_frames)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"`{name}` must be a non-negative int, got {value!r}")
        if left_context_frames < lookahead_frames:
            raise ValueError(
                f"`left_context_frames` ({left_context_frames}) must be at least `lookahead_frames` "
                f"({lookahead_frames}): the frames held back for look-ahead must stay in the context"
            )
        self.model = model
        self.left_context_frames = left_context_frames
        self.lookahead_frames = lookahead_frames
        self.reset()

    def reset(self):
        """Forgets the stream: the next `push` starts a new one."""
        self.context = None  # float32 quantized states [frames, d_model]
        self.emitted_frames = 0  # frames of `context` whose audio was already returned
        self.finished = False

    @torch.no_grad()
    def push(self, audio_codes_chunk: torch.Tensor, last: bool = False) -> torch.Tensor:
        """
        Args:
            audio_codes_chunk (`torch.LongTensor` of shape `[num_quantizers, frames]` or `[1, num_quantizers,
                frames]`): the next frames of codes (leading quantizers; may have 0 frames).
            last (`bool`): whether this is the final chunk; the call then flushes all remaining audio and the
                decoder resets for a new stream.

        Returns:
            `torch.FloatTensor` of shape `[samples]` (possibly empty), on the model's device.
        """
        model = self.model
        audio_codes_chunk = as_tensor(audio_codes_chunk, "audio_codes_chunk")
        if audio_codes_chunk.ndim == 3:
            if audio_codes_chunk.shape[0] != 1:
                raise ValueError(
                    "`audio_codes_chunk` holds one stream: expected [num_quantizers, frames] or [1, num_quantizers, "
                    f"frames], got shape {tuple(audio_codes_chunk.shape)}"
                )
            audio_codes_chunk = audio_codes_chunk[0]
        if audio_codes_chunk.ndim != 2:
            raise ValueError(
                f"`audio_codes_chunk` must be [num_quantizers, frames], got shape {tuple(audio_codes_chunk.shape)}"
            )
        device = model.encoder.conv1.weight.device
        empty = torch.zeros(0, device=device)
        if audio_codes_chunk.shape[-1] > 0:
            codes, _ = model._check_codes(audio_codes_chunk, None)
            states = model.quantized_states(codes.to(device))[0]
            self.context = states if self.context is None else torch.cat([self.context, states], dim=0)
        if self.context is None:
            if last:
                self.reset()
            return empty

        context_frames = self.context.shape[0]
        samples_per_frame = model.config.samples_per_frame
        lengths = torch.tensor([context_frames], device=device)
        if not last and context_frames <= self.lookahead_frames:
            self.emitted_frames = 0
            return empty
        waveform = model.decode_states(self.context[None], lengths)[0].float()
        start = self.emitted_frames * samples_per_frame
        if last:
            self.reset()
            return waveform[start:]
        end_frame = context_frames - self.lookahead_frames
        piece = waveform[start : end_frame * samples_per_frame]
        self.emitted_frames = end_frame
        if context_frames > self.left_context_frames:
            self.context = self.context[context_frames - self.left_context_frames :]
            self.emitted_frames -= context_frames - self.left_context_frames
        return piece
