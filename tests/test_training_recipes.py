"""The four recipes through their real entry points and tiny configs (CPU, synthetic data, a few steps)."""

import importlib
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from training_recipes.run import run_recipe


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(REPO, "training_recipes", "configs", "tiny")


def tiny_config(recipe):
    return os.path.join(TINY, f"{recipe}.yaml")


def run(recipe, output_dir, *overrides, resume=None):
    argv = ["--config", tiny_config(recipe), f"training.output_dir={output_dir}", *overrides]
    if resume:
        argv += ["--resume_from_checkpoint", resume]
    return run_recipe(recipe, argv)


def step_logs(trainer):
    return [entry for entry in trainer.state.log_history if "loss" in entry]


def fresh_tiny_model():
    from modeling_mimo_audio.tiny import build_tiny_model_set

    return build_tiny_model_set(seed=0)[0]


@pytest.mark.parametrize("recipe", ["pretrain_stage1", "pretrain_stage2", "sft", "lora"])
def test_recipe_entry_point_runs_and_saves(recipe, tmp_path):
    module = importlib.import_module(f"training_recipes.{recipe}")
    assert module.main(["--config", tiny_config(recipe), f"training.output_dir={tmp_path}"]) == 0
    with open(tmp_path / "checkpoint-2" / "trainer_state.json") as handle:
        logs = [e for e in json.load(handle)["log_history"] if "loss" in e]
    assert len(logs) == 2 and all("text_loss" in e for e in logs)
    if recipe == "pretrain_stage1":
        assert not any("audio_loss_c0" in e for e in logs)  # no audio stream is trained in stage 1
    else:
        assert any(all(f"audio_loss_c{c}" in e for c in range(8)) for e in logs)
    folder = tmp_path / "merged" if recipe == "lora" else tmp_path
    if recipe == "lora":
        assert (tmp_path / "adapter_model.safetensors").exists()
    # A complete folder: model, processor (tokenizer + chat template, feature extractor, codec), generation config
    # and a model card, so AutoProcessor and every command open it.
    for name in ("model.safetensors", "config.json", "generation_config.json", "processor_config.json",
                 "tokenizer.json", "README.md", "audio_tokenizer/model.safetensors"):
        assert (folder / name).exists(), name
    from transformers import AutoModelForTextToWaveform, AutoProcessor

    processor = AutoProcessor.from_pretrained(folder)
    assert type(processor).__name__ == "MiMoAudioProcessor" and processor.audio_tokenizer is not None
    model = AutoModelForTextToWaveform.from_pretrained(folder)
    assert model.config.empty_token_id == processor.special_ids["empty"]


