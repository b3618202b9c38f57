"""MiMo-Audio as transformers' own task pipelines load it: one checkpoint, one class per task (as SeamlessM4T has).

transformers' `text-to-speech` / `text-to-audio` and `automatic-speech-recognition` pipelines call a model with
what a plain tokenizer or feature extractor made of the input (text tokens; log-mel features) and read a waveform
(`generate(...)["audio"]`) or CTC-style `logits` back. MiMo-Audio needs a task prompt around the input, the codec on
both sides and its own generation loop, so these subclasses of [`MiMoAudioForConditionalGeneration`] (same weights,
same folder) hold the processor of their folder and run the task through the `"mimo-audio"` pipeline's task
builders:

```python
from transformers import pipeline
import modeling_mimo_audio  # registers the classes

tts = pipeline("text-to-speech", model=folder)                # loads MiMoAudioForTextToSpeech
tts("Hello there.")                                            # {"audio": float32 [samples], "sampling_rate": 24000}
tts("Hello there.", forward_params={"instruction": "a female voice speaking quickly"})
asr = pipeline("automatic-speech-recognition", model=folder)   # loads MiMoAudioForSpeechRecognition
asr({"raw": waveform, "sampling_rate": 24000})                 # {"text": ...}
```

In memory: `AutoModelForTextToWaveform.from_pretrained(folder)` (the processor is loaded from the same folder when
the task first runs), or `attach_processor(processor)`; transformers' pipelines also want the tokenizer (and, for
ASR, the feature extractor) passed with an in-memory model: `pipeline("text-to-speech", model=tts,
processor=processor, tokenizer=processor.tokenizer)`. The `any-to-any` pipeline needs no subclass: it renders chat
messages with the processor and decodes with `MiMoAudioProcessor.post_process_multimodal_output`.

It lives in `processing` (above the processor it runs) so that the model files import nothing from `processing`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.modeling_outputs import ModelOutput

from modeling_mimo_audio.modeling_mimo_audio import MiMoAudioForConditionalGeneration

from .processing_mimo_audio import MiMoAudioProcessor


__all__ = ["MiMoAudioForTextToSpeech", "MiMoAudioForSpeechRecognition", "MiMoAudioSpeechOutput",
           "MiMoAudioTranscriptionOutput", "transcript_logits"]

# Longest stretch of audio transcribed in one prompt; longer input is cut into pieces of this many codec frames
# (25 per second) whose transcripts are joined with a space.
ASR_CHUNK_FRAMES = 750


@dataclass
class MiMoAudioSpeechOutput(ModelOutput):
    """
    Output of [`MiMoAudioForTextToSpeech.generate`] for text input.

    Args:
        audio (`list[torch.FloatTensor]`): one 1-D waveform at 24 kHz per row (empty when the model made no speech).
        audio_codes (`list[torch.LongTensor]`): the generated speech codes of each row, `[frames, num_codebooks]`.
        text (`list[str]`): the text channel of each row's answer (special tokens removed).
    """

    audio: list[torch.FloatTensor] | None = None
    audio_codes: list[torch.LongTensor] | None = None
    text: list[str] | None = None


@dataclass
class MiMoAudioTranscriptionOutput(ModelOutput):
    """
    Output of [`MiMoAudioForSpeechRecognition.forward`].

    Args:
        logits (`torch.FloatTensor` of shape `(batch, tokens, blank_id + 1)`): one-hot rows of each transcript's
            text ids, then the blank id (`blank_id`, one past the text vocabulary and the tokenizer) to the common
            length: their argmax is the transcript, which is how transformers' ASR pipeline reads models it treats
            as CTC models. Not a distribution: the transcript comes from greedy generation with the ASR prompt.
        text (`list[str]`): the transcripts.
    """

    logits: torch.FloatTensor | None = None
    text: list[str] | None = None


def transcript_logits(token_ids: list[list[int]], blank_id: int) -> torch.FloatTensor:
    """`[batch, max_len, blank_id + 1]` one-hot rows of `token_ids`, right-filled with `blank_id` (see
    `MiMoAudioTranscriptionOutput.logits`). At least one position, so an empty transcript is all blank."""
    if any(not 0 <= i < blank_id for ids in token_ids for i in ids):
        raise ValueError(f"token ids must lie in [0, {blank_id}) (the blank id is {blank_id})")
    length = max([len(ids) for ids in token_ids] + [1])
    chosen = torch.full((len(token_ids), length), blank_id, dtype=torch.long)
    for row, ids in enumerate(token_ids):
        chosen[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    return torch.nn.functional.one_hot(chosen, blank_id + 1).float()


class _WithProcessor:
    """The processor a task model runs through: the one `attach_processor` set, or else the one saved in the
    folder the model was loaded from (loaded on first use, so loading the model alone does not load a second codec
    next to the user's own processor)."""

    _processor: MiMoAudioProcessor | None = None
    _prompt_ids: torch.Tensor | None = None

    def attach_processor(self, processor: MiMoAudioProcessor):
        """Sets the processor (tokenizer, feature extractor, codec) this task model runs through; returns `self`."""
        if not isinstance(processor, MiMoAudioProcessor):
            raise TypeError(f"`processor` must be a MiMoAudioProcessor, got {type(processor).__name__}")
        if processor.audio_tokenizer is None:
            raise ValueError("`processor` has no codec (`audio_tokenizer`): speech cannot be encoded or decoded")
        self._processor = processor
        self._prompt_ids = None
        return self

    @property
    def processor(self) -> MiMoAudioProcessor:
        if self._processor is None:
            folder = getattr(self, "name_or_path", None)
            if not folder:
                raise ValueError(f"{type(self).__name__} has no processor: call `attach_processor(processor)`")
            try:
                processor = MiMoAudioProcessor.from_pretrained(folder)
            except (OSError, ValueError) as error:
                raise ValueError(
                    f"{type(self).__name__} needs a processor with its codec: {folder!r} has none usable ({error}); "
                    f"call `attach_processor(processor)`"
                ) from error
            self.attach_processor(processor)
        return self._processor

    def _run_task(self, requests: list[dict], generate_kwargs: dict) -> list[dict]:
        from .pipeline_mimo_audio import MiMoAudioPipeline

        # The pipeline calls `self.generate` with the task prompt, which holds MiMo special tokens: that call goes
        # to MiMoAudioForConditionalGeneration.generate (see `_is_prompt`).
        pipe = MiMoAudioPipeline(model=self, processor=self.processor, device=self.device)
        return pipe(requests, **generate_kwargs)

    def _is_prompt(self, input_ids: torch.Tensor) -> bool:
        """Whether `input_ids` are a MiMo prompt (chat, few-shot or continuation markup) rather than plain text: they
        hold a MiMo special token (`<|im_start|>`, `<|sosp|>`, `<|empty|>`, ...), which a tokenizer makes of plain
        text only when the text spells one out. Reads the ids from the attached processor, else from the folder's
        text tokenizer alone (so the `"mimo-audio"` pipeline with the user's own processor loads no second codec)."""
        if self._prompt_ids is None:
            if self._processor is not None:
                ids, pad = self._processor.special_ids, self._processor.tokenizer.pad_token_id
            else:
                from transformers import AutoTokenizer

                from .tokenization_mimo_audio import mimo_special_token_ids

                try:
                    tokenizer = AutoTokenizer.from_pretrained(self.name_or_path)
                except (OSError, ValueError, TypeError) as error:
                    raise ValueError(f"{type(self).__name__}: cannot read the text tokenizer of "
                                     f"{self.name_or_path!r} ({error}); call `attach_processor(processor)`") from error
                ids, pad = mimo_special_token_ids(tokenizer), tokenizer.pad_token_id
            self._prompt_ids = torch.tensor(sorted(set(ids.values()) - {pad}))
        return bool(torch.isin(input_ids.cpu(), self._prompt_ids).any())


class MiMoAudioForTextToSpeech(_WithProcessor, MiMoAudioForConditionalGeneration):
    """
    MiMo-Audio for transformers' `text-to-speech` / `text-to-audio` pipelines (what `AutoModelForTextToWaveform`
    loads): `generate` speaks the text of its `input_ids`.

    `generate(input_ids, attention_mask, instruction=None, voice=None, **generate_kwargs)`: each row's non-padded
    `input_ids` are decoded back to text (they are the text tokens the processor made of a plain string), wrapped in
    the TTS prompt (instruct-TTS with a style `instruction` such as "a female voice speaking quickly"; voice cloning
    with a `voice` clip: path, 24 kHz array or `{"array", "sampling_rate"}`), generated with the `tts` preset (or
    `instruct_tts`) under `generate_kwargs`, and decoded by the codec. Returns [`MiMoAudioSpeechOutput`]. In the
    pipelines, `instruction` and `voice` go in `forward_params`. `input_ids` that already are a MiMo prompt (they
    hold a MiMo special token such as `<|im_start|>` or `<|sosp|>`: chat, few-shot and continuation prompts) are
    generated from as they are, by [`MiMoAudioForConditionalGeneration.generate`], so the `"mimo-audio"` pipeline
    and every command work on this class too.
    """

    def generate(self, input_ids=None, attention_mask=None, audio_codes=None, instruction=None, voice=None,
                 **kwargs):
        if input_ids is None:
            raise ValueError("`input_ids` (the text to speak, from the processor or tokenizer) is required")
        if isinstance(input_ids, torch.Tensor) and input_ids.dim() == 2 and self._is_prompt(input_ids):
            if instruction is not None or voice is not None:
                raise ValueError("`instruction` / `voice` apply to plain text input, not to a prompt")
            return super().generate(input_ids=input_ids, audio_codes=audio_codes, attention_mask=attention_mask,
                                    **kwargs)
        texts = self._texts(input_ids, attention_mask)
        kwargs.pop("return_dict_in_generate", None)  # the output is always a MiMoAudioSpeechOutput
        task = "instruct_tts" if instruction is not None else "tts"
        requests = [{"task": task, "text": text, "instruction": instruction, "voice": voice} for text in texts]
        results = self._run_task(requests, kwargs)
        return MiMoAudioSpeechOutput(
            audio=[torch.from_numpy(r["audio"]) for r in results],
            audio_codes=[r["audio_codes"] for r in results],
            text=[r["text"] for r in results],
        )

    def _texts(self, input_ids, attention_mask) -> list[str]:
        if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
            raise ValueError("`input_ids` must be a [batch, tokens] tensor of text ids")
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if attention_mask.shape != input_ids.shape:
            raise ValueError(f"`attention_mask` must have the shape of `input_ids` {tuple(input_ids.shape)}, "
                             f"got {tuple(attention_mask.shape)}")
        rows = [ids[mask.bool()].tolist() for ids, mask in zip(input_ids.cpu(), attention_mask.cpu())]
        texts = self.processor.tokenizer.batch_decode(rows, skip_special_tokens=False)
        empty = [i for i, text in enumerate(texts) if not text.strip()]
        if empty:
            raise ValueError(f"rows {empty} of `input_ids` hold no text to speak")
        return texts


class MiMoAudioForSpeechRecognition(_WithProcessor, MiMoAudioForConditionalGeneration):
    """
    MiMo-Audio for transformers' `automatic-speech-recognition` pipeline (what `AutoModelForCTC` and
    `AutoModelForSpeechSeq2Seq` load): `forward` transcribes log-mel features.

    `forward(input_features, attention_mask=None, **generate_kwargs)`: the features (`[batch, n_mels, frames]`, from
    `MiMoAudioFeatureExtractor`, left- or right-padded as `attention_mask` says) go through the codec; each clip is
    transcribed with the ASR prompt and greedy decoding (`asr` preset; `generate_kwargs` override it), in pieces of at
    most `ASR_CHUNK_FRAMES` codec frames (30 s) for longer audio. Returns [`MiMoAudioTranscriptionOutput`], whose
    `logits` spell the transcript for the pipeline.

    transformers' ASR pipeline treats models it does not list as seq2seq as CTC models, so with this model it
    supports single clips and batches of one (`batch_size=1`, its default: its batching pads features along the wrong
    axis for `[n_mels, frames]` features) and none of its CTC options: `chunk_length_s` / `stride_length_s` (long
    audio is already cut here) and `return_timestamps` would post-process the transcript as frame logits.
    Reading paths needs ffmpeg and other sampling rates torchaudio (the pipeline's own requirements); the
    `"mimo-audio"` pipeline and `mimo-audio transcribe` need neither.
    """

    main_input_name = "input_features"

    def forward(self, input_features=None, attention_mask=None, **kwargs):
        if input_features is None:
            # The LM's own forward (training, scoring, and the generation loop the transcription runs).
            return super().forward(attention_mask=attention_mask, **kwargs)
        if not isinstance(input_features, torch.Tensor) or input_features.dim() != 3:
            raise ValueError("`input_features` must be a [batch, n_mels, frames] tensor from MiMoAudioFeatureExtractor")
        n_mels = self.processor.feature_extractor.n_mels
        if input_features.shape[1] != n_mels:
            raise ValueError(f"`input_features` must have {n_mels} mel bins on dim 1, got shape "
                             f"{tuple(input_features.shape)}")
        clips = self._codes(input_features, attention_mask)
        pieces = [(row, clip[:, start : start + ASR_CHUNK_FRAMES]) for row, clip in enumerate(clips)
                  for start in range(0, max(clip.shape[1], 1), ASR_CHUNK_FRAMES)]
        requests = [{"task": "asr", "audio": {"audio_codes": codes, "codes_layout": "codebooks_frames"}}
                    for _, codes in pieces if codes.shape[1] > 0]
        results = iter(self._run_task(requests, kwargs) if requests else [])
        texts = [[] for _ in clips]
        for row, codes in pieces:
            if codes.shape[1] > 0:
                texts[row].append(next(results)["text"])
        texts = [" ".join(t for t in row if t) for row in texts]
        tokenizer = self.processor.tokenizer
        token_ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for text in texts]
        blank = max(self.config.vocab_size, len(tokenizer))
        return MiMoAudioTranscriptionOutput(logits=transcript_logits(token_ids, blank), text=texts)

    @torch.no_grad()
    def _codes(self, input_features, attention_mask) -> list[torch.Tensor]:
        """`[num_codebooks, frames]` codes of each clip; a left-padded batch is moved to the right first."""
        frames = input_features.shape[-1]
        if attention_mask is None:
            attention_mask = torch.ones(input_features.shape[0], frames, dtype=torch.long)
        if tuple(attention_mask.shape) != (input_features.shape[0], frames):
            raise ValueError(f"`attention_mask` must be [batch, frames] = {(input_features.shape[0], frames)}, "
                             f"got {tuple(attention_mask.shape)}")
        lengths = attention_mask.long().sum(-1).tolist()
        features = torch.zeros_like(input_features)
        mask = torch.zeros_like(attention_mask, dtype=torch.long)
        for row, length in enumerate(lengths):
            features[row, :, :length] = input_features[row, :, attention_mask[row].bool()]
            mask[row, :length] = 1
        codec = self.processor.audio_tokenizer
        device = next(codec.parameters()).device
        encoded = codec.encode(features.to(device, next(codec.parameters()).dtype), attention_mask=mask.to(device),
                               num_quantizers=self.config.num_codebooks)
        real = encoded.audio_codes_mask.sum(-1).tolist()
        return [encoded.audio_codes[row, :, : int(n)].cpu() for row, n in enumerate(real)]
