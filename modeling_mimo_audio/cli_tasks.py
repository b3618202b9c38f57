"""Task sub-commands of `mimo-audio`: `demo`, `transcribe`, `speak`, `chat` (and `convert`).

Every command runs the miniature MiMo-Audio shipped in the package (trained here on espeak-ng speech; no download)
unless `--model` names another checkpoint: a converted folder / Hub id, an upstream release together with
`--audio-tokenizer`, or `tiny` for the tiny random model set of the tests.
"""

import os
import sys

__all__ = ["add_subparsers"]


def _add_model_arguments(parser):
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        default=None,
        help="converted MiMo-Audio folder or Hub id, an upstream release folder (then --audio-tokenizer is "
        "required), or 'tiny' (the tiny random model of the tests: meaningless output); default: the miniature "
        "MiMo-Audio shipped in the package (English, a 350-word vocabulary)",
    )
    group.add_argument("--audio-tokenizer", default=None, help="MiMo-Audio-Tokenizer folder or Hub id")
    group.add_argument("--text-tokenizer", default=None, help="text tokenizer folder (default: --model)")
    group.add_argument(
        "--cache-dir", default=None, help="where the tiny demo model set is cached (default ~/.cache/mimo_audio_demo)"
    )
    group.add_argument("--device", default=None, help="torch device, e.g. cpu or cuda (default: cpu)")
    group.add_argument("--dtype", default=None, help="weights dtype for real checkpoints, e.g. bfloat16")
    group.add_argument("--seed", type=int, default=0, help="random seed (sampling, tiny weights)")
    group.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="cap on generated LM positions (one position = one text token or 0.16 s of audio)",
    )
    group.add_argument("--no-progress", action="store_true", help="hide the generation progress bar")


def _check_max_new_tokens(args):
    if args.max_new_tokens is not None and args.max_new_tokens < 1:
        raise ValueError(f"--max-new-tokens: expected a positive integer, got {args.max_new_tokens}")


def _load(args):
    import torch

    from .demo import TINY_MODEL_NOTE, load_model_and_processor

    _check_max_new_tokens(args)
    torch.manual_seed(args.seed)
    model, processor, is_tiny = load_model_and_processor(
        args.model,
        args.audio_tokenizer,
        args.text_tokenizer,
        cache_dir=args.cache_dir,
        device=args.device,
        dtype=args.dtype,
        seed=args.seed,
    )
    if is_tiny:
        print(TINY_MODEL_NOTE, file=sys.stderr)
    return model, processor, is_tiny


def _pipeline(model, processor):
    from transformers import pipeline

    return pipeline("mimo-audio", model=model, processor=processor, device=model.device)


def _generation_kwargs(args, is_tiny, tiny_default):
    max_new_tokens = args.max_new_tokens
    if max_new_tokens is None and is_tiny:
        max_new_tokens = tiny_default
    kwargs = {"progress": not args.no_progress}
    if max_new_tokens is not None:
        kwargs["max_new_tokens"] = max_new_tokens
    return kwargs


def _write_wav(path, waveform, sampling_rate):
    import numpy as np
    import soundfile as sf

    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    waveform = np.zeros(0, np.float32) if waveform is None else np.asarray(waveform, dtype=np.float32).reshape(-1)
    sf.write(path, waveform, sampling_rate)
    return waveform.shape[0] / sampling_rate


def _run_demo(args) -> int:
    from .demo import run_demo

    _check_max_new_tokens(args)
    run_demo(
        model=args.model,
        audio_tokenizer=args.audio_tokenizer,
        text_tokenizer=args.text_tokenizer,
        cache_dir=args.cache_dir,
        output_dir=args.output_dir,
        max_new_tokens=args.max_new_tokens,
        device=args.device,
        dtype=args.dtype,
        seed=args.seed,
        progress=not args.no_progress,
    )
    return 0


def _with_model(run):
    """Decorator: load the model set, then call `run(args, model, processor, is_tiny)` (one torch thread for the
    tiny model, see `single_thread_for_tiny_model`)."""

    def handler(args, **kwargs):
        from .demo import single_thread_for_tiny_model

        model, processor, is_tiny = _load(args)
        with single_thread_for_tiny_model(is_tiny):
            return run(args, model, processor, is_tiny, **kwargs)

    handler.__name__ = handler.__qualname__ = run.__name__
    handler.__doc__ = run.__doc__
    return handler


def _check_audio_files(args):
    missing = [path for path in args.audio if not os.path.isfile(path)]
    if missing:
        raise FileNotFoundError(f"AUDIO: no such file(s): {missing}")


def _run_transcribe(args) -> int:
    _check_audio_files(args)
    return _transcribe(args)


@_with_model
def _transcribe(args, model, processor, is_tiny) -> int:
    pipe = _pipeline(model, processor)
    results = pipe(list(args.audio), task="asr", batch_size=args.batch_size, **_generation_kwargs(args, is_tiny, 32))
    for path, result in zip(args.audio, results):
        # One `PATH<TAB>TRANSCRIPT` line per file, whatever the number of files, so the output is easy to parse.
        print(f"{path}\t{result['text'].strip()}")
    return 0


