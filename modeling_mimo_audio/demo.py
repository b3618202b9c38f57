"""The steps of `mimo-audio demo` and the model loading shared by the task commands.

Without `--model` the demo needs no download: it runs the whole path on a synthesized clip with the miniature
MiMo-Audio shipped in the package (`modeling_mimo_audio.mini_model_path()`), or, where that folder is missing, with
the tiny random model set (built with fixed seeds and cached in a local folder), whose text is meaningless and whose
audio is noise-like. With `--model` (and `--audio-tokenizer`) pointing at other checkpoints the same steps run on
those; `--model tiny` asks for the random set.
"""

import contextlib
import os
import time

import numpy as np

__all__ = [
    "DEFAULT_CACHE_DIR",
    "TINY_MODEL_NAME",
    "TINY_MODEL_NOTE",
    "load_model_and_processor",
    "run_demo",
    "step",
    "synthesize_clip",
]

DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "mimo_audio_demo")

TINY_MODEL_NOTE = (
    "NOTE: this run uses a TINY model with RANDOM weights (built locally, no download). Every step runs for real, "
    "but the text and audio it produces are meaningless. Pass --model and --audio-tokenizer (local folders or Hub "
    "ids) to run a real MiMo-Audio checkpoint."
)


def synthesize_clip(seconds: float = 2.0, sampling_rate: int = 24000, seed: int = 0) -> np.ndarray:
    """A deterministic speech-like test signal: a gliding harmonic tone (150 -> 300 Hz fundamental, 5 harmonics)
    with a syllable-rate (4 Hz) amplitude envelope and a little noise. Returns float32 `[samples]` in [-1, 1]."""
    if seconds <= 0:
        raise ValueError(f"seconds: expected a positive duration, got {seconds}")
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sampling_rate)), dtype=np.float64) / sampling_rate
    f0 = 150.0 * (2.0 ** (t / seconds))  # one octave up over the clip
    phase = 2 * np.pi * np.cumsum(f0) / sampling_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    envelope = 0.5 * (1 - np.cos(2 * np.pi * 4.0 * t)) * np.minimum(1.0, 20 * t) * np.minimum(1.0, 20 * (t[-1] - t))
    clip = envelope * voice + 0.01 * rng.standard_normal(t.shape)
    return (0.5 * clip / np.max(np.abs(clip))).astype(np.float32)


@contextlib.contextmanager
def step(name: str, timings: dict | None = None, printer=print):
    """Print `[name] ...`, run the block, then print its wall time; record it in `timings[name]`."""
    printer(f"[{name}] ...", flush=True)
    start = time.perf_counter()
    yield
    elapsed = time.perf_counter() - start
    if timings is not None:
        timings[name] = elapsed
    printer(f"[{name}] done in {elapsed:.2f} s", flush=True)


@contextlib.contextmanager
def single_thread_for_tiny_model(is_tiny: bool):
    """Run torch on one thread while the tiny model is used, then restore the thread count.

    The tiny model's matrices are a few dozen wide: extra threads only add synchronisation, and on a busy machine
    (more runnable threads than cores) they make each small op 10-20x slower. Real checkpoints keep torch's default.
    """
    import torch

    previous = torch.get_num_threads()
    if is_tiny:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _is_hf_native(model_name_or_path) -> bool:
    from transformers import PreTrainedConfig

    config_dict, _ = PreTrainedConfig.get_config_dict(model_name_or_path)
    return config_dict.get("model_type") == "mimo_audio"


TINY_MODEL_NAME = "tiny"


