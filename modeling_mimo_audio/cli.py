"""The ``mimo-audio`` command line (also ``python -m modeling_mimo_audio``).

Each area of the package contributes its own sub-commands through an
``add_subparsers(subparsers)`` function, so this file only assembles them:

- ``codec encode|decode``           -> :mod:`modeling_mimo_audio.cli_codec`
- ``demo``, ``transcribe``, ``speak``, ``chat`` -> :mod:`modeling_mimo_audio.cli_tasks`
- ``eval TASK``, ``eval compare``   -> :mod:`evaluation.cli`
"""

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from evaluation import cli as eval_cli

    from . import cli_codec, cli_tasks

    parser = argparse.ArgumentParser(prog="mimo-audio", description="MiMo-Audio for Hugging Face transformers.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (cli_tasks, cli_codec, eval_cli):
        module.add_subparsers(subparsers)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Every sub-command stores its handler with ``parser.set_defaults(handler=...)``.
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
