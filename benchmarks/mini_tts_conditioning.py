"""Does a miniature's TTS listen to its text? Loss of house-voice TTS targets given their own text vs another text.

    python benchmarks/mini_tts_conditioning.py                                  # the shipped miniature
    python benchmarks/mini_tts_conditioning.py --models runs/a/sft runs/b/sft --labels a b
    python benchmarks/mini_tts_conditioning.py --num-clips 16 --no-save          # a quick look, printed only

The TTS judge (`mimo-audio eval tts`) takes minutes and says only "intelligible or not". This is the cheap signal
under it: the first `--num-clips` texts of the corpus' `test_house` split (held-out random word sequences) are spoken
in the house voice with espeak-ng, word by word as the corpus does (`training_recipes.mini.corpus.speak_word_by_word`), encoded with each model's codec, and laid
out as SFT's plain-TTS conversation (`training_recipes.mini.tasks`), once with each clip's own text and once with the
text of the next clip (a derangement: every clip gets a wrong text). The per-codebook cross-entropy of the patch
decoder on the audio targets is reported for both; the gap (wrong - right, nats, first codebook) is how much the
speech depends on the text. A model that has learned which word to speak has a large gap; one that babbles
speech-like codes has none.

The table is printed and appended, with the date and the command, to benchmarks/RESULTS.md. It needs espeak-ng.
"""

import argparse
import datetime
import os
import shlex
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from mini_models import add_model_arguments, parse_model_arguments, publish  # noqa: E402


def house_texts(num_clips: int) -> list[str]:
    """The first `num_clips` texts of the corpus' `test_house` split (its plan: no synthesis)."""
    from training_recipes.mini.corpus import CorpusOptions, plan_corpus

    texts = [spec.text for spec in plan_corpus(CorpusOptions())["test_house"]]
    if not 2 <= num_clips <= len(texts):
        raise ValueError(f"`--num-clips` must be between 2 and {len(texts)} (the `test_house` split), got {num_clips}")
    return texts[:num_clips]


@torch.no_grad()
def audio_losses(model_dir: str, texts: list[str], waveforms: list, batch_size: int) -> dict:
    """`{"right": [c0..c7], "wrong": [c0..c7]}`: mean audio cross-entropy per codebook over the clips (batches
    weighted by their number of clips)."""
    from transformers import AutoProcessor

    import modeling_mimo_audio  # noqa: F401  (registers the processor)
    from modeling_mimo_audio import MiMoAudioForConditionalGeneration
    from processing.audio_io import encode_waveforms
    from training_recipes.collator import MiMoAudioDataCollator
    from training_recipes.formats import SpecialTokenIds
    from training_recipes.mini.tasks import plain_tts_example

    model = MiMoAudioForConditionalGeneration.from_pretrained(model_dir, dtype="float32").eval()
    processor = AutoProcessor.from_pretrained(model_dir)
    processor.audio_tokenizer.float()
    tokenizer = processor.tokenizer
    special = SpecialTokenIds.from_config(model.config)
    collate = MiMoAudioDataCollator(special=special, pad_token_id=tokenizer.pad_token_id)

    def tokenize(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    # The codes as the training data holds them (`encode_corpus`): `[8, frames]`, not padded to whole patches.
    clips = encode_waveforms(processor.audio_tokenizer, processor.feature_extractor, waveforms,
                             processor.sampling_rate, model.config.num_codebooks)
    wrong_texts = texts[1:] + texts[:1]
    totals = {"right": torch.zeros(model.config.num_codebooks), "wrong": torch.zeros(model.config.num_codebooks)}
    for start in range(0, len(texts), batch_size):
        stop = min(start + batch_size, len(texts))
        for name, given in (("right", texts), ("wrong", wrong_texts)):
            batch = collate([plain_tts_example(given[i], clips[i], special, tokenize) for i in range(start, stop)])
            totals[name] += model(**batch).audio_loss.float() * (stop - start)
    return {name: (total / len(texts)).tolist() for name, total in totals.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_arguments(parser, "a row name per model (default: folder names)")
    parser.add_argument("--num-clips", type=int, default=48)

    from training_recipes.mini.corpus import HOUSE_SPEED, HOUSE_VOICE, speak_word_by_word

    args, models, labels = parse_model_arguments(parser, argv)
    try:
        texts = house_texts(args.num_clips)
    except ValueError as error:
        parser.error(str(error))
    waveforms = [speak_word_by_word(text) for text in texts]
    results = {label: audio_losses(model, texts, waveforms, args.batch_size) for label, model in zip(labels, models)}

    lines = [f"### Miniature TTS: does the speech depend on the text? ({datetime.date.today().isoformat()})", "",
             f"`python benchmarks/mini_tts_conditioning.py {shlex.join(argv if argv is not None else sys.argv[1:])}`"
             f" — {len(texts)} `test_house` texts in the house voice ({HOUSE_VOICE}, {HOUSE_SPEED} words/min, word by word), SFT's "
             "plain-TTS layout; audio cross-entropy (nats) of codebooks 0 and 1 given the clip's own text and given "
             "another clip's text. Models: "
             + ", ".join(f"{label} = `{model}`" for label, model in zip(labels, models)),
             "", "| model | c0 own text | c0 other text | c0 gap | c1 own text | c1 other text |",
             "|---|---|---|---|---|---|"]
    for label, losses in results.items():
        right, wrong = losses["right"], losses["wrong"]
        lines.append(f"| {label} | {right[0]:.3f} | {wrong[0]:.3f} | {wrong[0] - right[0]:.3f} | {right[1]:.3f} | "
                     f"{wrong[1]:.3f} |")
    report = "\n".join(lines) + "\n"
    publish(report, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
