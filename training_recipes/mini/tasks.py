"""The miniature's training data: corpus clips -> codec codes -> the examples of each training stage.

- `encode_corpus`: every split of the corpus (`training_recipes.mini.corpus`) through the trained codec, in batches,
  into `codes/{split}.parquet` (`audio_codes` and, for arithmetic rows, `answer_codes`, both `[8, frames]`).
- `stage_examples`: one corpus row -> the examples it contributes to a stage:
  * `pretrain_stage1` (text loss only): ASR-pretraining (audio then transcript; for arithmetic rows also of the
    answer clip) and the transcript as plain text; for arithmetic rows also the counting trace
    (`arithmetic_thinking`) as plain text. No interleaved examples here: a streaming segment's text runs
    ahead of its audio, so with the audio loss off they would only train language modelling of random words;
  * `pretrain_stage2` (text + audio loss): ASR-pretraining, interleaved speech-text (`[Int]:` + a streaming
    segment) and TTS-pretraining (text then a streaming segment speaking it), and the arithmetic traces once more;
  * `sft`, in the released chat formats: ASR (the fixed evaluation instruction, sometimes another English template,
    with the empty think block the inference prompt carries), TTS (the default template; targets only from
    `tts_house`, so plain TTS speaks in the house voice), instruct-TTS with a style instruction espeak-ng realises
    (voice gender and speed) after a `<think>` trace, and spoken arithmetic: a spoken question, a `<think>` trace
    counting it out, and the answer as a spoken streaming segment.
  * rows of `tts_house` (the house voice) give TTS examples only: TTS-pretraining in stage 2, plain TTS in SFT
    (`SFT_HOUSE_TTS_REPEATS` copies);
  * `tts_focus`: plain TTS in the house voice only (each `tts_house` row once, nothing else). The recipe alternates
    it, with the text loss weighed 1, with SFT polishing rounds (`training_recipes.mini.reproduce`): in the mixed SFT
    data at the released text weight 100 the LM never learned which word it is speaking (docs/mini.md).
  * `tts_decoder`: SFT's speech-output conversations only (plain house-voice TTS, `DECODER_HOUSE_TTS_REPEATS`
    copies; instruct-TTS; spoken arithmetic, once each), for the last stage, which trains the patch decoder alone:
    with instruct-TTS and the spoken answers in its data it keeps every voice the instructions ask for (trained on
    the house voice alone, it spoke every instruction in the house voice's pitch).
- `build_stage_data`: writes `{stage}/train-*.parquet` (and `{stage}/eval.parquet` from the validation split) of
  formatted examples the recipes read as `data.train_files` / `data.eval_files`. Training examples come from
  `TRAINING_SPLITS` (short 1-3-word clips: ASR only, and TTS in the house voice), evaluation examples from
  `validation`.
"""

from __future__ import annotations

import glob
import os
import random
import re

import numpy as np

from ..formats import conversation_example, interleaved_example, SpecialTokenIds, asr_pretrain_example
from ..formats import text_only_example, tts_pretrain_example
from .corpus import SPLITS, TRAINING_SPLITS


__all__ = ["STAGES", "style_instruction", "encode_corpus", "plain_tts_example", "stage_examples", "build_stage_data"]

STAGES = ("pretrain_stage1", "pretrain_stage2", "sft", "tts_focus", "tts_decoder")
ASR_INSTRUCTION = "Transcribe the following voice message"
TTS_TEMPLATE = "Please convert this text to speech"
# Arithmetic rows are 2 % of the training rows (900 of 44000), and SFT's 700 steps cover about 28 % of its positions
# (runs/mini_v7), so without repeats the thinking task would get about 250 examples in all. Stage 1 (about 6 passes
# over its short examples) learns the counting from plain-text traces; SFT repeats the spoken question -> trace ->
# spoken answer conversation.
STAGE1_TRACE_REPEATS = 2
SFT_ARITHMETIC_REPEATS = 10  # 8 until `train_speeds` and the house-TTS copies added about a quarter more SFT examples
# Plain TTS has 8000 house-voice rows against 36000 rows of everything else, and SFT's 700 steps cover about 28 % of
# its positions (runs/mini_v7), so once each they gave it about 2300 examples: the task the TTS judge scores, and the
# least learned.
SFT_HOUSE_TTS_REPEATS = 2
# The `tts_decoder` stage trains the patch decoder alone on every speech-output task of SFT (plain TTS, instruct-TTS,
# spoken arithmetic answers); the house voice four times over (about 57 % of its rows), since plain TTS is what the
# judge scores: at two copies (40 %) the decoder kept little of the TTS gain (docs/mini.md, v14).
DECODER_HOUSE_TTS_REPEATS = 4


