"""The ``mimo-audio`` command line (also ``python -m modeling_mimo_audio``).

Each area of the package contributes its own sub-commands through an
``add_subparsers(subparsers)`` function, so this file only assembles them:

- ``codec encode|decode``           -> :mod:`modeling_mimo_audio.cli_codec`
- ``demo``, ``transcribe``, ``speak``, ``chat`` -> :mod:`modeling_mimo_audio.cli_tasks`
- ``eval TASK``, ``eval compare``   -> :mod:`evaluation.cli`

and runs the chosen one in the one error style every sub-command shares (``error: <what and which argument>`` on
stderr, exit status 2 for usage errors and 1 for failures, no traceback unless ``--debug``, given anywhere on the
command line): see :mod:`modeling_mimo_audio.cli_arguments`, whose checks every handler runs before it loads a model.
"""

import argparse
import sys

from .cli_arguments import EXIT_USAGE, run_command

__all__ = ["build_parser", "main"]


class _ArgumentParser(argparse.ArgumentParser):
    """argparse's own usage errors (missing or malformed arguments) in the same one-line style, exit status 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"error: {message} (see `{self.prog} --help`)\n")


_DEBUG_HELP = "on an error, show the Python traceback instead of a one-line message"


def _add_debug_option(parser, seen):
    """`--debug` on `parser` and on every sub-command below it, so that it may come anywhere on the command line
    (the sub-commands' copies leave the value alone unless given: `default=SUPPRESS`)."""
    for action in parser._actions:  # argparse keeps sub-parsers in a private list: the only way to walk them
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=_DEBUG_HELP)
                    _add_debug_option(sub, seen)


def build_parser() -> argparse.ArgumentParser:
    from evaluation import cli as eval_cli

    from . import cli_codec, cli_tasks

    parser = _ArgumentParser(prog="mimo-audio", description="MiMo-Audio for Hugging Face transformers.")
    parser.add_argument("--debug", action="store_true", help=_DEBUG_HELP)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (cli_tasks, cli_codec, eval_cli):
        module.add_subparsers(subparsers)
    _add_debug_option(parser, set())
    return parser


def main(argv=None) -> int:
    """Parse `argv` (default: `sys.argv[1:]`) and run the sub-command; returns the exit status (argparse's own usage
    errors and `--help` exit through `SystemExit`, as argparse does)."""
    args = build_parser().parse_args(argv)
    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
