"""Pluggable scoring models: an ASR model (for TTS / speech-output WER) and an embedding model (speaker
or emotion similarity). Anything with the right call signature works, so users can plug in
Paraformer, an ECAPA model, or a fake in tests:

- a **transcriber** is ``transcriber(waves: list[np.ndarray], sampling_rate: int, language: str | None) -> list[str]``;
- an **embedder** is ``embedder(waves: list[np.ndarray], sampling_rate: int) -> np.ndarray [N, D]``.

:func:`load_transcriber` wraps a transformers ASR pipeline (e.g. ``openai/whisper-large-v3``, the
paper's English scorer), or, for the names in :data:`OFFLINE_JUDGE_NAMES` (``whisper-offline``), returns the
offline Whisper ``tiny.en`` judge of :mod:`evaluation.whisper_judge` (CTranslate2 weights shipped by a pip
package, English only, never downloads) and :func:`load_embedder` a transformers audio model: the ``x-vector`` head
of ``WavLMForXVector`` (e.g. ``microsoft/wavlm-base-plus-sv``) by default, or mean-pooled hidden
states for other encoders (e.g. an emotion model). Both take a Hub id or a local path; nothing is
downloaded unless you name a Hub model that is not cached. Audio is resampled to the scorer's rate.

Note: the paper's speaker similarity uses WavLM-Large + ECAPA-TDNN (UniSpeech checkpoint, not in
transformers); ``WavLMForXVector`` numbers are comparable between checkpoints but not equal to the
paper's SIM.
"""

from typing import Callable, List, Optional

import numpy as np
import torch

from .metrics.audio import resample

Transcriber = Callable[[List[np.ndarray], int, Optional[str]], List[str]]
Embedder = Callable[[List[np.ndarray], int], np.ndarray]

_WHISPER_LANGUAGES = {"en": "english", "zh": "chinese"}


class PipelineTranscriber:
    """Transcribe with a transformers ``automatic-speech-recognition`` pipeline (batched)."""

    def __init__(self, model_name_or_path: str, device=None, batch_size: int = 8, torch_dtype=None):
        from transformers import pipeline

        self.pipe = pipeline(
            "automatic-speech-recognition", model=model_name_or_path, device=device, dtype=torch_dtype
        )
        self.batch_size = batch_size
        self.sampling_rate = self.pipe.feature_extractor.sampling_rate
        self.is_whisper = getattr(self.pipe.model.config, "model_type", "") == "whisper"

    def __call__(self, waves: List[np.ndarray], sampling_rate: int, language: Optional[str] = None) -> List[str]:
        inputs = [
            {"raw": resample(w, sampling_rate, self.sampling_rate).astype(np.float32), "sampling_rate": self.sampling_rate}
            for w in waves
        ]
        kwargs = {}
        if self.is_whisper and language in _WHISPER_LANGUAGES:
            kwargs["generate_kwargs"] = {"language": _WHISPER_LANGUAGES[language], "task": "transcribe"}
        outputs = self.pipe(inputs, batch_size=self.batch_size, **kwargs)
        return [out["text"].strip() for out in outputs]


