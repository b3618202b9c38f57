"""Synthetic speech corpus for the miniature MiMo-Audio, spoken by espeak-ng over a closed vocabulary.

Every text uses only the words of `vocabulary.txt` (next to this file), in three kinds:

- `sentence`: a small English grammar ("the red dog sees a small house", "four green birds run");
- `random`: 3-8 vocabulary words in random order (what ASR word error rate is measured on);
- `short`: 1-3 vocabulary words in random order (only in `train_extra`: short clips teach the LM which sound is
  which word before it has to find words inside long clips);
- `arithmetic`: "what is three plus four" / "what is nine minus two" (operands 0..10, results 0..20, never negative),
  with the answer ("seven") spoken in the same voice as a second clip.

Voices are espeak-ng English accents combined with the `+m1`..`+m7` / `+f1`..`+f5` variants, at random speeds
and pitches. `HELD_OUT_VOICES` (four voices of the Caribbean accent `en-029`, plus accent/variant combinations whose
parts are seen in training but never together) speak only the `test_voices` split. The codec never hears `en-029`
(`HELD_OUT_LANGUAGES`: it trains on `train`); the language model hears its other variants, and every accent's
plain voice (no variant), in `train_accents`.

Plain text-to-speech has one house voice (`HOUSE_VOICE` at `HOUSE_SPEED` / `HOUSE_PITCH`): a TTS prompt without a
style instruction says nothing about the voice, so its training targets all speak in one (`tts_house`), and
`test_house` holds the `test_voices` random sequences in that voice (the TTS judge's reference). The house voice reads
word by word (`speak_word_by_word`): each word is synthesized alone and padded with silence to whole LM patches, so a
word sounds (and encodes) the same wherever it stands, and the LM only has to learn which word comes next, not how
neighbouring words blend. The TTS judge also hears it better than connected espeak-ng speech (Whisper tiny.en WER
34 % against 67 % on 60 `test_house` texts, 2026-12-02).

Splits: `train` (training voices; sentences, random sequences and arithmetic), `train_extra` (training voices;
short and random sequences and sentences, for the language model only: the codec trains on `train`, and this split
can grow without changing the codec), `validation` (small, same mix as `train`),
`test` (training voices, random sequences only), `test_voices` (held-out voices; random sequences and
arithmetic), `train_accents` (language model only: `en-029` variants outside `HELD_OUT_VOICES` and the plain voice of
every accent; short and random sequences and sentences), `tts_house` (language model only: plain-TTS targets in the
house voice), `test_house` (the random sequences of `test_voices`, same texts, in the house voice) and
`train_speeds` (language model only: the voices of `train` and `train_accents` at 90-300 words/minute, where the
other splits speak at 130-210; short and random sequences and sentences). No text of `validation`, `test` or `test_voices` occurs in `train`; for arithmetic this means a fixed
share of the operand pairs is reserved for the evaluation splits.

Clips are synthesized with `espeak-ng -a 75 --stdout`, trimmed to ~50 ms of silence on either side, resampled to 24 kHz
with the project's resampler and stored as 16-bit PCM WAV bytes in Parquet shards
`DIR/{split}/shard-{k:05d}.parquet`. The plan of every row is a pure function of the options and the seed, and a
shard is renamed into place only when complete, so a rerun skips finished shards and resumes where it stopped.

    python -m training_recipes.mini.corpus --out data/mini_corpus            # full corpus (~44750 rows)
    python -m training_recipes.mini.corpus --out /tmp/mini --quick           # 64 + 32 + 3 x 16 rows
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import glob
import hashlib
import io
import json
import multiprocessing
import os
import random
import shutil
import struct
import subprocess
import sys
import time
import wave
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Iterable, Sequence

import numpy as np


__all__ = [
    "CORPUS_VERSION",
    "SAMPLING_RATE",
    "SPLITS",
    "TRAINING_SPLITS",
    "KINDS",
    "ESPEAK_MISSING_MESSAGE",
    "LANGUAGES",
    "VARIANTS",
    "HELD_OUT_LANGUAGES",
    "HELD_OUT_VOICES",
    "TRAIN_VOICES",
    "ACCENT_TRAIN_VOICES",
    "HOUSE_VOICE",
    "HOUSE_SPEED",
    "HOUSE_PITCH",
    "CorpusOptions",
    "ClipSpec",
    "require_espeak",
    "load_vocabulary",
    "lexicon_words",
    "generate_sentence",
    "generate_random_sequence",
    "arithmetic_problems",
    "split_arithmetic_problems",
    "number_word",
    "voice_gender",
    "plan_corpus",
    "plan_fingerprint",
    "parse_wav_bytes",
    "encode_wav_pcm16",
    "trim_silence",
    "espeak_wav",
    "speak",
    "speak_word_by_word",
    "synthesize_clip",
    "write_shard",
    "build_corpus",
    "load_corpus",
    "decode_audio_bytes",
    "main",
]

CORPUS_VERSION = "1"
SAMPLING_RATE = 24000
SPLITS = ("train", "train_extra", "validation", "test", "test_voices", "train_accents", "tts_house", "test_house",
          "train_speeds")
TRAINING_SPLITS = ("train", "train_extra", "train_accents", "tts_house", "train_speeds")
KINDS = ("sentence", "random", "short", "arithmetic")
ESPEAK_MISSING_MESSAGE = "espeak-ng is not installed: apt-get install espeak-ng"
# espeak-ng's default amplitude (100) drives some voices to full scale; 75 leaves headroom for the resampler.
ESPEAK_AMPLITUDE = 75
# Resampled clips whose peak exceeds this are scaled down to it rather than clipped to 16 bits.
MAX_PEAK = 0.99
VOCABULARY_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "vocabulary.txt")

# ---------------------------------------------------------------------------------------------------------------
# Lexicon. `vocabulary.txt` is exactly the union of these categories (checked by the tests); no word belongs to two
# categories, and homographs ("read", "live", "wind", "close", ...) and abbreviations are left out so that espeak-ng
# has one sensible pronunciation for every word.
# ---------------------------------------------------------------------------------------------------------------

NUMBER_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)
COLOURS = (
    "red", "blue", "green", "yellow", "black", "white", "brown", "pink", "purple", "orange", "grey", "silver",
    "gold",
)
ADJECTIVES = (
    "big", "small", "little", "tall", "short", "long", "old", "new", "young", "happy", "sad", "fast", "slow",
    "hot", "cold", "warm", "soft", "loud", "quiet", "bright", "dark", "wild", "dirty", "tiny", "huge", "kind",
    "brave", "funny", "pretty", "strong", "heavy", "empty", "full", "sweet", "wet", "dry", "busy", "lazy",
    "gentle", "angry", "hungry", "sleepy", "shiny", "noisy", "friendly",
)
# (singular, plural)
NOUNS = (
    ("dog", "dogs"), ("cat", "cats"), ("bird", "birds"), ("horse", "horses"), ("cow", "cows"), ("pig", "pigs"),
    ("duck", "ducks"), ("frog", "frogs"), ("bear", "bears"), ("lion", "lions"), ("tiger", "tigers"),
    ("rabbit", "rabbits"), ("snake", "snakes"), ("monkey", "monkeys"), ("mouse", "mice"), ("goat", "goats"),
    ("chicken", "chickens"), ("fox", "foxes"), ("wolf", "wolves"), ("whale", "whales"), ("house", "houses"),
    ("car", "cars"), ("boat", "boats"), ("tree", "trees"), ("flower", "flowers"), ("book", "books"),
    ("table", "tables"), ("chair", "chairs"), ("door", "doors"), ("window", "windows"), ("cup", "cups"),
    ("plate", "plates"), ("ball", "balls"), ("box", "boxes"), ("hat", "hats"), ("shoe", "shoes"),
    ("coat", "coats"), ("bag", "bags"), ("bed", "beds"), ("lamp", "lamps"), ("clock", "clocks"), ("key", "keys"),
    ("apple", "apples"), ("banana", "bananas"), ("cake", "cakes"), ("egg", "eggs"), ("bottle", "bottles"),
    ("river", "rivers"), ("hill", "hills"), ("road", "roads"), ("garden", "gardens"), ("cloud", "clouds"),
    ("star", "stars"), ("stone", "stones"), ("train", "trains"), ("plane", "planes"), ("ship", "ships"),
    ("truck", "trucks"), ("bike", "bikes"), ("drum", "drums"), ("kite", "kites"), ("toy", "toys"),
    ("robot", "robots"), ("farmer", "farmers"), ("teacher", "teachers"), ("doctor", "doctors"),
    ("child", "children"), ("baby", "babies"), ("girl", "girls"), ("boy", "boys"), ("man", "men"),
    ("woman", "women"), ("friend", "friends"), ("king", "kings"), ("queen", "queens"), ("bell", "bells"),
    ("candle", "candles"), ("mountain", "mountains"), ("forest", "forests"), ("lake", "lakes"),
    ("pencil", "pencils"), ("basket", "baskets"),
)
# (third person singular, plural) - transitive verbs take an object, intransitive ones do not.
TRANSITIVE_VERBS = (
    ("sees", "see"), ("likes", "like"), ("wants", "want"), ("finds", "find"), ("holds", "hold"),
    ("carries", "carry"), ("pushes", "push"), ("pulls", "pull"), ("watches", "watch"), ("follows", "follow"),
    ("helps", "help"), ("loves", "love"), ("paints", "paint"), ("builds", "build"), ("opens", "open"),
    ("cleans", "clean"), ("kicks", "kick"), ("catches", "catch"), ("chases", "chase"), ("hears", "hear"),
    ("draws", "draw"), ("washes", "wash"), ("throws", "throw"), ("brings", "bring"),
)
INTRANSITIVE_VERBS = (
    ("runs", "run"), ("jumps", "jump"), ("sleeps", "sleep"), ("sings", "sing"), ("swims", "swim"),
    ("walks", "walk"), ("dances", "dance"), ("flies", "fly"), ("sits", "sit"), ("plays", "play"),
    ("smiles", "smile"), ("laughs", "laugh"), ("waits", "wait"), ("climbs", "climb"), ("falls", "fall"),
    ("rests", "rest"), ("hides", "hide"), ("shouts", "shout"),
)
PREPOSITIONS = ("on", "under", "near", "with", "behind", "in")
ADVERBS = ("today", "now", "again", "slowly", "quickly", "together", "outside", "there")
FUNCTION_WORDS = ("the", "a", "an", "is", "are", "and", "plus", "minus", "what")

# ---------------------------------------------------------------------------------------------------------------
# Voices. Accents from `espeak-ng --voices=en` (the built-in gmw voices, not the optional mbrola ones) and the
# numbered male/female variants from `espeak-ng --voices=variant`.
# ---------------------------------------------------------------------------------------------------------------

LANGUAGES = (
    "en-us", "en-us-nyc", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
)
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
# Accents the codec never hears: every voice of theirs is excluded from train/train_extra/validation/test (the
# language model hears those outside HELD_OUT_VOICES in train_accents).
HELD_OUT_LANGUAGES = ("en-029",)
# The only voices of the `test_voices` split. The first four are an unseen accent; the others combine an accent and a
# variant that are both seen in training, but never together.
HELD_OUT_VOICES = (
    "en-029+m1", "en-029+m4", "en-029+f2", "en-029+f4",
    "en-us+m3", "en-us-nyc+f5", "en-gb+f3", "en-gb-x-rp+m6", "en-gb-scotland+f1", "en-gb-x-gbclan+m2",
)
TRAIN_VOICES = tuple(
    f"{language}+{variant}"
    for language in LANGUAGES
    if language not in HELD_OUT_LANGUAGES
    for variant in VARIANTS
    if f"{language}+{variant}" not in HELD_OUT_VOICES
)
# The voices of `train_accents`: the held-out accents' variants outside HELD_OUT_VOICES, and every accent's plain
# voice (espeak-ng's default male voice of that accent, which users get from `-v en-us`).
ACCENT_TRAIN_VOICES = tuple(
    f"{language}+{variant}" for language in HELD_OUT_LANGUAGES for variant in VARIANTS
    if f"{language}+{variant}" not in HELD_OUT_VOICES
) + LANGUAGES
# The one voice of plain TTS (`tts_house`, `test_house`).
HOUSE_VOICE = "en-us"
HOUSE_SPEED = 160
HOUSE_PITCH = 50
# The house voice's splits, read word by word (`speak_word_by_word`).
HOUSE_SPLITS = ("tts_house", "test_house")
# Silence kept on either side of each house-voice word before it is padded to whole patches.
HOUSE_WORD_PADDING_MS = 30.0
# One LM patch: 4 codec frames of 960 samples at 24 kHz.
PATCH_SAMPLES = 3840


def require_espeak() -> str:
    """
    Checks that the `espeak-ng` executable is on the `PATH`.

    Returns:
        `str`: the path of the executable.

    Raises:
        `RuntimeError`: "espeak-ng is not installed: apt-get install espeak-ng" when it is missing.
    """
    path = shutil.which("espeak-ng")
    if path is None:
        raise RuntimeError(ESPEAK_MISSING_MESSAGE)
    return path


def espeak_version() -> str:
    """The first line of `espeak-ng --version` (recorded in `corpus_info.json`)."""
    result = subprocess.run([require_espeak(), "--version"], capture_output=True, text=True, check=False)
    return result.stdout.strip().splitlines()[0] if result.stdout.strip() else "unknown"


# ---------------------------------------------------------------------------------------------------------------
# Options and plans
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorpusOptions:
    """
    What to synthesize. Everything except `workers` determines the rows, so a rerun into the same directory must use
    the same values (checked against `corpus_info.json`).

    Args:
        num_train (`int`, defaults to 6000): rows of the `train` split.
        num_train_extra (`int`, defaults to 20000): rows of the `train_extra` split (language model only).
        num_validation (`int`, defaults to 200): rows of the `validation` split.
        num_test (`int`, defaults to 200): rows of the `test` split (random word sequences only).
        num_test_voices (`int`, defaults to 200): rows of the `test_voices` split (held-out voices).
        num_train_accents (`int`, defaults to 4000): rows of the `train_accents` split (language model only).
        num_tts_house (`int`, defaults to 8000): rows of the `tts_house` split (plain-TTS targets in the house voice).
            `test_house` has no size of its own: it repeats the random sequences of `test_voices`.
        seed (`int`, defaults to 0): seed of every random choice (texts, voices, speeds, pitches).
        workers (`int`, defaults to 2): synthesis processes; 1 synthesizes in the calling process.
        shard_size (`int`, defaults to 500): rows per Parquet shard.
        arithmetic_fraction (`float`, defaults to 0.15): share of arithmetic rows in `train` and `validation`.
        random_fraction (`float`, defaults to 0.35): share of random word sequences in `train` and `validation`
            (the rest are grammar sentences).
        extra_short_fraction (`float`, defaults to 0.4), extra_random_fraction (`float`, defaults to 0.4): shares
            of 1-3-word and 3-8-word random sequences in `train_extra`, `train_accents` and `tts_house` (the rest
            are grammar sentences).
        test_voices_arithmetic_fraction (`float`, defaults to 0.25): share of arithmetic rows in `test_voices` (the
            rest are random word sequences).
        held_out_arithmetic_fraction (`float`, defaults to 0.2): share of the operand pairs reserved for the
            evaluation splits (never asked in `train`).
        speed_range (`tuple[int, int]`, defaults to `(130, 210)`): inclusive range of speaking rates, words/minute.
        num_train_speeds (`int`, defaults to 6000): rows of `train_speeds` (language model only: the voices of
            `train` and `train_accents` at rates drawn from `wide_speed_range`).
        wide_speed_range (`tuple[int, int]`, defaults to `(90, 300)`): inclusive range of speaking rates of
            `train_speeds`, words/minute.
        pitch_range (`tuple[int, int]`, defaults to `(30, 70)`): inclusive range of espeak-ng pitches (0-99).
        padding_ms (`float`, defaults to 50.0): silence kept before the first and after the last voiced frame.
    """

    num_train: int = 6000
    num_train_extra: int = 20000
    num_validation: int = 200
    num_test: int = 200
    num_test_voices: int = 200
    num_train_accents: int = 4000
    num_tts_house: int = 8000
    seed: int = 0
    workers: int = 2
    shard_size: int = 500
    arithmetic_fraction: float = 0.15
    random_fraction: float = 0.35
    extra_short_fraction: float = 0.4
    extra_random_fraction: float = 0.4
    test_voices_arithmetic_fraction: float = 0.25
    held_out_arithmetic_fraction: float = 0.2
    speed_range: tuple[int, int] = (130, 210)
    pitch_range: tuple[int, int] = (30, 70)
    padding_ms: float = 50.0
    num_train_speeds: int = 6000
    wide_speed_range: tuple[int, int] = (90, 300)

    def __post_init__(self):
        for name in ("num_train", "num_train_extra", "num_validation", "num_test", "num_test_voices",
                     "num_train_accents", "num_tts_house", "num_train_speeds"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"`{name}` must be a non-negative int, got {value!r}")
        for name in ("workers", "shard_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"`{name}` must be a positive int, got {value!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"`seed` must be an int, got {self.seed!r}")
        for name in ("arithmetic_fraction", "random_fraction", "extra_short_fraction", "extra_random_fraction",
                     "test_voices_arithmetic_fraction", "held_out_arithmetic_fraction"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"`{name}` must be in [0, 1], got {value!r}")
        if self.arithmetic_fraction + self.random_fraction > 1.0:
            raise ValueError(
                f"`arithmetic_fraction` + `random_fraction` must be at most 1, got "
                f"{self.arithmetic_fraction} + {self.random_fraction}"
            )
        if self.extra_short_fraction + self.extra_random_fraction > 1.0:
            raise ValueError(
                f"`extra_short_fraction` + `extra_random_fraction` must be at most 1, got "
                f"{self.extra_short_fraction} + {self.extra_random_fraction}"
            )
        if not 0.0 < self.held_out_arithmetic_fraction < 1.0:
            raise ValueError(
                f"`held_out_arithmetic_fraction` must be strictly between 0 and 1 (both train and the evaluation "
                f"splits need questions), got {self.held_out_arithmetic_fraction!r}"
            )
        for name, low_limit, high_limit in (("speed_range", 80, 450), ("wide_speed_range", 80, 450),
                                            ("pitch_range", 0, 99)):
            value = tuple(getattr(self, name))
            if len(value) != 2 or not all(isinstance(v, int) for v in value) or not (
                low_limit <= value[0] <= value[1] <= high_limit
            ):
                raise ValueError(
                    f"`{name}` must be two ints (low, high) with {low_limit} <= low <= high <= {high_limit}, got "
                    f"{getattr(self, name)!r}"
                )
            object.__setattr__(self, name, value)
        if not 0.0 <= float(self.padding_ms) <= 1000.0:
            raise ValueError(f"`padding_ms` must be in [0, 1000], got {self.padding_ms!r}")

    @classmethod
    def quick(cls, **overrides) -> "CorpusOptions":
        """The `--quick` sizes: 64 `train` rows, 32 `train_extra` rows and 16 rows in each other split (`test_house`:
        the random sequences of `test_voices`)."""
        sizes = {"num_train": 64, "num_train_extra": 32, "num_validation": 16, "num_test": 16,
                 "num_test_voices": 16, "num_train_accents": 16, "num_tts_house": 16, "num_train_speeds": 16}
        sizes.update(overrides)
        return cls(**sizes)

    def split_size(self, split: str) -> int:
        """Number of rows of `split` (for `test_house`, which repeats part of `test_voices`, see `plan_corpus`)."""
        if split not in SPLITS or split == "test_house":
            raise ValueError(f"`split` must be one of {tuple(s for s in SPLITS if s != 'test_house')}, got {split!r}")
        return getattr(self, "num_" + split)

    def plan_dict(self) -> dict:
        """The options that determine the rows (all but `workers`), JSON-serializable."""
        values = dataclasses.asdict(self)
        values.pop("workers")
        values["speed_range"] = list(self.speed_range)
        values["wide_speed_range"] = list(self.wide_speed_range)
        values["pitch_range"] = list(self.pitch_range)
        return values


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to synthesize one row; the plan of a corpus is a list of these per split."""

    id: str
    split: str
    kind: str
    text: str
    answer_text: str
    voice: str
    language: str
    gender: str
    speed: int
    pitch: int


