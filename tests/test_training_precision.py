"""`training.bf16: auto`: bf16 autocast only where the hardware runs bf16 natively (training_recipes.precision)."""

import pytest
import torch

from training_recipes.precision import native_bf16_supported, resolve_bf16
from training_recipes.run import run_recipe

from test_training_recipes import tiny_config


def test_torch_still_has_the_private_cpu_probes():
    # `native_bf16_supported` reads torch's private CPU probes; this fails loudly when a torch release moves them.
    assert isinstance(torch.cpu._is_avx512_bf16_supported(), bool)
    assert isinstance(torch.cpu._is_amx_tile_supported(), bool)


def test_cpu_answer_follows_the_probes(monkeypatch):
    for avx512_bf16, amx, expected in [(False, False, False), (True, False, True), (False, True, True)]:
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda value=avx512_bf16: value)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda value=amx: value)
        assert native_bf16_supported(use_cpu=True) is expected


@pytest.mark.parametrize("value", [True, False])
def test_booleans_pass_unchanged(value):
    assert resolve_bf16(value) is value


@pytest.mark.parametrize("value", ["yes", "bf16", 1, None])
def test_anything_else_is_refused_by_name(value):
    with pytest.raises(ValueError, match="training.bf16"):
        resolve_bf16(value)


@pytest.mark.parametrize("native", [True, False])
def test_recipe_resolves_auto_from_the_hardware(native, tmp_path, monkeypatch):
    monkeypatch.setattr("training_recipes.run.resolve_bf16",
                        lambda value, use_cpu=False: native if value == "auto" else value)
    argv = ["--config", tiny_config("sft"), f"training.output_dir={tmp_path}", "training.max_steps=1",
            "training.save_steps=100", "training.bf16=auto"]
    trainer = run_recipe("sft", argv)
    assert trainer.args.bf16 is native
    assert trainer.accelerator.mixed_precision == ("bf16" if native else "no")
