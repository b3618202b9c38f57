"""Conversion of an upstream release (tests/fixtures/upstream_tiny) into one HF-native folder."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import modeling_mimo_audio  # noqa: F401  (registers the Auto classes)
from modeling_mimo_audio import (
    MiMoAudioForConditionalGeneration,
    MiMoAudioProcessor,
    MiMoAudioTokenizerModel,
    interleaved_to_patches,
)
from modeling_mimo_audio.convert_mimo_audio_checkpoint import (
    AUDIO_TOKENIZER_SUBFOLDER,
    convert_mimo_audio_checkpoint,
    load_upstream_release,
    read_special_token_ids,
)

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURE_SPECIAL_IDS = {
    "empty_token_id": 1000,
    "sosp_token_id": 1001,
    "eosp_token_id": 1002,
    "sostm_token_id": 1003,
    "eostm_token_id": 1004,
    "eot_token_id": 1005,
}


def build_fixture_text_tokenizer(save_directory):
    """A byte-level BPE tokenizer whose added tokens sit at the fixture's ids (<|empty|> 1000 ... <|eot|> 1005), in
    a text vocabulary that fits the fixture LM's 1024 rows: 256 byte symbols + fillers up to id 999, no merges."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: i for i, symbol in enumerate(alphabet)}
    vocab.update({f"<unused_{i}>": i for i in range(len(vocab), 1000)})
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    ordered = ["<|empty|>", "<|sosp|>", "<|eosp|>", "<|sostm|>", "<|eostm|>", "<|eot|>", "<|Human|>", "<|SpeechLM|>"]
    ordered += ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    backend.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ordered])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|endoftext|>", padding_side="left"
    )
    tokenizer.save_pretrained(save_directory)
    return tokenizer


@pytest.fixture(scope="module")
def text_tokenizer_dir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("text_tokenizer"))
    build_fixture_text_tokenizer(path)
    return path


@pytest.fixture(scope="module")
def converted(tmp_path_factory, upstream_lm_dir, upstream_tokenizer_dir, text_tokenizer_dir):
    output_dir = str(tmp_path_factory.mktemp("converted"))
    convert_mimo_audio_checkpoint(upstream_lm_dir, upstream_tokenizer_dir, output_dir, text_tokenizer_dir)
    return output_dir


def fixture_prompt(upstream_lm_dir):
    expected = np.load(os.path.join(upstream_lm_dir, "expected.npz"))
    input_ids, audio_codes = interleaved_to_patches(torch.from_numpy(expected["prompt_ids"])[None], patch_size=4)
    return input_ids, audio_codes, torch.from_numpy(expected["prompt_text_logits"])


