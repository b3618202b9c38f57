"""Backends that answer :class:`~evaluation.requests.GenerationRequest` batches with MiMo-Audio.

- :class:`MiMoAudioBackend` -- the language model + processor. Chat-style kinds go through the
  ``"mimo-audio"`` pipeline (:class:`processing.pipeline_mimo_audio.MiMoAudioPipeline`: the
  processor's prompt builders, the task's generation preset, batched left-padded ``generate``);
  base-model few-shot prompts (``few_shot``) are rendered as processor markup here and generated
  with the ``few_shot_mmau`` / ``in_context_learning_s2s`` presets.
  A spoken dialogue with ``thinking`` (``s2s_dialogue`` + ``thinking=True``, e.g. the arithmetic task) goes to
  the pipeline's ``chat`` task with ``reply="speech"``: the conversation (history, then the user's audio) is
  rendered with ``apply_chat_template(..., add_generation_prompt=True, thinking=True, speech_output=True)``, so the
  generation prompt is ``<|im_start|>assistant\n<think>\n``; the model writes its thinking, ``</think>``, then a
  streaming speech segment, whose text channel is the answer and whose patches are decoded to audio.
- :class:`CodecBackend` -- the audio tokenizer alone, for ``reconstruct`` requests.

Upstream's evaluation runs one item at a time; here a batch of requests of the same kind shares one
``generate`` call. Sampled presets (TTS, dialogue) therefore draw different random numbers than a
batch-size-1 run; greedy tasks (ASR, MCQA few-shot, SpeechMMLU) are unaffected up to padding numerics.
"""

import logging
from typing import Dict, List, Optional

import numpy as np
import torch

from .requests import Generation, GenerationRequest

logger = logging.getLogger(__name__)

# The fixed ASR instructions of the paper's evaluation toolkit (spec A.4 "Templates", [E]).
EVAL_ASR_INSTRUCTIONS = {"zh": "请将这段语音转换为文字.", "en": "Transcribe the following voice message."}

_PIPELINE_TASK = {
    "asr": "asr",
    "tts": "tts",
    "audio_qa": "audio_understanding",
    "icl_s2s": "in_context_learning_s2s",
    "s2t_dialogue": "speech_to_text_dialogue",
    "s2s_dialogue": "spoken_dialogue",
    "text_dialogue": "text_dialogue",
}
# `generate` arguments that are objects, not GenerationConfig fields: they go to `generate` beside the config.
_GENERATE_OBJECT_ARGS = ("logits_processor", "stopping_criteria")
# SpeechMMLU's decoding limits upstream: 5-10 new positions for text answers, 10-25 for speech.
_FEW_SHOT_MIN_NEW_TOKENS = {"text": 5, "speech": 10}


def _audio_dict(wave, sampling_rate):
    return {"array": np.asarray(wave, dtype=np.float32), "sampling_rate": int(sampling_rate)}


def few_shot_markup(segments: List[Dict], speech_output: bool):
    """Processor markup and clips of a base-model few-shot prompt (upstream's ``get_few_shot_prompts`` layout).

    Prefix ``[Int]:`` when text and speech are mixed, ``<Spe>:`` when every segment is speech, none for
    all-text; input audio becomes an audio segment, a spoken *output* a streaming segment with its
    transcript; ``<|sostm|>`` is appended when the answer is speech.
    """
    from processing.prompts_mimo_audio import AUDIO_PLACEHOLDER, SEGMENT_SEPARATOR, streaming_markup

    if not segments:
        raise ValueError("a few_shot request needs at least one segment")
    kinds = {"speech" if s.get("audio") is not None else "text" for s in segments}
    parts = ["[Int]:"] if kinds == {"speech", "text"} else (["<Spe>:"] if kinds == {"speech"} else [])
    clips = []
    for segment in segments:
        if segment.get("audio") is not None:
            clips.append(_audio_dict(segment["audio"], segment["sampling_rate"]))
            if segment.get("role") == "output":
                parts.append(streaming_markup(segment.get("text") or ""))
            else:
                parts.append(AUDIO_PLACEHOLDER)
        else:
            parts.append(segment.get("text") or "")
    if speech_output:
        parts.append("<|sostm|>")
    return SEGMENT_SEPARATOR.join(parts), clips


