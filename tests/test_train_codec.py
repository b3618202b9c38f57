"""Codec training recipe: typed config, RVQ training, losses, discriminators, exact resume, released layout."""

import io
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf
import torch

from modeling_mimo_audio import MiMoAudioTokenizerModel
from modeling_mimo_audio.quantization_mimo_audio_tokenizer import MiMoAudioTokenizerQuantizer
from training_recipes.codec_discriminators import (
    MultiPeriodDiscriminator,
    MultiScaleSTFTDiscriminator,
    discriminator_hinge_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from training_recipes.codec_losses import MultiScaleMelLoss, mel_scales
from training_recipes.codec_quantizer import kmeans, quantize_for_training, sample_num_quantizers
from training_recipes.train_codec import CodecTrainer, CodecTrainingConfig, main
from training_recipes.typed_config import from_dict, load_typed_config


TINY_CODEC = dict(
    d_model=32, encoder_layers=2, encoder_skip_layer_id=1, encoder_attention_heads=2, encoder_ffn_dim=64,
    decoder_layers=1, decoder_attention_heads=2, decoder_ffn_dim=64, vocoder_dim=32, vocoder_intermediate_dim=64,
    vocoder_num_layers=1, vocoder_attention_heads=2, num_quantizers=3, codebook_size=[16, 8, 8],
)


def _write_clips(path, count=6, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(count):
        seconds = rng.uniform(0.5, 1.0)
        t = np.arange(int(24000 * seconds)) / 24000
        wave = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 300) * t) * np.hanning(t.size)
        buffer = io.BytesIO()
        sf.write(buffer, wave.astype(np.float32), 24000, format="WAV", subtype="PCM_16")
        rows.append({"audio": {"bytes": buffer.getvalue(), "path": f"{index}.wav"}, "text": "x"})
    pq.write_table(pa.Table.from_pylist(rows), path)


def _config(tmp_path, name, **stage1):
    data_file = tmp_path / "clips.parquet"
    if not data_file.exists():
        _write_clips(data_file)
    return from_dict(CodecTrainingConfig, {
        "output_dir": str(tmp_path / name), "model": TINY_CODEC, "seed": 0, "save_steps": 2, "log_steps": 1,
        "eval_steps": 100, "num_threads": 1,
        "data": {"train_files": str(data_file), "eval_files": str(data_file), "segment_frames": 8, "batch_size": 2,
                 "eval_clips": 2},
        "stage1": {"steps": 4, "warmup_steps": 1, "kmeans_iterations": 2, **stage1},
    })


def test_typed_config_refuses_unknown_keys_and_wrong_types(tmp_path):
    config = _config(tmp_path, "a")
    assert config.stage1.steps == 4 and config.data.batch_size == 2
    raw = {"output_dir": "x", "model": {}, "data": {"train_files": "y", "batch_sise": 4}}
    with pytest.raises(ValueError, match=r"data: unknown key\(s\) \['batch_sise'\]"):
        from_dict(CodecTrainingConfig, raw)
    with pytest.raises(TypeError, match=r"stage1.steps must be an integer, got str"):
        from_dict(CodecTrainingConfig, {"output_dir": "x", "model": {}, "data": {"train_files": "y"},
                                        "stage1": {"steps": "100"}})
    with pytest.raises(ValueError, match="data is required"):
        from_dict(CodecTrainingConfig, {"output_dir": "x", "model": {}})
    path = tmp_path / "c.yaml"
    path.write_text("output_dir: o\nmodel: {}\ndata: {train_files: t}\n")
    loaded = load_typed_config(CodecTrainingConfig, path, ["stage1.learning_rate=3", "stage2.steps=5"])
    assert loaded.stage1.learning_rate == 3.0 and isinstance(loaded.stage1.learning_rate, float)
    assert loaded.stage2.steps == 5


def test_mel_scales_follow_the_report():
    assert mel_scales() == [(32, 240, 120), (64, 480, 240), (128, 960, 480)]
    loss = MultiScaleMelLoss(24000)
    wave = torch.randn(2, 4800)
    assert loss(wave, wave).item() == 0.0
    assert loss(wave, 0.5 * wave).item() > 0.1
    with pytest.raises(ValueError, match="differ"):
        loss(wave, wave[:, :100])


def test_quantizer_training_updates_codebooks_and_passes_gradients():
    torch.manual_seed(0)
    quantizer = MiMoAudioTokenizerQuantizer(4, [8, 8])
    for codebook in quantizer.codebooks:
        codebook.inited.zero_()
    generator = torch.Generator().manual_seed(0)
    vectors = torch.randn(64, 4, requires_grad=True)
    out = quantize_for_training(quantizer, vectors, 2, generator, kmeans_iterations=3)
    assert out.codes.shape == (2, 64) and len(out.usage) == 2
    assert all(bool(c.inited.item()) for c in quantizer.codebooks)
    # Straight-through: the forward value is the quantization (with the codebooks as they were before this batch's
    # EMA update), the gradient reaches the encoder output.
    out = quantize_for_training(quantizer, vectors, 2, generator, update=False)
    torch.testing.assert_close(out.quantized, quantizer.decode(out.codes))
    (out.quantized.sum() + out.commitment_loss).backward()
    assert vectors.grad is not None and torch.isfinite(vectors.grad).all()
    # The EMA update moves the codebook towards the assigned vectors.
    before = quantizer.codebooks[0].embed.clone()
    quantize_for_training(quantizer, vectors.detach() + 3.0, 1, generator)
    assert not torch.equal(before, quantizer.codebooks[0].embed)
    # Without update nothing changes.
    frozen = quantizer.codebooks[0].embed.clone()
    quantize_for_training(quantizer, vectors.detach(), 2, generator, update=False)
    assert torch.equal(frozen, quantizer.codebooks[0].embed)