def speed_word(speed: int) -> str:
    """espeak-ng words per minute -> "slowly" / "at a normal pace" / "quickly"."""
    if speed <= 150:
        return "slowly"
    if speed >= 190:
        return "quickly"
    return "at a normal pace"


def style_instruction(gender: str, speed: int) -> tuple[str, str]:
    """`(instruction, thinking trace)` of an instruct-TTS example, e.g. ("a female voice speaking quickly",
    "The voice is female and the pace is fast.")."""
    pace = {"slowly": "slow", "quickly": "fast", "at a normal pace": "normal"}[speed_word(speed)]
    return f"a {gender} voice speaking {speed_word(speed)}", f"The voice is {gender} and the pace is {pace}."


def arithmetic_thinking(question: str, answer: str) -> str:
    """
    The thinking trace of a spoken arithmetic question: it counts on (plus) or back (minus) one step at a time,
    each step naming the number reached and how many steps were taken, then states the result.

    "what is three plus two", "five" -> "three plus two: four one, five two. three plus two is five";
    "what is nine minus one", "eight" -> "nine minus one: eight one. nine minus one is eight";
    "what is six plus zero", "six" -> "six plus zero is six".

    Why counting: the evaluation asks operand pairs never trained on, and a tiny LM does not generalise a lookup
    table of sums to unseen pairs, but every step of a count (the next or previous number word, and stopping when
    the step count equals the second operand) is the same on every pair, and each occurs in many trained pairs.

    Raises `ValueError` when `question` is not "what is A plus|minus B" with number words, or `answer` is not its
    result.
    """
    from .corpus import NUMBER_WORDS, number_word

    match = re.fullmatch(r"what is (\w+) (plus|minus) (\w+)", question.strip())
    if match is None or match.group(1) not in NUMBER_WORDS or match.group(3) not in NUMBER_WORDS:
        raise ValueError(f"`question` must read 'what is A plus|minus B' with number words, got {question!r}")
    first, operation, second = NUMBER_WORDS.index(match.group(1)), match.group(2), NUMBER_WORDS.index(match.group(3))
    step = 1 if operation == "plus" else -1
    result = first + step * second
    if not 0 <= result < len(NUMBER_WORDS) or answer.strip() != NUMBER_WORDS[result]:
        raise ValueError(f"`answer` {answer!r} is not the result of {question!r}")
    expression = f"{match.group(1)} {operation} {match.group(3)}"
    counting = ", ".join(f"{number_word(first + step * k)} {number_word(k)}" for k in range(1, second + 1))
    return f"{expression}: {counting}. {expression} is {answer.strip()}" if counting else f"{expression} is {answer.strip()}"


