"""Shared command line of the benchmarks that compare miniature folders side by side (`mini_asr_conditions.py`,
`mini_tts_conditioning.py`): `--models` / `--labels` / `--batch-size` / `--no-save`, and the report appended to
RESULTS.md."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def add_model_arguments(parser, label_help: str = "a name per model (default: folder names)"):
    parser.add_argument("--models", nargs="+", default=None, help="model folders (default: the shipped miniature)")
    parser.add_argument("--labels", nargs="+", default=None, help=label_help)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-save", action="store_true", help="do not append to benchmarks/RESULTS.md")


def parse_model_arguments(parser, argv) -> tuple:
    """Parses `argv`, checks that espeak-ng is installed, and returns `(args, models, labels)`: the model folders
    (the shipped miniature by default) and one label each. A label count mismatch or a batch size below 1 is a usage
    error naming the argument."""
    from modeling_mimo_audio import mini_model_path
    from training_recipes.mini.corpus import require_espeak

    args = parser.parse_args(argv)
    require_espeak()
    if args.batch_size < 1:
        parser.error(f"--batch-size: expected a positive number, got {args.batch_size}")
    models = args.models or [mini_model_path()]
    labels = args.labels or [os.path.basename(os.path.normpath(model)) for model in models]
    if len(labels) != len(models):
        parser.error(f"--labels: expected one label per model ({len(models)}), got {len(labels)}")
    return args, models, labels


def publish(report: str, args):
    """Prints `report` and, unless `--no-save`, appends it to benchmarks/RESULTS.md."""
    print(report)
    if not args.no_save:
        with open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), "a", encoding="utf-8") as handle:
            handle.write("\n" + report)
