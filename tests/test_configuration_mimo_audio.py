import json
import os

import pytest
from transformers import AutoConfig

import modeling_mimo_audio
from modeling_mimo_audio import MiMoAudioConfig


SPECIAL_IDS = dict(
    empty_token_id=1000, sosp_token_id=1001, eosp_token_id=1002, sostm_token_id=1003, eostm_token_id=1004,
    eot_token_id=1005,
)


def test_loads_upstream_config_as_is(upstream_lm_dir):
    with open(os.path.join(upstream_lm_dir, "config.json")) as f:
        raw = json.load(f)
    assert raw["model_type"] == "qwen2" and isinstance(raw["speech_vocab_size"], str)

    config = MiMoAudioConfig.from_pretrained(upstream_lm_dir, **SPECIAL_IDS)
    assert config.model_type == "mimo_audio"
    assert config.patch_size == 4 and config.group_size == 4
    assert config.num_codebooks == 8 and config.audio_channels == 8
    assert config.speech_vocab_sizes == [1025, 1025] + [129] * 6
    assert config.speech_empty_ids == [1024, 1024] + [128] * 6
    assert config.delay_pattern == list(range(8))
    assert config.num_patch_decoder_steps == 11
    assert (config.empty_token_id, config.sosp_token_id, config.eosp_token_id) == (1000, 1001, 1002)
    assert (config.sostm_token_id, config.eostm_token_id, config.eot_token_id) == (1003, 1004, 1005)
    assert config.get_text_config().vocab_size == config.vocab_size == 1024
    assert config.rope_parameters["rope_theta"] == 640000.0
    assert (config.local_dim, config.input_local_dim, config.local_layers, config.input_local_layers) == (32, 32, 2, 2)
    assert config.head_dim == 16


def test_loss_weight_defaults():
    config = MiMoAudioConfig()
    assert config.text_loss_weight == 100
    assert config.audio_loss_weights == [12, 8, 6, 4, 2, 2, 1, 1]
    assert config.empty_token_loss_weight == 0.01
    assert config.empty_token_id is None


def test_sub_transformer_configs(upstream_lm_dir):
    config = MiMoAudioConfig.from_pretrained(upstream_lm_dir)
    encoder, decoder = config.patch_encoder_config(), config.patch_decoder_config()
    assert (encoder.hidden_size, encoder.intermediate_size, encoder.num_hidden_layers) == (32, 128, 2)
    assert (decoder.hidden_size, decoder.intermediate_size, decoder.num_hidden_layers) == (32, 64, 2)
    assert encoder.num_key_value_heads == encoder.num_attention_heads == 4
    assert decoder.attention_dropout == 0.1
    assert decoder.rope_parameters["rope_theta"] == 640000.0


def test_save_is_hf_native_and_reloads_through_autoconfig(upstream_lm_dir, tmp_path):
    config = MiMoAudioConfig.from_pretrained(upstream_lm_dir, **SPECIAL_IDS)
    config.save_pretrained(tmp_path)
    with open(tmp_path / "config.json") as f:
        saved = json.load(f)
    assert saved["model_type"] == "mimo_audio"
    assert saved["speech_vocab_sizes"] == [1025, 1025] + [129] * 6
    assert saved["delay_pattern"] == list(range(8))
    for upstream_only in ("speech_vocab_size", "speech_zeroemb_idx", "group_size", "audio_channels"):
        assert upstream_only not in saved
    reloaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(reloaded, MiMoAudioConfig)
    drop = {"_name_or_path"}
    assert {k: v for k, v in reloaded.to_dict().items() if k not in drop} == {
        k: v for k, v in config.to_dict().items() if k not in drop
    }
    assert "_attn_implementation_autoset" not in saved


def test_upstream_names_and_dash_strings_in_constructor():
    config = MiMoAudioConfig(
        group_size=2, audio_channels=3, speech_vocab_size="11-12-13", speech_zeroemb_idx="10-11-12",
        delay_pattern="0-1-1", audio_loss_weights="3-2-1",
    )
    assert (config.patch_size, config.num_codebooks) == (2, 3)
    assert config.speech_vocab_sizes == [11, 12, 13]
    assert config.speech_empty_ids == [10, 11, 12]
    assert config.delay_pattern == [0, 1, 1]
    assert config.audio_loss_weights == [3.0, 2.0, 1.0]


def test_dashless_strings_repeat_for_every_codebook_as_upstream():
    config = MiMoAudioConfig(audio_channels=3, speech_vocab_size="129", speech_zeroemb_idx="128", delay_pattern="0")
    assert config.speech_vocab_sizes == [129, 129, 129]
    assert config.speech_empty_ids == [128, 128, 128]
    assert config.delay_pattern == [0, 0, 0]
    assert config.num_patch_decoder_steps == config.patch_size


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(delay_pattern=[0, 1, 2]), "delay_pattern"),
        (dict(speech_vocab_sizes=[1025] * 7), "speech_vocab_sizes"),
        (dict(speech_empty_ids=[1024] * 9), "speech_empty_ids"),
        (dict(audio_loss_weights=[1.0] * 3), "audio_loss_weights"),
        (dict(speech_empty_ids=[1025, 1024, 128, 128, 128, 128, 128, 128]), "speech_empty_ids\\[0\\]"),
        (dict(delay_pattern=[0, 1, 2, -1, 4, 5, 6, 7]), "non-negative"),
        (dict(delay_pattern="0-a-2"), "delay_pattern"),
        (dict(local_dim=30, local_attn_heads=4), "local_dim"),
    ],
)
def test_invalid_fields_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MiMoAudioConfig(**kwargs)


def test_registration_is_idempotent():
    # The import already registered everything; registering again must neither raise nor change the mapping.
    from processing.auto_registration import register_processing_classes

    modeling_mimo_audio._register_model_classes()
    register_processing_classes()
    assert isinstance(AutoConfig.for_model("mimo_audio"), MiMoAudioConfig)
    from transformers.pipelines import PIPELINE_REGISTRY

    assert PIPELINE_REGISTRY.supported_tasks["mimo-audio"]["impl"] is modeling_mimo_audio.MiMoAudioPipeline


def test_upstream_defaults_apply_where_upstream_config_is_silent(upstream_lm_dir, tmp_path):
    with open(os.path.join(upstream_lm_dir, "config.json")) as f:
        raw = json.load(f)
    del raw["input_full_attention"], raw["head_dim"]
    with open(tmp_path / "config.json", "w") as f:
        json.dump(raw, f)
    config = MiMoAudioConfig.from_pretrained(tmp_path)
    assert config.input_full_attention is False  # upstream's default (None) meant a causal patch encoder
    assert config.head_dim == 128  # upstream's class default
