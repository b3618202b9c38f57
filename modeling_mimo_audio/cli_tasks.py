"""Task sub-commands of `mimo-audio`: `demo`, `transcribe`, `speak`, `chat` (and `convert`).

Every command runs the miniature MiMo-Audio shipped in the package (trained here on espeak-ng speech; no download)
unless `--model` names another checkpoint: a converted folder / Hub id, an upstream release together with
`--audio-tokenizer`, or `tiny` for the tiny random model set of the tests.
"""

import os
import sys

from .cli_arguments import (
    UsageError,
    check_audio_file,
    check_device,
    check_output_dir,
    check_positive,
    check_source_path,
)

__all__ = ["add_subparsers", "check_model_arguments", "load_model"]


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


def check_dtype(value, option="--dtype"):
    """A weights dtype argument: a torch dtype name such as float32 or bfloat16, or "auto" (None passes)."""
    from .convert_mimo_audio_checkpoint import _resolve_dtype

    try:
        return _resolve_dtype(value)
    except ValueError as error:
        raise UsageError(f"{option}: expected a torch dtype name such as float32 or bfloat16 (or auto), got "
                         f"{value!r}") from error


def check_model_arguments(args):
    """The model arguments shared by the task and eval commands, checked before any model loads: numbers in range,
    local paths that exist, a known dtype and device, and no conflicting combination (`UsageError`)."""
    from .demo import TINY_MODEL_NAME

    check_positive(args.max_new_tokens, "--max-new-tokens")
    check_output_dir(getattr(args, "cache_dir", None), "--cache-dir")  # eval commands have none
    check_device(args.device)
    check_dtype(args.dtype)
    for option, value in (("--audio-tokenizer", args.audio_tokenizer), ("--text-tokenizer", args.text_tokenizer)):
        check_source_path(value, option)
    if args.model in (None, TINY_MODEL_NAME):
        if args.text_tokenizer is not None:
            raise UsageError("--text-tokenizer: only meaningful with --model naming an upstream release")
        if args.model == TINY_MODEL_NAME and args.audio_tokenizer is not None:
            raise UsageError("--audio-tokenizer: not used with --model tiny (the tiny set carries its own codec)")
        return
    check_source_path(args.model, "--model")
    if os.path.isdir(args.model):
        _check_model_folder(args)


def _check_model_folder(args):
    """A local `--model` folder: a converted checkpoint (`model_type: "mimo_audio"`) carries its tokenizers; an
    upstream release needs `--audio-tokenizer`."""
    import json

    config_path = os.path.join(args.model, "config.json")
    if not os.path.isfile(config_path):
        raise UsageError(f"--model: the folder {args.model} has no config.json (expected a MiMo-Audio checkpoint)")
    try:
        with open(config_path, encoding="utf-8") as f:
            model_type = json.load(f).get("model_type")
    except (OSError, ValueError, AttributeError) as error:
        raise UsageError(f"--model: cannot read {config_path}: {error}") from error
    if model_type == "mimo_audio":
        if args.text_tokenizer is not None:
            raise UsageError("--text-tokenizer: only for upstream releases; the converted folder given as --model "
                             "carries its own tokenizer")
    elif args.audio_tokenizer is None:
        raise UsageError(f"--audio-tokenizer: required with the upstream checkpoint {args.model} (e.g. the folder of "
                         "XiaomiMiMo/MiMo-Audio-Tokenizer)")


def load_model(args, cache_dir=None, seed=0):
    """`(model, processor, is_tiny)` for the checked model arguments of `args`; a loading failure names --model."""
    from .demo import TINY_MODEL_NOTE, load_model_and_processor

    try:
        model, processor, is_tiny = load_model_and_processor(
            args.model, args.audio_tokenizer, args.text_tokenizer, cache_dir=cache_dir, device=args.device,
            dtype=args.dtype, seed=seed,
        )
    except OSError as error:  # an unreachable Hub id, a folder missing weights, ...
        which = f"--model {args.model}" if args.model else "the default model"
        raise RuntimeError(f"cannot load the model set ({which}): {error}") from error
    if is_tiny:
        print(TINY_MODEL_NOTE, file=sys.stderr)
    return model, processor, is_tiny