def load_model_and_processor(
    model=None, audio_tokenizer=None, text_tokenizer=None, cache_dir=None, device=None, dtype=None, seed=0
):
    """Load `(model, processor, is_tiny)` for the task commands.

    - `model=None`: the miniature MiMo-Audio shipped in the package (`modeling_mimo_audio.mini_model_path()`), a
      model trained here that does real work on its small vocabulary; the tiny random set when the package was
      installed without it.
    - `model="tiny"`: the tiny random model set from `build_tiny_model_set`, cached in `cache_dir`
      (default `~/.cache/mimo_audio_demo`); no download.
    - `model` = a converted (`model_type: "mimo_audio"`) folder or Hub id: the model and processor from it; the codec
      from its `audio_tokenizer/` sub-folder (local or on the Hub) unless `audio_tokenizer` names another one.
    - `model` = an upstream release folder or Hub id (`model_type: "qwen2"`): converted in memory; `audio_tokenizer`
      is required and `text_tokenizer` defaults to `model`.
    """
    from .convert_mimo_audio_checkpoint import _resolve_dtype, load_upstream_release
    from .mini import mini_model_available, mini_model_path

    if model is None and mini_model_available():
        model = mini_model_path()
        if dtype is None:
            dtype = "float32"  # shipped in float16 to stay small; CPU inference runs in float32
    if model is None or model == TINY_MODEL_NAME:
        if audio_tokenizer is not None or text_tokenizer is not None:
            raise ValueError("--audio-tokenizer / --text-tokenizer: only meaningful together with --model")
        from .tiny import build_tiny_model_set

        tiny_model, processor = build_tiny_model_set(cache_dir=cache_dir or DEFAULT_CACHE_DIR, seed=seed)
        if device is not None:
            tiny_model.to(device)
            processor.audio_tokenizer.to(device)
        return tiny_model.eval(), processor, True

    if _is_hf_native(model):
        from . import MiMoAudioForConditionalGeneration, MiMoAudioProcessor, MiMoAudioTokenizerModel

        if text_tokenizer is not None:
            raise ValueError("--text-tokenizer: only for upstream releases; a converted folder carries its tokenizer")
        dtype = _resolve_dtype(dtype)
        kwargs = {"dtype": dtype} if dtype is not None else {}
        lm = MiMoAudioForConditionalGeneration.from_pretrained(model, **kwargs)
        processor = MiMoAudioProcessor.from_pretrained(model, load_audio_tokenizer=audio_tokenizer is None, **kwargs)
        if audio_tokenizer is not None:
            processor.audio_tokenizer = MiMoAudioTokenizerModel.from_pretrained(audio_tokenizer, **kwargs).eval()
    else:
        if audio_tokenizer is None:
            raise ValueError(
                f"--audio-tokenizer: required with the upstream checkpoint {model!r} (e.g. the folder or Hub id of "
                "XiaomiMiMo/MiMo-Audio-Tokenizer)"
            )
        lm, processor = load_upstream_release(model, audio_tokenizer, text_tokenizer, dtype=dtype)
    if device is not None:
        lm.to(device)
        if getattr(processor, "audio_tokenizer", None) is not None:
            processor.audio_tokenizer.to(device)
    return lm.eval(), processor, False


