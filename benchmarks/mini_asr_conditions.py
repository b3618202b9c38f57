"""ASR of miniature MiMo-Audio folders by voice and speaking rate, side by side.

    python benchmarks/mini_asr_conditions.py                                   # the shipped miniature
    python benchmarks/mini_asr_conditions.py --models runs/a/sft runs/b/sft --labels a b
    python benchmarks/mini_asr_conditions.py --num-texts 10 --no-save          # a quick look, printed only

The corpus' `test` split (held-out random word sequences) speaks in the training voices at 130-210 words per minute,
so `eval asr` says nothing about a rate outside that range, or about a voice spoken plainly (`-v en-us`, espeak-ng's
default, what a user types first). This script speaks the first `--num-texts` of `test`'s texts again with espeak-ng,
the corpus' own synthesis (`training_recipes.mini.corpus.speak`), in every `--voices` x `--speeds` condition, and
transcribes them with each model through the `"mimo-audio"` pipeline, as `mimo-audio transcribe` does (greedy ASR
preset). WER is the mean per-utterance rate (`evaluation.metrics.text`), as `eval asr` reports it.

The table (one row per condition, one column per model) is printed and appended, with the date, to
benchmarks/RESULTS.md. It needs espeak-ng (`apt-get install espeak-ng`).
"""

import argparse
import datetime
import os
import shlex
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from mini_models import add_model_arguments, parse_model_arguments, publish  # noqa: E402

DEFAULT_VOICES = ("en-us", "en-gb", "en-029", "en-us+f2", "en-gb-scotland+m3")
DEFAULT_SPEEDS = (100, 140, 175, 220, 260)
PITCH = 50


def test_texts(num_texts: int) -> list[str]:
    """The first `num_texts` random word sequences of the corpus' `test` split (its plan: no synthesis)."""
    from training_recipes.mini.corpus import CorpusOptions, plan_corpus

    texts = [spec.text for spec in plan_corpus(CorpusOptions())["test"] if spec.kind == "random"]
    if num_texts > len(texts):
        raise ValueError(f"`--num-texts` must be at most {len(texts)} (the `test` split's random sequences), "
                         f"got {num_texts}")
    return texts[:num_texts]


def synthesize(texts, voice: str, speed: int) -> list[np.ndarray]:
    from training_recipes.mini.corpus import speak

    return [speak(text, voice, speed, PITCH) for text in texts]


def transcribe_all(model_dir: str, conditions: dict, batch_size: int) -> dict:
    """`{condition: transcripts}` of every condition's waveforms (24 kHz) with the model in `model_dir`."""
    from transformers import AutoProcessor, pipeline

    import modeling_mimo_audio  # noqa: F401  (registers the pipeline)
    from modeling_mimo_audio import MiMoAudioForConditionalGeneration

    model = MiMoAudioForConditionalGeneration.from_pretrained(model_dir, dtype="float32").eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    pipe = pipeline("mimo-audio", model=model, processor=processor)
    results = {}
    for condition, waves in conditions.items():
        inputs = [{"array": wave, "sampling_rate": 24000} for wave in waves]
        outputs = pipe(inputs, task="asr", batch_size=batch_size, progress=False)
        results[condition] = [output["text"].strip() for output in outputs]
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser, "a column name per model (default: folder names)")
    parser.add_argument("--voices", nargs="+", default=list(DEFAULT_VOICES))
    parser.add_argument("--speeds", nargs="+", type=int, default=list(DEFAULT_SPEEDS), help="words per minute")
    parser.add_argument("--num-texts", type=int, default=40)

    from evaluation.metrics.text import mean_utterance_error_rate

    args, models, labels = parse_model_arguments(parser, argv)
    if args.num_texts < 1:
        parser.error(f"--num-texts: expected a positive number, got {args.num_texts}")
    for speed in args.speeds:
        if not 80 <= speed <= 450:
            parser.error(f"--speeds: espeak-ng speaks at 80-450 words per minute, got {speed}")

    texts = test_texts(args.num_texts)
    conditions = {(voice, speed): synthesize(texts, voice, speed) for voice in args.voices for speed in args.speeds}
    table = {label: transcribe_all(model, conditions, args.batch_size) for label, model in zip(labels, models)}
    rates = {label: {condition: 100 * mean_utterance_error_rate(texts, hypotheses, "en")["value"]
                     for condition, hypotheses in transcripts.items()} for label, transcripts in table.items()}

    lines = [f"### Miniature ASR by voice and speaking rate ({datetime.date.today().isoformat()})", "",
             f"`python benchmarks/mini_asr_conditions.py {shlex.join(argv if argv is not None else sys.argv[1:])}`"
             f" — the first {len(texts)} random sequences of `test` (which speaks them at 130-210 words/min), "
             f"espeak-ng pitch {PITCH}; WER %, mean per utterance, through the `mimo-audio` pipeline's greedy ASR. "
             "Models: "
             + ", ".join(f"{label} = `{model}`" for label, model in zip(labels, models)), "",
             "| voice | words/min | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for condition in conditions:
        voice, speed = condition
        lines.append(f"| {voice} | {speed} | "
                     + " | ".join(f"{rates[label][condition]:.1f}" for label in labels) + " |")
    lines.append("| **mean** | | " + " | ".join(f"**{np.mean(list(rates[label].values())):.1f}**"
                                             for label in labels) + " |")
    report = "\n".join(lines) + "\n"
    publish(report, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
