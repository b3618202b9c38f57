"""Boundary checks of the processor (precomputed codes, sampling rates) and of the LM's forward/generate (ids,
masks, batch size, pad id): bad input is refused with a ValueError/TypeError naming it, never misread."""

import numpy as np
import pytest
import torch

from modeling_mimo_audio.tiny import build_tiny_model_set


PROMPT = "<|sosp|><|empty|><|eosp|>"


@pytest.fixture(scope="module")
def tiny():
    model, processor = build_tiny_model_set(seed=0)[:2]
    return model.eval(), processor


def _codes(frames, seed=0):
    """Valid time-first codes [frames, 8] (codebooks 0-1 of 1024 entries, the others of 128)."""
    g = torch.Generator().manual_seed(seed)
    return torch.cat([torch.randint(0, 1024, (frames, 2), generator=g), torch.randint(0, 128, (frames, 6), generator=g)], 1)


def _patches(processor, part):
    inputs = processor(text=PROMPT, audio=[part])
    keep = inputs["input_ids"][0] == processor.special_ids["empty"]
    return inputs["audio_codes"][0][keep].reshape(-1, processor.num_codebooks)


# ------------------------------------------------------------------ processor: precomputed codes


def test_codec_layout_reads_like_time_first(tiny):
    _, processor = tiny
    codes = _codes(12)
    time_first = _patches(processor, {"audio_codes": codes})
    assert torch.equal(time_first, codes)  # 12 frames = 3 whole patches
    # What `mimo-audio codec encode` writes: [num_codebooks, frames], as a numpy array or a nested list.
    assert torch.equal(_patches(processor, {"audio_codes": codes.T.numpy()}), codes)
    assert torch.equal(_patches(processor, {"audio_codes": codes.T.tolist()}), codes)


def test_square_codes_need_an_explicit_layout(tiny):
    _, processor = tiny
    codes = _codes(8)
    with pytest.raises(ValueError, match=r"audio part 0 of sample 0.*ambiguous shape \(8, 8\).*codes_layout"):
        processor(text=PROMPT, audio=[{"audio_codes": codes}])
    assert torch.equal(_patches(processor, {"audio_codes": codes, "codes_layout": "frames_codebooks"}), codes)
    assert torch.equal(_patches(processor, {"audio_codes": codes.T, "codes_layout": "codebooks_frames"}), codes)
    with pytest.raises(ValueError, match="codes_layout"):
        processor(text=PROMPT, audio=[{"audio_codes": codes, "codes_layout": "time_first"}])
    with pytest.raises(ValueError, match="not codebooks_frames"):  # the stated layout must fit the shape
        processor(text=PROMPT, audio=[{"audio_codes": _codes(5), "codes_layout": "codebooks_frames"}])


@pytest.mark.parametrize("shape", [(5, 3), (5, 20), (20, 5), (8,), (2, 8, 4)])
def test_codes_need_exactly_the_lm_codebooks(tiny, shape):
    _, processor = tiny
    with pytest.raises(ValueError, match=r"`audio_codes` of audio part 0 of sample 0 must be \[frames, 8\]"):
        processor(text=PROMPT, audio=[{"audio_codes": torch.zeros(shape, dtype=torch.long)}])


@pytest.mark.parametrize("frame, channel, value", [(0, 0, -1), (3, 1, 1024), (2, 5, 128), (4, 7, 10**6)])
def test_out_of_range_codes_are_refused(tiny, frame, channel, value):
    _, processor = tiny
    codes = _codes(6)
    codes[frame, channel] = value
    expected = rf"audio part 1 of sample 0.*{value} at frame {frame} of codebook {channel}"
    for layout in (codes, codes.T):
        with pytest.raises(ValueError, match=expected):
            processor(text=PROMPT + PROMPT, audio=[{"audio_codes": _codes(4)}, {"audio_codes": layout}])


def test_float_codes_are_refused(tiny):
    _, processor = tiny
    with pytest.raises(TypeError, match="integer codes"):
        processor(text=PROMPT, audio=[{"audio_codes": _codes(5).float()}])
    with pytest.raises(TypeError, match="integer codes"):
        processor(text=PROMPT, audio=[{"audio_codes": (_codes(5) + 0.5).tolist()}])