def test_fixture_tokenizer_places_special_tokens_at_fixture_ids(text_tokenizer_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(text_tokenizer_dir)
    assert read_special_token_ids(tokenizer) == FIXTURE_SPECIAL_IDS
    assert max(tokenizer.get_vocab().values()) < 1024


def test_read_special_token_ids_names_missing_tokens():
    class NoMimoTokens:
        def get_vocab(self):
            return {"a": 0, "<|sosp|>": 1}

    with pytest.raises(ValueError, match=r"<\|empty\|>"):
        read_special_token_ids(NoMimoTokens())


def test_converted_folder_layout(converted):
    files = set(os.listdir(converted))
    for name in ("config.json", "generation_config.json", "README.md", "processor_config.json"):
        assert name in files, f"{name} missing from {sorted(files)}"
    assert any(name.endswith(".safetensors") for name in files)
    assert "chat_template.jinja" in files
    assert os.path.isfile(os.path.join(converted, AUDIO_TOKENIZER_SUBFOLDER, "config.json"))

    with open(os.path.join(converted, "config.json")) as handle:
        config = json.load(handle)
    assert config["model_type"] == "mimo_audio"
    assert config["architectures"] == ["MiMoAudioForConditionalGeneration"]
    for field, value in FIXTURE_SPECIAL_IDS.items():
        assert config[field] == value
    assert config["speech_vocab_sizes"] == [1025, 1025] + [129] * 6
    assert config["speech_empty_ids"] == [1024, 1024] + [128] * 6

    with open(os.path.join(converted, "generation_config.json")) as handle:
        generation = json.load(handle)
    assert generation["max_new_tokens"] == 8192
    assert generation["temperature"] == 0.6 and generation["top_k"] == 50 and generation["top_p"] == 0.95
    # Upstream's default stop set: the tokenizer's eos (<|endoftext|> 1008) and <|im_end|> (1010).
    assert generation["eos_token_id"] == [1008, 1010]

    card = open(os.path.join(converted, "README.md"), encoding="utf-8").read()
    assert "AutoProcessor.from_pretrained" in card and 'pipeline("mimo-audio"' in card
    assert "`empty_token_id`=1000" in card


def test_converted_model_matches_upstream_loaded_model(
    converted, upstream_lm_dir, upstream_tokenizer_dir, text_tokenizer_dir
):
    from transformers import AutoConfig, AutoModel, AutoModelForTextToWaveform, AutoProcessor

    input_ids, audio_codes, expected_logits = fixture_prompt(upstream_lm_dir)
    attention_mask = torch.ones_like(input_ids)

    upstream_model, _ = load_upstream_release(upstream_lm_dir, upstream_tokenizer_dir, text_tokenizer_dir)
    assert isinstance(AutoConfig.from_pretrained(converted), modeling_mimo_audio.MiMoAudioConfig)
    reloaded = MiMoAudioForConditionalGeneration.from_pretrained(converted).eval()
    with torch.no_grad():
        inputs = {"input_ids": input_ids, "audio_codes": audio_codes, "attention_mask": attention_mask}
        upstream_logits = upstream_model(**inputs).logits
        reloaded_logits = reloaded(**inputs).logits
    torch.testing.assert_close(reloaded_logits, upstream_logits, rtol=0, atol=0)
    # And both equal the numbers upstream's own code computed for this prompt (one logit row per position).
    torch.testing.assert_close(reloaded_logits[0].float(), expected_logits, rtol=1e-4, atol=1e-4)

    # The Auto classes resolve the converted folder too (the model card uses AutoModelForTextToWaveform).
    for auto_class in (AutoModel, AutoModelForTextToWaveform):
        auto_model = auto_class.from_pretrained(converted).eval()
        assert isinstance(auto_model, MiMoAudioForConditionalGeneration)
        with torch.no_grad():
            torch.testing.assert_close(auto_model(**inputs).logits, upstream_logits, rtol=0, atol=0)

    processor = AutoProcessor.from_pretrained(converted)
    assert isinstance(processor, MiMoAudioProcessor)
    assert isinstance(processor.audio_tokenizer, MiMoAudioTokenizerModel)
    assert processor.tokenizer.convert_tokens_to_ids("<|empty|>") == 1000


def test_converted_codec_matches_fixture_codes(converted, upstream_tokenizer_dir):
    from transformers import AutoProcessor

    expected = np.load(os.path.join(upstream_tokenizer_dir, "expected.npz"))
    processor = AutoProcessor.from_pretrained(converted)
    features = processor.feature_extractor(expected["wav_1"], sampling_rate=24000, return_tensors="pt")
    with torch.no_grad():
        codes = processor.audio_tokenizer.encode(features["input_features"], attention_mask=features["attention_mask"])
    np.testing.assert_array_equal(codes.audio_codes[0, :8].numpy(), expected["codes_1"][:8])


def test_bad_arguments_give_clear_errors(tmp_path, upstream_lm_dir, upstream_tokenizer_dir, text_tokenizer_dir):
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("x")
    with pytest.raises(ValueError, match="output_dir"):
        convert_mimo_audio_checkpoint(upstream_lm_dir, upstream_tokenizer_dir, str(a_file), text_tokenizer_dir)
    with pytest.raises(ValueError, match="dtype"):
        load_upstream_release(upstream_lm_dir, upstream_tokenizer_dir, text_tokenizer_dir, dtype="float13")


def test_module_runs_as_script(tmp_path, upstream_lm_dir, upstream_tokenizer_dir, text_tokenizer_dir):
    output_dir = tmp_path / "out"
    command = [
        sys.executable, "-m", "modeling_mimo_audio.convert_mimo_audio_checkpoint",
        "--lm-dir", upstream_lm_dir, "--audio-tokenizer-dir", upstream_tokenizer_dir,
        "--text-tokenizer-dir", text_tokenizer_dir, "--output-dir", str(output_dir),
    ]  # fmt: skip
    completed = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert (output_dir / "config.json").is_file()
    assert (output_dir / AUDIO_TOKENIZER_SUBFOLDER / "model.safetensors").is_file()


def test_pipeline_loads_converted_folder_by_path(converted, upstream_tokenizer_dir):
    from transformers import pipeline

    expected = np.load(os.path.join(upstream_tokenizer_dir, "expected.npz"))
    pipe = pipeline("mimo-audio", model=converted)
    assert isinstance(pipe.model, MiMoAudioForConditionalGeneration)
    result = pipe(expected["wav_1"], task="asr", max_new_tokens=3)
    assert isinstance(result["text"], str) and result["audio"] is None


@pytest.mark.parametrize("layout", ["converted", "upstream"])
def test_cli_runs_real_checkpoint_folders(
    layout, converted, upstream_lm_dir, upstream_tokenizer_dir, text_tokenizer_dir, tmp_path, capsys
):
    import soundfile as sf

    from modeling_mimo_audio.cli import main

    expected = np.load(os.path.join(upstream_tokenizer_dir, "expected.npz"))
    wav = str(tmp_path / "clip.wav")
    sf.write(wav, expected["wav_0"], 24000)
    if layout == "converted":
        model_args = ["--model", converted]
    else:
        model_args = ["--model", upstream_lm_dir, "--audio-tokenizer", upstream_tokenizer_dir,
                      "--text-tokenizer", text_tokenizer_dir]  # fmt: skip
    assert main(["transcribe", wav, *model_args, "--max-new-tokens", "3", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "TINY model" not in captured.err  # a real checkpoint: no tiny-model note
    out = str(tmp_path / "speech.wav")
    # The fixture's random weights never pick <|empty|> here (speech is forced only for the tiny demo set): the
    # command must say so and write nothing rather than leave an empty wav behind.
    assert main(["speak", "Hi.", "--output", out, *model_args, "--max-new-tokens", "3", "--no-progress"]) == 1
    assert "generated no speech" in capsys.readouterr().err
    assert not os.path.exists(out)


def test_cli_upstream_checkpoint_needs_audio_tokenizer(upstream_lm_dir, text_tokenizer_dir, tmp_path, capsys):
    from modeling_mimo_audio.cli import main

    assert main(["speak", "Hi.", "--output", str(tmp_path / "x.wav"), "--model", upstream_lm_dir,
                 "--text-tokenizer", text_tokenizer_dir]) == 2  # fmt: skip
    assert capsys.readouterr().err.startswith("error: --audio-tokenizer: required with the upstream checkpoint")


def test_push_to_hub_uploads_the_folder_without_network(converted, tmp_path, monkeypatch):
    import huggingface_hub

    from modeling_mimo_audio.convert_mimo_audio_checkpoint import push_to_hub

    calls = []

    class RecordingApi:
        def __init__(self, token=None):
            calls.append(("init", token))

        def create_repo(self, repo_id, private=False, exist_ok=False):
            calls.append(("create_repo", repo_id, private, exist_ok))

        def upload_folder(self, folder_path, repo_id, commit_message):
            calls.append(("upload_folder", folder_path, repo_id))
            return "commit-info"

    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    assert push_to_hub(converted, "someone/mimo-audio-tiny", private=True, token="t") == "commit-info"
    assert calls == [
        ("init", "t"),
        ("create_repo", "someone/mimo-audio-tiny", True, True),
        ("upload_folder", converted, "someone/mimo-audio-tiny"),
    ]
    with pytest.raises(ValueError, match="output_dir"):
        push_to_hub(str(tmp_path), "someone/empty")


def test_pipeline_attaches_codec_from_checkpoint_subfolder(converted, upstream_tokenizer_dir):
    from transformers import pipeline

    model = MiMoAudioForConditionalGeneration.from_pretrained(converted)
    processor = MiMoAudioProcessor.from_pretrained(converted, load_audio_tokenizer=False)
    assert processor.audio_tokenizer is None
    pipe = pipeline("mimo-audio", model=model, processor=processor)
    assert isinstance(pipe.processor.audio_tokenizer, MiMoAudioTokenizerModel)
    expected = np.load(os.path.join(upstream_tokenizer_dir, "expected.npz"))
    codes = pipe.processor.encode_audio([expected["wav_1"]])[0].reshape(-1, 8)  # padded to whole patches
    frames = expected["codes_1"].shape[1]
    np.testing.assert_array_equal(codes[:frames].T.numpy(), expected["codes_1"][:8])


def _saved_tokenizer(folder, vocabulary_size, with_mimo_tokens):
    from tokenizers import AddedToken, Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel(vocab={f"w{i}": i for i in range(vocabulary_size)}, unk_token="w0"))
    if with_mimo_tokens:
        backend.add_special_tokens([AddedToken(t, special=True) for t in ("<|empty|>", "<|sosp|>", "<|eosp|>",
                                                                          "<|sostm|>", "<|eostm|>", "<|eot|>")])
    PreTrainedTokenizerFast(tokenizer_object=backend).save_pretrained(folder)
    return str(folder)


def test_conversion_refuses_a_missing_empty_or_incomplete_text_tokenizer(tmp_path, upstream_lm_dir,
                                                                          upstream_tokenizer_dir):
    # The fixture's LM folder has no tokenizer files: upstream keeps them next to the weights.
    assert not any(os.path.isfile(os.path.join(upstream_lm_dir, f)) for f in ("tokenizer.json", "vocab.json"))
    with pytest.raises(ValueError, match="holds none of"):
        convert_mimo_audio_checkpoint(upstream_lm_dir, upstream_tokenizer_dir, str(tmp_path / "a"))
    empty = _saved_tokenizer(tmp_path / "empty", 10, with_mimo_tokens=True)
    with pytest.raises(ValueError, match="only 16 entries"):
        convert_mimo_audio_checkpoint(upstream_lm_dir, upstream_tokenizer_dir, str(tmp_path / "b"), empty)
    plain = _saved_tokenizer(tmp_path / "plain", 600, with_mimo_tokens=False)
    with pytest.raises(ValueError, match=r"lacks the MiMo-Audio special tokens \[.*'<\|empty\|>'"):
        convert_mimo_audio_checkpoint(upstream_lm_dir, upstream_tokenizer_dir, str(tmp_path / "c"), plain)
    assert not any((tmp_path / name).exists() for name in "abc")  # nothing written


def test_convert_command_exits_non_zero_without_a_text_tokenizer(tmp_path, upstream_lm_dir, upstream_tokenizer_dir,
                                                                 capsys):
    from modeling_mimo_audio.cli import main

    code = main(["convert", "--lm-dir", upstream_lm_dir, "--audio-tokenizer-dir", upstream_tokenizer_dir,
                 "--output-dir", str(tmp_path / "out")])
    assert code != 0
    err = capsys.readouterr().err
    assert err.startswith("error: text tokenizer:") and "--text-tokenizer-dir" in err and "Traceback" not in err