def test_readme_command_runs_as_a_subprocess(tmp_path):
    command = [sys.executable, "-m", "training_recipes.pretrain_stage1", "--config", tiny_config("pretrain_stage1"),
               f"training.output_dir={tmp_path}"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'text_loss'" in result.stdout + result.stderr


def test_stage1_groups_lrs_and_frozen_decoder(tmp_path):
    trainer = run("pretrain_stage1", tmp_path, "training.max_steps=2", "training.save_steps=100")
    groups = {g["name"]: g for g in trainer.optimizer.param_groups}
    assert set(groups) == {"patch_encoder", "patch_encoder_no_decay", "llm", "llm_no_decay"}
    assert groups["patch_encoder"]["initial_lr"] == pytest.approx(2e-4)
    assert groups["llm"]["initial_lr"] == pytest.approx(3e-5)
    assert groups["llm_no_decay"]["weight_decay"] == 0.0 and groups["llm"]["weight_decay"] == pytest.approx(0.1)

    model = trainer.model
    in_group = {id(p): g["name"] for g in trainer.optimizer.param_groups for p in g["params"]}
    for name, parameter in model.named_parameters():
        if name.startswith("speech_embeddings."):
            assert in_group[id(parameter)].startswith("patch_encoder")  # shared embeddings: encoder group
        if name.startswith(("local_transformer", "hidden_states_downcast")):
            assert not parameter.requires_grad and id(parameter) not in in_group

    initial = dict(fresh_tiny_model().named_parameters())
    trained = dict(model.named_parameters())
    for name in trained:
        moved = not torch.equal(trained[name].detach(), initial[name].detach())
        if name.startswith(("local_transformer", "hidden_states_downcast")):
            assert not moved, name
    assert not torch.equal(trained["speech_embeddings.0.weight"], initial["speech_embeddings.0.weight"])
    assert not torch.equal(trained["lm_head.weight"], initial["lm_head.weight"])
    assert model.config.audio_loss_weights == [0.0] * 8 and model.config.text_loss_weight == 1.0


@pytest.mark.parametrize("recipe", ["pretrain_stage1", "sft"])
def test_precision_is_fp32_unless_the_config_asks(recipe, tmp_path):
    # TRL's SFTConfig defaults to bf16 autocast while TrainingArguments does not: every recipe must train in the
    # precision its config states (fp32 when silent), not in its trainer library's default.
    trainer = run(recipe, tmp_path, "training.max_steps=1", "training.save_steps=100")
    assert trainer.args.bf16 is False and trainer.args.fp16 is False
    assert trainer.accelerator.mixed_precision == "no"


def test_stage2_has_three_groups_with_configured_lrs(tmp_path):
    trainer = run("pretrain_stage2", tmp_path, "training.max_steps=1", "training.save_steps=100")
    rates = {g["name"]: g["initial_lr"] for g in trainer.optimizer.param_groups}
    assert rates == pytest.approx({"patch_encoder": 2e-4, "patch_encoder_no_decay": 2e-4, "llm": 3e-5,
                                   "llm_no_decay": 3e-5, "patch_decoder": 2e-4, "patch_decoder_no_decay": 2e-4})
    assert trainer.model.config.audio_loss_weights == [12.0, 8.0, 6.0, 4.0, 2.0, 2.0, 1.0, 1.0]


def test_loss_falls_when_overfitting_a_tiny_batch(tmp_path):
    lr = 5e-3
    trainer = run("pretrain_stage2", tmp_path, "data.synthetic.num_examples=2", "data.pack=false",
                  "training.max_steps=10", "training.save_steps=100", "training.warmup_steps=0",
                  "training.lr_scheduler_type=constant", f"learning_rates.llm={lr}",
                  f"learning_rates.patch_encoder={lr}", f"learning_rates.patch_decoder={lr}")
    logs = step_logs(trainer)
    assert len(logs) == 10
    assert logs[-1]["loss"] < 0.35 * logs[0]["loss"]
    assert logs[-1]["text_loss"] < 0.2 * logs[0]["text_loss"]
    for channel in range(8):
        assert logs[-1][f"audio_loss_c{channel}"] < 0.8 * logs[0][f"audio_loss_c{channel}"]


def test_resume_reproduces_uninterrupted_trajectory(tmp_path):
    straight = run("pretrain_stage2", tmp_path / "straight", "training.max_steps=4", "training.save_steps=2",
                   "data.pack=false")
    resumed_dir = tmp_path / "resumed"
    resumed_dir.mkdir()
    shutil.copytree(tmp_path / "straight" / "checkpoint-2", resumed_dir / "checkpoint-2")
    resumed = run("pretrain_stage2", resumed_dir, "training.max_steps=4", "training.save_steps=2", "data.pack=false",
                  resume="latest")
    expected = [(e["step"], e["loss"], e["text_loss"]) for e in step_logs(straight) if e["step"] > 2]
    got = [(e["step"], e["loss"], e["text_loss"]) for e in step_logs(resumed) if e["step"] > 2]
    assert [s for s, _, _ in got] == [3, 4]
    for (_, loss_a, text_a), (_, loss_b, text_b) in zip(expected, got):
        assert loss_b == pytest.approx(loss_a, abs=1e-6) and text_b == pytest.approx(text_a, abs=1e-6)
    for (name, a), (_, b) in zip(straight.model.named_parameters(), resumed.model.named_parameters()):
        assert torch.allclose(a, b, atol=1e-6), name


def test_lora_adapter_saves_reloads_and_merges_to_same_outputs(tmp_path):
    from peft import PeftModel

    from modeling_mimo_audio import MiMoAudioForConditionalGeneration
    from training_recipes.collator import MiMoAudioDataCollator
    from training_recipes.formats import SpecialTokenIds

    from training_recipes.peft_utils import merge_and_save

    trainer = run("lora", tmp_path, "learning_rates.llm=0.01", "lora.merge_after_training=false")
    peft_model = trainer.model.eval()
    lora_names = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert lora_names and all(".model.layers." in n and "lora_" in n for n in lora_names)

    special = SpecialTokenIds.from_config(peft_model.config)
    batch = MiMoAudioDataCollator(special, pad_token_id=0)([trainer.train_dataset[i] for i in range(2)])
    batch.pop("labels")
    with torch.no_grad():
        expected = peft_model(**batch).logits
        merge_and_save(peft_model, str(tmp_path / "merged"))
        base = fresh_tiny_model()
        base_logits = base(**batch).logits
        reloaded = PeftModel.from_pretrained(base, str(tmp_path)).eval()
        reloaded_logits = reloaded(**batch).logits
        merged = MiMoAudioForConditionalGeneration.from_pretrained(str(tmp_path / "merged")).eval()
        merged_logits = merged(**batch).logits
    assert (expected - base_logits).abs().max() > 1e-3  # the adapter changed the model
    torch.testing.assert_close(reloaded_logits, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(merged_logits, expected, atol=1e-4, rtol=1e-4)
    assert not any("lora" in name for name, _ in merged.named_parameters())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU guard")
def test_qlora_without_cuda_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="CUDA"):
        run("lora", tmp_path, "lora.qlora=true")


def test_config_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="not a file"):
        run_recipe("sft", ["--config", str(tmp_path / "missing.yaml")])
    with pytest.raises(ValueError, match="'pretrain_stage1' config"):
        run_recipe("sft", ["--config", tiny_config("pretrain_stage1")])
    with pytest.raises(ValueError, match="no rate for the trainable group 'patch_decoder'"):
        run("pretrain_stage2", tmp_path, "learning_rates.patch_decoder=null")
    # A misspelt key in any section is refused by name instead of falling back to a default.
    for override, message in (("data.context_lenght=64", r"unknown data key\(s\) \['context_lenght'\]"),
                              ("model.name_or_pth=x", r"unknown model key\(s\) \['name_or_pth'\]"),
                              ("learning_rates.lm=1", r"unknown learning_rates key\(s\) \['lm'\]")):
        with pytest.raises(ValueError, match=message):
            run("pretrain_stage1", tmp_path, override)