# ---------------------------------------------------------------------------------------------------------------
# Text generation (pure functions of a seeded `random.Random`)
# ---------------------------------------------------------------------------------------------------------------


def lexicon_words() -> list[str]:
    """All words of the lexicon categories, in category order (the expected content of `vocabulary.txt`)."""
    words = list(NUMBER_WORDS) + list(COLOURS) + list(ADJECTIVES)
    words += [word for pair in NOUNS for word in pair]
    words += [word for pair in TRANSITIVE_VERBS + INTRANSITIVE_VERBS for word in pair]
    return words + list(PREPOSITIONS) + list(ADVERBS) + list(FUNCTION_WORDS)


@lru_cache(maxsize=4)
def load_vocabulary(path: str = VOCABULARY_PATH) -> tuple[str, ...]:
    """
    Reads a vocabulary file: one lowercase ASCII word per line (blank lines ignored).

    Args:
        path (`str`, defaults to the `vocabulary.txt` next to this module): the file.

    Returns:
        `tuple[str, ...]`: the words in file order.

    Raises:
        `ValueError`: for a word that is not lowercase ASCII letters, or a duplicate, naming its line.
    """
    words, seen = [], set()
    with open(path, encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            word = line.strip()
            if not word:
                continue
            if not (word.isascii() and word.isalpha() and word.islower()):
                raise ValueError(f"vocabulary {path!r} line {line_number}: {word!r} is not a lowercase ASCII word")
            if word in seen:
                raise ValueError(f"vocabulary {path!r} line {line_number}: duplicate word {word!r}")
            seen.add(word)
            words.append(word)
    if not words:
        raise ValueError(f"vocabulary {path!r} is empty")
    return tuple(words)


def number_word(value: int) -> str:
    """The English word of an integer 0..20 ("zero".."twenty")."""
    if not isinstance(value, int) or not 0 <= value < len(NUMBER_WORDS):
        raise ValueError(f"`value` must be an int in 0..{len(NUMBER_WORDS) - 1}, got {value!r}")
    return NUMBER_WORDS[value]


def _article(rng: random.Random, next_word: str) -> str:
    if rng.random() < 0.5:
        return "the"
    return "an" if next_word[0] in "aeiou" else "a"


def _noun_phrase(rng: random.Random, plural: bool = False, determiner: str | None = "any") -> list[str]:
    """[determiner] [adjective] [colour] noun; `determiner` is "any" (the/a/an), "the", or None (no determiner)."""
    singular, plural_form = rng.choice(NOUNS)
    words = [plural_form if plural else singular]
    if rng.random() < 0.4:
        words.insert(0, rng.choice(COLOURS))
    if rng.random() < 0.4:
        words.insert(0, rng.choice(ADJECTIVES))
    if determiner == "the":
        words.insert(0, "the")
    elif determiner == "any":
        words.insert(0, _article(rng, words[0]))
    return words


def _count(rng: random.Random) -> str:
    return rng.choice(NUMBER_WORDS[2:])


def _maybe_adverb(rng: random.Random, probability: float = 0.3, plural: bool = True) -> list[str]:
    adverbs = ADVERBS if plural else tuple(adverb for adverb in ADVERBS if adverb != "together")
    return [rng.choice(adverbs)] if rng.random() < probability else []


def generate_sentence(rng: random.Random) -> str:
    """
    One sentence of the grammar, lowercase and without punctuation, e.g. "the red dog sees a small house",
    "four green birds run", "the cat sleeps under a table", "three dogs are happy".

    Args:
        rng (`random.Random`): the source of every choice.

    Returns:
        `str`: the words joined by single spaces; every word is in the vocabulary.
    """
    template = rng.randrange(8)
    if template == 0:  # the red dog sees a small house
        words = _noun_phrase(rng) + [rng.choice(TRANSITIVE_VERBS)[0]] + _noun_phrase(rng)
    elif template == 1:  # four green birds run
        words = [_count(rng)] + _noun_phrase(rng, plural=True, determiner=None)
        words += [rng.choice(INTRANSITIVE_VERBS)[1]] + _maybe_adverb(rng)
    elif template == 2:  # the cat sleeps under a table
        words = _noun_phrase(rng, determiner="the") + [rng.choice(INTRANSITIVE_VERBS)[0], rng.choice(PREPOSITIONS)]
        words += _noun_phrase(rng)
    elif template == 3:  # a dog is happy
        words = _noun_phrase(rng) + ["is", rng.choice(ADJECTIVES + COLOURS)]
    elif template == 4:  # three dogs are small
        words = [_count(rng)] + _noun_phrase(rng, plural=True, determiner=None)
        words += ["are", rng.choice(ADJECTIVES + COLOURS)]
    elif template == 5:  # the big dog and a cat play together
        words = _noun_phrase(rng, determiner="the") + ["and"] + _noun_phrase(rng)
        words += [rng.choice(INTRANSITIVE_VERBS)[1]] + _maybe_adverb(rng, 0.5)
    elif template == 6:  # seven boys watch the kite
        words = [_count(rng)] + _noun_phrase(rng, plural=True, determiner=None)
        words += [rng.choice(TRANSITIVE_VERBS)[1]] + _noun_phrase(rng)
    else:  # one old bird sings again
        words = ["one"] + _noun_phrase(rng, determiner=None) + [rng.choice(INTRANSITIVE_VERBS)[0]]
        words += _maybe_adverb(rng, 0.5, plural=False)
    return " ".join(words)


def generate_random_sequence(rng: random.Random, vocabulary: Sequence[str], min_words: int = 3,
                             max_words: int = 8) -> str:
    """
    `min_words`..`max_words` distinct vocabulary words in random order, e.g. "kite seven under slowly".

    Args:
        rng (`random.Random`): the source of every choice.
        vocabulary (`Sequence[str]`): the words to draw from.
        min_words (`int`, defaults to 3), max_words (`int`, defaults to 8): inclusive length range.
    """
    if not 1 <= min_words <= max_words <= len(vocabulary):
        raise ValueError(
            f"`min_words` and `max_words` must satisfy 1 <= min_words <= max_words <= len(vocabulary) = "
            f"{len(vocabulary)}, got {min_words} and {max_words}"
        )
    return " ".join(rng.sample(list(vocabulary), rng.randint(min_words, max_words)))


def arithmetic_problems(max_operand: int = 10) -> list[tuple[str, str]]:
    """
    Every question "what is A plus B" and "what is A minus B" with operands 0..`max_operand`, results 0..20 and
    never negative, with its answer word.

    Returns:
        `list[tuple[str, str]]`: `(question, answer)` pairs, e.g. `("what is three plus four", "seven")`, in a fixed
        order (all sums, then all differences).
    """
    if not 0 <= max_operand <= 10:
        raise ValueError(f"`max_operand` must be in 0..10 (answers are number words up to twenty), got {max_operand}")
    operands = range(max_operand + 1)
    problems = [(f"what is {number_word(a)} plus {number_word(b)}", number_word(a + b)) for a in operands
                for b in operands]
    problems += [(f"what is {number_word(a)} minus {number_word(b)}", number_word(a - b)) for a in operands
                 for b in operands if a >= b]
    return problems


def split_arithmetic_problems(seed: int, held_out_fraction: float) -> tuple[list, list]:
    """
    Splits `arithmetic_problems()` into a training pool and a held-out pool for the evaluation splits.

    The held-out pool is a seeded random `held_out_fraction` of the questions, except that a question is kept for
    training when it is the last remaining training question with its answer, so every answer 0..20 is still
    trained on.

    Returns:
        `(train_problems, held_out_problems)`: two disjoint lists of `(question, answer)` pairs.
    """
    problems = arithmetic_problems()
    rng = random.Random(f"arithmetic-{seed}")
    order = list(range(len(problems)))
    rng.shuffle(order)
    remaining = {}
    for _, answer in problems:
        remaining[answer] = remaining.get(answer, 0) + 1
    target = max(1, round(held_out_fraction * len(problems)))
    held_out = set()
    for index in order:
        if len(held_out) == target:
            break
        answer = problems[index][1]
        if remaining[answer] > 1:
            held_out.add(index)
            remaining[answer] -= 1
    train = [problem for i, problem in enumerate(problems) if i not in held_out]
    return train, [problem for i, problem in enumerate(problems) if i in held_out]


def voice_gender(voice: str) -> str:
    """ "male" or "female" from a voice's variant suffix ("en-us+f3" -> "female"); an accent's plain voice ("en-us",
    one of `LANGUAGES`) is espeak-ng's default male voice."""
    language, separator, variant = voice.partition("+")
    if not separator and language in LANGUAGES:
        return "male"
    if not separator or variant[:1] not in ("m", "f"):
        raise ValueError(f"`voice` must look like 'LANGUAGE+mN', 'LANGUAGE+fN' or a plain accent of {LANGUAGES}, "
                         f"got {voice!r}")
    return "male" if variant[0] == "m" else "female"


def _kind_list(rng: random.Random, size: int, fractions: dict[str, float]) -> list[str]:
    """`size` kinds in the given proportions (rounded; the remainder goes to the last kind), shuffled."""
    kinds = []
    names = list(fractions)
    for name in names[:-1]:
        kinds += [name] * round(fractions[name] * size)
    kinds = kinds[:size]
    kinds += [names[-1]] * (size - len(kinds))
    rng.shuffle(kinds)
    return kinds


def _balanced_voices(rng: random.Random, size: int, voices: Sequence[str]) -> list[str]:
    """`size` voices, each used `size // len(voices)` or one more times, in random order."""
    order = list(voices)
    rng.shuffle(order)
    assigned = [order[i % len(order)] for i in range(size)]
    rng.shuffle(assigned)
    return assigned


def _split_kinds(split: str, options: CorpusOptions) -> dict[str, float]:
    if split in ("train", "validation"):
        return {"arithmetic": options.arithmetic_fraction, "random": options.random_fraction,
                "sentence": 1.0 - options.arithmetic_fraction - options.random_fraction}
    if split in ("train_extra", "train_accents", "tts_house", "train_speeds"):
        return {"short": options.extra_short_fraction, "random": options.extra_random_fraction,
                "sentence": 1.0 - options.extra_short_fraction - options.extra_random_fraction}
    if split == "test":
        return {"random": 1.0}
    return {"arithmetic": options.test_voices_arithmetic_fraction,
            "random": 1.0 - options.test_voices_arithmetic_fraction}


def _plan_split(split: str, options: CorpusOptions, vocabulary: Sequence[str], arithmetic_pool: Sequence[tuple],
                reserved: set[str]) -> list[ClipSpec]:
    """The rows of one split. Texts in `reserved` are never produced; evaluation splits (everything but train)
    also never repeat a sentence or random sequence, and add their texts to `reserved`."""
    size = options.split_size(split)
    rng = random.Random(f"mimo-mini-corpus-{CORPUS_VERSION}-{options.seed}-{split}")
    kinds = _kind_list(rng, size, _split_kinds(split, options))
    voices = _balanced_voices(rng, size, {"test_voices": HELD_OUT_VOICES, "train_accents": ACCENT_TRAIN_VOICES,
                                          "tts_house": (HOUSE_VOICE,),
                                          "train_speeds": TRAIN_VOICES + ACCENT_TRAIN_VOICES}.get(split, TRAIN_VOICES))
    speed_range = options.wide_speed_range if split == "train_speeds" else options.speed_range
    evaluation = split not in TRAINING_SPLITS
    specs = []
    for index, (kind, voice) in enumerate(zip(kinds, voices)):
        answer = ""
        for _ in range(1000):
            if kind == "arithmetic":
                text, answer = rng.choice(arithmetic_pool)
                break  # the pools are disjoint, and a question may be asked by several voices
            if kind == "sentence":
                text = generate_sentence(rng)
            elif kind == "short":
                text = generate_random_sequence(rng, vocabulary, 1, 3)
            else:
                text = generate_random_sequence(rng, vocabulary)
            if text not in reserved:
                break
        else:
            raise RuntimeError(f"could not draw a new {kind} text for split {split!r} (the grammar is exhausted)")
        if evaluation and kind != "arithmetic":
            reserved.add(text)
        speed, pitch = rng.randint(*speed_range), rng.randint(*options.pitch_range)
        if split == "tts_house":
            speed, pitch = HOUSE_SPEED, HOUSE_PITCH
        specs.append(ClipSpec(
            id=f"{split}-{index:06d}", split=split, kind=kind, text=text, answer_text=answer, voice=voice,
            language=voice.partition("+")[0], gender=voice_gender(voice), speed=speed, pitch=pitch,
        ))
    return specs


def _house_copies(specs: Sequence[ClipSpec], split: str) -> list[ClipSpec]:
    """The random sequences of `specs` again, in the house voice (`test_house` from `test_voices`)."""
    return [dataclasses.replace(spec, id=f"{split}-{index:06d}", split=split, voice=HOUSE_VOICE,
                                language=HOUSE_VOICE, gender=voice_gender(HOUSE_VOICE), speed=HOUSE_SPEED,
                                pitch=HOUSE_PITCH)
            for index, spec in enumerate(spec for spec in specs if spec.kind == "random")]


def plan_corpus(options: CorpusOptions, vocabulary: Sequence[str] | None = None) -> dict[str, list[ClipSpec]]:
    """
    The rows of every split, as a pure function of `options` (no synthesis).

    Each split has its own random stream, so changing one split's size leaves the other splits unchanged. The
    evaluation splits are planned first and their sentences and random sequences are excluded from the training splits; their
    arithmetic questions come from the held-out pool of `split_arithmetic_problems`.

    Returns:
        `dict[str, list[ClipSpec]]`: split name -> its rows in order.
    """
    vocabulary = load_vocabulary() if vocabulary is None else tuple(vocabulary)
    train_pool, held_out_pool = split_arithmetic_problems(options.seed, options.held_out_arithmetic_fraction)
    reserved: set[str] = set(question for question, _ in held_out_pool)
    plans = {}
    # Splits added later come after the first five, so adding them left those five's plans unchanged.
    for split in ("test", "test_voices", "validation", "train", "train_extra", "train_accents", "tts_house",
                  "train_speeds"):
        pool = train_pool if split in TRAINING_SPLITS else held_out_pool
        plans[split] = _plan_split(split, options, vocabulary, pool, reserved)
    plans["test_house"] = _house_copies(plans["test_voices"], "test_house")
    return {split: plans[split] for split in SPLITS}


def plan_fingerprint(specs: Iterable[ClipSpec]) -> str:
    """SHA-256 of a split's plan, recorded in `corpus_info.json` to detect a rerun with different options."""
    digest = hashlib.sha256()
    for spec in specs:
        digest.update(json.dumps(dataclasses.asdict(spec), sort_keys=True).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------------------------
# Synthesis
# ---------------------------------------------------------------------------------------------------------------


def parse_wav_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """
    Reads 16-bit PCM WAV bytes as a mono float32 waveform in [-1, 1].

    Streaming writers (`espeak-ng --stdout`) put placeholder sizes in the header, so chunk sizes are clamped to the
    bytes actually present. Multi-channel audio is averaged.

    Returns:
        `(waveform, sampling_rate)`.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("`data` is not a RIFF/WAVE file")
    position, rate, channels, bits, samples = 12, None, None, None, None
    while position + 8 <= len(data):
        chunk_id, chunk_size = data[position:position + 4], struct.unpack("<I", data[position + 4:position + 8])[0]
        body = data[position + 8:position + 8 + chunk_size]
        if chunk_id == b"fmt ":
            audio_format, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if audio_format != 1 or bits != 16:
                raise ValueError(f"only 16-bit PCM WAV is supported, got format {audio_format} with {bits} bits")
        elif chunk_id == b"data":
            if rate is None:
                raise ValueError("WAV `data` chunk before its `fmt ` chunk")
            usable = len(body) - len(body) % (2 * channels)
            samples = np.frombuffer(body[:usable], dtype="<i2").reshape(-1, channels)
            break
        position += 8 + chunk_size + (chunk_size & 1)
    if samples is None:
        raise ValueError("WAV bytes have no `data` chunk")
    waveform = samples.astype(np.float32).mean(axis=1) / 32768.0
    return waveform.astype(np.float32), int(rate)


def encode_wav_pcm16(waveform: np.ndarray, sampling_rate: int) -> bytes:
    """A mono float waveform in [-1, 1] -> 16-bit PCM WAV bytes (values outside are clipped)."""
    pcm = np.clip(np.round(np.asarray(waveform, dtype=np.float32) * 32767.0), -32768, 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(int(sampling_rate))
        writer.writeframes(pcm.tobytes())
    return buffer.getvalue()


def trim_silence(waveform: np.ndarray, sampling_rate: int, padding_ms: float = 50.0, threshold_db: float = -40.0,
                 frame_ms: float = 10.0) -> np.ndarray:
    """
    Cuts leading and trailing silence so that exactly `padding_ms` remain before the first and after the last frame
    whose peak is within `threshold_db` of the clip's peak (zeros are added where the clip has less). An all-silent
    clip is returned unchanged.
    """
    peak = float(np.max(np.abs(waveform))) if waveform.size else 0.0
    if peak <= 0.0:
        return waveform
    frame = max(1, int(sampling_rate * frame_ms / 1000))
    frames = -(-waveform.size // frame)
    padded = np.zeros(frames * frame, dtype=waveform.dtype)
    padded[:waveform.size] = np.abs(waveform)
    loud = np.flatnonzero(padded.reshape(frames, frame).max(axis=1) >= peak * 10.0 ** (threshold_db / 20.0))
    keep = int(sampling_rate * padding_ms / 1000)
    start, end = int(loud[0]) * frame - keep, min(waveform.size, (int(loud[-1]) + 1) * frame) + keep
    pad_start, pad_end = max(0, -start), max(0, end - waveform.size)
    trimmed = waveform[max(0, start):min(waveform.size, end)]
    if pad_start or pad_end:
        trimmed = np.pad(trimmed, (pad_start, pad_end))
    return trimmed


def espeak_wav(text: str, voice: str, speed: int, pitch: int, amplitude: int = ESPEAK_AMPLITUDE) -> bytes:
    """Runs `espeak-ng -v VOICE -s SPEED -p PITCH -a AMPLITUDE --stdout TEXT` and returns its WAV bytes."""
    command = ["espeak-ng", "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "-a", str(int(amplitude)),
               "--stdout", text]
    try:
        result = subprocess.run(command, capture_output=True, check=False, timeout=60)
    except FileNotFoundError as error:
        raise RuntimeError(ESPEAK_MISSING_MESSAGE) from error
    if result.returncode != 0 or len(result.stdout) <= 44:
        raise RuntimeError(
            f"espeak-ng failed for voice {voice!r} on {text!r} (exit {result.returncode}): "
            f"{result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout


def speak(text: str, voice: str, speed: int, pitch: int, padding_ms: float = 50.0) -> np.ndarray:
    """
    One utterance as a float32 waveform at 24 kHz: espeak-ng at its own rate (read from the WAV header), trimmed,
    then resampled with `processing.feature_extraction_mimo_audio.resample_waveform` (and scaled down in the rare
    case that its peak exceeds `MAX_PEAK`, so that 16-bit storage never clips).
    """
    import torch

    from processing.resampling import resample_waveform

    waveform, rate = parse_wav_bytes(espeak_wav(text, voice, speed, pitch))
    waveform = trim_silence(waveform, rate, padding_ms)
    if waveform.size == 0:
        raise RuntimeError(f"espeak-ng produced no audio for voice {voice!r} on {text!r}")
    resampled = resample_waveform(torch.from_numpy(np.ascontiguousarray(waveform)), rate, SAMPLING_RATE).numpy()
    peak = float(np.max(np.abs(resampled)))
    if peak > MAX_PEAK:
        resampled = resampled * (MAX_PEAK / peak)
    return resampled.astype(np.float32)


@lru_cache(maxsize=4096)
def _word_on_patches(word: str, voice: str, speed: int, pitch: int, padding_ms: float) -> np.ndarray:
    waveform = speak(word, voice, speed, pitch, padding_ms)
    padded = np.pad(waveform, (0, -waveform.size % PATCH_SAMPLES))
    padded.flags.writeable = False  # shared by the cache
    return padded


def speak_word_by_word(text: str, voice: str = HOUSE_VOICE, speed: int = HOUSE_SPEED, pitch: int = HOUSE_PITCH,
                       padding_ms: float = HOUSE_WORD_PADDING_MS) -> np.ndarray:
    """
    The house voice's rendering of `text` (`HOUSE_SPLITS`): each word spoken alone (`speak`, trimmed to `padding_ms`
    of silence on either side), padded with silence to a whole number of LM patches (`PATCH_SAMPLES`), and
    concatenated. Words are cached, so a corpus of many sentences costs one synthesis per vocabulary word.

    Returns:
        `np.ndarray`: float32 at 24 kHz, a multiple of `PATCH_SAMPLES` long.
    """
    words = text.split()
    if not words:
        raise ValueError(f"`text` must hold at least one word, got {text!r}")
    return np.concatenate([_word_on_patches(word, voice, int(speed), int(pitch), float(padding_ms)) for word in words])


def synthesize_clip(spec: ClipSpec, padding_ms: float = 50.0) -> dict:
    """
    Synthesizes one planned row: the text (and, for arithmetic, the answer) in the row's voice, speed and pitch.

    Returns:
        `dict`: the row, with `audio` / `answer_audio` as `{"bytes": 24 kHz 16-bit WAV, "path": "<id>.wav"}`
        (`answer_audio` is `None` unless `kind == "arithmetic"`).
    """
    # A question mark gives arithmetic questions a question intonation; the stored text has no punctuation.
    spoken = spec.text + "?" if spec.kind == "arithmetic" else spec.text
    if spec.split in HOUSE_SPLITS:
        audio = speak_word_by_word(spoken, spec.voice, spec.speed, spec.pitch)
    else:
        audio = speak(spoken, spec.voice, spec.speed, spec.pitch, padding_ms)
    answer_audio = None
    if spec.answer_text:
        answer = speak(spec.answer_text, spec.voice, spec.speed, spec.pitch, padding_ms)
        answer_audio = {"bytes": encode_wav_pcm16(answer, SAMPLING_RATE), "path": f"{spec.id}-answer.wav"}
    return {
        "id": spec.id,
        "audio": {"bytes": encode_wav_pcm16(audio, SAMPLING_RATE), "path": f"{spec.id}.wav"},
        "text": spec.text,
        "kind": spec.kind,
        "answer_text": spec.answer_text,
        "answer_audio": answer_audio,
        "voice": spec.voice,
        "language": spec.language,
        "gender": spec.gender,
        "speed": spec.speed,
        "pitch": spec.pitch,
        "split": spec.split,
    }


def _init_worker():
    import torch

    torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------------------------
# Shards
# ---------------------------------------------------------------------------------------------------------------


def _features(decode: bool = True):
    from datasets import Audio, Features, Value

    audio = Audio(sampling_rate=SAMPLING_RATE, decode=decode)
    return Features({
        "id": Value("string"), "audio": audio, "text": Value("string"), "kind": Value("string"),
        "answer_text": Value("string"), "answer_audio": audio, "voice": Value("string"),
        "language": Value("string"), "gender": Value("string"), "speed": Value("int32"), "pitch": Value("int32"),
        "split": Value("string"),
    })


@contextlib.contextmanager
def _quiet_datasets():
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def write_shard(rows: list[dict], path: str) -> None:
    """
    Writes rows as one Parquet file with `datasets.Audio(sampling_rate=24000)` audio columns, first under a
    temporary name and then `os.replace`d into `path`, so `path` exists only when complete.
    """
    import datasets

    # `Audio.encode_example` needs torchcodec even for ready-made bytes, so the rows are built with the plain
    # {"bytes", "path"} struct (Audio's storage type) and cast to Audio, which only relabels the column.
    plain = _features()
    for name in ("audio", "answer_audio"):
        plain[name] = {"bytes": datasets.Value("binary"), "path": datasets.Value("string")}
    temporary = f"{os.path.join(os.path.dirname(path), '.' + os.path.basename(path))}.tmp-{os.getpid()}"
    with _quiet_datasets():
        dataset = datasets.Dataset.from_list(rows, features=datasets.Features(plain)).cast(_features())
        dataset.to_parquet(temporary)
    os.replace(temporary, path)


def _shard_is_complete(path: str, expected_rows: int) -> bool:
    if not os.path.isfile(path):
        return False
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows == expected_rows
    except Exception:  # a damaged file is rewritten
        return False


def _corpus_info(options: CorpusOptions, plans: dict[str, list[ClipSpec]], complete: bool) -> dict:
    _, held_out_arithmetic = split_arithmetic_problems(options.seed, options.held_out_arithmetic_fraction)
    return {
        "version": CORPUS_VERSION,
        "seed": options.seed,
        "sampling_rate": SAMPLING_RATE,
        "options": options.plan_dict(),
        "sizes": {split: len(specs) for split, specs in plans.items()},
        "shards": {split: -(-len(specs) // options.shard_size) for split, specs in plans.items()},
        "kinds": {split: {kind: sum(spec.kind == kind for spec in specs) for kind in KINDS}
                  for split, specs in plans.items()},
        "languages": list(LANGUAGES),
        "variants": list(VARIANTS),
        "train_voices": list(TRAIN_VOICES),
        "held_out_languages": list(HELD_OUT_LANGUAGES),
        "held_out_voices": list(HELD_OUT_VOICES),
        "accent_train_voices": list(ACCENT_TRAIN_VOICES),
        "house_voice": {"voice": HOUSE_VOICE, "speed": HOUSE_SPEED, "pitch": HOUSE_PITCH, "style": "word_by_word",
                        "word_padding_ms": HOUSE_WORD_PADDING_MS},
        "held_out_arithmetic": [question for question, _ in held_out_arithmetic],
        "vocabulary_size": len(load_vocabulary()),
        "espeak": espeak_version(),
        "espeak_amplitude": ESPEAK_AMPLITUDE,
        "fingerprints": {split: plan_fingerprint(specs) for split, specs in plans.items()},
        "complete": complete,
    }


def _write_json(payload: dict, path: str) -> None:
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
    os.replace(temporary, path)


def _check_resume(out_dir: str, info: dict) -> None:
    path = os.path.join(out_dir, "corpus_info.json")
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as handle:
        previous = json.load(handle)
    # Splits are planned independently, so a corpus from before a split was added resumes: every split it recorded
    # must have the same plan (fingerprint), and the new splits are synthesized.
    recorded = previous.get("fingerprints") or {}
    if previous.get("version") != info["version"] or any(
        info["fingerprints"].get(split) != fingerprint for split, fingerprint in recorded.items()
    ) or any(info["options"].get(name) != value for name, value in (previous.get("options") or {}).items()) or (
        previous.get("house_voice") != info["house_voice"]  # e.g. a corpus whose house voice spoke connected
    ):
        raise ValueError(
            f"`out_dir` {out_dir!r} holds a corpus built with other options, seed or version "
            f"({previous.get('options')}); use a new --out directory or delete it"
        )


def build_corpus(out_dir: str, options: CorpusOptions | None = None, progress: bool = True) -> dict:
    """
    Synthesizes the corpus into `out_dir/{split}/shard-{k:05d}.parquet` and writes `out_dir/corpus_info.json`.

    Shards that already exist with the expected number of rows are skipped, so an interrupted run resumes; rerunning
    into a directory built with different options raises a `ValueError`.

    Args:
        out_dir (`str`): output directory (created if needed).
        options (`CorpusOptions`, *optional*): what to build; the defaults give the full corpus.
        progress (`bool`, defaults to `True`): show a tqdm progress bar over rows.

    Returns:
        `dict`: `{"written": shards written, "skipped": shards already complete, "rows": rows synthesized,
        "seconds": wall time}`.
    """
    from tqdm.auto import tqdm

    require_espeak()
    options = CorpusOptions() if options is None else options
    if not isinstance(options, CorpusOptions):
        raise TypeError(f"`options` must be a CorpusOptions, got {type(options).__name__}")
    start = time.perf_counter()
    plans = plan_corpus(options)
    info = _corpus_info(options, plans, complete=False)
    os.makedirs(out_dir, exist_ok=True)
    _check_resume(out_dir, info)
    _write_json(info, os.path.join(out_dir, "corpus_info.json"))

    pending = []
    skipped = 0
    for split, specs in plans.items():
        os.makedirs(os.path.join(out_dir, split), exist_ok=True)
        for shard, first in enumerate(range(0, len(specs), options.shard_size)):
            shard_specs = specs[first:first + options.shard_size]
            path = os.path.join(out_dir, split, f"shard-{shard:05d}.parquet")
            if _shard_is_complete(path, len(shard_specs)):
                skipped += 1
            else:
                pending.append((path, shard_specs))

    total_rows = sum(len(shard_specs) for _, shard_specs in pending)
    synthesize = partial(synthesize_clip, padding_ms=options.padding_ms)
    pool = None
    if options.workers > 1 and pending:
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else None)
        pool = context.Pool(options.workers, initializer=_init_worker)
    try:
        with tqdm(total=total_rows, unit="clip", desc="synthesizing", disable=not progress) as bar:
            for path, shard_specs in pending:
                rows = []
                results = pool.imap(synthesize, shard_specs, chunksize=4) if pool else map(synthesize, shard_specs)
                for row in results:
                    rows.append(row)
                    bar.update(1)
                write_shard(rows, path)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    _write_json(_corpus_info(options, plans, complete=True), os.path.join(out_dir, "corpus_info.json"))
    return {"written": len(pending), "skipped": skipped, "rows": total_rows,
            "seconds": round(time.perf_counter() - start, 2)}


# ---------------------------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------------------------


def load_corpus(corpus_dir: str, split: str, cache_dir: str | None = None):
    """
    Loads one split as a `datasets.Dataset`, with `audio` and `answer_audio` as undecoded
    `Audio(sampling_rate=24000, decode=False)` columns (`{"bytes", "path"}`; decoding would need torchcodec). Use
    `decode_audio_bytes` to get waveforms.

    Args:
        corpus_dir (`str`): the `--out` directory of a build.
        split (`str`): one of `SPLITS`.
        cache_dir (`str`, *optional*): `datasets` cache directory (defaults to the `datasets` default).
    """
    import datasets

    if split not in SPLITS:
        raise ValueError(f"`split` must be one of {SPLITS}, got {split!r}")
    files = sorted(glob.glob(os.path.join(corpus_dir, split, "shard-*.parquet")))
    if not files:
        raise FileNotFoundError(f"no shards for split {split!r} under `corpus_dir` {corpus_dir!r}")
    dataset = datasets.load_dataset("parquet", data_files=files, split="train", cache_dir=cache_dir)
    audio = datasets.Audio(sampling_rate=SAMPLING_RATE, decode=False)
    return dataset.cast_column("audio", audio).cast_column("answer_audio", audio)


def decode_audio_bytes(entry, expected_rate: int | None = SAMPLING_RATE) -> np.ndarray:
    """
    Decodes one undecoded audio value (`{"bytes", "path"}` or raw WAV bytes) with soundfile.

    Args:
        entry (`dict` or `bytes`): the value of an `audio` / `answer_audio` cell.
        expected_rate (`int`, *optional*, defaults to 24000): raise a `ValueError` when the file has another rate;
            `None` accepts any rate.

    Returns:
        `np.ndarray`: the mono float32 waveform.
    """
    import soundfile as sf

    data = entry.get("bytes") if isinstance(entry, dict) else entry
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise ValueError(f"`entry` has no audio bytes (got {type(data).__name__}); arithmetic-only `answer_audio`?")
    waveform, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    if expected_rate is not None and rate != expected_rate:
        raise ValueError(f"audio is at {rate} Hz, `expected_rate` is {expected_rate} Hz")
    return np.ascontiguousarray(waveform.mean(axis=1), dtype=np.float32)


# ---------------------------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training_recipes.mini.corpus",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output directory (resumed when it holds a partial build)")
    parser.add_argument("--quick", action="store_true", help="64 train rows and 16 in each other split")
    parser.add_argument("--num-train", type=int, default=None, help="rows of the train split (overrides --quick)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="synthesis processes (default 2)")
    parser.add_argument("--shard-size", type=int, default=500, help="rows per Parquet shard (default 500)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        require_espeak()
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    overrides = {"seed": args.seed, "workers": args.workers, "shard_size": args.shard_size}
    if args.num_train is not None:
        overrides["num_train"] = args.num_train
    try:
        options = CorpusOptions.quick(**overrides) if args.quick else CorpusOptions(**overrides)
    except ValueError as error:
        parser.error(str(error).replace("`num_train`", "--num-train").replace("`workers`", "--workers")
                     .replace("`shard_size`", "--shard-size"))
    stats = build_corpus(args.out, options, progress=not args.no_progress)
    print(f"{args.out}: {stats['rows']} rows synthesized in {stats['seconds']} s "
          f"({stats['written']} shards written, {stats['skipped']} already complete)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