def _load(args):
    import torch

    torch.manual_seed(args.seed)
    return load_model(args, cache_dir=args.cache_dir, seed=args.seed)


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

    check_model_arguments(args)
    check_output_dir(args.output_dir, "--output-dir")
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


def _with_model(check):
    """Decorator factory for the commands that use the model: the handler checks the arguments
    (`check_model_arguments`, then `check(args)`, the command's own; all before any model loads), loads the model
    set, then calls `run(args, model, processor, is_tiny)` (one torch thread for the tiny model, see
    `single_thread_for_tiny_model`)."""

    def decorate(run):
        def handler(args, **kwargs):
            from .demo import single_thread_for_tiny_model

            check_model_arguments(args)
            check(args)
            model, processor, is_tiny = _load(args)
            with single_thread_for_tiny_model(is_tiny):
                return run(args, model, processor, is_tiny, **kwargs)

        handler.__name__ = handler.__qualname__ = run.__name__
        handler.__doc__ = run.__doc__
        return handler

    return decorate


def _check_transcribe(args):
    check_positive(args.batch_size, "--batch-size")
    for path in args.audio:
        check_audio_file(path, "AUDIO")


@_with_model(_check_transcribe)
def _run_transcribe(args, model, processor, is_tiny) -> int:
    pipe = _pipeline(model, processor)
    results = pipe(list(args.audio), task="asr", batch_size=args.batch_size, **_generation_kwargs(args, is_tiny, 32))
    for path, result in zip(args.audio, results):
        # One `PATH<TAB>TRANSCRIPT` line per file, whatever the number of files, so the output is easy to parse.
        print(f"{path}\t{result['text'].strip()}")
    return 0


def _check_speak(args):
    import soundfile as sf

    if not args.text.strip():
        raise UsageError("TEXT: expected the text to say, got an empty string")
    if args.instruct is not None and not args.instruct.strip():
        raise UsageError("--instruct: expected a style instruction, got an empty string")
    if args.voice is not None:
        if not args.instruct:
            raise UsageError("--voice needs --instruct (MiMo-Audio takes a voice prompt only with a style instruction)")
        check_audio_file(args.voice, "--voice")
    if args.output == "-":
        if not args.stream:
            raise UsageError("--output -: raw PCM on standard output needs --stream")
        return
    if os.path.isdir(args.output):
        raise UsageError(f"--output: expected a .wav file name, but {args.output} is a folder")
    extension = os.path.splitext(args.output)[1].lstrip(".").upper()
    if extension not in sf.available_formats():
        raise UsageError(f"--output: cannot write audio of type {extension or '(no extension)'!r} to {args.output}; "
                         "use a .wav (or .flac, .ogg) file name")


@_with_model(_check_speak)
def _run_speak(args, model, processor, is_tiny) -> int:
    pipe = _pipeline(model, processor)
    request = {"text": args.text}
    if args.instruct:
        request["instruction"] = args.instruct
    if args.voice:
        request["voice"] = args.voice
    task = "instruct_tts" if args.instruct else "tts"
    generation = _generation_kwargs(args, is_tiny, 48)
    if is_tiny:
        from .demo import speech_forcing_processor

        # A random text head almost never picks <|empty|>: force it so that the audio path really runs.
        print("(tiny model: the text head is forced to <|empty|> so that audio patches are generated)",
              file=sys.stderr)
        generation["logits_processor"] = speech_forcing_processor(model.config.empty_token_id)
    if args.stream:
        return _speak_streaming(args, pipe, request, task, generation)
    result = pipe(request, task=task, **generation)
    if result["audio"] is None or len(result["audio"]) == 0:
        raise RuntimeError(f"the model generated no speech (text channel: {result['text']!r}); nothing written")
    seconds = _write_wav(args.output, result["audio"], result["sampling_rate"])
    print(f"text channel: {result['text']}")
    print(f"wrote {seconds:.2f} s of audio to {args.output}")
    return 0


