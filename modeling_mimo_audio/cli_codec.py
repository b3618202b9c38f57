"""`mimo-audio codec encode|decode`: audio files <-> MiMo-Audio RVQ codes (`.npy`) with a local tokenizer folder.

    mimo-audio codec encode speech.wav speech.npy --audio-tokenizer ./MiMo-Audio-Tokenizer
    mimo-audio codec encode clips/ codes/ --audio-tokenizer ./MiMo-Audio-Tokenizer --num-quantizers 8
    mimo-audio codec decode codes/ wavs/ --audio-tokenizer ./MiMo-Audio-Tokenizer

A `.npy` file holds one clip's codes as int64 `[num_quantizers, frames]` (25 frames per second). Decoding writes
24 kHz mono WAV files. Nothing is downloaded: `--audio-tokenizer` must be a local folder; without it the codec of
the shipped miniature MiMo-Audio is used.
"""

import os
import sys

__all__ = ["add_subparsers"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


class CodecCliError(Exception):
    """A user error reported as one line on stderr (exit status 2), never a traceback."""


def add_subparsers(subparsers):
    """Adds `codec encode` and `codec decode` to the `mimo-audio` command line."""
    codec = subparsers.add_parser("codec", help="encode audio to MiMo-Audio codes or decode codes to audio")
    actions = codec.add_subparsers(dest="codec_command", required=True, metavar="{encode,decode}")

    encode = actions.add_parser(
        "encode", help="audio file(s) -> codes .npy", description="Encode an audio file, or every audio file of a "
        "folder, into int64 [num_quantizers, frames] code arrays saved as .npy."
    )
    encode.add_argument("input", help="audio file (.wav, .flac, ...) or a folder of them")
    encode.add_argument("output", help="output .npy file, or a folder when INPUT is a folder")
    encode.add_argument(
        "--num-quantizers", type=int, default=8, help="leading RVQ codebooks to keep (default 8, what the LM uses)"
    )
    _add_common_arguments(encode)
    encode.set_defaults(handler=run_encode)

    decode = actions.add_parser(
        "decode", help="codes .npy -> 24 kHz WAV", description="Decode a .npy code array, or every .npy file of a "
        "folder, into 24 kHz mono WAV files."
    )
    decode.add_argument("input", help=".npy file of [num_quantizers, frames] codes, or a folder of them")
    decode.add_argument("output", help="output .wav file, or a folder when INPUT is a folder")
    _add_common_arguments(decode)
    decode.set_defaults(handler=run_decode)


def _add_common_arguments(parser):
    parser.add_argument(
        "--audio-tokenizer",
        default=None,
        help="local MiMo-Audio-Tokenizer folder (upstream or saved by this package); default: the codec of the "
        "miniature MiMo-Audio shipped in the package",
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    parser.add_argument(
        "--dtype", default="float32", choices=("float32", "bfloat16", "float16"), help="weights dtype (default float32)"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _load_codec(args):
    import torch

    from .modeling_mimo_audio_tokenizer import MiMoAudioTokenizerModel

    folder = args.audio_tokenizer
    if folder is None:
        from .mini import mini_audio_tokenizer_path

        try:
            folder = mini_audio_tokenizer_path()
        except FileNotFoundError as error:
            raise CodecCliError(f"--audio-tokenizer: not given, and {error}") from error
    if not os.path.isdir(folder):
        raise CodecCliError(f"--audio-tokenizer: {folder!r} is not a folder (a local tokenizer folder is required)")
    if not os.path.isfile(os.path.join(folder, "config.json")):
        raise CodecCliError(f"--audio-tokenizer: {folder!r} has no config.json")
    try:
        device = torch.device(args.device)
    except RuntimeError as error:
        raise CodecCliError(f"--device: {error}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CodecCliError("--device: CUDA was requested but is not available")
    model = MiMoAudioTokenizerModel.from_pretrained(folder, dtype=getattr(torch, args.dtype), local_files_only=True)
    return model.to(device).eval()


def _pairs(input_path, output_path, extensions, output_extension):
    """(source, destination) pairs for a file or a folder of files."""
    if not os.path.exists(input_path):
        raise CodecCliError(f"input {input_path!r} does not exist")
    if os.path.isdir(input_path):
        if os.path.isfile(output_path):
            raise CodecCliError(f"input {input_path!r} is a folder, so output {output_path!r} must be a folder")
        names = sorted(n for n in os.listdir(input_path) if n.lower().endswith(extensions))
        if not names:
            raise CodecCliError(f"folder {input_path!r} has no {'/'.join(extensions)} files")
        os.makedirs(output_path, exist_ok=True)
        return [
            (os.path.join(input_path, n), os.path.join(output_path, os.path.splitext(n)[0] + output_extension))
            for n in names
        ]
    if os.path.isdir(output_path):
        stem = os.path.splitext(os.path.basename(input_path))[0]
        output_path = os.path.join(output_path, stem + output_extension)
    parent = os.path.dirname(os.path.abspath(output_path))
    os.makedirs(parent, exist_ok=True)
    return [(input_path, output_path)]


def _progress(items, args, description):
    from tqdm.auto import tqdm

    return tqdm(items, desc=description, unit="file", disable=args.no_progress or len(items) < 2)


def _report(error) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 2


def run_encode(args) -> int:
    """Handler of `codec encode`."""
    try:
        return _encode(args)
    except (CodecCliError, ValueError, TypeError) as error:
        return _report(error)


def _encode(args) -> int:
    import numpy as np
    import soundfile as sf
    import torch

    from processing.feature_extraction_mimo_audio import MiMoAudioFeatureExtractor

    pairs = _pairs(args.input, args.output, AUDIO_EXTENSIONS, ".npy")
    model = _load_codec(args)
    if not 1 <= args.num_quantizers <= model.config.num_quantizers:
        raise CodecCliError(f"--num-quantizers: expected 1 to {model.config.num_quantizers}, got {args.num_quantizers}")
    extractor = MiMoAudioFeatureExtractor.from_tokenizer_config(model.config)
    for source, destination in _progress(pairs, args, "encoding"):
        try:
            audio, rate = sf.read(source, dtype="float32", always_2d=True)
        except (RuntimeError, sf.LibsndfileError) as error:
            raise CodecCliError(f"cannot read audio file {source!r}: {error}") from error
        try:
            features = extractor(audio.T.copy(), sampling_rate=rate, device=model.device)
        except (ValueError, TypeError) as error:
            raise CodecCliError(f"{source}: {error}") from error
        with torch.inference_mode():
            codes = model.encode(features["input_features"], features["attention_mask"], args.num_quantizers)
        np.save(destination, codes.audio_codes[0].cpu().numpy().astype(np.int64))
    print(f"wrote {len(pairs)} code file(s) to {args.output}", file=sys.stderr)
    return 0


def run_decode(args) -> int:
    """Handler of `codec decode`."""
    try:
        return _decode(args)
    except (CodecCliError, ValueError, TypeError) as error:
        return _report(error)


def _decode(args) -> int:
    import numpy as np
    import soundfile as sf
    import torch

    pairs = _pairs(args.input, args.output, (".npy",), ".wav")
    model = _load_codec(args)
    for source, destination in _progress(pairs, args, "decoding"):
        try:
            codes = np.load(source, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise CodecCliError(f"cannot read codes file {source!r}: {error}") from error
        if codes.ndim == 3 and codes.shape[0] == 1:
            codes = codes[0]
        if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
            raise CodecCliError(
                f"{source}: expected integer codes [num_quantizers, frames], got {codes.dtype} shape {codes.shape}"
            )
        try:
            with torch.inference_mode():
                audio = model.decode(torch.from_numpy(codes.astype(np.int64)).to(model.device)).audio_values
        except (ValueError, TypeError) as error:
            raise CodecCliError(f"{source}: {error}") from error
        sf.write(destination, audio[0, 0].float().cpu().numpy(), model.config.sampling_rate)
    print(f"wrote {len(pairs)} audio file(s) to {args.output}", file=sys.stderr)
    return 0
