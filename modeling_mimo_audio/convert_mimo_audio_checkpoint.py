"""Turn an upstream MiMo-Audio release into one Hugging Face-native folder.

Upstream (XiaomiMiMo) ships three pieces that only its own wrapper class knows how to combine:

- the language model folder (`config.json` with `model_type: "qwen2"`, dash-separated MiMo fields and no special
  token ids; `model*.safetensors` with upstream key names),
- the audio tokenizer (codec) folder (`MiMoAudioTokenizer` config and weights),
- the text tokenizer (Qwen2 BPE with MiMo's added tokens; upstream reads it from the LM folder).

This script loads them with this package's classes and writes a single folder that
`AutoModelForTextToWaveform.from_pretrained(folder)` / `AutoProcessor.from_pretrained(folder)` open after
`import modeling_mimo_audio`:

- `config.json` (`model_type: "mimo_audio"`, special ids read from the text tokenizer) and the LM weights,
- `generation_config.json` (upstream's default samplers and stop tokens),
- the processor: tokenizer files, `processor_config.json` (feature extractor, codec reference), `chat_template.jinja`,
  and the codec itself in the sub-folder `audio_tokenizer/`,
- a generated model card `README.md` with usage code.

Usage::

    python -m modeling_mimo_audio.convert_mimo_audio_checkpoint \\
        --lm-dir MiMo-Audio-7B-Instruct --audio-tokenizer-dir MiMo-Audio-Tokenizer \\
        --output-dir mimo-audio-7b-instruct-hf [--text-tokenizer-dir DIR] [--dtype bfloat16] [--push-to-hub ORG/NAME]

`--text-tokenizer-dir` defaults to `--lm-dir` (upstream keeps the tokenizer files next to the LM weights).
"""

import argparse
import logging
import os
import sys

logger = logging.getLogger(__name__)

__all__ = [
    "AUDIO_TOKENIZER_SUBFOLDER",
    "MIMO_SPECIAL_TOKENS",
    "build_generation_config",
    "convert_mimo_audio_checkpoint",
    "load_upstream_release",
    "push_to_hub",
    "read_special_token_ids",
    "write_model_card",
]

# Sub-folder of a converted checkpoint holding the codec (its own config + weights).
AUDIO_TOKENIZER_SUBFOLDER = "audio_tokenizer"

# MiMo's added text tokens -> the config field that stores each one's id (None: not stored in the config).
MIMO_SPECIAL_TOKENS = {
    "<|empty|>": "empty_token_id",
    "<|sosp|>": "sosp_token_id",
    "<|eosp|>": "eosp_token_id",
    "<|sostm|>": "sostm_token_id",
    "<|eostm|>": "eostm_token_id",
    "<|eot|>": "eot_token_id",
    "<|Human|>": None,
    "<|SpeechLM|>": None,
}


def read_special_token_ids(tokenizer) -> dict:
    """Config fields `{"empty_token_id": ..., "sosp_token_id": ..., ...}` read from a text tokenizer's vocabulary.

    Raises `ValueError` naming the missing tokens when the tokenizer lacks any of MiMo's added tokens.
    """
    vocab = tokenizer.get_vocab()
    missing = [token for token, field in MIMO_SPECIAL_TOKENS.items() if field and token not in vocab]
    if missing:
        raise ValueError(
            f"text tokenizer: missing MiMo-Audio special tokens {missing}; the tokenizer of a MiMo-Audio release "
            "(the files next to the upstream LM weights) defines them."
        )
    return {field: vocab[token] for token, field in MIMO_SPECIAL_TOKENS.items() if field}


def _is_upstream_lm_config(config_dict: dict) -> bool:
    return config_dict.get("model_type") != "mimo_audio"


def _resolve_dtype(dtype):
    import torch

    if dtype is None or isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    if not isinstance(dtype, str) or not isinstance(getattr(torch, dtype, None), torch.dtype):
        raise ValueError(f"dtype: expected a torch dtype name such as 'float32' or 'bfloat16', got {dtype!r}")
    return getattr(torch, dtype)