def test_chat_template_reads_the_codec_layout(tiny):
    _, processor = tiny
    codes = _codes(9)

    def render(part):
        conversation = [{"role": "user", "content": [{"type": "audio", **part}, {"type": "text", "text": "Hi"}]}]
        return processor.apply_chat_template(conversation, tokenize=True, return_dict=True)["audio_codes"]

    assert torch.equal(render({"audio_codes": codes}), render({"audio_codes": codes.T.numpy()}))


# ------------------------------------------------------------------ processor: sampling rates


@pytest.mark.parametrize("rate", [22050.5, 0, -16000, float("nan"), float("inf")])
def test_bad_sampling_rates_are_refused(tiny, rate):
    _, processor = tiny
    wave = np.zeros(2400, dtype=np.float32)
    with pytest.raises(ValueError, match=r"`sampling_rate` must be a positive integer number of Hz"):
        processor(text=PROMPT, audio=[{"audio": wave, "sampling_rate": rate}])
    with pytest.raises(ValueError, match=r"`sampling_rate` must be a positive integer number of Hz"):
        processor(text=PROMPT, audio=[wave], sampling_rate=rate)


@pytest.mark.parametrize("rate", ["24000", True, [24000]])
def test_non_numeric_sampling_rates_are_refused(tiny, rate):
    _, processor = tiny
    with pytest.raises(TypeError, match="`sampling_rate` must be a positive integer"):
        processor(text=PROMPT, audio=[{"audio": np.zeros(2400, dtype=np.float32), "sampling_rate": rate}])


def test_whole_float_rate_is_the_same_rate(tiny):
    _, processor = tiny
    wave = np.random.default_rng(0).standard_normal(4800).astype(np.float32) * 0.1
    a = processor(text=PROMPT, audio=[{"audio": wave, "sampling_rate": 24000.0}])
    b = processor(text=PROMPT, audio=[{"audio": wave, "sampling_rate": np.int64(24000)}])
    assert torch.equal(a["audio_codes"], b["audio_codes"])


# ------------------------------------------------------------------ LM forward / generate


def _lm_inputs(model, batch=2, positions=5):
    ids = torch.randint(0, 100, (batch, positions))
    return ids, torch.ones_like(ids)


def _both_refuse(model, error, pattern, input_ids, **inputs):
    """`forward` and `generate` refuse the same inputs with the same error."""
    with pytest.raises(error, match=pattern):
        model(input_ids=input_ids, **inputs)
    with pytest.raises(error, match=pattern):
        model.generate(input_ids, max_new_tokens=2, **inputs)


@pytest.mark.parametrize("value", [2, -1, 0.5])
def test_masks_hold_only_zero_and_one(tiny, value):
    model, _ = tiny
    ids, mask = _lm_inputs(model)
    mask = mask.to(torch.float32 if isinstance(value, float) else torch.long)
    mask[0, 0] = value
    _both_refuse(model, ValueError, rf"`attention_mask` must hold only 0 \(padding\) and 1 \(real\).*{value}", ids,
                 attention_mask=mask)


def test_valid_masks_of_any_dtype_are_accepted(tiny):
    model, _ = tiny
    ids, mask = _lm_inputs(model)
    mask[0, :2] = 0
    with torch.no_grad():
        reference = model(input_ids=ids, attention_mask=mask).logits
        for dtype in (torch.bool, torch.float32, torch.int32):
            assert torch.allclose(model(input_ids=ids, attention_mask=mask.to(dtype)).logits, reference)


@pytest.mark.parametrize("shape", [(2, 4), (2, 6), (1, 5), (3, 5)])
def test_masks_of_the_wrong_shape(tiny, shape):
    model, _ = tiny
    ids, _ = _lm_inputs(model)
    mask = torch.ones(shape, dtype=torch.long)
    _both_refuse(model, ValueError, r"`attention_mask` must have 2 row\(s\) of 5 positions", ids, attention_mask=mask)


def test_mask_must_be_a_tensor(tiny):
    model, _ = tiny
    ids, mask = _lm_inputs(model)
    for bad in (mask.numpy(), mask.tolist()):
        _both_refuse(model, TypeError, "`attention_mask` must be a torch.Tensor", ids, attention_mask=bad)


def test_ids_must_be_an_integer_tensor(tiny):
    model, _ = tiny
    ids, _ = _lm_inputs(model)
    for bad in (ids.numpy(), ids.tolist()):
        _both_refuse(model, TypeError, "`input_ids` must be a torch.LongTensor, got", bad)
    _both_refuse(model, TypeError, r"`input_ids` must be an integer tensor, got dtype torch.float32", ids.float())
    codes = torch.tensor(model.config.speech_empty_ids).expand(2, 5, model.config.patch_size, -1)
    with pytest.raises(TypeError, match="`audio_codes` must be a torch.LongTensor, got ndarray"):
        model(input_ids=ids, audio_codes=codes.numpy())
    with pytest.raises(TypeError, match="`audio_codes` must be an integer tensor"):
        model.generate(ids, audio_codes=codes.float(), max_new_tokens=2)