class MiMoAudioBackend:
    """Answer evaluation requests with a MiMo-Audio model and processor.

    Args:
        model: ``MiMoAudioForConditionalGeneration``.
        processor: ``MiMoAudioProcessor`` with its ``audio_tokenizer`` (needed for audio in or out).
        max_new_tokens (`int`, *optional*): cap on generated positions for every request (the presets
            allow 8192); the smaller of this and a request's own ``max_new_tokens`` applies.
        generate_kwargs (`dict`, *optional*): extra ``generate`` arguments for every call (e.g. ``do_sample=False``).
        dialogue_preset (`str`): preset of spoken dialogue (``"spoken_dialogue_eval"``: the paper's
            evaluation sampler T0.3/T0.7).
    """

    def __init__(self, model, processor, max_new_tokens: Optional[int] = None, generate_kwargs=None, dialogue_preset="spoken_dialogue_eval"):
        from processing.pipeline_mimo_audio import MiMoAudioPipeline

        self.model = model
        self.processor = processor
        self.max_new_tokens = max_new_tokens
        self.generate_kwargs = dict(generate_kwargs or {})
        self.dialogue_preset = dialogue_preset
        self.pipeline = MiMoAudioPipeline(model=model, processor=processor)

    # -- public -----------------------------------------------------------------------------------------------
    def __call__(self, requests: List[GenerationRequest]) -> List[Generation]:
        results: List[Optional[Generation]] = [None] * len(requests)
        groups: Dict[tuple, List[int]] = {}
        for index, request in enumerate(requests):
            key = (request.kind, request.output_modality, request.thinking, request.max_new_tokens)
            groups.setdefault(key, []).append(index)
        for indices in groups.values():
            batch = [requests[i] for i in indices]
            if batch[0].kind == "few_shot":
                outputs = self._few_shot(batch)
            elif batch[0].kind == "reconstruct":
                raise ValueError("`reconstruct` requests go to a CodecBackend, not MiMoAudioBackend")
            else:
                outputs = self._pipeline(batch)
            for i, output in zip(indices, outputs):
                results[i] = output
        return results

    # -- helpers ----------------------------------------------------------------------------------------------
    def _limit(self, request: GenerationRequest) -> Dict:
        limits = [n for n in (request.max_new_tokens, self.max_new_tokens) if n]
        return {"max_new_tokens": int(min(limits))} if limits else {}

    def _thinking_dialogue_request(self, request: GenerationRequest) -> Dict:
        """A ``chat`` request (reply speech, thinking) for a spoken dialogue with a thinking block."""
        from processing.prompts_mimo_audio import spoken_dialogue_conversation

        from .metrics.audio import resample

        if request.audio is None:
            raise ValueError(f"request {request.id!r}: s2s_dialogue needs `audio`")
        rate = self.processor.feature_extractor.sampling_rate

        def part(wave, sampling_rate=rate):  # an audio part at the processor's rate (no per-clip resampling warning)
            return {"audio": resample(wave, sampling_rate, rate).astype(np.float32), "sampling_rate": rate}

        turns = []
        for turn in self._history_turns(request) if request.history else []:
            content = turn["content"]
            if isinstance(content, np.ndarray):
                content = part(content)
            elif isinstance(content, dict):
                content = {"text": content["text"], "audio": part(content["audio"])}
            turns.append({"role": turn["role"], "content": content})
        turns.append({"role": "user", "content": part(request.audio, request.sampling_rate)})
        voice = part(request.prompt_audio, request.prompt_sampling_rate) if request.prompt_audio is not None else None
        messages = spoken_dialogue_conversation(turns, voice=voice)
        return {"task": "chat", "messages": messages, "reply": "speech", "thinking": True}

    def _pipeline_request(self, request: GenerationRequest) -> Dict:
        if request.kind == "s2s_dialogue" and request.thinking:
            return self._thinking_dialogue_request(request)
        out = {"task": _PIPELINE_TASK[request.kind]}
        if request.audio is not None and request.kind != "tts":
            out["audio"] = _audio_dict(request.audio, request.sampling_rate)
        if request.kind == "asr":
            out["instruction"] = EVAL_ASR_INSTRUCTIONS.get(request.language or "en", EVAL_ASR_INSTRUCTIONS["en"])
        if request.text is not None:
            out["text"] = request.text
        if request.instruction is not None:
            out["instruction"] = request.instruction
        if request.prompt_audio is not None:
            out["voice"] = _audio_dict(request.prompt_audio, request.prompt_sampling_rate)
        if request.kind in ("audio_qa", "s2t_dialogue", "text_dialogue"):
            out["thinking"] = request.thinking
        if request.history:
            out["history"] = self._history_turns(request)
        if request.kind == "icl_s2s":
            out["examples"] = [
                {
                    "input_audio": _audio_dict(e["input_audio"], e["input_sampling_rate"]),
                    "output_audio": _audio_dict(e["output_audio"], e["output_sampling_rate"]),
                    "output_transcription": e.get("output_text") or "",
                }
                for e in request.examples
            ]
        return out

    def _history_turns(self, request: GenerationRequest) -> List[Dict]:
        """Our history turns (``{"role", "text"?, "audio"?, "sampling_rate"?}``) in the prompt builders' format."""
        from .metrics.audio import resample

        rate = self.processor.feature_extractor.sampling_rate
        turns = []
        for index, turn in enumerate(request.history):
            audio = turn.get("audio")
            if audio is not None:
                audio = resample(audio, turn.get("sampling_rate") or rate, rate).astype(np.float32)
            speech_turn = request.kind == "s2s_dialogue" or (request.kind == "s2t_dialogue" and turn["role"] == "user")
            if speech_turn and audio is None:
                raise ValueError(f"request {request.id!r}: history turn {index} needs `audio` for {request.kind}")
            if request.kind == "s2s_dialogue" and turn["role"] == "assistant":
                content = {"text": turn.get("text") or "", "audio": audio}
            elif speech_turn:
                content = audio
            else:
                content = turn.get("text") or ""
            turns.append({"role": turn["role"], "content": content})
        return turns

    def _pipeline(self, batch: List[GenerationRequest]) -> List[Generation]:
        kwargs = {**self.generate_kwargs, **self._limit(batch[0])}
        if batch[0].kind == "s2s_dialogue" and self.dialogue_preset:
            objects = {k: kwargs.pop(k) for k in _GENERATE_OBJECT_ARGS if k in kwargs}
            config = self._preset(self.dialogue_preset, **{k: v for k, v in kwargs.items() if k != "generation_config"})
            kwargs = {"generation_config": config, **objects}
        outputs = self.pipeline([self._pipeline_request(r) for r in batch], batch_size=len(batch), **kwargs)
        generations = []
        for request, output in zip(batch, outputs):
            text = output["text"]
            if output.get("thinking") is not None:
                # Keep the thinking block in the cached text: scoring reads the part after `</think>`.
                text = f"<think>\n{output['thinking']}\n</think>\n{text}"
            audio = output.get("audio") if request.output_modality == "speech" else None
            generations.append(Generation(text=text, audio=audio, sampling_rate=output.get("sampling_rate")))
        return generations

    def _preset(self, name: str, **caller):
        """Preset `name` as the checkpoint tunes it (`preset_overrides`, as the pipeline applies them), then the
        caller's fields on top."""
        from processing.generation_presets import checkpoint_tuned_preset

        return checkpoint_tuned_preset(name, self.processor, self.model.generation_config, **caller)

    @torch.no_grad()
    def _few_shot(self, batch: List[GenerationRequest]) -> List[Generation]:
        speech = batch[0].output_modality == "speech"
        markups, clips = zip(*(few_shot_markup(r.segments, speech) for r in batch))
        inputs = self.processor(text=list(markups), audio=[list(c) for c in clips], return_tensors="pt")
        inputs = {k: v.to(self.model.device) for k, v in inputs.items() if k in ("input_ids", "audio_codes", "attention_mask")}
        overrides = {**self.generate_kwargs, **self._limit(batch[0])}
        overrides.setdefault("min_new_tokens", min(_FEW_SHOT_MIN_NEW_TOKENS["speech" if speech else "text"], overrides.get("max_new_tokens", 10**9)))
        config = self._preset("in_context_learning_s2s" if speech else "few_shot_mmau", **overrides)
        base = self.model.generation_config
        if config.pad_token_id is None:
            config.pad_token_id = base.pad_token_id
        output = self.model.generate(**inputs, generation_config=config)
        prompt_length = inputs["input_ids"].shape[1]
        texts = [t.strip() for t in self.processor.batch_decode(output.sequences[:, prompt_length:], skip_special_tokens=True)]
        waveforms = self.processor.decode_audio(output, prompt_length=prompt_length) if speech else [None] * len(texts)
        rate = self.processor.feature_extractor.sampling_rate
        return [
            Generation(text=t, audio=None if w is None else w.detach().float().cpu().numpy().reshape(-1), sampling_rate=rate)
            for t, w in zip(texts, waveforms)
        ]


