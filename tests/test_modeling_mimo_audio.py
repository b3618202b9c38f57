import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoModelForCausalLM, AutoModelForMultimodalLM, AutoModelForTextToWaveform

import modeling_mimo_audio
from modeling_mimo_audio import (
    MiMoAudioConfig,
    MiMoAudioForConditionalGeneration,
    MiMoAudioForTextToSpeech,
    interleaved_to_patches,
    patches_to_interleaved,
)
from modeling_mimo_audio.layout_mimo_audio import delay_patch, delay_step_schedule, undelay_patch


SPECIAL_IDS = dict(
    empty_token_id=1000, sosp_token_id=1001, eosp_token_id=1002, sostm_token_id=1003, eostm_token_id=1004,
    eot_token_id=1005,
)


class MiMoAudioModelTester:
    """Tiny random MiMo-Audio LMs and inputs (hidden 32, 2 layers, 3 codebooks of sizes 17/9/9)."""

    vocab_size = 64
    empty_token_id = 60
    sosp_token_id = 61
    eosp_token_id = 62
    eos_token_id = 63

    def get_config(self, **overrides):
        kwargs = dict(
            vocab_size=self.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
            patch_size=4, num_codebooks=3, speech_vocab_sizes=[17, 9, 9], speech_empty_ids=[16, 8, 8],
            delay_pattern=[0, 1, 2], audio_loss_weights=[3.0, 2.0, 1.0],
            local_dim=16, local_layers=2, local_attn_heads=2, local_ffn_dim=32,
            input_local_dim=16, input_local_layers=1, local_attn_dropout=0.0,
            empty_token_id=self.empty_token_id, sosp_token_id=self.sosp_token_id,
            eosp_token_id=self.eosp_token_id, initializer_range=0.2,
        )
        kwargs.update(overrides)
        return MiMoAudioConfig(**kwargs)

    def get_model(self, seed=0, **overrides):
        torch.manual_seed(seed)
        return MiMoAudioForConditionalGeneration(self.get_config(**overrides)).eval()

    def empty_patch(self, config):
        return torch.tensor(config.speech_empty_ids).view(1, -1).expand(config.patch_size, -1)

    def make_sequence(self, config, text_before, num_patches, text_after, seed=0):
        """`text_before`, <|sosp|>, `num_patches` audio patches, <|eosp|>, `text_after` -> (ids [P], codes [P,G,C])."""
        generator = torch.Generator().manual_seed(seed)
        ids = list(text_before) + [self.sosp_token_id] + [self.empty_token_id] * num_patches + [self.eosp_token_id]
        ids += list(text_after)
        codes = self.empty_patch(config).unsqueeze(0).repeat(len(ids), 1, 1)
        start = len(text_before) + 1
        for c, size in enumerate(config.speech_vocab_sizes):
            codes[start : start + num_patches, :, c] = torch.randint(0, size - 1, (num_patches, config.patch_size),
                                                                     generator=generator)
        return torch.tensor(ids), codes

    def left_pad(self, config, sequences):
        length = max(len(ids) for ids, _ in sequences)
        batch = len(sequences)
        input_ids = torch.zeros(batch, length, dtype=torch.long)
        audio_codes = self.empty_patch(config).view(1, 1, *self.empty_patch(config).shape).repeat(batch, length, 1, 1)
        attention_mask = torch.zeros(batch, length, dtype=torch.long)
        for b, (ids, codes) in enumerate(sequences):
            input_ids[b, length - len(ids) :] = ids
            audio_codes[b, length - len(ids) :] = codes
            attention_mask[b, length - len(ids) :] = 1
        return input_ids, audio_codes, attention_mask


tester = MiMoAudioModelTester()


@pytest.fixture(scope="module")
def upstream_model(upstream_lm_dir):
    return MiMoAudioForConditionalGeneration.from_pretrained(upstream_lm_dir, **SPECIAL_IDS).eval()


@pytest.fixture(scope="module")
def expected(upstream_lm_dir):
    return dict(np.load(os.path.join(upstream_lm_dir, "expected.npz")))


@pytest.fixture(scope="module")
def prompt(expected):
    return interleaved_to_patches(torch.tensor(expected["prompt_ids"])[None])