@_with_model
def _run_speak(args, model, processor, is_tiny) -> int:
    pipe = _pipeline(model, processor)
    request = {"text": args.text}
    if args.instruct:
        request["instruction"] = args.instruct
    if args.voice:
        if not args.instruct:
            print("error: --voice needs --instruct (MiMo-Audio takes a voice prompt only with a style instruction)",
                  file=sys.stderr)
            return 2
        request["voice"] = args.voice
    task = "instruct_tts" if args.instruct else "tts"
    generation = _generation_kwargs(args, is_tiny, 48)
    if is_tiny:
        from .demo import speech_forcing_processor

        # A random text head almost never picks <|empty|>: force it so that the audio path really runs.
        print("(tiny model: the text head is forced to <|empty|> so that audio patches are generated)",
              file=sys.stderr)
        generation["logits_processor"] = speech_forcing_processor(model.config.empty_token_id)
    result = pipe(request, task=task, **generation)
    if result["audio"] is None or len(result["audio"]) == 0:
        print(f"error: the model generated no speech (text channel: {result['text']!r}); nothing written",
              file=sys.stderr)
        return 1
    seconds = _write_wav(args.output, result["audio"], result["sampling_rate"])
    print(f"text channel: {result['text']}")
    print(f"wrote {seconds:.2f} s of audio to {args.output}")
    return 0


_CHAT_HELP = (
    "Type a message and press enter. Commands: /audio PATH (attach a clip to your next message), "
    "/reset (forget the history), /quit (or end of input)."
)


@_with_model
def _run_chat(args, model, processor, is_tiny, stdin=None, stdout=None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    pipe = _pipeline(model, processor)
    generation = _generation_kwargs(args, is_tiny, 32)
    os.makedirs(args.output_dir, exist_ok=True)
    history = []  # explicit conversation: [{"role": ..., "content": [...]}, ...]
    pending_audio = args.audio
    turn = 0
    print(_CHAT_HELP, file=stdout, flush=True)
    for line in stdin:
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            break
        if line == "/reset":
            history, pending_audio = [], None
            print("(history cleared)", file=stdout, flush=True)
            continue
        if line.startswith("/audio"):
            path = line[len("/audio") :].strip()
            if not os.path.isfile(path):
                print(f"(no such file: {path!r})", file=stdout, flush=True)
            else:
                pending_audio = path
                print(f"(attached {path} to your next message)", file=stdout, flush=True)
            continue
        content = []
        if pending_audio is not None:
            content.append({"type": "audio", "path": pending_audio})
            pending_audio = None
        content.append({"type": "text", "text": line})
        history.append({"role": "user", "content": content})
        result = pipe(history, reply=args.reply, thinking=args.thinking, **generation)
        turn += 1
        print(f"assistant: {result['text']}", file=stdout, flush=True)
        assistant_content = [{"type": "text", "text": result["text"]}]
        if args.reply == "speech":
            path = os.path.join(args.output_dir, f"chat_turn_{turn:02d}.wav")
            seconds = _write_wav(path, result["audio"], result["sampling_rate"])
            print(f"(wrote {seconds:.2f} s of audio to {path})", file=stdout, flush=True)
            if result["audio_codes"] is not None and result["audio_codes"].shape[0] > 0:
                # The history keeps the generated codes themselves (exact, no re-encoding), as upstream does.
                assistant_content.append({"type": "audio", "audio_codes": result["audio_codes"]})
            else:
                print("(the reply holds no speech; it stays in the history as text)", file=stdout, flush=True)
        history.append({"role": "assistant", "content": assistant_content})
    return 0


def _run_convert(args) -> int:
    from .convert_mimo_audio_checkpoint import run_from_args

    return run_from_args(args)


def add_subparsers(subparsers):
    """Register `demo`, `transcribe`, `speak`, `chat` and `convert` on `subparsers` (argparse sub-parsers)."""
    demo = subparsers.add_parser(
        "demo",
        help="run the whole path (codec, ASR, TTS, batch) on a synthesized clip; tiny random model, no download",
        description="Runs codec round trip, ASR, TTS and a batched call on a synthesized clip, printing each step's "
        "time. Without --model it builds (and caches) a tiny random model set: the output is meaningless.",
    )
    _add_model_arguments(demo)
    demo.add_argument("--output-dir", default=None, help="where to write the wavs (default: CACHE_DIR/outputs)")
    demo.set_defaults(handler=_run_demo)

    transcribe = subparsers.add_parser("transcribe", help="speech recognition of audio files")
    transcribe.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files (any rate; resampled to 24 kHz)")
    transcribe.add_argument("--batch-size", type=int, default=8, help="files per generate call (default 8)")
    _add_model_arguments(transcribe)
    transcribe.set_defaults(handler=_run_transcribe)

    speak = subparsers.add_parser("speak", help="text to speech, written to a wav file")
    speak.add_argument("text", metavar="TEXT", help="the text to say")
    speak.add_argument("--output", "-o", required=True, help="wav file to write")
    speak.add_argument("--instruct", default=None, help="style instruction (instruct-TTS, with thinking)")
    speak.add_argument("--voice", default=None, help="wav file whose voice to use (voice prompt)")
    _add_model_arguments(speak)
    speak.set_defaults(handler=_run_speak)

    chat = subparsers.add_parser(
        "chat", help="interactive conversation over stdin (text in; text or speech out)", description=_CHAT_HELP
    )
    chat.add_argument("--audio", default=None, help="audio clip attached to the first message")
    chat.add_argument(
        "--reply", choices=("text", "speech"), default="text", help="answer in text or in speech (default text)"
    )
    chat.add_argument("--thinking", action="store_true", help="let the model think before a text answer")
    chat.add_argument("--output-dir", default="mimo_audio_chat", help="where speech replies are written")
    _add_model_arguments(chat)
    chat.set_defaults(handler=_run_chat)

    from .convert_mimo_audio_checkpoint import build_argument_parser

    convert = subparsers.add_parser(
        "convert", help="convert an upstream MiMo-Audio release into one Hugging Face-native folder"
    )
    build_argument_parser(convert)
    convert.set_defaults(handler=_run_convert)
