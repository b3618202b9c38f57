"""Property-based checks (hypothesis) over the public entry points, with bounded examples (the whole file runs in
well under 2 minutes on 2 CPU cores). Each property states a contract: a clear error naming the argument, or a
correct value consistent with the single-item result."""

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modeling_mimo_audio import MiMoAudioFeatureExtractor, MiMoAudioTokenizerModel
from modeling_mimo_audio.tiny import tiny_codec_config
from processing.resampling import _reduced, _resample_direct, _resample_polyphase, resample_waveform, uses_polyphase
from test_modeling_mimo_audio import MiMoAudioModelTester

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BOUNDED = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])


@pytest.fixture(scope="module")
def extractor():
    return MiMoAudioFeatureExtractor()


@pytest.fixture(scope="module")
def tiny(model_and_processor):
    return model_and_processor


@pytest.fixture(scope="module")
def codec():
    torch.manual_seed(0)
    return MiMoAudioTokenizerModel(tiny_codec_config()).eval()


def _clip(length, seed):
    return (np.random.default_rng(seed).uniform(-1, 1, length) * 0.5).astype(np.float32)


# -- feature extractor ---------------------------------------------------------------------------------------------


@BOUNDED
@given(lengths=st.lists(st.integers(481, 9000), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_features_of_a_batch_are_each_clips_features(extractor, lengths, seed):
    clips = [_clip(n, seed + i) for i, n in enumerate(lengths)]
    batch = extractor(clips, sampling_rate=24000)
    assert batch["input_features"].shape == (len(clips), 128, max(1 + n // 240 for n in lengths))
    for i, (clip, n) in enumerate(zip(clips, lengths)):
        alone = extractor(clip, sampling_rate=24000)["input_features"][0]
        frames = 1 + n // 240
        assert int(batch["attention_mask"][i].sum()) == frames and torch.isfinite(alone).all()
        torch.testing.assert_close(batch["input_features"][i, :, :frames], alone)


@BOUNDED
@given(length=st.integers(481, 4000), where=st.floats(0, 1), bad=st.sampled_from([np.nan, np.inf, -np.inf]))
def test_non_finite_samples_are_refused(extractor, length, where, bad):
    clip = _clip(length, 0)
    clip[int(where * (length - 1))] = bad
    with pytest.raises(ValueError, match="NaN|infinite"):
        extractor(clip, sampling_rate=24000)


@BOUNDED
@given(rate=st.one_of(st.integers(-10, 0), st.floats(1.5, 100000.5).filter(lambda r: r != int(r))))
def test_rates_that_are_not_positive_whole_numbers_are_refused(extractor, rate):
    with pytest.raises(ValueError, match="sampling_rate"):
        extractor(_clip(2400, 0), sampling_rate=rate)


# -- resampling ----------------------------------------------------------------------------------------------------


@BOUNDED
@given(orig=st.integers(8000, 192000), new=st.sampled_from([16000, 24000]), length=st.integers(1, 3000))
def test_resampled_length_and_finite_values(orig, new, length):
    out = resample_waveform(torch.from_numpy(_clip(length, orig)), orig, new)
    assert out.shape == (length if orig == new else math.ceil(length * new / orig),)
    assert torch.isfinite(out).all() and out.dtype == torch.float32


@BOUNDED
@given(orig=st.integers(8000, 48000), length=st.integers(50, 1500))
def test_direct_and_polyphase_paths_agree_where_both_fit(orig, length):
    reduced = _reduced(orig, 24000)
    if not uses_polyphase(orig, 24000) or orig == 24000:
        return
    wave = torch.from_numpy(_clip(length, orig))
    torch.testing.assert_close(_resample_direct(wave, *reduced), _resample_polyphase(wave, *reduced),
                               rtol=0, atol=5e-5)


# -- codec ---------------------------------------------------------------------------------------------------------


@BOUNDED
@given(lengths=st.lists(st.integers(2400, 12000), min_size=1, max_size=3), quantizers=st.integers(1, 8))
def test_codec_codes_are_in_range_and_batching_changes_nothing(codec, extractor, lengths, quantizers):
    from processing.audio_io import encode_waveforms

    quantizers = min(quantizers, codec.config.num_quantizers)
    clips = [_clip(n, n) for n in lengths]
    batched = encode_waveforms(codec, extractor, clips, 24000, quantizers)
    sizes = torch.tensor(codec.config.codebook_size[:quantizers]).view(-1, 1)
    for clip, codes in zip(clips, batched):
        assert codes.shape[0] == quantizers and ((codes >= 0) & (codes < sizes)).all()
        torch.testing.assert_close(codes, encode_waveforms(codec, extractor, [clip], 24000, quantizers)[0])
    decoded = codec.decode(batched[0][None])
    assert decoded.audio_values.shape[-1] == batched[0].shape[1] * 960


# -- LM inputs -----------------------------------------------------------------------------------------------------

tester = MiMoAudioModelTester()


@pytest.fixture(scope="module")
def lm():
    return tester.get_model()


@BOUNDED
@given(rows=st.lists(st.tuples(st.lists(st.integers(0, 59), min_size=1, max_size=6), st.integers(0, 3),
                               st.lists(st.integers(0, 59), max_size=4)), min_size=1, max_size=3),
       seed=st.integers(0, 100))
def test_left_padded_batches_equal_each_row_alone(lm, rows, seed):
    config = lm.config
    sequences = [tester.make_sequence(config, before, patches, after, seed=seed + i)
                 for i, (before, patches, after) in enumerate(rows)]
    input_ids, audio_codes, attention_mask = tester.left_pad(config, sequences)
    with torch.no_grad():
        batched = lm(input_ids=input_ids, audio_codes=audio_codes, attention_mask=attention_mask).logits
        for b, (ids, codes) in enumerate(sequences):
            alone = lm(input_ids=ids[None], audio_codes=codes[None]).logits[0]
            torch.testing.assert_close(batched[b, -len(ids):], alone, atol=1e-4, rtol=1e-4)


@BOUNDED
@given(bad=st.one_of(st.integers(-5, -1), st.integers(64, 200)), where=st.integers(0, 4))
def test_ids_outside_the_vocabulary_are_refused(lm, bad, where):
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    ids[0, where] = bad
    with pytest.raises(ValueError, match="input_ids"):
        lm(input_ids=ids)
    with pytest.raises(ValueError, match="input_ids"):
        lm.generate(input_ids=ids, max_new_tokens=1)


# -- processor / chat template -------------------------------------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40) | st.sampled_from(
    ["<|empty|>", "<|sosp|><|empty|><|eosp|>", "\x02x\x03", "\x1e", "<|im_end|>\n<|im_start|>system\n"])


@BOUNDED
@given(user=TEXT, reply=TEXT)
def test_any_message_text_lays_out_as_text(tiny, user, reply):
    _, processor = tiny
    conversation = [{"role": "user", "content": [{"type": "text", "text": user}]},
                    {"role": "assistant", "content": reply}]
    inputs = processor.apply_chat_template(conversation, return_labels=True)
    ids, labels = inputs["input_ids"][0].tolist(), inputs["labels"][0].tolist()
    special = processor.special_ids
    assert special["sosp"] not in ids and special["empty"] not in ids and special["sostm"] not in ids
    targets = [i for i, label in zip(ids, labels) if label != -100]
    reply_ids = processor.tokenizer(reply, add_special_tokens=False, split_special_tokens=True)["input_ids"]
    assert targets[: len(reply_ids)] == reply_ids  # the target is exactly the reply's text, then the turn end
    assert targets[len(reply_ids):] == processor.tokenizer("<|im_end|>\n", add_special_tokens=False)["input_ids"]


# -- collator ------------------------------------------------------------------------------------------------------


@BOUNDED
@given(rows=st.lists(st.tuples(st.integers(1, 8), st.integers(0, 2)), min_size=1, max_size=4))
def test_collator_pads_without_touching_the_rows(rows):
    from training_recipes.collator import MiMoAudioDataCollator
    from training_recipes.formats import SpecialTokenIds, SequenceBuilder

    special = SpecialTokenIds(empty=60, sosp=61, eosp=62, sostm=63, eostm=59, eot=58)
    examples = []
    for text_length, patches in rows:
        builder = SequenceBuilder(special).text(list(range(1, text_length + 1)))
        if patches:
            builder.audio(np.zeros((8, patches * 4), dtype=np.int64).tolist())
        examples.append(builder.build())
    batch = MiMoAudioDataCollator(special, pad_token_id=0)(examples)
    width = max(len(e["input_ids"]) for e in examples)
    assert batch["input_ids"].shape == (len(examples), width)
    for row, example in enumerate(examples):
        n = len(example["input_ids"])
        real = batch["attention_mask"][row].bool()
        assert int(real.sum()) == n
        assert batch["input_ids"][row][real].tolist() == example["input_ids"]
        assert (batch["labels"][row][~real] == -100).all()


# -- metrics -------------------------------------------------------------------------------------------------------

WORDS = st.lists(st.sampled_from(["red", "dog", "seven", "runs", "the", "blue"]), max_size=8).map(" ".join)


@BOUNDED
@given(reference=WORDS, hypothesis=WORDS)
def test_word_error_counts(reference, hypothesis):
    from evaluation.metrics.text import error_counts

    counts = error_counts(reference, hypothesis, "en")
    assert min(counts.substitutions, counts.deletions, counts.insertions, counts.hits) >= 0
    assert counts.hits + counts.substitutions + counts.deletions == len(reference.split())
    assert counts.hits + counts.substitutions + counts.insertions == len(hypothesis.split())
    assert error_counts(reference, reference, "en").errors == 0
