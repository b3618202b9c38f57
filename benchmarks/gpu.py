"""Every GPU number the project owes, in one command with one time budget.

    python benchmarks/gpu.py                 # on a CUDA machine: all rows, appended to benchmarks/RESULTS.md
    python benchmarks/gpu.py --dry-run       # CPU, tiny configs, a minute: every step runs (what CI checks)

Steps, each a subprocess (its own memory; a share of `--budget-s` as timeout; a step that fails or times out is
reported and the rest still run):

1. `generate`: MiMo-Audio-7B widths, random bf16 weights, all-speech greedy generation at batch 1 / 8 / 32, eager
   (dynamic cache) and compiled (static caches + torch.compile, CUDA graphs through `mode="reduce-overhead"`):
   positions/s and real-time factor (`benchmarks/generate.py`).
2. `first audio`: time from calling `generate` to the first audio chunk out of `MiMoAudioStreamer` (batch 1, the
   7B LM and the full-size codec, random weights; `chunk_frames` 8, lookahead 40 frames, so the first chunk needs
   12 patches and one streaming decode), eager and compiled (`benchmarks/generate.py: first_audio_table`).
3. `codec`: the full-size MiMo-Audio-Tokenizer in bf16, encode and decode as multiples of real time
   (`benchmarks/codec.py`).
4. `training step`: one LoRA SFT step and one full stage-2 step at 7B widths with 4 backbone layers: tokens/s, MFU
   and peak memory (`benchmarks/train_step.py`).

The combined tables go to benchmarks/RESULTS.md under the GPU's name (not in `--dry-run`, which prints only).
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "benchmarks")


def steps(dry_run: bool) -> list[tuple[str, list[str], float]]:
    """`(name, command, share of the budget)` of each step."""
    python = sys.executable
    if dry_run:
        return [
            ("generate", [python, os.path.join(BENCH, "generate.py"), "--configs", "fixture", "--batch-sizes", "1",
                          "2", "--modes", "eager", "--new-positions", "4", "--repeats", "1", "--no-append",
                          "--warmup-s", "0"], 0.25),
            ("first audio", [python, __file__, "--first-audio", "tiny"], 0.25),
            ("codec", [python, os.path.join(BENCH, "codec.py"), "--seconds", "1", "--repeats", "1", "--no-save"], 0.25),
            ("training step", [python, os.path.join(BENCH, "train_step.py"), "--tiny", "--steps", "1", "--warmup",
                               "0"], 0.25),
        ]
    return [
        ("generate", [python, os.path.join(BENCH, "generate.py"), "--configs", "7b", "--batch-sizes", "1", "8", "32",
                      "--modes", "eager", "compiled", "--no-append"], 0.45),
        ("first audio", [python, __file__, "--first-audio", "7b"], 0.2),
        ("codec", [python, os.path.join(BENCH, "codec.py"), "--no-save"], 0.15),
        ("training step", [python, os.path.join(BENCH, "train_step.py"), "--layers", "4", "--no-save"], 0.2),
    ]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny configs: check that every step runs")
    parser.add_argument("--budget-s", type=float, default=540.0, help="wall-clock budget for all steps (seconds)")
    parser.add_argument("--first-audio", metavar="CONFIG", help=argparse.SUPPRESS)  # step 2's own process
    args = parser.parse_args(argv)
    if args.first_audio:
        import torch

        sys.path.insert(0, BENCH)
        from generate import first_audio_table  # noqa: E402  (benchmarks/generate.py)

        print(first_audio_table(args.first_audio, ["eager", "compiled"] if torch.cuda.is_available() else ["eager"]))
        return 0

    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("error: no CUDA device; `--dry-run` runs the steps on CPU with tiny configs", file=sys.stderr)
        return 2
    sections, failed = [], []
    for name, command, share in steps(args.dry_run):
        started = time.perf_counter()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=args.budget_s * share, cwd=ROOT)
            output, ok = done.stdout.strip(), done.returncode == 0
            if not ok:
                output += "\n" + "\n".join(done.stderr.strip().splitlines()[-5:])
        except subprocess.TimeoutExpired:
            output, ok = f"timed out after {args.budget_s * share:.0f} s", False
        seconds = time.perf_counter() - started
        print(f"[gpu.py] {name}: {'ok' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
        sections.append(f"### {name}{'' if ok else ' (failed)'}\n\n{output}\n")
        if not ok:
            failed.append(name)
    device = "CPU (dry run)" if args.dry_run else torch.cuda.get_device_name()
    report = (f"\n## GPU suite ({device}, {datetime.date.today()}, torch {torch.__version__})\n\n"
              f"`python benchmarks/gpu.py{' --dry-run' if args.dry_run else ''}`\n\n" + "\n".join(sections))
    print(report)
    if not args.dry_run:
        with open(os.path.join(BENCH, "RESULTS.md"), "a", encoding="utf-8") as handle:
            handle.write(report)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