class CodecBackend:
    """Encode + decode audio with the MiMo audio tokenizer (``reconstruct`` requests), batched.

    Args:
        feature_extractor: ``MiMoAudioFeatureExtractor`` (resamples inputs to 24 kHz).
        audio_tokenizer: ``MiMoAudioTokenizerModel``.
        num_quantizers (`int`): leading RVQ layers kept (8: the paper's Table 1 setting).
    """

    def __init__(self, feature_extractor, audio_tokenizer, num_quantizers: int = 8):
        if num_quantizers < 1:
            raise ValueError(f"`num_quantizers` must be >= 1, got {num_quantizers}")
        self.feature_extractor = feature_extractor
        self.audio_tokenizer = audio_tokenizer
        self.num_quantizers = num_quantizers

    @torch.no_grad()
    def __call__(self, requests: List[GenerationRequest]) -> List[Generation]:
        results: List[Optional[Generation]] = [None] * len(requests)
        by_rate: Dict[int, List[int]] = {}
        for index, request in enumerate(requests):
            if request.kind != "reconstruct" or request.audio is None:
                raise ValueError(f"CodecBackend answers `reconstruct` requests with audio, got kind={request.kind!r}")
            by_rate.setdefault(int(request.sampling_rate), []).append(index)
        device = next(self.audio_tokenizer.parameters()).device
        for rate, indices in by_rate.items():
            features = self.feature_extractor([requests[i].audio for i in indices], sampling_rate=rate, return_tensors="pt")
            encoded = self.audio_tokenizer.encode(
                features["input_features"].to(device), features["attention_mask"].to(device), num_quantizers=self.num_quantizers
            )
            decoded = self.audio_tokenizer.decode(encoded.audio_codes, encoded.audio_codes_mask)
            lengths = decoded.audio_values_mask.sum(-1).tolist()
            for row, (i, length) in enumerate(zip(indices, lengths)):
                wave = decoded.audio_values[row, 0, : int(length)].float().cpu().numpy()
                results[i] = Generation(text="", audio=wave, sampling_rate=self.feature_extractor.sampling_rate)
        return results
