"""Parameter groups, freezing and LoRA target selection (no training)."""

import pytest

from training_recipes.optim import build_param_groups, freeze_modules
from training_recipes.peft_utils import apply_lora, lora_target_modules


@pytest.fixture()
def model():
    from modeling_mimo_audio.tiny import build_tiny_model_set

    return build_tiny_model_set(seed=0)[0]


RATES = {"patch_encoder": 2e-4, "llm": 3e-5, "patch_decoder": 1e-4}


def test_groups_cover_every_trainable_parameter_once(model):
    groups = build_param_groups(model, RATES, weight_decay=0.1)
    seen = [id(p) for g in groups for p in g["params"]]
    assert len(seen) == len(set(seen)) == sum(1 for p in model.parameters() if p.requires_grad)
    by_name = {n: g for g in groups for n, p in model.named_parameters() if any(p is q for q in g["params"])}
    assert by_name["speech_embeddings.3.weight"]["name"] == "patch_encoder"
    assert by_name["local_transformer_lm_heads.0.weight"]["name"] == "patch_decoder"
    assert by_name["lm_head.weight"]["name"] == "llm" and by_name["lm_head.weight"]["lr"] == 3e-5
    assert by_name["model.norm.weight"]["name"] == "llm_no_decay" and by_name["model.norm.weight"]["weight_decay"] == 0


def test_frozen_group_needs_no_rate_and_is_left_out(model):
    freeze_modules(model, ["patch_decoder"])
    groups = build_param_groups(model, {"patch_encoder": 2e-4, "llm": 3e-5}, weight_decay=0.0)
    assert {g["name"] for g in groups} == {"patch_encoder", "patch_encoder_no_decay", "llm", "llm_no_decay"}
    assert model.speech_embeddings[0].weight.requires_grad  # shared embeddings stay with the encoder
    with pytest.raises(ValueError, match="frozen_modules must be among"):
        freeze_modules(model, ["vocoder"])
    with pytest.raises(ValueError, match="keys must be among"):
        build_param_groups(model, {"encoder": 1e-4}, weight_decay=0.0)


def test_lora_targets_per_group(model):
    llm = lora_target_modules(model)
    assert llm and all(name.startswith("model.layers.") for name in llm)
    assert {name.rsplit(".", 1)[1] for name in llm} == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                        "up_proj", "down_proj"}
    encoder = lora_target_modules(model, ["q_proj"], ["patch_encoder"])
    assert encoder and all(name.startswith("input_local_transformer.") for name in encoder)
    decoder = lora_target_modules(model, ["q_proj"], ["patch_decoder"])
    assert decoder and all(name.startswith("local_transformer.") for name in decoder)
    with pytest.raises(ValueError, match="no nn.Linear"):
        lora_target_modules(model, ["qkv"], ["llm"])


def test_lora_on_patch_decoder_gets_the_decoder_rate(model):
    peft_model = apply_lora(model, r=2, alpha=4, dropout=0.0, target_names=["q_proj", "v_proj"],
                            groups=["llm", "patch_decoder"], modules_to_save=["local_transformer_lm_heads"])
    groups = build_param_groups(peft_model, RATES, weight_decay=0.0)
    names = {id(p): n for n, p in peft_model.named_parameters()}
    decoder = [names[id(p)] for g in groups if g["name"].startswith("patch_decoder") for p in g["params"]]
    assert any(".local_transformer." in n and "lora_A" in n for n in decoder)
    assert any("local_transformer_lm_heads" in n and "modules_to_save" in n for n in decoder)
    llm = [names[id(p)] for g in groups if g["name"].startswith("llm") for p in g["params"]]
    assert llm and all("lora_" in n and ".model.layers." in n for n in llm)
    assert not any(g["name"].startswith("patch_encoder") for g in groups)  # nothing trainable there