# Files one of which a local folder must hold to have a text tokenizer (fast or slow BPE).
TEXT_TOKENIZER_FILES = ("tokenizer.json", "vocab.json", "tokenizer.model")
# A byte-level BPE vocabulary has at least its 256 byte symbols; fewer means an empty or placeholder tokenizer.
MIN_TEXT_VOCABULARY = 256


def check_text_tokenizer(tokenizer, source) -> None:
    """Refuses (`ValueError`) a text tokenizer that is missing from a local `source` folder, empty, or lacks
    MiMo-Audio's special tokens: a converted folder is only as usable as its tokenizer."""
    from processing.tokenization_mimo_audio import MIMO_AUDIO_SPECIAL_TOKENS

    if os.path.isdir(source) and not any(os.path.isfile(os.path.join(source, f)) for f in TEXT_TOKENIZER_FILES):
        raise ValueError(f"text tokenizer: {source!r} holds none of {list(TEXT_TOKENIZER_FILES)}; pass the folder "
                         "of the release's tokenizer with --text-tokenizer-dir")
    if len(tokenizer) < MIN_TEXT_VOCABULARY:
        raise ValueError(f"text tokenizer: the tokenizer read from {source!r} has only {len(tokenizer)} entries "
                         f"(a BPE vocabulary has at least {MIN_TEXT_VOCABULARY}); is it the release's tokenizer?")
    missing = [token for token in MIMO_AUDIO_SPECIAL_TOKENS if token not in tokenizer.get_vocab()]
    if missing:
        raise ValueError(f"text tokenizer: the tokenizer read from {source!r} lacks the MiMo-Audio special tokens "
                         f"{missing}; the tokenizer of a MiMo-Audio release has them")


def load_upstream_release(lm_dir, audio_tokenizer_dir, text_tokenizer_dir=None, dtype=None, device=None,
                          strict_tokenizer=False):
    """Load an upstream MiMo-Audio release (LM folder, codec folder, text tokenizer) as `(model, processor)`.

    Each argument is a local folder or a Hub id. `text_tokenizer_dir` defaults to `lm_dir`. The LM folder may be
    upstream's (`model_type: "qwen2"`) or already converted (`model_type: "mimo_audio"`); in the first case the
    special token ids come from the text tokenizer, as upstream's wrapper does it. With `strict_tokenizer` (what
    conversion uses), a missing, empty or incomplete text tokenizer is refused (`check_text_tokenizer`) instead of
    being completed with a warning.
    """
    from transformers import AutoTokenizer, PreTrainedConfig

    from modeling_mimo_audio import (
        MiMoAudioFeatureExtractor,
        MiMoAudioForConditionalGeneration,
        MiMoAudioProcessor,
        MiMoAudioTokenizerModel,
    )

    from processing.tokenization_mimo_audio import ensure_mimo_special_tokens

    dtype = _resolve_dtype(dtype)
    tokenizer = AutoTokenizer.from_pretrained(text_tokenizer_dir or lm_dir)
    if strict_tokenizer:
        check_text_tokenizer(tokenizer, text_tokenizer_dir or lm_dir)
    # Upstream's wrapper appends any missing MiMo token at load time; we do the same, with a warning.
    ensure_mimo_special_tokens(tokenizer)
    special_ids = read_special_token_ids(tokenizer)

    config_dict, _ = PreTrainedConfig.get_config_dict(lm_dir)
    model_kwargs = {"dtype": dtype} if dtype is not None else {}
    if _is_upstream_lm_config(config_dict):
        text_vocab_size = config_dict.get("vocab_size")
        too_large = {k: v for k, v in special_ids.items() if text_vocab_size is not None and v >= text_vocab_size}
        if too_large:
            raise ValueError(
                f"text tokenizer: special ids {too_large} do not fit the LM's text vocabulary "
                f"(vocab_size={text_vocab_size}); is this the tokenizer of the same release?"
            )
        model_kwargs.update(special_ids)
    model = MiMoAudioForConditionalGeneration.from_pretrained(lm_dir, **model_kwargs)

    codec = MiMoAudioTokenizerModel.from_pretrained(audio_tokenizer_dir, **({"dtype": dtype} if dtype else {}))
    feature_extractor = MiMoAudioFeatureExtractor.from_tokenizer_config(codec.config)
    processor = MiMoAudioProcessor(
        feature_extractor=feature_extractor,
        tokenizer=tokenizer,
        audio_tokenizer=codec,
        patch_size=model.config.patch_size,
        speech_empty_ids=list(model.config.speech_empty_ids),
    )
    if device is not None:
        model.to(device)
        codec.to(device)
    model.generation_config = build_generation_config(tokenizer)
    return model.eval(), processor


