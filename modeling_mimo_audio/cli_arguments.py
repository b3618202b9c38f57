"""The one error style of the ``mimo-audio`` command line, and the argument checks every sub-command shares.

A failure is one line ``error: <what and which argument>`` on stderr, with exit status 2 for a usage error (a bad
or conflicting argument, a missing or unreadable input path: :class:`UsageError`, and argparse's own errors) and 1
for a failure while running (anything else); no traceback unless ``--debug``. Handlers check their arguments and
input paths with these helpers before they load any model. This module imports nothing of the project, so that
every command module (:mod:`modeling_mimo_audio.cli`, its sub-command modules and :mod:`evaluation.cli`) can use
it without importing each other.
"""

import os
import re
import sys

__all__ = [
    "EXIT_FAILURE",
    "EXIT_USAGE",
    "UsageError",
    "check_audio_file",
    "check_device",
    "check_output_dir",
    "check_path",
    "check_positive",
    "check_source_path",
    "looks_like_hub_id",
    "run_command",
]

EXIT_USAGE = 2
EXIT_FAILURE = 1


class UsageError(Exception):
    """A wrong command line: a bad or conflicting argument, or a missing / unreadable input path.

    `run_command` reports it as `error: <message>` on stderr with exit status 2. The message names the argument."""


def check_positive(value, option: str, minimum: int = 1):
    """`value` (an int argument, or None when not given) is at least `minimum`, or a `UsageError` naming `option`."""
    if value is not None and value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise UsageError(f"{option}: expected {what}, got {value}")
    return value


def check_path(path: str, option: str, kind: str = "any") -> str:
    """An existing input path: `kind` is "file", "dir" or "any"; otherwise a `UsageError` naming `option`."""
    if not os.path.exists(path):
        raise UsageError(f"no such file or directory: {path} ({option})")
    if kind == "file" and not os.path.isfile(path):
        raise UsageError(f"{option}: expected a file, got the folder {path}")
    if kind == "dir" and not os.path.isdir(path):
        raise UsageError(f"{option}: expected a folder, got the file {path}")
    return path


# A Hub repo id: `name` or `namespace/name`, letters, digits, `_`, `-` and `.`, not starting with `.` or `-`.
_HUB_ID = re.compile(r"[A-Za-z0-9_][\w.-]*(/[A-Za-z0-9_][\w.-]*)?")


def looks_like_hub_id(name: str) -> bool:
    return bool(_HUB_ID.fullmatch(name)) and ".." not in name and "--" not in name and not name.endswith((".", "-"))


def check_source_path(value, option: str):
    """A folder-or-Hub-id argument (`--model`, `--audio-tokenizer`, `--dataset`, ...): when it does not exist locally
    and cannot be a Hub id (it starts with `.`, `/` or `~`, or has more than one `/`, a `\\`, spaces, ...), it is a
    missing local path: `UsageError("no such file or directory: PATH (OPTION)")`. A well-formed Hub id passes (it
    is resolved when loading)."""
    if value is None or os.path.exists(value):
        return value
    if value.startswith((".", "/", "~", os.sep)) or not looks_like_hub_id(value):
        raise UsageError(f"no such file or directory: {value} ({option})")
    return value


def check_output_dir(path, option: str):
    """An output folder argument: it may not exist yet (it is created), but it may not be an existing file."""
    if path is not None and os.path.exists(path) and not os.path.isdir(path):
        raise UsageError(f"{option}: expected a folder, but {path} is a file")
    return path


def check_audio_file(path: str, option: str) -> str:
    """An input audio file that exists, is readable (its header) and holds at least one sample."""
    import soundfile as sf

    check_path(path, option, kind="file")
    try:
        frames = sf.info(path).frames
    except (RuntimeError, sf.LibsndfileError) as error:
        raise UsageError(f"{option}: cannot read audio file {path}: {error}") from error
    if frames == 0:
        raise UsageError(f"{option}: the audio file {path} is empty (it has no samples)")
    return path


def check_device(value, option: str = "--device"):
    """A torch device argument that names a device this machine has (None: the default, passes)."""
    if value is None:
        return None
    import torch

    try:
        device = torch.device(value)
    except (RuntimeError, ValueError) as error:
        raise UsageError(f"{option}: expected a torch device such as cpu or cuda:0, got {value!r}") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError(f"{option}: {value!r} was requested but CUDA is not available on this machine")
    return device


def _describe(error: BaseException) -> str:
    message = str(error).strip()
    if isinstance(error, (UsageError, ValueError, TypeError, OSError, RuntimeError)) and message:
        return message
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def run_command(args) -> int:
    """Run the handler the parsed `args` selected (`parser.set_defaults(handler=...)`) and return its exit status;
    an exception becomes one `error: ...` line on stderr (status 2 for `UsageError`, 1 otherwise), or propagates
    with its traceback when `args.debug` is set."""
    try:
        return int(args.handler(args) or 0)
    except Exception as error:
        if getattr(args, "debug", False):
            raise
        if isinstance(error, UsageError):
            print(f"error: {_describe(error)}", file=sys.stderr, flush=True)
            return EXIT_USAGE
        print(f"error: {_describe(error)} (run again with --debug for the traceback)", file=sys.stderr, flush=True)
        return EXIT_FAILURE