class HFEmbedder:
    """Utterance embeddings from a transformers audio model (x-vector head, or mean-pooled hidden states)."""

    def __init__(self, model_name_or_path=None, device=None, model=None, feature_extractor=None):
        from transformers import AutoFeatureExtractor, AutoModel, AutoModelForAudioXVector

        if model is None:
            if model_name_or_path is None:
                raise ValueError("pass `model_name_or_path` or a loaded `model`")
            try:
                model = AutoModelForAudioXVector.from_pretrained(model_name_or_path)
            except ValueError:
                model = AutoModel.from_pretrained(model_name_or_path)
        if feature_extractor is None:
            feature_extractor = AutoFeatureExtractor.from_pretrained(model_name_or_path)
        self.model = model.to(device or "cpu").eval()
        self.feature_extractor = feature_extractor
        self.sampling_rate = feature_extractor.sampling_rate

    @torch.no_grad()
    def __call__(self, waves: List[np.ndarray], sampling_rate: int) -> np.ndarray:
        waves = [resample(w, sampling_rate, self.sampling_rate).astype(np.float32) for w in waves]
        inputs = self.feature_extractor(
            waves, sampling_rate=self.sampling_rate, return_tensors="pt", padding=True, return_attention_mask=True
        ).to(self.model.device)
        outputs = self.model(**inputs)
        if getattr(outputs, "embeddings", None) is not None:
            return outputs.embeddings.float().cpu().numpy()
        hidden = outputs.last_hidden_state  # [N, T, D]
        # Mean over each clip's own frames: its share of the padded length maps onto the frame axis.
        lengths = torch.tensor([len(w) for w in waves], dtype=torch.float32)
        frames = (lengths / lengths.max() * hidden.shape[1]).ceil().long().clamp(min=1)
        mask = (torch.arange(hidden.shape[1])[None, :] < frames[:, None]).to(hidden.device, hidden.dtype).unsqueeze(-1)
        return ((hidden * mask).sum(1) / mask.sum(1)).float().cpu().numpy()


OFFLINE_JUDGE_NAMES = ("whisper-offline", "offline-whisper")


def _offline_judge_threads() -> int:
    """CTranslate2 threads of the offline judge: ``OMP_NUM_THREADS`` when set, else at most 4 (and the cores)."""
    import os

    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return max(1, min(4, os.cpu_count() or 1))


def load_offline_judge_transcriber(device=None):
    """The offline Whisper judge (:func:`evaluation.whisper_judge.load_offline_judge`) on ``device``
    (``None``/``"cpu"``, ``"cuda"``/``"cuda:N"``)."""
    from .whisper_judge import load_offline_judge

    device = str(device) if device is not None else "cpu"
    kwargs = {"cpu_threads": _offline_judge_threads()}
    if device.startswith("cuda"):
        device = "cuda"  # CTranslate2 picks the GPU with its own device_index (0)
    return load_offline_judge(device=device, **kwargs)


def load_transcriber(model_name_or_path: str, device=None, batch_size: int = 8):
    """A :class:`PipelineTranscriber` for ``model_name_or_path`` (Hub id or local folder); ``"whisper-offline"``
    (or ``"offline-whisper"``): the offline Whisper judge (:func:`load_offline_judge_transcriber`)."""
    if isinstance(model_name_or_path, str) and model_name_or_path.strip().lower() in OFFLINE_JUDGE_NAMES:
        return load_offline_judge_transcriber(device=device)
    return PipelineTranscriber(model_name_or_path, device=device, batch_size=batch_size)


def load_embedder(model_name_or_path: str, device=None) -> HFEmbedder:
    """An :class:`HFEmbedder` for ``model_name_or_path`` (Hub id or local folder)."""
    return HFEmbedder(model_name_or_path, device=device)


def pairwise_similarity(embedder: Embedder, waves_a, waves_b, sampling_rate_a: int, sampling_rate_b: int) -> List[float]:
    """Cosine similarity between ``embedder(waves_a[i])`` and ``embedder(waves_b[i])`` for each i."""
    if len(waves_a) != len(waves_b):
        raise ValueError(f"need as many waveforms on both sides, got {len(waves_a)} and {len(waves_b)}")
    if not waves_a:
        return []
    a = np.asarray(embedder(list(waves_a), sampling_rate_a), dtype=np.float64)
    b = np.asarray(embedder(list(waves_b), sampling_rate_b), dtype=np.float64)
    a /= np.linalg.norm(a, axis=1, keepdims=True).clip(min=1e-12)
    b /= np.linalg.norm(b, axis=1, keepdims=True).clip(min=1e-12)
    return [float(x) for x in (a * b).sum(axis=1)]