def _speak_streaming(args, pipe, request, task, generation) -> int:
    """`speak --stream`: audio is written as it is generated, to the wav file (readable while it grows) or, with
    `--output -`, as raw 16-bit mono PCM at 24 kHz on standard output (`| aplay -r 24000 -f S16_LE`)."""
    import numpy as np
    import soundfile as sf

    rate = pipe.processor.feature_extractor.sampling_rate
    generation = {k: v for k, v in generation.items() if k not in ("progress", "streamer")}  # the stream is the bar
    samples, text = 0, []
    to_stdout = args.output == "-"
    sink = None if to_stdout else sf.SoundFile(args.output, "w", samplerate=rate, channels=1, subtype="PCM_16")
    try:
        for chunk in pipe(request, task=task, stream=True, **generation):
            text.append(chunk.text)
            if chunk.audio.size == 0:
                continue
            samples += chunk.audio.size
            if to_stdout:
                pcm = (np.clip(chunk.audio, -1.0, 1.0) * 32767).astype("<i2")
                sys.stdout.buffer.write(pcm.tobytes())
                sys.stdout.buffer.flush()
            else:
                sink.write(chunk.audio)
                sink.flush()
    finally:
        if sink is not None:
            sink.close()
    if samples == 0:
        if sink is not None:
            os.remove(args.output)
        raise RuntimeError(f"the model generated no speech (text channel: {''.join(text)!r}); nothing written")
    where = "standard output" if to_stdout else args.output
    print(f"text channel: {''.join(text).strip()}", file=sys.stderr if to_stdout else sys.stdout)
    print(f"streamed {samples / rate:.2f} s of audio to {where}", file=sys.stderr if to_stdout else sys.stdout)
    return 0


_CHAT_HELP = (
    "Type a message and press enter. Commands: /audio PATH (attach a clip to your next message), "
    "/reset (forget the history), /quit (or end of input)."
)


def _check_chat(args):
    if args.audio is not None:
        check_audio_file(args.audio, "--audio")
    check_output_dir(args.output_dir, "--output-dir")


@_with_model(_check_chat)
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
            try:
                pending_audio = check_audio_file(path, "/audio")
            except UsageError as error:  # a typo in the conversation is reported there; the chat goes on
                print(f"({error})", file=stdout, flush=True)
            else:
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
                part = {"type": "audio", "audio_codes": result["audio_codes"], "codes_layout": "frames_codebooks"}
                assistant_content.append(part)
            else:
                print("(the reply holds no speech; it stays in the history as text)", file=stdout, flush=True)
        history.append({"role": "assistant", "content": assistant_content})
    return 0


def _run_convert(args) -> int:
    from .convert_mimo_audio_checkpoint import run_from_args

    check_source_path(args.lm_dir, "--lm-dir")
    check_source_path(args.audio_tokenizer_dir, "--audio-tokenizer-dir")
    check_source_path(args.text_tokenizer_dir, "--text-tokenizer-dir")
    check_output_dir(args.output_dir, "--output-dir")
    check_dtype(args.dtype)
    return run_from_args(args)


def add_subparsers(subparsers):
    """Register `demo`, `transcribe`, `speak`, `chat` and `convert` on `subparsers` (argparse sub-parsers)."""
    demo = subparsers.add_parser(
        "demo",
        help="run the whole path (codec, ASR, TTS, batch) on a synthesized clip; the shipped miniature model, no download",
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
    speak.add_argument("--output", "-o", required=True,
                       help="wav file to write; with --stream, '-' writes raw 16-bit 24 kHz mono PCM to stdout")
    speak.add_argument("--stream", action="store_true",
                       help="write the audio while it is generated (see --output -)")
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