def build_generation_config(tokenizer):
    """The converted checkpoint's default `GenerationConfig`: upstream's default sampler (text head temperature 0.6,
    top-k 50, top-p 0.95; patch decoder temperature 0.9, top-k 50, top-p 0.95), stopping at the tokenizer's eos or
    `<|im_end|>`, at most 8192 new positions. The per-task settings are the named presets of
    `processing.generation_presets` (`get_generation_preset("tts", processor)`, ...)."""
    from processing.generation_presets import get_generation_preset

    return get_generation_preset("default", tokenizer)


_MODEL_CARD = """---
library_name: transformers
pipeline_tag: any-to-any
tags:
- audio
- speech
- text-to-speech
- automatic-speech-recognition
- mimo-audio
license: mit
---

# {name} (Hugging Face-native)

This folder is [MiMo-Audio]({source}) (Xiaomi) converted to the `mimo_audio` layout of the
`modeling_mimo_audio` package: one folder holding the language model (`config.json`, weights,
`generation_config.json`), the processor (text tokenizer, log-mel feature extractor, chat template) and the audio
tokenizer (codec) in `{codec_subfolder}/`.

Converted from: language model `{lm_dir}`, audio tokenizer `{codec_dir}`, text tokenizer `{text_dir}`.

| | |
|---|---|
| text vocabulary | {vocab_size} |
| backbone | {layers} layers, hidden size {hidden} |
| audio | {num_codebooks} RVQ codebooks, {patch_size} frames (25 Hz) per LM position |
| special ids | {special_ids} |

## Usage

```python
import modeling_mimo_audio  # registers the "mimo_audio" Auto classes and the "mimo-audio" pipeline
from transformers import AutoModelForTextToWaveform, AutoProcessor, pipeline

model = AutoModelForTextToWaveform.from_pretrained("{repo}")
processor = AutoProcessor.from_pretrained("{repo}")

pipe = pipeline("mimo-audio", model=model, processor=processor)
print(pipe("question.wav", task="asr")["text"])                      # speech recognition
speech = pipe("Hello there, nice to meet you.", task="tts")           # text to speech
processor.save_audio(speech["audio"], "hello.wav")
```

From the command line:

```bash
mimo-audio transcribe question.wav --model {repo}
mimo-audio speak "Hello there." --output hello.wav --model {repo}
```

All tasks (instruct-TTS, voice cloning, audio understanding with or without thinking, spoken dialogue, few-shot
speech-to-speech, continuation) are described in the package's `docs/usage.md`.
"""