# ------------------------------------------------------------------------------------------------ layout helpers


def test_interleaved_to_patches_on_spec_toy_example():
    # Spec A.5: "Hi [audio] !" with code a[f, c] = 10 (c + 1) + (f + 1), two patches.
    text = [17, 900, 902, 902, 901, 5]
    empty = [1024, 1024] + [128] * 6
    interleaved = torch.full((1, 9, 24), -100)
    for k, token in enumerate(text):
        interleaved[0, 0, 4 * k] = token
    for c in range(8):
        interleaved[0, 1 + c] = empty[c]
        for f in range(8):
            interleaved[0, 1 + c, 8 + f] = 10 * (c + 1) + (f + 1)
    input_ids, audio_codes = interleaved_to_patches(interleaved)
    assert input_ids.tolist() == [text]
    assert audio_codes.shape == (1, 6, 4, 8)
    assert audio_codes[0, 2, :, 0].tolist() == [11, 12, 13, 14]
    assert audio_codes[0, 3, :, 7].tolist() == [85, 86, 87, 88]
    assert audio_codes[0, 0, 0].tolist() == empty
    assert torch.equal(patches_to_interleaved(input_ids, audio_codes), interleaved)


def test_layout_round_trip_and_errors(expected):
    interleaved = torch.tensor(expected["prompt_ids"])[None]
    input_ids, audio_codes = interleaved_to_patches(interleaved)
    assert input_ids.shape == (1, 13) and audio_codes.shape == (1, 13, 4, 8)
    assert torch.equal(patches_to_interleaved(input_ids, audio_codes), interleaved)
    assert torch.equal(audio_codes[0, 6:9].reshape(12, 8), torch.tensor(expected["audio_codes"]))
    ids_1d, codes_1d = interleaved_to_patches(interleaved[0])
    assert torch.equal(ids_1d, input_ids[0]) and torch.equal(codes_1d, audio_codes[0])
    assert torch.equal(patches_to_interleaved(ids_1d, codes_1d), interleaved[0])
    with pytest.raises(ValueError, match="multiple of patch_size"):
        interleaved_to_patches(interleaved[..., :-1])
    with pytest.raises(ValueError, match="interleaved"):
        interleaved_to_patches(interleaved[None])
    with pytest.raises(ValueError, match="input_ids"):
        patches_to_interleaved(input_ids[:, :-1], audio_codes)


def test_delay_patch_matches_spec_table():
    # Spec A.5, patch decoder for h1: step t scores channel c on frame t - c.
    patch = torch.tensor([[10 * (c + 1) + (f + 1) for c in range(8)] for f in range(4)]).unsqueeze(0)
    empty = [1024, 1024] + [128] * 6
    grid = delay_patch(patch, list(range(8)), empty)
    assert grid.shape == (1, 11, 8)
    assert grid[0, 0].tolist() == [11] + empty[1:]
    assert grid[0, 3].tolist() == [14, 23, 32, 41, 128, 128, 128, 128]
    assert grid[0, 9].tolist() == [1024, 1024] + [128] * 4 + [74, 83]
    assert grid[0, 10].tolist() == [1024, 1024] + [128] * 5 + [84]
    assert torch.equal(undelay_patch(grid, list(range(8)), 4), patch)
    schedule = delay_step_schedule(list(range(8)), 4)
    assert len(schedule) == 11 and sum(len(s) for s in schedule) == 32
    assert schedule[1] == [(0, 1), (1, 0)] and schedule[10] == [(7, 3)]


def test_delay_patch_with_repeated_delays():
    patch = torch.arange(12).view(1, 4, 3)
    grid = delay_patch(patch, [0, 2, 2], [100, 101, 102])
    assert grid.shape == (1, 6, 3)
    assert grid[0, :, 1].tolist() == [101, 101, 1, 4, 7, 10]
    assert torch.equal(undelay_patch(grid, [0, 2, 2], 4), patch)


# ------------------------------------------------------------------------------------------- upstream parity


def test_upstream_checkpoint_loads_with_no_missing_or_unexpected_keys(upstream_lm_dir):
    model, info = MiMoAudioForConditionalGeneration.from_pretrained(
        upstream_lm_dir, output_loading_info=True, **SPECIAL_IDS
    )
    assert info["missing_keys"] == set() and info["unexpected_keys"] == set()
    assert info["mismatched_keys"] == set()
    assert model.config.empty_token_id == 1000