def test_full_configs_carry_the_spec_settings():
    from training_recipes.config import load_recipe_config

    configs = {r: load_recipe_config(os.path.join(REPO, "training_recipes", "configs", f"{r}.yaml"), recipe=r)
               for r in ("pretrain_stage1", "pretrain_stage2", "sft", "lora")}
    stage1, stage2, sft = configs["pretrain_stage1"], configs["pretrain_stage2"], configs["sft"]
    assert stage1.learning_rates == {"patch_encoder": 2e-4, "llm": 3e-5}
    assert stage1.loss["text_loss_weight"] == 1 and stage1.loss["audio_loss_weights"] == [0] * 8
    assert stage1.frozen_modules == ["patch_decoder"]
    assert stage1.training["lr_scheduler_type"] == "constant_with_warmup" and stage1.training["warmup_steps"] == 0.01
    assert stage2.learning_rates == {"patch_encoder": 2e-4, "llm": 3e-5, "patch_decoder": 2e-4}
    assert [stage2.loss["text_loss_weight"], *stage2.loss["audio_loss_weights"]] == [100, 12, 8, 6, 4, 2, 2, 1, 1]
    assert stage2.training["lr_scheduler_type"].startswith("cosine") and stage2.training["warmup_steps"] == 0.01
    assert sft.learning_rates == {"patch_encoder": 5e-5, "llm": 1e-5, "patch_decoder": 5e-5}
    assert sft.training["lr_scheduler_type"].startswith("cosine") and sft.data["task"] == "sft"
    for recipe, config in configs.items():
        tiny = load_recipe_config(tiny_config(recipe), recipe=recipe)
        assert tiny.learning_rates == config.learning_rates and tiny.loss == config.loss