def write_model_card(output_dir, config, lm_dir, audio_tokenizer_dir, text_tokenizer_dir, repo_id=None):
    """Write `README.md` (a model card with usage code) into `output_dir`; returns its path."""
    special = {field: getattr(config, field) for field in MIMO_SPECIAL_TOKENS.values() if field}
    text = _MODEL_CARD.format(
        name=os.path.basename(os.path.normpath(str(lm_dir))) or "MiMo-Audio",
        source="https://github.com/XiaomiMiMo/MiMo-Audio",
        codec_subfolder=AUDIO_TOKENIZER_SUBFOLDER,
        lm_dir=lm_dir,
        codec_dir=audio_tokenizer_dir,
        text_dir=text_tokenizer_dir or lm_dir,
        vocab_size=config.vocab_size,
        layers=config.num_hidden_layers,
        hidden=config.hidden_size,
        num_codebooks=config.num_codebooks,
        patch_size=config.patch_size,
        special_ids=", ".join(f"`{k}`={v}" for k, v in special.items()),
        repo=repo_id or os.path.abspath(output_dir),
    )
    path = os.path.join(output_dir, "README.md")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def convert_mimo_audio_checkpoint(
    lm_dir,
    audio_tokenizer_dir,
    output_dir,
    text_tokenizer_dir=None,
    dtype=None,
    repo_id=None,
    max_shard_size="5GB",
):
    """Convert an upstream release into one HF-native folder at `output_dir`; returns `(model, processor)`.

    See the module docstring for the folder's content. `repo_id` only fills the usage code of the model card.
    """
    if os.path.isfile(output_dir):
        raise ValueError(f"output_dir: expected a folder, got the file {output_dir!r}")
    model, processor = load_upstream_release(lm_dir, audio_tokenizer_dir, text_tokenizer_dir, dtype=dtype,
                                             strict_tokenizer=True)
    os.makedirs(output_dir, exist_ok=True)
    # Drop the upstream class name: the converted folder is this package's architecture.
    model.config.architectures = [type(model).__name__]
    model.save_pretrained(output_dir, max_shard_size=max_shard_size)
    processor.save_pretrained(output_dir)  # also writes the codec into `audio_tokenizer/`
    write_model_card(output_dir, model.config, lm_dir, audio_tokenizer_dir, text_tokenizer_dir, repo_id=repo_id)
    logger.info("Wrote the converted checkpoint to %s", output_dir)
    return model, processor


def push_to_hub(output_dir, repo_id, private=False, token=None, commit_message="Upload MiMo-Audio (HF-native)"):
    """Upload a converted folder to the Hub as `repo_id` (creating the repo if needed); returns the commit info.

    A thin wrapper over `huggingface_hub.HfApi.create_repo` + `upload_folder`; it is the only function of this
    module that uses the network. `token` defaults to the logged-in user's token.
    """
    from huggingface_hub import HfApi

    if not os.path.isfile(os.path.join(output_dir, "config.json")):
        raise ValueError(f"output_dir: {output_dir!r} is not a converted checkpoint (no config.json)")
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    return api.upload_folder(folder_path=output_dir, repo_id=repo_id, commit_message=commit_message)


def build_argument_parser(parser=None):
    parser = parser or argparse.ArgumentParser(
        prog="python -m modeling_mimo_audio.convert_mimo_audio_checkpoint",
        description="Convert an upstream MiMo-Audio release into one Hugging Face-native folder.",
    )
    parser.add_argument("--lm-dir", required=True, help="upstream language model folder (or Hub id)")
    parser.add_argument(
        "--audio-tokenizer-dir", required=True, help="upstream MiMo-Audio-Tokenizer folder (or Hub id)"
    )
    parser.add_argument(
        "--text-tokenizer-dir", default=None, help="text tokenizer folder (or Hub id); defaults to --lm-dir"
    )
    parser.add_argument("--output-dir", required=True, help="folder to write the converted checkpoint to")
    parser.add_argument("--dtype", default=None, help="cast the weights, e.g. bfloat16 (default: as stored)")
    parser.add_argument("--max-shard-size", default="5GB", help="safetensors shard size (default 5GB)")
    parser.add_argument("--push-to-hub", default=None, metavar="REPO_ID", help="also upload the folder to the Hub")
    parser.add_argument("--private", action="store_true", help="create the Hub repo as private")
    return parser


def run_from_args(args) -> int:
    convert_mimo_audio_checkpoint(
        args.lm_dir,
        args.audio_tokenizer_dir,
        args.output_dir,
        text_tokenizer_dir=args.text_tokenizer_dir,
        dtype=args.dtype,
        repo_id=args.push_to_hub,
        max_shard_size=args.max_shard_size,
    )
    print(f"converted checkpoint written to {args.output_dir}")
    if args.push_to_hub:
        push_to_hub(args.output_dir, args.push_to_hub, private=args.private)
        print(f"uploaded to https://huggingface.co/{args.push_to_hub}")
    return 0


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return run_from_args(build_argument_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
