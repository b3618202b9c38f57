"""The `"mimo-audio"` pipeline: audio and/or text plus a task name in, text and audio out, batched.

```python
import modeling_mimo_audio  # registers the pipeline
from transformers import pipeline

pipe = pipeline("mimo-audio", model=model, processor=processor)
pipe("speech.wav", task="asr")["text"]
pipe("Hello there.", task="tts")["audio"]                       # 1-D float32 waveform at 24 kHz
pipe([{"task": "asr", "audio": "a.wav"}, {"task": "text_dialogue", "text": "Hi!"}], batch_size=2)
pipe(conversation, reply="speech")                                # any chat conversation (explicit history)
```

Each request becomes a prompt through the processor's task builders (`processing.prompts_mimo_audio`) and chat
template, requests of the same task and generation settings share one left-padded `generate` call, and the outputs
are decoded by the processor into text and waveforms.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import GenerationConfig, Pipeline
from transformers.generation.streamers import BaseStreamer
from transformers.utils import logging

from .audio_io import load_audio
from .processing_mimo_audio import load_saved_audio_tokenizer


logger = logging.get_logger(__name__)

__all__ = ["GenerationProgressBar", "MiMoAudioPipeline", "PIPELINE_TASKS"]


# task -> (what a bare input means, whether the answer is speech, generation preset name).
PIPELINE_TASKS = {
    "asr": ("audio", False, "asr"),
    "tts": ("text", True, "tts"),
    "instruct_tts": ("text", True, "instruct_tts"),
    "audio_understanding": ("audio", False, "audio_understanding"),
    "spoken_dialogue": ("audio", True, "spoken_dialogue"),
    "speech_to_text_dialogue": ("audio", False, "speech_to_text_dialogue"),
    "text_dialogue": ("text", False, "text_dialogue"),
    "in_context_learning_s2s": ("audio", True, "in_context_learning_s2s"),
    "speech_continuation": ("audio", True, "speech_continuation"),
    "chat": ("messages", None, None),  # a full conversation; `reply` picks text or speech
}
TASK_ALIASES = {
    "s2s": "spoken_dialogue",
    "s2t": "speech_to_text_dialogue",
    "text_chat": "text_dialogue",
    "icl_s2s": "in_context_learning_s2s",
    "continuation": "speech_continuation",
    "transcribe": "asr",
}

# Request fields besides `task` (see `MiMoAudioPipeline.__call__`).
REQUEST_FIELDS = (
    "audio",
    "text",
    "instruction",
    "voice",
    "thinking",
    "system_prompt",
    "history",
    "messages",
    "force_transcript",
    "reply",
    "examples",
    "prefix",
)

# MiMo-Audio's own generate arguments (besides GenerationConfig fields): the patch decoder's sampler and the layout switch.
_MIMO_GENERATE_ARGS = ("audio_do_sample", "audio_temperature", "audio_top_k", "audio_top_p", "streaming_layout")
_GENERATE_OBJECT_ARGS = {"generation_config", "logits_processor", "stopping_criteria"}


class GenerationProgressBar(BaseStreamer):
    """A tqdm bar over generated positions for `generate(streamer=...)` (one position = one text token or one
    4-frame audio patch, 0.16 s of speech).

    `generate()` calls `put` once with the prompt, then once per step with the batch's new tokens, and `end` when
    it stops; the bar counts the steps. `total` is the step cap (`max_new_tokens`); generation usually stops earlier.
    """

    def __init__(self, total=None, desc="generating", disable=False, file=None):
        self.total, self.desc, self.disable, self.file = total, desc, disable, file
        self.steps = 0
        self._bar = None
        self._seen_prompt = False

    def put(self, value):
        if not self._seen_prompt:
            self._seen_prompt = True  # the first call carries the prompt
            return
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.total, desc=self.desc, unit="pos", disable=self.disable, file=self.file)
        self.steps += 1
        self._bar.update(1)

    def end(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._seen_prompt = False


class _RequestBatch(list):
    """A list of requests that the base `Pipeline.__call__` must treat as ONE input (one generate call)."""


def _is_message(item) -> bool:
    return isinstance(item, dict) and "role" in item and "content" in item


def _is_conversation(item) -> bool:
    return isinstance(item, (list, tuple)) and len(item) > 0 and all(_is_message(m) for m in item)


class MiMoAudioPipeline(Pipeline):
    """Runs any MiMo-Audio task from audio and/or text and returns text and audio.

    Registered as `"mimo-audio"` on `import modeling_mimo_audio`; build it with
    `pipeline("mimo-audio", model=model_or_folder, processor=processor)`.

    Call it with one input or a list of inputs (a batch); a list returns a list. An input is

    - a request dict: `{"task": ..., "audio": ..., "text": ..., ...}` (fields below);
    - a conversation (a list of `{"role", "content"}` messages, task `"chat"`): the explicit history, rendered by
      the chat template; `reply="text"` (default) or `"speech"` picks the answer's modality, `thinking=True` asks
      for a thinking block before a text answer;
    - a bare audio (path, 1-D array at 24 kHz, `{"array", "sampling_rate"}` or `{"raw", "sampling_rate"}`) or a
      bare string, read as the task's main input (audio for `asr`, text for `tts`, ...).

    Request fields (keyword arguments of the call apply to every request that lacks them):

    - `task`: `asr`, `tts`, `instruct_tts`, `audio_understanding`, `spoken_dialogue`, `speech_to_text_dialogue`,
      `text_dialogue`, `in_context_learning_s2s`, `speech_continuation` or `chat`;
    - `audio`: the input clip; `text`: the text to speak (TTS), the question (audio understanding), the message
      (text dialogue); `instruction`: TTS style instruction, custom ASR prompt, or ICL instruction;
    - `voice`: a voice prompt clip (TTS, spoken dialogue); `system_prompt`: spoken dialogue system text;
    - `thinking`: thinking block (audio understanding, dialogues; instruct-TTS always thinks);
    - `history`: earlier turns of a dialogue task, in the format of the matching builder of
      `processing.prompts_mimo_audio` (the new `audio`/`text` is appended as the last user turn);
    - `examples`: few-shot examples for `in_context_learning_s2s` (`input_audio`, `output_audio`,
      `output_transcription`); `prefix`: optional text before the prompt of `speech_continuation`.

    Generation: each task starts from its named preset (`processing.generation_presets`, with the checkpoint's
    `preset_overrides` for it, if its generation config has any); generation keyword
    arguments (`max_new_tokens`, `do_sample`, `temperature`, ..., `audio_temperature`, ...) or a
    `generation_config` override it. `progress=True` shows a tqdm bar over generated positions; `streamer=` passes
    a streamer instead. `batch_size` (default: all inputs at once) caps the requests per generate call; requests
    are grouped by task.

    Returns, per input, a dict: `task`, `text` (the answer, special tokens removed), `thinking` (the thinking
    text, or `None`), `audio` (1-D float32 numpy waveform, or `None` when the answer is text; empty when the model
    produced no speech), `audio_codes` (the generated speech codes `[frames, num_codebooks]`, or `None`; put them
    in a later turn's history as `{"type": "audio", "audio_codes": codes, "codes_layout": "frames_codebooks"}` to
    avoid re-encoding; the layout key settles a clip of exactly `num_codebooks` frames), `sampling_rate`.
    """

    _load_processor = True
    _load_tokenizer = False
    _load_feature_extractor = False
    _load_image_processor = False
    _load_video_processor = False
    _pipeline_calls_generate = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.processor is None:
            raise ValueError(
                "processor: the mimo-audio pipeline needs a MiMoAudioProcessor "
                "(pipeline('mimo-audio', model=..., processor=...))"
            )
        name_or_path = getattr(self.model, "name_or_path", None)
        if getattr(self.processor, "audio_tokenizer", None) is None and name_or_path:
            # A processor given without its codec: take the one saved beside the model, if any.
            self.processor.audio_tokenizer = load_saved_audio_tokenizer(name_or_path)

    # ------------------------------------------------------------------------------------------------------------
    # Parameters
    # ------------------------------------------------------------------------------------------------------------

    def _sanitize_parameters(self, batch_size=None, progress=None, streamer=None, generate_kwargs=None, **kwargs):
        preprocess = {}
        for field in ("task",) + REQUEST_FIELDS:
            if field in kwargs:
                preprocess[field] = kwargs.pop(field)
        forward = {"generate_kwargs": dict(generate_kwargs or {})}
        generation_fields = set(vars(GenerationConfig())) | set(_MIMO_GENERATE_ARGS) | _GENERATE_OBJECT_ARGS
        for name in list(kwargs):
            if name in generation_fields:
                forward["generate_kwargs"][name] = kwargs.pop(name)
        if kwargs:
            raise TypeError(
                f"mimo-audio pipeline: unexpected arguments {sorted(kwargs)}; expected request fields "
                f"{('task',) + REQUEST_FIELDS}, generation arguments, progress, streamer or batch_size"
            )
        if progress is not None:
            forward["progress"] = progress
        if streamer is not None:
            forward["streamer"] = streamer
        if not forward["generate_kwargs"]:
            del forward["generate_kwargs"]
        return preprocess, forward, {}

    # ------------------------------------------------------------------------------------------------------------
    # Calling
    # ------------------------------------------------------------------------------------------------------------

    def __call__(self, inputs=None, batch_size=None, stream: bool = False, **kwargs):
        """Run one input or a list of inputs (see the class docstring); a list returns a list of result dicts.

        `stream=True` (one input): returns an iterator of `MiMoAudioStreamChunk(text, audio)` produced while the model
        generates (see `processing.streaming_mimo_audio.MiMoAudioStreamer`), instead of the result dict.
        """
        if stream:
            return self._stream(inputs, batch_size=batch_size, **kwargs)
        if inputs is None:
            if "messages" in kwargs:
                inputs = {"messages": kwargs.pop("messages")}
            elif "audio" in kwargs or "text" in kwargs:
                inputs = {k: kwargs.pop(k) for k in ("audio", "text") if k in kwargs}
            else:
                raise ValueError("inputs: expected an audio, a text, a request dict, a conversation or a list of them")
        if _is_conversation(inputs) or not isinstance(inputs, (list, tuple)):
            items, single = [inputs], True
        else:
            items, single = list(inputs), False
            if not items:
                return []
        if batch_size is None:
            batch_size = self._batch_size or len(items)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive integer, got {batch_size!r}")

        preprocess, forward, _ = self._sanitize_parameters(**kwargs)
        preprocess = {**self._preprocess_params, **preprocess}
        forward = {**self._forward_params, **forward}
        requests = [self._normalize_request(item, preprocess, index) for index, item in enumerate(items)]

        # Requests of one task share a generate call (same preset, stop tokens and prompt kind).
        results = [None] * len(requests)
        groups = {}
        for index, request in enumerate(requests):
            groups.setdefault(self._group_key(request), []).append(index)
        for indices in groups.values():
            for start in range(0, len(indices), batch_size):
                chunk = indices[start : start + batch_size]
                outputs = self.run_single(_RequestBatch(requests[i] for i in chunk), {}, forward, {})
                for i, output in zip(chunk, outputs):
                    results[i] = output
        return results[0] if single else results

    def _stream(self, inputs, **kwargs):
        import threading

        from .streaming_mimo_audio import MiMoAudioStreamer

        if "streamer" in kwargs or kwargs.get("progress"):
            raise ValueError("`stream=True` brings its own streamer: do not pass `streamer=` or `progress=True` too")
        if isinstance(inputs, (list, tuple)) and not _is_conversation(inputs):
            raise ValueError("`stream=True` streams one input: pass a single request, not a list")
        streamer = MiMoAudioStreamer(self.processor)
        failure = []

        def run():
            try:
                self(inputs, streamer=streamer, **kwargs)
            except BaseException as error:  # re-raised in the consumer's thread
                failure.append(error)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()

        def chunks():
            yield from streamer
            thread.join()
            if failure:
                raise failure[0]

        return chunks()

    @staticmethod
    def _group_key(request):
        return (request["task"], request.get("reply"), bool(request.get("thinking")))

    def _normalize_request(self, item, defaults, index) -> dict:
        if _is_conversation(item):
            request = {"messages": list(item)}
        elif isinstance(item, dict) and not _is_message(item) and (not _is_audio_dict(item) or "task" in item):
            unknown = set(item) - {"task"} - set(REQUEST_FIELDS)
            if unknown:
                raise ValueError(
                    f"inputs[{index}]: unknown request fields {sorted(unknown)}; expected {('task',) + REQUEST_FIELDS}"
                )
            request = dict(item)
        else:
            task = self._resolve_task(defaults.get("task"), index)
            main_input = PIPELINE_TASKS[task][0]
            if main_input == "messages":
                raise ValueError(f"inputs[{index}]: task 'chat' takes a conversation (a list of messages)")
            request = {main_input: item}
        for field, value in defaults.items():
            request.setdefault(field, value)
        if "messages" in request and "task" not in request:
            request["task"] = "chat"
        request["task"] = self._resolve_task(request.get("task"), index)
        if request["task"] == "chat":
            if not _is_conversation(request.get("messages")):
                raise ValueError(
                    f"inputs[{index}]: task 'chat' needs `messages`, a list of {{'role', 'content'}} dicts"
                )
            reply = request.setdefault("reply", "text")
            if reply not in ("text", "speech"):
                raise ValueError(f"inputs[{index}]: reply must be 'text' or 'speech', got {reply!r}")
        return request

    @staticmethod
    def _resolve_task(task, index):
        if task is None:
            raise ValueError(
                f"inputs[{index}]: no task; pass task=... (one of {sorted(PIPELINE_TASKS)}) or a conversation"
            )
        task = TASK_ALIASES.get(task, task)
        if task not in PIPELINE_TASKS:
            raise ValueError(f"task: expected one of {sorted(PIPELINE_TASKS)}, got {task!r}")
        return task

    # ------------------------------------------------------------------------------------------------------------
    # The three pipeline stages (one call = one batch of requests of the same task)
    # ------------------------------------------------------------------------------------------------------------

    def preprocess(self, requests, **unused):
        prompts = [self._build_prompt(request) for request in requests]
        if prompts[0][0] == "conversation":
            # The generation prompt may differ per request (e.g. TTS with or without a style instruction).
            inputs = self.processor.apply_chat_template(
                [conversation for _, conversation, _ in prompts],
                add_generation_prompt=True,
                tokenize=True,
                return_dict=True,
                thinking=[kwargs["thinking"] for _, _, kwargs in prompts],
                speech_output=[kwargs["speech_output"] for _, _, kwargs in prompts],
            )
        else:
            texts = [markup for _, (markup, _), _ in prompts]
            audios = [clip for _, (_, clips), _ in prompts for clip in clips]
            inputs = self.processor(text=texts, audio=audios, return_tensors="pt")
        model_inputs = {
            "input_ids": inputs["input_ids"],
            "audio_codes": inputs["audio_codes"],
            "attention_mask": inputs["attention_mask"],
        }
        return {"model_inputs": model_inputs, "requests": list(requests), "transcripts": self._transcripts(requests)}

    def _transcripts(self, requests):
        """Per request, the text ids its speech turn must spell out (TTS with `force_transcript`), or None."""
        transcripts = []
        for request in requests:
            force = request.get("force_transcript", True)
            if not isinstance(force, bool):
                raise TypeError(f"force_transcript: expected a bool, got {force!r}")
            if request["task"] in ("tts", "instruct_tts") and force:
                transcripts.append(self.processor.tokenizer(request["text"], add_special_tokens=False)["input_ids"])
            else:
                transcripts.append(None)
        return transcripts if any(t is not None for t in transcripts) else None

    def _forward(self, batch, generate_kwargs=None, progress=False, streamer=None):
        requests = batch["requests"]
        generation_config, generate_kwargs = self._generation_settings(requests[0], dict(generate_kwargs or {}))
        if streamer is None and progress:
            total = generate_kwargs.get("max_new_tokens", generation_config.max_new_tokens)
            streamer = GenerationProgressBar(total=total, desc=f"{requests[0]['task']} x{len(requests)}")
        inputs = batch["model_inputs"]
        layout = generate_kwargs.get("streaming_layout", getattr(generation_config, "streaming_layout", False))
        if batch.get("transcripts") is not None and layout and "streaming_transcripts" not in generate_kwargs:
            generate_kwargs["streaming_transcripts"] = batch["transcripts"]
        output = self.model.generate(
            **inputs, generation_config=generation_config, streamer=streamer, **generate_kwargs
        )
        return {"output": output, "prompt_length": inputs["input_ids"].shape[1], "requests": requests}

    def postprocess(self, model_outputs, **unused):
        output, prompt_length, requests = (
            model_outputs["output"],
            model_outputs["prompt_length"],
            model_outputs["requests"],
        )
        texts = self._decode_texts(output, prompt_length)
        if self._speech_output(requests[0]):
            clips = self.processor.extract_audio_codes(output, prompt_length=prompt_length)
            if self.processor.audio_tokenizer is None:
                logger.warning_once("the processor has no codec (audio_tokenizer): returning speech as codes only")
                waveforms = [None] * len(clips)
            else:
                waveforms = [w.float().numpy().reshape(-1) for w in self.processor.codes_to_waveforms(clips)]
        else:
            clips = waveforms = [None] * len(texts)
        sampling_rate = self.processor.feature_extractor.sampling_rate
        results = []
        for request, text, codes, waveform in zip(requests, texts, clips, waveforms):
            thinking, answer = _split_thinking(text)
            results.append(
                {
                    "task": request["task"],
                    "text": answer,
                    "thinking": thinking,
                    "audio": waveform,
                    "audio_codes": codes,
                    "sampling_rate": sampling_rate,
                }
            )
        return results

    # ------------------------------------------------------------------------------------------------------------
    # Task -> prompt, task -> generation settings, outputs -> text and audio
    # ------------------------------------------------------------------------------------------------------------

    @staticmethod
    def _speech_output(request) -> bool:
        if request["task"] == "chat":
            return request.get("reply") == "speech"
        return PIPELINE_TASKS[request["task"]][1]

    def _build_prompt(self, request):
        """`("conversation", messages, chat_template_kwargs)` or `("markup", (markup, audios), {})`."""
        from . import prompts_mimo_audio as prompts

        task = request["task"]
        audio = _audio_input(request.get("audio"), self.processor.feature_extractor.sampling_rate)
        voice = _audio_input(request.get("voice"), self.processor.feature_extractor.sampling_rate)
        text, thinking = request.get("text"), bool(request.get("thinking"))
        template_kwargs = {"thinking": thinking, "speech_output": False}

        def need(field, value):
            if value is None:
                raise ValueError(f"task {task!r}: the request needs `{field}`")
            return value

        if task == "chat":
            template_kwargs["speech_output"] = request["reply"] == "speech"
            return "conversation", request["messages"], template_kwargs
        if task == "asr":
            conversation = prompts.asr_conversation(need("audio", audio), instruction=request.get("instruction"))
            return "conversation", conversation, dict(prompts.TASK_CHAT_TEMPLATE_KWARGS["asr"])
        if task in ("tts", "instruct_tts"):
            instruction = request.get("instruction")
            if task == "instruct_tts" and instruction is None:
                raise ValueError("task 'instruct_tts': the request needs `instruction` (the style instruction)")
            conversation = prompts.tts_conversation(need("text", text), instruction=instruction, voice=voice)
            # Upstream pairs a style instruction or a voice prompt with a thinking generation prompt (`A<think>\n`).
            key = "instruct_tts" if instruction is not None or voice is not None else "tts"
            return "conversation", conversation, dict(prompts.TASK_CHAT_TEMPLATE_KWARGS[key])
        if task == "audio_understanding":
            conversation = prompts.audio_understanding_conversation(need("audio", audio), need("text", text))
            return "conversation", conversation, template_kwargs
        if task == "spoken_dialogue":
            turns = list(request.get("history") or []) + [{"role": "user", "content": need("audio", audio)}]
            conversation = prompts.spoken_dialogue_conversation(
                turns, system_prompt=request.get("system_prompt"), voice=voice
            )
            return "conversation", conversation, {"thinking": False, "speech_output": True}
        if task == "speech_to_text_dialogue":
            turns = list(request.get("history") or []) + [{"role": "user", "content": need("audio", audio)}]
            return "conversation", prompts.speech_to_text_dialogue_conversation(turns), template_kwargs
        if task == "text_dialogue":
            turns = list(request.get("history") or []) + [{"role": "user", "content": need("text", text)}]
            return "conversation", prompts.text_dialogue_conversation(turns), template_kwargs
        if task == "in_context_learning_s2s":
            examples = [
                {**example, **{k: _audio_input(example.get(k), self.processor.feature_extractor.sampling_rate)
                               for k in ("input_audio", "output_audio") if k in example}}
                for example in need("examples", request.get("examples"))
            ]
            markup, clips = prompts.in_context_learning_s2s_prompt(
                examples, need("audio", audio), instruction=request.get("instruction") or ""
            )
            return "markup", (markup, clips), {}
        if task == "speech_continuation":
            markup, clips = prompts.speech_continuation_prompt(need("audio", audio), prefix=request.get("prefix"))
            return "markup", (markup, clips), {}
        raise ValueError(f"task: expected one of {sorted(PIPELINE_TASKS)}, got {task!r}")

    def _generation_settings(self, request, generate_kwargs):
        """The task's preset, then the user's `generation_config` / keyword arguments on top."""
        user_config = generate_kwargs.pop("generation_config", None)
        if user_config is not None:
            return user_config, generate_kwargs
        task = request["task"]
        if task == "chat":
            preset_name = "spoken_dialogue" if request.get("reply") == "speech" else "text_dialogue"
        else:
            preset_name = PIPELINE_TASKS[task][2]
        config = self._preset(preset_name)
        merged = {**self._generate_kwargs, **generate_kwargs}
        merged.pop("generation_config", None)
        return config, merged

    def _preset(self, name):
        from .generation_presets import checkpoint_tuned_preset

        base = self.model.generation_config
        # The checkpoint's own tuning of this preset (its generation config's `preset_overrides`) comes first.
        config = checkpoint_tuned_preset(name, self.processor, base)
        # A length cap chosen by the checkpoint (e.g. the tiny demo model's 32) beats the preset's generic 8192.
        if "max_new_tokens" in base.to_diff_dict():
            config.max_new_tokens = base.max_new_tokens
        # Stop and pad ids the preset does not set come from the model's generation config.
        if config.eos_token_id is None:
            config.eos_token_id = base.eos_token_id
        if config.pad_token_id is None:
            config.pad_token_id = base.pad_token_id
            if config.pad_token_id is None:
                config.pad_token_id = self.processor.tokenizer.pad_token_id
        return config

    def _decode_texts(self, output, prompt_length):
        new_ids = output.sequences[:, prompt_length:]
        return [text.strip() for text in self.processor.batch_decode(new_ids, skip_special_tokens=True)]


def _split_thinking(text):
    """`(thinking, answer)`: the text before / after `</think>`, or `(None, text)` without a thinking block."""
    if "</think>" not in text:
        return None, text
    thinking, answer = text.split("</think>", 1)
    return thinking.replace("<think>", "").strip(), answer.strip()


def _is_audio_dict(value: dict) -> bool:
    """A waveform dict: `datasets`' `{"array", "sampling_rate"}` or transformers' ASR-pipeline `{"raw", ...}`."""
    return "array" in value or "raw" in value


def _audio_input(audio, sampling_rate):
    """Normalizes one audio input for the prompt builders: paths and part dicts pass through; `{"array" | "raw",
    "sampling_rate"}` dicts (the `datasets` Audio format or transformers' ASR-pipeline one, read by
    `processing.audio_io.load_audio`, resampled with a warning when needed) and bare arrays/tensors (taken to be at
    `sampling_rate`) become `{"audio": waveform, "sampling_rate": sampling_rate}` parts."""
    if audio is None or isinstance(audio, str):
        return audio
    # Waveforms go on as {"audio", "sampling_rate"} parts: bare arrays are documented to be at the extractor's rate,
    # and saying so keeps the processor from warning that no rate was given.
    if isinstance(audio, dict):
        if not _is_audio_dict(audio):
            return audio
        return {"audio": load_audio(audio, sampling_rate), "sampling_rate": sampling_rate}
    if isinstance(audio, (torch.Tensor, np.ndarray)):
        return {"audio": audio, "sampling_rate": sampling_rate}
    raise TypeError(
        f"audio: expected a file path, a 1-D waveform (numpy array or torch tensor at {sampling_rate} Hz) or a "
        f"{{'array' or 'raw', 'sampling_rate'}} dict, got {type(audio).__name__}"
    )
