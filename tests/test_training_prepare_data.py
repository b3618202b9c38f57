"""prepare_data: audio corpus -> codes (batched, sharded, resumable) -> task examples -> packed rows."""

import logging
import os

import datasets
import numpy as np
import pytest
import soundfile as sf

from training_recipes.prepare_data import (
    CodecEncoder,
    encode_dataset,
    format_dataset,
    load_waveform,
    pack_dataset,
    special_token_ids_from_tokenizer,
)


@pytest.fixture(scope="module")
def tiny_set():
    from modeling_mimo_audio.tiny import build_tiny_model_set

    return build_tiny_model_set(seed=0)


@pytest.fixture()
def corpus(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for i, samples in enumerate([16000, 9000, 12345]):
        path = str(tmp_path / f"clip{i}.wav")
        sf.write(path, (0.1 * rng.standard_normal(samples)).astype(np.float32), 16000)
        paths.append(path)
    rows = datasets.Dataset.from_dict({"audio": paths, "text": ["hello world", "good day", "the quick fox"]})
    return rows.cast_column("audio", datasets.Audio())


def test_encode_batches_match_single_clips_and_resume(tiny_set, corpus, tmp_path, caplog):
    model, processor = tiny_set
    encoder = CodecEncoder(processor.audio_tokenizer, processor.feature_extractor, device="cpu")
    out_dir = str(tmp_path / "codes")
    # The reader warns once per source rate per process: forget earlier tests' warnings so this one is seen.
    logging.Logger.warning_once.cache_clear()
    with caplog.at_level(logging.WARNING):
        encoded = encode_dataset(corpus, encoder, out_dir, batch_size=2, shard_size=2)
    assert "resampling audio from 16000 Hz" in caplog.text
    assert sorted(os.listdir(out_dir)) == ["codes-00000-of-00002.parquet", "codes-00001-of-00002.parquet"]
    assert encoded.column_names == ["text", "audio_codes"]
    for i, path in enumerate(corpus.cast_column("audio", datasets.Audio(decode=False))["audio"]):
        alone = encoder([load_waveform(path)])[0][:8]
        np.testing.assert_array_equal(np.asarray(encoded[i]["audio_codes"]), alone)
    # 1 s -> 24000 samples at 24 kHz -> 101 mel frames (hop 240, centred) -> ceil(ceil(101/2)/2) = 26 (spec C.2)
    assert np.asarray(encoded[0]["audio_codes"]).shape == (8, 26)

    # Resume: with one shard removed, only that one is encoded again.
    os.remove(os.path.join(out_dir, "codes-00001-of-00002.parquet"))
    calls = []

    def counting_encoder(waveforms):
        calls.append(len(waveforms))
        return encoder(waveforms)

    again = encode_dataset(corpus, counting_encoder, out_dir, batch_size=2, shard_size=2)
    assert calls == [1]
    assert again["audio_codes"] == encoded["audio_codes"]


def test_format_and_pack(tiny_set, corpus, tmp_path):
    model, processor = tiny_set
    encoder = CodecEncoder(processor.audio_tokenizer, processor.feature_extractor, device="cpu")
    encoded = encode_dataset(corpus, encoder, str(tmp_path / "codes"), batch_size=3, shard_size=8)
    special = special_token_ids_from_tokenizer(processor.tokenizer, model.config)
    assert special == special.from_config(model.config)
    examples = format_dataset(encoded, "asr", special, processor.tokenizer)
    assert examples.column_names == ["input_ids", "labels", "audio_patches"]
    for row, codes in zip(examples, encoded["audio_codes"]):
        patches = -(-len(codes[0]) // 4)
        assert row["input_ids"].count(special.empty) == patches
        assert len(row["audio_patches"]) == 32 * patches
    packed = pack_dataset(examples, context_length=1000, empty_token_id=special.empty)
    assert len(packed) == 1
    assert packed[0]["document_lengths"] == [len(r["input_ids"]) for r in examples]


def test_encode_rejects_missing_column(corpus, tmp_path):
    with pytest.raises(ValueError, match="audio_column 'wav'"):
        encode_dataset(corpus, lambda w: w, str(tmp_path), audio_column="wav")


def test_recipe_trains_and_evaluates_on_prepared_files(tiny_set, corpus, tmp_path):
    from training_recipes.run import run_recipe

    model, processor = tiny_set
    encoder = CodecEncoder(processor.audio_tokenizer, processor.feature_extractor, device="cpu")
    encoded = encode_dataset(corpus, encoder, str(tmp_path / "codes"), batch_size=3, shard_size=8)
    # Raw rows + data.task for training (formatted on the fly), formatted examples for evaluation.
    special = special_token_ids_from_tokenizer(processor.tokenizer, model.config)
    format_dataset(encoded, "tts", special, processor.tokenizer).to_parquet(str(tmp_path / "eval.parquet"))
    config = os.path.join(os.path.dirname(os.path.dirname(__file__)), "training_recipes", "configs", "tiny",
                          "pretrain_stage2.yaml")
    trainer = run_recipe("pretrain_stage2", [
        "--config", config, f"training.output_dir={tmp_path / 'out'}", "data.synthetic=null",
        f"data.train_files={tmp_path / 'codes'}", "data.task=asr_pretrain", f"data.eval_files={tmp_path}/eval.parquet",
        "training.max_steps=2", "training.eval_strategy=steps", "training.eval_steps=2", "training.save_steps=100",
    ])
    evals = [e for e in trainer.state.log_history if "eval_loss" in e]
    assert len(evals) == 1 and np.isfinite(evals[0]["eval_loss"])
    assert trainer.train_dataset[0]["input_ids"][0] == special.sosp  # asr_pretrain: audio first