def encode_corpus(corpus_dir: str, codec_dir: str, output_dir: str, splits=SPLITS, batch_size: int = 32):
    """Encodes every clip (and arithmetic answer clip) of `splits` with the codec; one Parquet file per split,
    written once complete (a rerun skips finished splits)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import torch
    from tqdm.auto import tqdm

    from modeling_mimo_audio import MiMoAudioTokenizerModel
    from processing.audio_io import encode_waveforms, load_audio
    from processing.feature_extraction_mimo_audio import MiMoAudioFeatureExtractor

    codec = MiMoAudioTokenizerModel.from_pretrained(codec_dir).eval()
    feature_extractor = MiMoAudioFeatureExtractor.from_tokenizer_config(codec.config)
    rate = codec.config.sampling_rate
    os.makedirs(output_dir, exist_ok=True)

    def encode(values):
        waves = [load_audio(v, rate) for v in values]
        with torch.inference_mode():
            return [c.numpy().astype(np.int16).tolist() for c in encode_waveforms(codec, feature_extractor, waves, rate, 8)]

    for split in splits:
        target = os.path.join(output_dir, f"{split}.parquet")
        files = sorted(glob.glob(os.path.join(corpus_dir, split, "*.parquet")))
        if os.path.exists(target) or not files:
            continue
        table = pa.concat_tables([pq.read_table(f) for f in files])
        rows = table.drop([c for c in ("audio", "answer_audio") if c in table.column_names]).to_pylist()
        audio = table.column("audio").to_pylist()
        answers = table.column("answer_audio").to_pylist() if "answer_audio" in table.column_names else [None] * len(rows)
        for start in tqdm(range(0, len(rows), batch_size), desc=f"encoding {split}", unit="batch"):
            stop = min(start + batch_size, len(rows))
            for row, codes in zip(rows[start:stop], encode(audio[start:stop])):
                row["audio_codes"] = codes
            with_answer = [i for i in range(start, stop) if answers[i] and (answers[i].get("bytes") or answers[i].get("path"))]
            for i, codes in zip(with_answer, encode([answers[i] for i in with_answer]) if with_answer else []):
                rows[i]["answer_codes"] = codes
            for i in range(start, stop):
                rows[i].setdefault("answer_codes", None)
        pq.write_table(pa.Table.from_pylist(rows), target + ".partial")
        os.replace(target + ".partial", target)


def _asr_messages(row, rng: random.Random, templates) -> list[dict]:
    instruction = ASR_INSTRUCTION if rng.random() < 0.7 else rng.choice(templates)
    return [
        {"role": "user", "content": [{"type": "audio", "audio_codes": row["audio_codes"]},
                                     {"type": "text", "text": instruction}]},
        # The empty think block is what the ASR generation prompt ends with at inference.
        {"role": "assistant", "thinking": "", "content": row["text"]},
    ]


def _spoken_answer(text: str, codes, thinking: str | None) -> dict:
    answer = {"role": "assistant", "content": [{"type": "text", "text": text}, {"type": "audio", "audio_codes": codes}]}
    if thinking is not None:
        answer["thinking"] = thinking
    return answer


def plain_tts_example(text: str, codes, special: SpecialTokenIds, tokenize) -> dict:
    """SFT's plain-TTS conversation: the default TTS template with `text`, answered by `text` spoken as `codes`
    (`[8, frames]`) in a streaming segment."""
    return conversation_example([{"role": "user", "content": f"{TTS_TEMPLATE}: {text}"},
                                 _spoken_answer(text, codes, None)], special, tokenize)


def stage_examples(row: dict, stage: str, special: SpecialTokenIds, tokenize, rng: random.Random) -> list[dict]:
    """The formatted examples one corpus row (with codes) contributes to `stage` (see the module docstring)."""
    from processing.prompts_mimo_audio import ASR_TEMPLATES

    codes, text = row["audio_codes"], row["text"]
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    if stage == "tts_focus":
        return [plain_tts_example(text, codes, special, tokenize)] if row.get("split") == "tts_house" else []
    if stage == "tts_decoder":
        if row.get("split") == "tts_house":
            return [plain_tts_example(text, codes, special, tokenize)] * DECODER_HOUSE_TTS_REPEATS
        if row.get("kind") == "arithmetic":
            return [_spoken_arithmetic_example(row, special, tokenize)]
        if row.get("kind") == "short":
            return []
        return [_instruct_tts_example(row, special, tokenize)]
    if row.get("split") == "tts_house":
        # Plain-TTS targets in the house voice: speech from text only (stage 1 trains no audio output).
        if stage == "pretrain_stage1":
            return []
        if stage == "pretrain_stage2":
            return [tts_pretrain_example(text, codes, special, tokenize)]
        return [plain_tts_example(text, codes, special, tokenize)] * SFT_HOUSE_TTS_REPEATS
    if stage == "pretrain_stage1":
        examples = [asr_pretrain_example(codes, text, special, tokenize), text_only_example(text, special, tokenize)]
        if row.get("answer_codes"):
            examples.append(asr_pretrain_example(row["answer_codes"], row["answer_text"], special, tokenize))
        if row.get("kind") == "arithmetic":
            trace = arithmetic_thinking(text, row["answer_text"])
            examples += [text_only_example(trace, special, tokenize)] * STAGE1_TRACE_REPEATS
        return examples
    if stage == "pretrain_stage2":
        examples = [asr_pretrain_example(codes, text, special, tokenize),
                    tts_pretrain_example(text, codes, special, tokenize)]
        if row.get("kind") != "short":
            examples.append(interleaved_example([{"audio": codes, "transcript": text}], special, tokenize))
        if row.get("answer_codes"):
            examples.append(interleaved_example([{"audio": codes, "transcript": text},
                                                 {"audio": row["answer_codes"], "transcript": row["answer_text"]}],
                                                special, tokenize))
        if row.get("kind") == "arithmetic":
            examples.append(text_only_example(arithmetic_thinking(text, row["answer_text"]), special, tokenize))
        return examples

    if row.get("kind") == "arithmetic":
        return [_spoken_arithmetic_example(row, special, tokenize)] * SFT_ARITHMETIC_REPEATS + [
            conversation_example(_asr_messages(row, rng, ASR_TEMPLATES["en"]), special, tokenize)]
    if row.get("kind") == "short":
        return [conversation_example(_asr_messages(row, rng, ASR_TEMPLATES["en"]), special, tokenize)]
    # ASR twice (independent instruction draws): listening is what the short pretraining learned least.
    return [
        conversation_example(_asr_messages(row, rng, ASR_TEMPLATES["en"]), special, tokenize),
        conversation_example(_asr_messages(row, rng, ASR_TEMPLATES["en"]), special, tokenize),
        _instruct_tts_example(row, special, tokenize),
    ]


def _spoken_arithmetic_example(row: dict, special: SpecialTokenIds, tokenize) -> dict:
    """A spoken arithmetic question, its counting trace, then the answer as a spoken streaming segment."""
    question = [{"role": "user", "content": [{"type": "audio", "audio_codes": row["audio_codes"]}]}]
    thinking = arithmetic_thinking(row["text"], row["answer_text"])
    return conversation_example(question + [_spoken_answer(row["answer_text"], row["answer_codes"], thinking)],
                                special, tokenize)


def _instruct_tts_example(row: dict, special: SpecialTokenIds, tokenize) -> dict:
    """Instruct-TTS: the row's text with the style its voice realises (gender, speed), a `<think>` trace naming the
    style, then the row's clip as the spoken answer."""
    from processing.prompts_mimo_audio import INSTRUCT_TTS_SYSTEM_PROMPT

    instruction, thinking = style_instruction(row["gender"], int(row["speed"]))
    return conversation_example([{"role": "system", "content": [{"type": "text", "text": INSTRUCT_TTS_SYSTEM_PROMPT}]},
                                 {"role": "user", "content": f"{TTS_TEMPLATE}: {row['text']}({instruction})"},
                                 _spoken_answer(row["text"], row["audio_codes"], thinking)], special, tokenize)