def test_empty_batch_and_empty_prompt(tiny):
    model, _ = tiny
    empty = torch.zeros(0, 5, dtype=torch.long)
    with pytest.raises(ValueError, match=r"`input_ids` must hold at least one row, got shape \(0, 5\)"):
        model(input_ids=empty)
    with pytest.raises(ValueError, match="at least one row"):
        model.generate(empty, max_new_tokens=2)
    _both_refuse(model, ValueError, r"`input_ids` must hold at least one position, got shape \(2, 0\)",
                 torch.zeros(2, 0, dtype=torch.long))


@pytest.mark.parametrize("text, error, pattern", [
    ("", ValueError, r"row\(s\) \[0\] hold no prompt"),
    (["hi", ""], ValueError, r"row\(s\) \[1\] hold no prompt"),
    (5, TypeError, "`text` must be a string .* got int"),
    (["hi", 5], TypeError, r"got a list holding \['int'\]"),
])
def test_processor_text_must_be_non_empty_markup(tiny, text, error, pattern):
    _, processor = tiny
    with pytest.raises(error, match=pattern):
        processor(text=text)


@pytest.mark.parametrize("content, error, pattern", [
    (None, TypeError, "message 0: 'content' must be a string or a list of parts, got NoneType"),
    (7, TypeError, "got int"),
    (["hello"], ValueError, "message 0, part 0: expected"),
    ([{"type": "image", "url": "x.png"}], ValueError, "message 0, part 0: expected"),
    ([{"type": "text", "text": None}], TypeError, "a text part's 'text' must be a string, got NoneType"),
])
def test_chat_messages_are_checked_before_rendering(tiny, content, error, pattern):
    _, processor = tiny
    with pytest.raises(error, match=pattern):
        processor.apply_chat_template([{"role": "user", "content": content}])


@pytest.mark.parametrize("pad", [-1, 656, 10**6])
def test_pad_token_outside_the_vocabulary(tiny, pad):
    model, _ = tiny
    assert model.lm_head.out_features == 656
    ids, _ = _lm_inputs(model)
    with pytest.raises(ValueError, match=rf"`pad_token_id` must be a text id in \[0, 656\), got {pad}"):
        model.generate(ids, max_new_tokens=2, pad_token_id=pad, eos_token_id=5)


@pytest.mark.parametrize("eos", [-5, 656, [656, 10**7], [3, -1]])
def test_eos_token_outside_the_vocabulary(tiny, eos):
    """An eos id the text head can never produce would never stop generation: refused."""
    model, _ = tiny
    ids, _ = _lm_inputs(model)
    with pytest.raises(ValueError, match=r"`eos_token_id` must hold text ids in \[0, 656\)"):
        model.generate(ids, max_new_tokens=2, pad_token_id=0, eos_token_id=eos)


@pytest.mark.parametrize("field, value", [("top_p", 0.0), ("top_p", 1.5), ("typical_p", 0.0), ("min_p", 2.0)])
def test_sampling_fractions_out_of_range(tiny, field, value):
    """transformers' builders skip `top_p >= 1` (silently "off") and accept 0; both are refused by name."""
    model, _ = tiny
    ids, _ = _lm_inputs(model)
    with pytest.raises(ValueError, match=rf"`{field}` must be a number in"):
        model.generate(ids, max_new_tokens=2, pad_token_id=0, do_sample=True, **{field: value})


def test_valid_pad_still_generates(tiny):
    model, _ = tiny
    ids, mask = _lm_inputs(model)
    out = model.generate(ids, attention_mask=mask, max_new_tokens=2, pad_token_id=655, do_sample=False)
    assert out.sequences.shape == (2, 7)


def test_static_cache_longer_than_the_context_is_refused_before_allocating(tiny):
    model, _ = tiny
    ids = torch.tensor([[1, 2, 3]])
    limit = model.config.max_position_embeddings
    with pytest.raises(ValueError, match=r"`max_new_tokens`=.*exceeds the model's context"):
        model.generate(ids, max_new_tokens=10**9, cache_implementation="static")
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model.generate(ids, max_new_tokens=limit - 2, cache_implementation="static")


