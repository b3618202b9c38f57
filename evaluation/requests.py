"""The small interface between evaluation tasks and a model: a batch of requests in, generations out.

Every task builds :class:`GenerationRequest` objects and hands a list of them to a *backend*: any
callable ``backend(requests: list[GenerationRequest]) -> list[Generation]``. The MiMo-Audio backend
(:class:`evaluation.backend.MiMoAudioBackend`) turns them into processor prompts and batched
``model.generate`` calls; tests and users' own models can pass any other callable.

Request kinds (``GenerationRequest.kind``) and the fields each reads:

==================  ===========================================================================
``asr``             ``audio`` (+ ``language``: ``"en"``/``"zh"`` picks the instruction)
``tts``             ``text`` (+ ``language``; optional style ``instruction`` and, with it, ``prompt_audio`` voice)
``audio_qa``        ``audio`` + ``text`` (question prompt), ``thinking`` (instruct model)
``few_shot``        ``segments``: a list of ``{"role": "input"|"output", "text"?, "audio"?}``
                    with the query last; ``output_modality`` says whether the answer is text or
                    speech (base model, SpeechMMLU / MMAU 5-shot)
``icl_s2s``         ``examples``: ``[{"input_audio", "output_audio", "output_text"?}]`` and the
                    query ``audio`` (base model, few-shot speech-to-speech)
``s2t_dialogue``    ``audio`` (+ ``history``), ``thinking``
``s2s_dialogue``    ``audio`` (+ ``history``, optional ``prompt_audio`` voice)
``text_dialogue``   ``text`` (+ ``history``), ``thinking``
``reconstruct``     ``audio``: encode + decode with the audio tokenizer only (codec evaluation)
==================  ===========================================================================

Audio is always a 1-D float numpy array at ``sampling_rate`` Hz.
"""

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import numpy as np

REQUEST_KINDS = (
    "asr", "tts", "audio_qa", "few_shot", "icl_s2s", "s2t_dialogue", "s2s_dialogue", "text_dialogue", "reconstruct"
)
SPEECH_OUTPUT_KINDS = ("tts", "icl_s2s", "s2s_dialogue", "reconstruct")


@dataclass
class GenerationRequest:
    """One generation to run; see the module docstring for which fields each ``kind`` reads."""

    id: str
    kind: str
    text: Optional[str] = None
    audio: Optional[np.ndarray] = None
    sampling_rate: Optional[int] = None
    language: Optional[str] = None
    thinking: bool = False
    segments: List[Dict[str, Any]] = field(default_factory=list)
    examples: List[Dict[str, Any]] = field(default_factory=list)
    history: List[Dict[str, Any]] = field(default_factory=list)
    prompt_audio: Optional[np.ndarray] = None
    prompt_sampling_rate: Optional[int] = None
    instruction: Optional[str] = None
    output_modality: str = "text"
    max_new_tokens: Optional[int] = None

    def __post_init__(self):
        if self.kind not in REQUEST_KINDS:
            raise ValueError(f"`kind` must be one of {REQUEST_KINDS}, got {self.kind!r}")
        if self.output_modality not in ("text", "speech"):
            raise ValueError(f"`output_modality` must be 'text' or 'speech', got {self.output_modality!r}")
        if self.kind in SPEECH_OUTPUT_KINDS:
            self.output_modality = "speech"
        if self.audio is not None and self.sampling_rate is None:
            raise ValueError(f"request {self.id!r}: `sampling_rate` is required when `audio` is given")
        if self.prompt_audio is not None and self.prompt_sampling_rate is None:
            raise ValueError(f"request {self.id!r}: `prompt_sampling_rate` is required when `prompt_audio` is given")


@dataclass
class Generation:
    """A model's answer: its text and, for speech outputs, a 1-D waveform at ``sampling_rate``."""

    text: str = ""
    audio: Optional[np.ndarray] = None
    sampling_rate: Optional[int] = None


Backend = Callable[[List[GenerationRequest]], List[Generation]]


def run_backend(backend: Backend, requests: List[GenerationRequest]) -> List[Generation]:
    """Call ``backend`` and check that it answered every request with a :class:`Generation`."""
    outputs = list(backend(requests))
    if len(outputs) != len(requests):
        raise ValueError(f"the backend returned {len(outputs)} generations for {len(requests)} requests")
    for request, output in zip(requests, outputs):
        if not isinstance(output, Generation):
            raise TypeError(f"the backend must return `Generation` objects, got {type(output).__name__}")
        if request.output_modality == "speech" and output.audio is not None and output.sampling_rate is None:
            raise ValueError(f"generation for {request.id!r} has audio but no `sampling_rate`")
    return outputs