def test_prompt_text_logits_and_local_hidden(upstream_model, prompt, expected):
    input_ids, audio_codes = prompt
    with torch.no_grad():
        out = upstream_model(input_ids=input_ids, audio_codes=audio_codes)
        local_hidden = upstream_model.hidden_states_downcast(out.last_hidden_state[0])
    np.testing.assert_allclose(out.logits[0].numpy(), expected["prompt_text_logits"], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(local_hidden.numpy(), expected["prompt_local_hidden"], atol=1e-4)


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_parity_under_each_attention_implementation(upstream_lm_dir, prompt, expected, attn_implementation):
    # Upstream's patch encoder is bidirectional only under SDPA; ours under every implementation.
    model = MiMoAudioForConditionalGeneration.from_pretrained(
        upstream_lm_dir, attn_implementation=attn_implementation, **SPECIAL_IDS
    ).eval()
    assert model.input_local_transformer.config._attn_implementation == attn_implementation
    with torch.no_grad():
        logits = model(input_ids=prompt[0], audio_codes=prompt[1]).logits
    np.testing.assert_allclose(logits[0].numpy(), expected["prompt_text_logits"], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_patch_encoder_is_bidirectional(attn_implementation):
    model = tester.get_model(attn_implementation=attn_implementation)
    patches = torch.randint(0, 8, (1, 4, 3))
    changed = patches.clone()
    changed[0, 3] = (changed[0, 3] + 1) % 8
    with torch.no_grad():
        frames = model._sum_speech_embeddings(torch.cat([patches, changed]))
        encoded = model.input_local_transformer(
            inputs_embeds=frames, attention_mask={"full_attention": None}, is_causal=False
        ).last_hidden_state
        # A change in the last frame reaches the first frame's output only if attention is bidirectional.
        assert not torch.allclose(encoded[0, 0], encoded[1, 0])
        assert not torch.allclose(model.embed_patches(patches), model.embed_patches(changed))


def test_last_patch_greedy_local_tokens(upstream_model, prompt, expected):
    with torch.no_grad():
        hidden = upstream_model(input_ids=prompt[0], audio_codes=prompt[1]).last_hidden_state[:, -1]
        patch = upstream_model.generate_patch(hidden)
    assert patch[0].tolist() == expected["last_patch_greedy_local_tokens"].tolist()


def test_teacher_forced_logits_match_audio_logits(upstream_model, prompt, expected):
    input_ids, audio_codes = prompt
    with torch.no_grad():
        out = upstream_model(input_ids=input_ids, audio_codes=audio_codes, labels=input_ids)
    assert len(out.audio_logits) == 8
    positions = expected["teacher_forced_patch_positions"]
    assert (input_ids[0, positions] == 1000).all()
    for c in range(8):
        reference = expected[f"teacher_forced_logits_ch{c}"]
        assert out.audio_logits[c].shape == reference.shape
        np.testing.assert_allclose(out.audio_logits[c].numpy(), reference, atol=1e-4)


# ------------------------------------------------------------------------------------------------------ forward


def test_logits_to_keep_and_labels_free_forward_skip_patch_decoder():
    model = tester.get_model()
    ids, codes = tester.make_sequence(model.config, [1, 2, 3], 3, [4, 5])
    calls = []
    handle = model.local_transformer.register_forward_hook(lambda *args: calls.append(1))
    with torch.no_grad():
        full = model(input_ids=ids[None], audio_codes=codes[None])
        last = model(input_ids=ids[None], audio_codes=codes[None], logits_to_keep=1)
    handle.remove()
    assert calls == []
    assert full.logits.shape == (1, len(ids), tester.vocab_size)
    assert last.logits.shape == (1, 1, tester.vocab_size)
    torch.testing.assert_close(last.logits[:, 0], full.logits[:, -1])
    assert full.loss is None and full.audio_logits is None


def test_loss_matches_its_definition():
    model = tester.get_model()
    config = model.config
    sequences = [tester.make_sequence(config, [1, 2, 3], 3, [4, 5], seed=1),
                 tester.make_sequence(config, [7], 2, [8, 9, 10, 11], seed=2)]
    input_ids, audio_codes, attention_mask = tester.left_pad(config, sequences)
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    labels[1, -1] = -100  # an ignored position
    with torch.no_grad():
        out = model(input_ids=input_ids, audio_codes=audio_codes, attention_mask=attention_mask, labels=labels)

    # Text: hidden k predicts labels k+1, `<|empty|>` targets weigh 0.01.
    targets = labels[:, 1:]
    logits = out.logits[:, :-1]
    weights, losses = [], []
    for b in range(2):
        for k in range(targets.shape[1]):
            if targets[b, k] == -100:
                continue
            losses.append(F.cross_entropy(logits[b, k], targets[b, k]))
            weights.append(0.01 if targets[b, k] == tester.empty_token_id else 1.0)
    weights = torch.tensor(weights)
    text_loss = (torch.stack(losses) * weights).sum() / weights.sum()
    torch.testing.assert_close(out.text_loss, text_loss)

    # Patches: 3 + 2 targets, ordered by batch then position; logits from the teacher-forced decoder.
    assert [a.shape for a in out.audio_logits] == [(5, 4, 17), (5, 4, 9), (5, 4, 9)]
    target_patches = torch.cat([sequences[0][1][4:7], sequences[1][1][2:4]])
    with torch.no_grad():
        hidden = model(input_ids=input_ids, audio_codes=audio_codes, attention_mask=attention_mask).last_hidden_state
    # Row 0 fills all 10 positions (patches at 4..6); row 1 has one pad, so its patches (local 2..3) sit at 3..4.
    conditioning = torch.cat([hidden[0, 3:6], hidden[1, 2:4]])
    with torch.no_grad():
        reference = model.patch_decoder_logits(conditioning, target_patches)
    for c in range(3):
        torch.testing.assert_close(out.audio_logits[c], reference[c], atol=1e-5, rtol=1e-5)
        expected_loss = F.cross_entropy(reference[c].flatten(0, 1), target_patches[..., c].flatten())
        torch.testing.assert_close(out.audio_loss[c], expected_loss, atol=1e-5, rtol=1e-5)

    total = (100 * text_loss + (torch.tensor([3.0, 2.0, 1.0]) * out.audio_loss).sum()) / 106
    torch.testing.assert_close(out.loss, total)


def test_loss_without_audio_targets_is_the_text_loss():
    model = tester.get_model()
    input_ids = torch.tensor([[1, 2, 3, 4, 5]])
    out = model(input_ids=input_ids, labels=input_ids)
    assert out.audio_loss.tolist() == [0.0, 0.0, 0.0]
    assert [a.shape[0] for a in out.audio_logits] == [0, 0, 0]
    torch.testing.assert_close(out.loss, out.text_loss)


def test_text_only_loss_weights_skip_the_patch_decoder():
    # Stage 1 trains the text head only (audio weights 0): the patch decoder must not run at all.
    model = tester.get_model(audio_loss_weights=[0.0, 0.0, 0.0])
    ids, codes = tester.make_sequence(model.config, [1, 2, 3], 3, [4, 5])
    calls = []
    handle = model.local_transformer.register_forward_hook(lambda *args: calls.append(1))
    out = model(input_ids=ids[None], audio_codes=codes[None], labels=ids[None])
    handle.remove()
    assert calls == []
    assert out.audio_loss.tolist() == [0.0, 0.0, 0.0]
    torch.testing.assert_close(out.loss, out.text_loss)
    out.loss.backward()
    assert all(p.grad is None for p in model.local_transformer.parameters())


def test_loss_is_the_same_whatever_logits_to_keep():
    # With all logits kept the loss reuses them; with logits_to_keep=1 it computes its own.
    model = tester.get_model()
    ids, codes = tester.make_sequence(model.config, [1, 2, 3], 3, [4, 5])
    with torch.no_grad():
        full = model(input_ids=ids[None], audio_codes=codes[None], labels=ids[None])
        last = model(input_ids=ids[None], audio_codes=codes[None], labels=ids[None], logits_to_keep=1)
    assert last.logits.shape[1] == 1
    torch.testing.assert_close(full.loss, last.loss)
    torch.testing.assert_close(full.text_loss, last.text_loss)


def test_loss_falls_when_overfitting_one_batch():
    model = tester.get_model().train()
    config = model.config
    sequences = [tester.make_sequence(config, [1, 2, 3], 3, [4, 5], seed=1),
                 tester.make_sequence(config, [7], 2, [8, 9], seed=2)]
    input_ids, audio_codes, attention_mask = tester.left_pad(config, sequences)
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        out = model(input_ids=input_ids, audio_codes=audio_codes, attention_mask=attention_mask, labels=labels)
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
        losses.append(out.loss.item())
    assert losses[-1] < 0.3 * losses[0]
    assert out.audio_loss[0] < 0.5 * 2.8  # well below chance (ln 16)


def test_gradient_checkpointing_gives_the_same_gradients():
    config_seq = tester.make_sequence(tester.get_config(), [1, 2], 2, [3])
    input_ids, audio_codes = config_seq[0][None], config_seq[1][None]
    grads = []
    for checkpointing in (False, True):
        model = tester.get_model().train()
        if checkpointing:
            model.activation_checkpointing_enable()
            assert model.model.gradient_checkpointing or model.model.layers[0].gradient_checkpointing
        out = model(input_ids=input_ids, audio_codes=audio_codes, labels=input_ids)
        out.loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    assert any(name.startswith("local_transformer.") for name in grads[0])
    assert any(name.startswith("input_local_transformer.") for name in grads[0])
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], atol=1e-5, rtol=1e-4)