def test_generation_lengths_must_be_ints(tiny):
    model, processor = tiny
    for name in ("max_new_tokens", "max_length", "min_new_tokens"):
        with pytest.raises(TypeError, match=f"`{name}` must be an int"):
            model.generate(**processor(text="hi"), **{name: "4"})


@pytest.mark.parametrize("clips, error, pattern", [
    ([torch.zeros(1, 10, 8, dtype=torch.long)], ValueError, r"`clips\[0\]` must be \[frames, 8\]"),
    ([torch.zeros(10, 4, dtype=torch.long)], ValueError, r"`clips\[0\]` must be \[frames, 8\]"),
    ([torch.zeros(10, 8)], TypeError, r"`clips\[0\]` must be an integer tensor"),
    (torch.zeros(10, 8, dtype=torch.long), TypeError, "`clips` must be a list"),
])
def test_codes_to_waveforms_checks_its_clips(tiny, clips, error, pattern):
    _, processor = tiny
    with pytest.raises(error, match=pattern):
        processor.codes_to_waveforms(clips)


def test_save_audio_refuses_bad_rates_and_several_channels(tiny, tmp_path):
    _, processor = tiny
    with pytest.raises(ValueError, match="`sampling_rate` must be a positive integer"):
        processor.save_audio(torch.zeros(100), tmp_path / "a.wav", sampling_rate=-1)
    with pytest.raises(ValueError, match=r"`audio\[0\]` must be a mono waveform"):
        processor.save_audio(torch.zeros(2, 100), tmp_path / "b.wav")
    processor.save_audio(torch.zeros(1, 100), tmp_path / "c.wav")  # one channel, either axis
    import soundfile as sf

    assert sf.info(str(tmp_path / "c.wav")).frames == 100


# ------------------------------------------------------------------ codec masks and segments, processor decoding


def test_codec_masks_hold_only_zero_and_one(tiny):
    _, processor = tiny
    codec = processor.audio_tokenizer
    features = processor.feature_extractor(np.random.RandomState(0).randn(24000).astype(np.float32) * 0.1,
                                           sampling_rate=24000)["input_features"]
    frames = features.shape[-1]
    with pytest.raises(ValueError, match="`attention_mask` must hold only 0 and 1"):
        codec.encode(features, attention_mask=torch.full((1, frames), 2))
    codes = codec.encode(features).audio_codes
    with pytest.raises(ValueError, match="`audio_codes_mask` must hold only 0 and 1"):
        codec.decode(codes, audio_codes_mask=torch.full((1, codes.shape[-1]), 2))
    ones = codec.decode(codes, audio_codes_mask=torch.ones(1, codes.shape[-1], dtype=torch.bool)).audio_values
    torch.testing.assert_close(ones, codec.decode(codes).audio_values)


def test_codec_segments_are_whole_code_frames(tiny):
    _, processor = tiny
    codec = processor.audio_tokenizer
    features = processor.feature_extractor(np.random.RandomState(1).randn(24000).astype(np.float32) * 0.1,
                                           sampling_rate=24000)["input_features"]
    whole = codec.encode(features).audio_codes
    assert codec.encode(features, segment_frames=8).audio_codes.shape == whole.shape
    for bad in (7, 10, True):  # the clip is ~100 mel frames: each of these would cut it
        with pytest.raises(ValueError, match="`segment_frames`"):
            codec.encode(features, segment_frames=bad)


def test_decoding_refuses_ids_that_are_not_token_ids(tiny):
    model, processor = tiny
    ids = torch.tensor([[5, 6, 7]])
    assert processor.batch_decode(ids) == processor.batch_decode(ids.tolist())
    with pytest.raises(TypeError, match="integer token ids"):
        processor.batch_decode(ids.float())
    with pytest.raises(ValueError, match="negative token ids"):
        processor.batch_decode(ids - 10)
    for prompt_length in (-1, 4, 1.0, True):
        with pytest.raises(ValueError, match="`prompt_length` must be an int from 0 to the sequence length"):
            processor.batch_decode(ids, prompt_length=prompt_length)
    assert processor.batch_decode(ids, prompt_length=3) == [""]
    assert processor.batch_decode(ids, prompt_length=np.int64(1)) == processor.batch_decode(ids, prompt_length=1)
    assert processor.batch_decode(ids, prompt_length=torch.tensor(1)) == processor.batch_decode(ids[:, 1:])