def build_stage_data(codes_dir: str, model_dir: str, output_dir: str, stages=STAGES, seed: int = 0,
                     shard_size: int = 4096):
    """Writes `output_dir/{stage}/train-*.parquet` and `output_dir/{stage}/eval.parquet` for every stage
    (skipping stages already written)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm
    from transformers import AutoTokenizer

    from modeling_mimo_audio import MiMoAudioConfig

    from ..prepare_data import special_token_ids_from_tokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    special = special_token_ids_from_tokenizer(tokenizer, MiMoAudioConfig.from_pretrained(model_dir))

    def tokenize(text):
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    training = [os.path.join(codes_dir, f"{split}.parquet") for split in TRAINING_SPLITS]
    splits = {"train": [row for path in training if os.path.exists(path) for row in pq.read_table(path).to_pylist()]}
    validation = os.path.join(codes_dir, "validation.parquet")
    splits["eval"] = pq.read_table(validation).to_pylist() if os.path.exists(validation) else []
    for stage in stages:
        folder = os.path.join(output_dir, stage)
        marker = os.path.join(folder, "complete")
        if os.path.exists(marker):
            continue
        os.makedirs(folder, exist_ok=True)
        for split, rows in splits.items():
            rng = random.Random(f"{seed}-{stage}-{split}")
            examples = [example for row in tqdm(rows, desc=f"{stage} {split} examples", unit="row")
                        for example in stage_examples(row, stage, special, tokenize, rng)]
            rng.shuffle(examples)
            if not examples:
                continue
            if split == "eval":
                pq.write_table(pa.Table.from_pylist(examples), os.path.join(folder, "eval.parquet"))
                continue
            for index, start in enumerate(range(0, len(examples), shard_size)):
                pq.write_table(pa.Table.from_pylist(examples[start : start + shard_size]),
                               os.path.join(folder, f"train-{index:05d}.parquet"))
        open(marker, "w").close()