def test_left_padded_batch_forward_equals_unbatched():
    model = tester.get_model()
    config = model.config
    sequences = [tester.make_sequence(config, [1, 2, 3], 3, [4, 5], seed=1),
                 tester.make_sequence(config, [7], 1, [8], seed=2)]
    input_ids, audio_codes, attention_mask = tester.left_pad(config, sequences)
    with torch.no_grad():
        batched = model(input_ids=input_ids, audio_codes=audio_codes, attention_mask=attention_mask).logits
        for b, (ids, codes) in enumerate(sequences):
            alone = model(input_ids=ids[None], audio_codes=codes[None]).logits[0]
            torch.testing.assert_close(batched[b, -len(ids) :], alone, atol=1e-5, rtol=1e-5)


def test_bfloat16_forward_and_loss():
    model = tester.get_model()
    ids, codes = tester.make_sequence(model.config, [1, 2], 2, [3])
    with torch.no_grad():
        reference = model(input_ids=ids[None], audio_codes=codes[None]).logits
        model.to(torch.bfloat16)
        out = model(input_ids=ids[None], audio_codes=codes[None], labels=ids[None])
    assert out.logits.dtype == torch.bfloat16
    assert torch.isfinite(out.loss)
    torch.testing.assert_close(out.logits.float(), reference, atol=0.1, rtol=0.05)