def test_kmeans_finds_separated_clusters():
    generator = torch.Generator().manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    points = torch.cat([centers[0] + 0.1 * torch.randn(50, 2), centers[1] + 0.1 * torch.randn(50, 2)])
    found = kmeans(points, 2, 10, generator)
    found = found[found[:, 0].argsort()]
    torch.testing.assert_close(found, centers, atol=0.1, rtol=0)


def test_quantizer_dropout_draws_every_level():
    generator = torch.Generator().manual_seed(0)
    draws = [sample_num_quantizers(generator, 8, 0.5) for _ in range(400)]
    assert set(draws) == set(range(1, 9))
    assert 0.45 < draws.count(8) / len(draws) < 0.65  # 0.5 + 0.5 / 8
    assert {sample_num_quantizers(generator, 8, 1.0) for _ in range(20)} == {8}


def test_discriminators_and_gan_losses():
    wave = torch.randn(2, 4000)
    for discriminator in (MultiPeriodDiscriminator((2, 3), channels=4), MultiScaleSTFTDiscriminator((256, 128), 4)):
        outputs = discriminator(wave)
        assert len(outputs) == 2
        for logits, features in outputs:
            assert logits.shape[0] == 2 and len(features) >= 3
    real = [(torch.full((2, 3), 2.0), [torch.ones(2, 3)])]
    fake = [(torch.full((2, 3), -2.0), [torch.zeros(2, 3)])]
    assert discriminator_hinge_loss(real, fake).item() == 0.0  # both beyond the margin
    assert discriminator_hinge_loss(fake, real).item() == pytest.approx(6.0)
    assert generator_adversarial_loss(fake).item() == pytest.approx(2.0)
    assert feature_matching_loss(real, fake).item() == pytest.approx(1.0)


def test_training_resumes_exactly_and_saves_the_released_layout(tmp_path):
    straight = CodecTrainer(_config(tmp_path, "straight")).train()
    # An interrupted run: a trainer that stops after the step-2 checkpoint, then a fresh one that resumes.
    interrupted_config = _config(tmp_path, "resumed")
    first = CodecTrainer(interrupted_config)
    first.config.stage1.steps = 2
    first.load_data()
    for _ in range(2):
        first.stage1_step()
        first.step += 1
    first.save_checkpoint()
    resumed = CodecTrainer(_config(tmp_path, "resumed")).train()
    assert resumed.step == straight.step == 4
    for (name, a), (_, b) in zip(straight.model.state_dict().items(), resumed.model.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)

    folder = tmp_path / "straight"
    assert {"config.json", "model.safetensors", "preprocessor_config.json"} <= set(os.listdir(folder))
    loaded = MiMoAudioTokenizerModel.from_pretrained(folder)
    torch.testing.assert_close(loaded.encoder.quantizer.codebooks[0].embed, straight.model.encoder.quantizer.codebooks[0].embed)
    log = [json.loads(line) for line in open(folder / "log.jsonl")]
    assert [r["step"] for r in log] == [1, 2, 3, 4]
    assert all("usage" in r and "mel" in r for r in log) and "eval_mel_distance" in log[-1]


def test_stage2_runs_and_freezes_the_encoder(tmp_path):
    config = _config(tmp_path, "gan", steps=1)
    config.stage2.steps = 1
    config.stage2.periods = [2]
    config.stage2.stft_sizes = [128]
    config.stage2.discriminator_channels = 4
    trainer = CodecTrainer(config)
    trainer.load_data()
    trainer.stage1_step()
    trainer.step = 1
    encoder_before = {k: v.clone() for k, v in trainer.model.encoder.state_dict().items()}
    trainer._setup_stage2()
    record = trainer.stage2_step()
    assert {"adversarial", "feature_matching", "discriminator", "mel"} <= set(record)
    for key, value in trainer.model.encoder.state_dict().items():
        assert torch.equal(value, encoder_before[key]), key


def test_cli_reports_config_errors(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("output_dir: o\nmodel: {}\ndata: {train_files: t}\nstage1: {stepz: 3}\n")
    with pytest.raises(SystemExit) as raised:
        main(["--config", str(path)])
    assert raised.value.code == 2
    assert "stage1: unknown key(s) ['stepz']" in capsys.readouterr().err


def test_bf16_autocast_keeps_the_istft_head_quantizer_and_weights_in_fp32(tmp_path):
    config = _config(tmp_path, "bf16")
    config.bf16 = True
    trainer = CodecTrainer(config)
    trainer.load_data()
    head = trainer.model.decoder.vocoder.head
    seen = {}

    def record(name):
        def hook(module, args, output):
            seen[name] = (output[0] if isinstance(output, tuple) else output).dtype
        return hook

    head.out.register_forward_hook(record("head"))
    trainer.model.encoder.register_forward_hook(record("encoder"))
    reconstruction, quantized = trainer.reconstruct(trainer.sample_batch(), 3, update_codebooks=False)
    assert seen == {"encoder": torch.bfloat16, "head": torch.float32}
    assert reconstruction.dtype == torch.float32 and quantized.quantized.dtype == torch.float32
    logged = trainer.stage1_step()
    assert np.isfinite(logged["loss"])
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())


def test_bf16_setting_is_checked_by_name(tmp_path):
    config = _config(tmp_path, "bad")
    config.bf16 = "sometimes"
    with pytest.raises(ValueError, match="bf16 must be true, false or 'auto'"):
        CodecTrainer(config)