def speech_forcing_processor(empty_token_id):
    """Demo-only logits processor for the tiny random model: the text head always picks `<|empty|>` ("next position is
    an audio patch"), so that the patch decoder and the codec decoder run in the TTS step. A random model would
    almost never pick it by itself. Never used with a real checkpoint."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    class _ForceAudioPatches(LogitsProcessor):
        def __call__(self, input_ids, scores):
            forced = torch.full_like(scores, float("-inf"))
            forced[:, empty_token_id] = 0.0
            return forced

    return LogitsProcessorList([_ForceAudioPatches()])


def _write_wav(path, waveform, sampling_rate):
    import soundfile as sf

    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    sf.write(path, waveform, sampling_rate)
    return path


def run_demo(
    model=None,
    audio_tokenizer=None,
    text_tokenizer=None,
    cache_dir=None,
    output_dir=None,
    max_new_tokens=None,
    device=None,
    dtype=None,
    seed=0,
    progress=True,
    printer=print,
) -> dict:
    """Run the demo's steps and return a summary dict (timings, texts, written files).

    Steps: load the model set (the shipped miniature by default; `model="tiny"` builds and caches the tiny random
    set); take the input clips (`demo_inputs`); codec round trip (wav -> codes -> wav); ASR of the clip; TTS of a
    sentence written to a wav; one batched pipeline call of four requests (two ASR clips of different lengths and
    two requests of a second task: one generate call per task). Generation is capped at `max_new_tokens` positions
    (default: the checkpoint's own cap; 16 for the tiny random set).
    """
    import torch

    torch.manual_seed(seed)
    timings, summary = {}, {"files": {}}
    cache_dir = cache_dir or DEFAULT_CACHE_DIR
    output_dir = output_dir or os.path.join(cache_dir, "outputs")
    os.makedirs(output_dir, exist_ok=True)

    with step("load model set", timings, printer):
        lm, processor, is_tiny = load_model_and_processor(
            model, audio_tokenizer, text_tokenizer, cache_dir=cache_dir, device=device, dtype=dtype, seed=seed
        )
    inputs = demo_inputs(model, processor.feature_extractor.sampling_rate, seed)
    with single_thread_for_tiny_model(is_tiny):
        return _run_demo_steps(lm, processor, is_tiny, cache_dir, output_dir, max_new_tokens, seed, progress, timings,
                               summary, printer, inputs)


DEMO_TTS_TEXT = "Hello from the MiMo-Audio demo."
TINY_DEMO_MAX_NEW_TOKENS = 16
MINI_DEMO_TTS_TEXT = "the red dog sees four green birds"


def demo_inputs(model, sampling_rate: int, seed: int = 0) -> dict:
    """The demo's inputs: with the shipped miniature (`model=None`), its own sample clips (espeak-ng speech in
    voices it never trained on, `samples/*.wav` of its folder) and a sentence of its vocabulary; otherwise a
    synthesized speech-like tone and an English sentence."""
    from .mini import mini_model_available, mini_model_path

    if model is None and mini_model_available():
        from processing.audio_io import load_audio

        folder = os.path.join(mini_model_path(), "samples")
        clips = sorted(name for name in os.listdir(folder) if name.endswith(".wav")) if os.path.isdir(folder) else []
        if len(clips) >= 2:
            return {
                "clip": load_audio(os.path.join(folder, clips[0]), sampling_rate),
                "short_clip": load_audio(os.path.join(folder, clips[1]), sampling_rate),
                "clip_name": clips[0],
                "tts_text": MINI_DEMO_TTS_TEXT,
                "second_task": ("tts", ["one two three", "the blue cat runs"]),
            }
    return {
        "clip": synthesize_clip(2.0, sampling_rate, seed=seed),
        "short_clip": synthesize_clip(1.2, sampling_rate, seed=seed + 1),
        "clip_name": "a synthesized 2 s tone",
        "tts_text": DEMO_TTS_TEXT,
        "second_task": ("text_dialogue", ["Say something nice.", "What is the capital of France?"]),
    }


def _run_demo_steps(lm, processor, is_tiny, cache_dir, output_dir, max_new_tokens, seed, progress, timings, summary,
                    printer, inputs):
    import torch
    from transformers import pipeline

    if is_tiny:
        printer(TINY_MODEL_NOTE)
        printer(f"  cached in {cache_dir}")
    n_params = sum(p.numel() for p in lm.parameters())
    printer(f"  language model: {n_params / 1e6:.2f} M parameters, device {lm.device}, dtype {lm.dtype}")

    sampling_rate = processor.feature_extractor.sampling_rate
    clip = inputs["clip"]
    summary["files"]["input"] = _write_wav(os.path.join(output_dir, "demo_input.wav"), clip, sampling_rate)
    printer(f"  input clip: {inputs['clip_name']}, {clip.shape[0] / sampling_rate:.1f} s at {sampling_rate} Hz")

    with step("codec round trip", timings, printer):
        codec = processor.audio_tokenizer
        features = processor.feature_extractor(clip, sampling_rate=sampling_rate, return_tensors="pt")
        with torch.no_grad():
            encoded = codec.encode(
                features["input_features"].to(codec.device), attention_mask=features["attention_mask"].to(codec.device)
            )
            decoded = codec.decode(encoded.audio_codes)
        codes = encoded.audio_codes
        roundtrip = decoded.audio_values[0, 0].float().cpu().numpy()
        summary["files"]["roundtrip"] = _write_wav(
            os.path.join(output_dir, "demo_roundtrip.wav"), roundtrip, sampling_rate
        )
        printer(
            f"  {clip.shape[0]} samples -> codes {tuple(codes.shape)} (batch, quantizers, 25 Hz frames) -> "
            f"{roundtrip.shape[0]} samples"
        )

    pipe = pipeline("mimo-audio", model=lm, processor=processor, device=lm.device)
    generation = {"progress": progress}
    if max_new_tokens is not None or is_tiny:
        generation["max_new_tokens"] = max_new_tokens or TINY_DEMO_MAX_NEW_TOKENS

    with step("ASR", timings, printer):
        result = pipe(clip, task="asr", **generation)
        summary["asr"] = result["text"]
        printer(f"  transcript: {result['text']!r}")

    with step("TTS", timings, printer):
        tts_generation = dict(generation)
        if is_tiny:
            printer("  (tiny model: the text head is forced to <|empty|> so that audio patches are generated)")
            tts_generation["logits_processor"] = speech_forcing_processor(lm.config.empty_token_id)
        printer(f"  text: {inputs['tts_text']!r}")
        result = pipe(inputs["tts_text"], task="tts", **tts_generation)
        audio = result["audio"] if result["audio"] is not None else np.zeros(0, np.float32)
        summary["files"]["tts"] = _write_wav(os.path.join(output_dir, "demo_tts.wav"), audio, result["sampling_rate"])
        printer(f"  text channel: {result['text']!r}")
        printer(f"  wrote {audio.shape[0] / result['sampling_rate']:.2f} s of audio to {summary['files']['tts']}")

    with step("batched call", timings, printer):
        # Requests are grouped by task; each group is ONE left-padded generate call.
        short_clip = inputs["short_clip"]
        second_task, texts = inputs["second_task"]
        requests = [
            {"task": "asr", "audio": clip},
            {"task": second_task, "text": texts[0]},
            {"task": "asr", "audio": short_clip},
            {"task": second_task, "text": texts[1]},
        ]
        results = pipe(requests, **generation)
        summary["batch"] = [r["text"] for r in results]
        printer(f"  {len(requests)} requests, 2 generate calls (asr x2: clips of {clip.shape[0] / sampling_rate:.1f} s "
                f"and {short_clip.shape[0] / sampling_rate:.1f} s; {second_task} x2)")
        for request, result in zip(requests, results):
            printer(f"  {request['task']}: {result['text']!r}")

    summary["timings"] = timings
    printer("timings: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in timings.items()))
    if is_tiny:
        printer("(tiny random weights: the content above is meaningless by design)")
    printer(f"outputs in {output_dir}")
    return summary