def test_bad_inputs_raise_clear_errors():
    model = tester.get_model()
    ids, codes = tester.make_sequence(model.config, [1, 2], 2, [3])
    with pytest.raises(ValueError, match="audio_codes"):
        model(input_ids=ids[None], audio_codes=codes[None, :, :2])
    with pytest.raises(ValueError, match="audio_codes.*None"):
        model(input_ids=ids[None])
    bad = codes.clone()
    bad[0, 0, 1] = 9
    with pytest.raises(ValueError, match="codebook 1"):
        model(input_ids=ids[None], audio_codes=bad[None])
    with pytest.raises(TypeError, match="integer"):
        model(input_ids=ids[None], audio_codes=codes[None].float())
    with pytest.raises(ValueError, match="input_ids"):
        model(input_ids=ids[None, None], audio_codes=codes[None])
    with pytest.raises(ValueError, match="labels"):
        model(input_ids=ids[None], audio_codes=codes[None], labels=ids[None, :-1])
    out_of_vocab = ids.clone()
    out_of_vocab[0] = tester.vocab_size
    with pytest.raises(ValueError, match="outside the text vocabulary"):
        model(input_ids=out_of_vocab[None], audio_codes=codes[None])
    with pytest.raises(ValueError, match="outside the text vocabulary.*-100 belongs in `labels`"):
        model(input_ids=ids[None].masked_fill(ids[None] == 1, -100), audio_codes=codes[None])
    with pytest.raises(ValueError, match="`labels` must hold text ids"):
        model(input_ids=ids[None], audio_codes=codes[None], labels=out_of_vocab[None])
    no_empty = MiMoAudioForConditionalGeneration(tester.get_config(empty_token_id=None))
    with pytest.raises(ValueError, match="empty_token_id"):
        no_empty(input_ids=ids[None], audio_codes=codes[None])


