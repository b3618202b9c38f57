"""Processor layout speed: conversations -> input_ids / audio_codes / attention_mask (CPU).

Audio is given as precomputed codes so that only the processor is timed (tokenization of every segment, streaming
interleave, padding), not the codec. Prints a Markdown table; `--append` adds it to benchmarks/RESULTS.md.

    python benchmarks/processor.py [--append]
"""

import argparse
import os
import platform
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from processing.feature_extraction_mimo_audio import MiMoAudioFeatureExtractor  # noqa: E402
from processing.processing_mimo_audio import MiMoAudioProcessor  # noqa: E402
from processing.prompts_mimo_audio import spoken_dialogue_conversation  # noqa: E402
from processing.tokenization_mimo_audio import build_tiny_tokenizer  # noqa: E402


def codes(seconds, seed):
    g = torch.Generator().manual_seed(seed)
    frames = int(seconds * 25)
    codes = torch.stack([torch.randint(0, 128, (frames,), generator=g) for _ in range(8)], 1)
    return {"audio_codes": codes, "codes_layout": "frames_codebooks"}


def conversation(turns, seconds, seed):
    messages = []
    for t in range(turns):
        messages.append({"role": "user", "content": codes(seconds, seed + 2 * t)})
        if t < turns - 1:
            answer = "Sure, here is a fairly long spoken answer to your question about the weather today. " * 2
            messages.append({"role": "assistant", "content": {"text": answer, "audio": codes(seconds, seed + 2 * t + 1)}})
    return spoken_dialogue_conversation(messages, system_prompt="Be helpful.")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--append", action="store_true")
    args = parser.parse_args()
    processor = MiMoAudioProcessor(MiMoAudioFeatureExtractor(), build_tiny_tokenizer())
    rows = []
    for batch, turns, seconds in [(1, 1, 10), (8, 1, 10), (8, 4, 10), (8, 2, 60)]:
        convs = [conversation(turns, seconds, seed=b) for b in range(batch)]
        processor.apply_chat_template(convs, add_generation_prompt=True, speech_output=True)  # warm-up
        repeats = 5
        start = time.perf_counter()
        for _ in range(repeats):
            out = processor.apply_chat_template(convs, add_generation_prompt=True, speech_output=True)
        ms = (time.perf_counter() - start) / repeats * 1000
        positions = int(out["attention_mask"].sum())
        rows.append(f"| {batch} | {turns} | {seconds} | {out['input_ids'].shape[1]} | {ms:.1f} | {positions / ms * 1000:,.0f} |")
    table = [
        f"\n## Processor layout (CPU, {platform.processor() or platform.machine()}, torch {torch.__version__})\n",
        "`python benchmarks/processor.py`: `apply_chat_template` of spoken-dialogue conversations with precomputed codes",
        "(turns = user turns; earlier answers are streaming segments). No codec time included.\n",
        "| batch | turns | seconds per clip | positions (P) | ms per batch | positions / s |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    print("\n".join(table))
    if args.append:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md"), "a") as f:
            f.write("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
