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

from .cli_arguments import UsageError, check_audio_file, check_device, check_path, check_positive

__all__ = ["add_subparsers"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif")


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


def _codec_config(args):
    """Checks `--audio-tokenizer` and `--device` and reads the codec's config (no weights yet):
    `(folder, config, device)`."""
    from .configuration_mimo_audio_tokenizer import MiMoAudioTokenizerConfig

    folder = args.audio_tokenizer
    if folder is None:
        from .mini import mini_audio_tokenizer_path

        try:
            folder = mini_audio_tokenizer_path()
        except FileNotFoundError as error:
            raise UsageError(f"--audio-tokenizer: not given, and {error}") from error
    check_path(folder, "--audio-tokenizer", kind="dir")
    if not os.path.isfile(os.path.join(folder, "config.json")):
        raise UsageError(f"--audio-tokenizer: the folder {folder} has no config.json (a local tokenizer folder)")
    device = check_device(args.device)
    try:
        config = MiMoAudioTokenizerConfig.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, TypeError) as error:
        raise UsageError(f"--audio-tokenizer: cannot read {os.path.join(folder, 'config.json')}: {error}") from error
    return folder, config, device


def _load_codec(folder, config, device, args):
    import torch

    from .modeling_mimo_audio_tokenizer import MiMoAudioTokenizerModel

    model = MiMoAudioTokenizerModel.from_pretrained(
        folder, config=config, dtype=getattr(torch, args.dtype), local_files_only=True
    )
    return model.to(device).eval()


def _pairs(input_path, output_path, extensions, output_extension):
    """(source, destination) pairs for a file or a folder of files."""
    check_path(input_path, "INPUT")
    if os.path.isdir(input_path):
        if os.path.isfile(output_path):
            raise UsageError(f"OUTPUT: INPUT {input_path} is a folder, so OUTPUT {output_path} must be a folder")
        names = sorted(n for n in os.listdir(input_path) if n.lower().endswith(extensions))
        if not names:
            raise UsageError(f"INPUT: the folder {input_path} has no {'/'.join(extensions)} files")
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


def run_encode(args) -> int:
    """Handler of `codec encode`: every argument and input file is checked before the codec loads."""
    import numpy as np
    import torch

    from processing.audio_io import file_log_mel_segments
    from processing.feature_extraction_mimo_audio import MiMoAudioFeatureExtractor

    from .modeling_mimo_audio_tokenizer import ENCODE_SEGMENT_FRAMES

    check_positive(args.num_quantizers, "--num-quantizers")
    folder, config, device = _codec_config(args)
    if args.num_quantizers > config.num_quantizers:
        raise UsageError(f"--num-quantizers: expected 1 to {config.num_quantizers}, got {args.num_quantizers}")
    pairs = _pairs(args.input, args.output, AUDIO_EXTENSIONS, ".npy")
    for source, _ in pairs:
        check_audio_file(source, "INPUT")
    model = _load_codec(folder, config, device, args)
    extractor = MiMoAudioFeatureExtractor.from_tokenizer_config(model.config)
    for source, destination in _progress(pairs, args, "encoding"):
        # One codec segment (60 s) at a time, read from disk as it goes: memory does not grow with the file, and
        # the codes are the whole file's (the codec encodes segments independently).
        pieces = []
        try:
            for features in file_log_mel_segments(source, extractor, ENCODE_SEGMENT_FRAMES):
                with torch.inference_mode():
                    codes = model.encode(features[None].to(model.device), None, args.num_quantizers)
                pieces.append(codes.audio_codes[0].cpu())
        except (ValueError, TypeError) as error:  # the samples themselves (NaN, ...): an input error
            raise UsageError(f"INPUT: {source}: {error}") from error
        np.save(destination, torch.cat(pieces, dim=1).numpy().astype(np.int64))
    print(f"wrote {len(pairs)} code file(s) to {args.output}", file=sys.stderr)
    return 0


def _read_codes(source):
    """One `.npy` file of integer codes as `[num_quantizers, frames]` (a leading batch axis of 1 is dropped)."""
    import numpy as np

    try:
        codes = np.load(source, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise UsageError(f"INPUT: cannot read codes file {source}: {error}") from error
    if codes.ndim == 3 and codes.shape[0] == 1:
        codes = codes[0]
    if codes.ndim != 2 or not np.issubdtype(codes.dtype, np.integer):
        raise UsageError(
            f"INPUT: {source}: expected integer codes [num_quantizers, frames], got {codes.dtype} shape {codes.shape}"
        )
    if codes.shape[1] == 0:
        raise UsageError(f"INPUT: {source}: the codes file is empty (0 frames)")
    return codes


# Codec frames decoded at once by `codec decode` (60 s at 25 Hz), as upstream decodes long audio.
DECODE_CHUNK_FRAMES = 1500


def run_decode(args) -> int:
    """Handler of `codec decode`: every argument and codes file is checked before the codec loads."""
    import numpy as np
    import soundfile as sf
    import torch

    folder, config, device = _codec_config(args)
    pairs = _pairs(args.input, args.output, (".npy",), ".wav")
    for source, _ in pairs:
        _read_codes(source)  # header and dtype; the arrays are small (int64, 25 frames per second)
    model = _load_codec(folder, config, device, args)
    for source, destination in _progress(pairs, args, "decoding"):
        codes = torch.from_numpy(_read_codes(source).astype(np.int64))
        # Independent 60 s chunks, as upstream decodes long audio (and `MiMoAudioProcessor.codes_to_waveforms`),
        # written as they come: memory does not grow with the file.
        with sf.SoundFile(destination, "w", samplerate=model.config.sampling_rate, channels=1) as out:
            for start in range(0, codes.shape[1], DECODE_CHUNK_FRAMES):
                try:
                    with torch.inference_mode():
                        chunk = codes[:, start : start + DECODE_CHUNK_FRAMES].to(model.device)
                        audio = model.decode(chunk).audio_values
                except (ValueError, TypeError) as error:  # codes outside the codebooks, too many quantizers, ...
                    out.close()
                    os.remove(destination)
                    raise UsageError(f"INPUT: {source}: {error}") from error
                out.write(audio[0, 0].float().cpu().numpy())
    print(f"wrote {len(pairs)} audio file(s) to {args.output}", file=sys.stderr)
    return 0