def test_parameter_groups_partition_the_parameters(upstream_model):
    groups = upstream_model.parameter_groups()
    assert set(groups) == {"patch_encoder", "llm", "patch_decoder"}
    names = [name for group in groups.values() for name, _ in group]
    assert sorted(names) == sorted(name for name, _ in upstream_model.named_parameters())
    prefixes = {
        "patch_encoder": ("speech_embeddings.", "input_local_transformer.", "speech_group_downcast."),
        "llm": ("model.", "lm_head."),
        "patch_decoder": ("hidden_states_downcast.", "local_transformer.", "local_transformer_lm_heads."),
    }
    for group, params in groups.items():
        assert params and all(name.startswith(prefixes[group]) for name, _ in params)


def test_save_load_round_trip_in_hf_native_format(upstream_model, prompt, tmp_path):
    upstream_model.save_pretrained(tmp_path)
    with open(tmp_path / "config.json") as f:
        saved = json.load(f)
    assert saved["model_type"] == "mimo_audio" and saved["empty_token_id"] == 1000
    expected = {AutoModel: MiMoAudioForConditionalGeneration, AutoModelForCausalLM: MiMoAudioForConditionalGeneration,
                AutoModelForMultimodalLM: MiMoAudioForConditionalGeneration,
                # transformers' text-to-speech pipeline loads this task subclass (same weights).
                AutoModelForTextToWaveform: MiMoAudioForTextToSpeech}
    for auto_class, model_class in expected.items():
        reloaded, info = auto_class.from_pretrained(tmp_path, output_loading_info=True)
        assert type(reloaded) is model_class
        assert info["missing_keys"] == set() and info["unexpected_keys"] == set()
        with torch.no_grad():
            a = upstream_model(input_ids=prompt[0], audio_codes=prompt[1]).logits
            b = reloaded.eval()(input_ids=prompt[0], audio_codes=prompt[1]).logits
        torch.testing.assert_close(a, b)


def test_upstream_folder_through_auto_classes(upstream_lm_dir):
    # An upstream folder says `model_type: "qwen2"`: hand AutoModel our config and it resolves to our class.
    config = MiMoAudioConfig.from_pretrained(upstream_lm_dir, **SPECIAL_IDS)
    model = AutoModelForCausalLM.from_pretrained(upstream_lm_dir, config=config)
    assert type(model) is MiMoAudioForConditionalGeneration
    assert getattr(modeling_mimo_audio, config.architectures[0]) is MiMoAudioForConditionalGeneration


def test_device_map_and_bfloat16_loading(upstream_lm_dir, prompt):
    model = MiMoAudioForConditionalGeneration.from_pretrained(
        upstream_lm_dir, device_map="cpu", dtype=torch.bfloat16, **SPECIAL_IDS
    )
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert model.input_local_transformer.dtype == torch.bfloat16
    out = model.generate(prompt[0], prompt[1], max_new_tokens=3)
    assert out.sequences.shape == (1, 16) and out.audio_codes.shape == (1, 16, 4, 8)


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_patch_encoder_is_causal_when_configured(attn_implementation):
    model = tester.get_model(attn_implementation=attn_implementation, input_full_attention=False)
    patches = torch.randint(0, 8, (1, 4, 3))
    changed = patches.clone()
    changed[0, 3] = (changed[0, 3] + 1) % 8
    with torch.no_grad():
        frames = model._sum_speech_embeddings(torch.cat([patches, changed]))
        encoded = model.input_local_transformer(inputs_embeds=frames).last_hidden_state
        reference = model.embed_patches(torch.cat([patches, changed]))
    torch.testing.assert_close(encoded[0, :3], encoded[1, :3])  # earlier frames do not see the last one
    torch.testing.assert_close(reference, model.speech_group_downcast(encoded.flatten(1)))
