"""Rebuild the miniature MiMo-Audio from nothing: corpus -> codec -> LM stages -> evaluation -> shipped folder.

    python -m training_recipes.mini.reproduce --work-dir runs/mini            # the full chain (2-4 h on 2 CPU cores, by machine)
    python -m training_recipes.mini.reproduce --work-dir /tmp/mini --quick    # toy scale, a few minutes (CI)
    python -m training_recipes.mini.reproduce --work-dir runs/mini --ship-to modeling_mimo_audio/pretrained/mimo-audio-mini

Stages, in order (`--only` / `--from-stage` select some): `corpus` (espeak-ng synthesis), `codec`
(`training_recipes.train_codec`), `encode` (corpus -> codec codes), `init` (BPE tokenizer + random LM folder),
`data` (examples of every LM stage), `pretrain_stage1`, `pretrain_stage2`, `sft` (the recipes), `tts_focus_1`,
`sft_polish_1`, `tts_focus_2`, `sft_polish_2` (the sft recipe alternating house-voice TTS at text weight 1 with SFT's
mix, `configs/mini/tts_focus.yaml` / `sft_polish.yaml`), `tts_decoder` (the patch decoder alone on SFT's speech
outputs, the house voice weighted up: `configs/mini/tts_decoder.yaml`), `evaluate`
(`mimo-audio eval` codec / asr / tts / arithmetic on held-out voices), `ship` (fp16 Hub-style folder + model card).
Every stage is resumable: a finished stage leaves `WORK/done/STAGE.json` (with its wall time) and is skipped on a
rerun; an interrupted training stage resumes from its newest checkpoint. `WORK/timings.json` sums the wall times.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "mini")
# After SFT, rounds of TTS focus (plain house-voice TTS at text weight 1) and SFT polishing (SFT's mix at 100): the
# LM learns which word it speaks in the first and gets ASR back in the second (docs/mini.md, v11).
SPEECH_ROUNDS = 2
ROUND_STAGES = tuple(f"{kind}_{index}" for index in range(1, SPEECH_ROUNDS + 1) for kind in ("tts_focus", "sft_polish"))
# The last polishing round at a third of the rate: at sft_polish.yaml's 1e-3 it brought ASR back but undid much of
# the TTS (judge WER 55 % -> 107 % on 40 texts, ASR 12.5 % on 60 clips); at 3e-4, 64 % and 8.6 % (docs/mini.md).
ROUND_OVERRIDES = {f"sft_polish_{SPEECH_ROUNDS}": [f"learning_rates.{group}=0.0003"
                                                   for group in ("patch_encoder", "llm", "patch_decoder")]}
STAGES = ("corpus", "codec", "encode", "init", "data", "pretrain_stage1", "pretrain_stage2", "sft", *ROUND_STAGES,
          "tts_decoder", "evaluate", "ship")
# The folder that `evaluate` scores and `ship` ships.
FINAL_MODEL = "tts_decoder"

# --quick: every stage at toy scale (the chain, not the quality, is what it checks).
QUICK_CODEC = ["stage1.steps=12", "stage2.steps=2", "data.batch_size=4", "save_steps=6", "log_steps=4",
               "eval_steps=12", "data.eval_clips=4"]
QUICK_RECIPE = ["training.max_steps=3", "training.save_steps=2", "training.logging_steps=1",
                "training.per_device_train_batch_size=2", "data.context_length=256"]
QUICK_EVAL_LIMIT = 2
QUICK_EVAL_MAX_NEW_TOKENS = 12


def _run(command: list[str], log_path: str):
    """Runs `command`, streaming its output to the terminal and to `log_path`; raises on failure."""
    print("$ " + " ".join(command), flush=True)
    with open(log_path, "a", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)
        if process.wait() != 0:
            raise SystemExit(f"error: stage command failed (exit {process.returncode}): {' '.join(command)}; "
                             f"log: {log_path}")


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", *args]


class Chain:
    def __init__(self, work_dir: str, quick: bool, ship_to: str | None):
        self.work = os.path.abspath(work_dir)
        self.quick = quick
        self.ship_to = ship_to
        os.makedirs(os.path.join(self.work, "done"), exist_ok=True)
        self.log = os.path.join(self.work, "reproduce.log")

    def path(self, *parts: str) -> str:
        return os.path.join(self.work, *parts)

    def done_marker(self, stage: str) -> str:
        return self.path("done", f"{stage}.json")

    # -- stages ------------------------------------------------------------------------------------------------

    def corpus(self):
        command = _python("training_recipes.mini.corpus", "--out", self.path("corpus"))
        _run(command + (["--quick"] if self.quick else []), self.log)

    def codec(self):
        overrides = [f"output_dir={self.path('codec')}",
                     f"data.train_files={self.path('corpus', 'train', '*.parquet')}",
                     f"data.eval_files={self.path('corpus', 'validation', '*.parquet')}"]
        overrides += QUICK_CODEC if self.quick else []
        _run(_python("training_recipes.train_codec", "--config", os.path.join(CONFIG_DIR, "codec.yaml"), *overrides),
             self.log)

    def encode(self):
        from .tasks import encode_corpus

        encode_corpus(self.path("corpus"), self.path("codec"), self.path("codes"))

    def init(self):
        import pyarrow.parquet as pq

        from .model import init_mini_folder

        texts = []
        for path in sorted(glob.glob(self.path("corpus", "train", "*.parquet"))):
            table = pq.read_table(path, columns=["text", "answer_text"])
            texts += [t for t in table.column("text").to_pylist() + table.column("answer_text").to_pylist() if t]
        init_mini_folder(self.path("codec"), texts, self.path("init"), vocab_size=512 if self.quick else 1024)

    def data(self):
        from .tasks import build_stage_data

        build_stage_data(self.path("codes"), self.path("init"), self.path("lm"))

    def _recipe(self, recipe: str, source: str, config: str | None = None, data: str | None = None,
                output: str | None = None, extra: tuple[str, ...] = ()):
        """Runs `training_recipes.{recipe}` with `configs/mini/{config or recipe}.yaml` (and the `extra` overrides)
        from `source`, on `WORK/lm/{data or recipe}`, into `WORK/{output or recipe}`."""
        data, output = data or recipe, output or recipe
        overrides = [f"model.name_or_path={source}", f"training.output_dir={self.path(output)}",
                     f"data.train_files={self.path('lm', data, 'train-*.parquet')}", *extra]
        if data == "sft":
            overrides.append(f"data.eval_files={self.path('lm', 'sft', 'eval.parquet')}")
        overrides += QUICK_RECIPE if self.quick else []
        config_path = os.path.join(CONFIG_DIR, f"{config or recipe}.yaml")
        _run(_python(f"training_recipes.{recipe}", "--config", config_path, "--resume_from_checkpoint", "latest",
                     *overrides), self.log)

    def pretrain_stage1(self):
        self._recipe("pretrain_stage1", self.path("init"))

    def pretrain_stage2(self):
        self._recipe("pretrain_stage2", self.path("pretrain_stage1"))

    def sft(self):
        self._recipe("sft", self.path("pretrain_stage2"))

    def speech_round(self, stage: str):
        """`tts_focus_N` (from the stage before it) or `sft_polish_N` (from `tts_focus_N`): the sft recipe with
        `tts_focus.yaml` on `lm/tts_focus` or `sft_polish.yaml` on `lm/sft` (plus `ROUND_OVERRIDES`)."""
        kind = stage.rsplit("_", 1)[0]
        source = STAGES[STAGES.index(stage) - 1]
        self._recipe("sft", self.path(source), config=kind, data="tts_focus" if kind == "tts_focus" else "sft",
                     output=stage, extra=tuple(ROUND_OVERRIDES.get(stage, ())))

    def tts_decoder(self):
        """The last round's model with its patch decoder trained once more on speech output (`lm/tts_decoder`),
        everything else frozen: the text side (ASR, arithmetic traces) stays the last polishing round's, exactly."""
        self._recipe("sft", self.path(ROUND_STAGES[-1]), config="tts_decoder", data="tts_decoder", output="tts_decoder")

    def evaluate(self):
        from .evaluate import evaluate_mini

        evaluate_mini(self.path(FINAL_MODEL), self.path("corpus"), self.path("eval"), self.log,
                      limit=QUICK_EVAL_LIMIT if self.quick else None,
                      max_new_tokens=QUICK_EVAL_MAX_NEW_TOKENS if self.quick else None)

    def ship(self):
        from .ship import ship_folder

        destination = self.ship_to or self.path("shipped")
        ship_folder(self.path(FINAL_MODEL), destination, self.work)

    # -- driver ------------------------------------------------------------------------------------------------

    def run(self, stages):
        timings_path = self.path("timings.json")
        for stage in stages:
            marker = self.done_marker(stage)
            if os.path.exists(marker) and stage != "ship":
                print(f"[reproduce] {stage}: done already ({marker})", flush=True)
                continue
            print(f"[reproduce] {stage} ...", flush=True)
            started = time.time()
            if stage in ROUND_STAGES:
                self.speech_round(stage)
            else:
                getattr(self, stage)()
            elapsed = round(time.time() - started, 1)
            with open(marker, "w", encoding="utf-8") as handle:
                json.dump({"stage": stage, "wall_s": elapsed, "quick": self.quick}, handle)
            print(f"[reproduce] {stage}: {elapsed} s", flush=True)
        timings = {}
        for stage in STAGES:
            if os.path.exists(self.done_marker(stage)):
                with open(self.done_marker(stage), encoding="utf-8") as handle:
                    timings[stage] = json.load(handle)["wall_s"]
        timings["total"] = round(sum(timings.values()), 1)
        with open(timings_path, "w", encoding="utf-8") as handle:
            json.dump(timings, handle, indent=2)
        print(f"[reproduce] wall times (s): {json.dumps(timings)}", flush=True)
        return timings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training_recipes.mini.reproduce", description=__doc__.split("\n")[0])
    parser.add_argument("--work-dir", required=True, help="where every stage writes (resumed when it exists)")
    parser.add_argument("--quick", action="store_true", help="toy scale: the whole chain in a few minutes")
    parser.add_argument("--ship-to", default=None, help="where the shipped folder goes (default WORK/shipped)")
    parser.add_argument("--only", nargs="+", choices=STAGES, default=None, help="run only these stages")
    parser.add_argument("--from-stage", choices=STAGES, default=None, help="start at this stage (earlier ones must "
                        "be done)")
    args = parser.parse_args(argv)
    if args.only and args.from_stage:
        parser.error("--only and --from-stage: give one of them")
    from .corpus import require_espeak

    try:
        require_espeak()
    except (RuntimeError, OSError) as error:
        parser.exit(2, f"error: {error}\n")
    if args.only:
        stages = [stage for stage in STAGES if stage in args.only]
    elif args.from_stage:
        stages = list(STAGES[STAGES.index(args.from_stage):])
    else:
        stages = list(STAGES)
    Chain(args.work_dir, args.quick, args.ship_to).run(stages)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
