"""The streaming-segment layout constraint: the pure state function, the logits processor, and `generate`'s switch."""

import pytest
import torch

from modeling_mimo_audio.streaming_layout import (
    AUDIO,
    AUDIO_OR_END,
    FREE,
    TEXT,
    StreamingLayoutLogitsProcessor,
    forced_transcript_token,
    streaming_layout_state,
)


IDS = dict(empty_id=0, sostm_id=9, eostm_id=8, eot_id=7)
E = 0  # <|empty|>


def state(tokens, **chunks):
    return streaming_layout_state(tokens, **IDS, **chunks)


@pytest.mark.parametrize("tokens, expected", [
    ([1, 2, 3], FREE),                              # no streaming segment
    ([9, 1, 7, E, 8, 4], FREE),                     # the segment is closed
    ([5, 9], TEXT),                                 # right after <|sostm|>: the first text chunk
    ([9, 1, 2, 3, 4], TEXT),                        # 4 of 5 text tokens
    ([9, 1, 2, 3, 4, 5], AUDIO),                    # full text chunk -> its audio chunk
    ([9, 1, 2, 3, 4, 5, E, E, E, E], AUDIO),        # 4 of 5 patches
    ([9, 1, 2, 3, 4, 5, E, E, E, E, E], TEXT),      # full audio chunk, transcript not done -> next text chunk
    ([9, 1, 2, 3, 4, 5, E, E, E, E, E, 6], TEXT),   # inside the second text chunk
    ([9, 1, 7], AUDIO),                             # <|eot|> ends the transcript: audio follows
    ([9, 1, 7, E], AUDIO_OR_END),                   # after that the model decides when speech ends
    ([9, 1, 2, 3, 4, 5, E, E, E, E, E, 6, 7] + [E] * 12, AUDIO_OR_END),
    ([9, 1, 7, E, 8, 9, 3], TEXT),                  # a second segment counts from its own <|sostm|>
])
def test_layout_state(tokens, expected):
    assert state(tokens) == expected


def test_chunk_sizes_are_parameters():
    assert state([9, 1, 2], text_chunk=2) == AUDIO
    assert state([9, 1, 2, E], text_chunk=2, audio_chunk=1) == TEXT


def test_processor_masks_per_row():
    processor = StreamingLayoutLogitsProcessor(0, 9, 8, 7)
    input_ids = torch.tensor([[9, 1, 2, 3, 4, 5],   # AUDIO: only <|empty|>
                              [9, 1, 7, E, E, E],   # AUDIO_OR_END
                              [9, 1, 2, 3, 4, 5],   # (same as row 0)
                              [1, 2, 3, 4, 5, 6]])  # FREE
    input_ids[2] = torch.tensor([5, 5, 5, 9, 1, 2])  # TEXT
    scores = torch.zeros(4, 12)
    out = processor(input_ids, scores)
    finite = torch.isfinite(out)
    assert finite[0].nonzero().flatten().tolist() == [0]
    assert finite[1].nonzero().flatten().tolist() == [0, 8]
    assert not finite[2, 0] and not finite[2, 8] and finite[2].sum() == 10
    assert finite[3].all()
    assert torch.equal(scores, torch.zeros(4, 12))  # not modified in place


def test_processor_gives_way_to_earlier_processors_that_leave_nothing_allowed():
    processor = StreamingLayoutLogitsProcessor(0, 9, 8, 7)
    scores = torch.full((1, 12), -float("inf"))
    scores[0, 3] = 1.0  # an earlier bias forces token 3 where the layout wants audio only
    out = processor(torch.tensor([[9, 1, 2, 3, 4, 5]]), scores)
    assert torch.equal(out, scores)


def test_processor_arguments_are_checked():
    with pytest.raises(ValueError, match="`eot_token_id`"):
        StreamingLayoutLogitsProcessor(0, 9, 8, -1)
    with pytest.raises(ValueError, match="`text_chunk`"):
        StreamingLayoutLogitsProcessor(0, 9, 8, 7, text_chunk=0)


@pytest.mark.parametrize("tokens, expected", [
    ([5, 9], 11),                                   # right after <|sostm|>: the first transcript token
    ([9, 11, 12], 13),
    ([9, 11, 12, 13, 14, 15, E, E, E, E, E], 16),   # audio does not count: the sixth token opens chunk two
    ([9, 11, 12, 13, 14, 15, E, E, E, E, E, 16], 7),  # spelt out: <|eot|>
    ([9, 11, 7, E, 8, 9], 11),                      # a second segment spells it out from its own <|sostm|>
])
def test_forced_transcript_token(tokens, expected):
    transcript = [11, 12, 13, 14, 15, 16]
    assert forced_transcript_token(tokens, transcript, empty_id=0, sostm_id=9, eot_id=7) == expected


def test_processor_forces_the_transcript_per_row():
    processor = StreamingLayoutLogitsProcessor(0, 9, 8, 7, transcripts=[[11, 12], None, [11, 12]])
    input_ids = torch.tensor([[5, 5, 9, 11],     # TEXT, forced: 12
                              [5, 5, 5, 9],      # TEXT, no transcript: anything but <|empty|> / <|eostm|>
                              [9, 11, 12, 7]])   # AUDIO: the layout's own rule
    out = processor(input_ids, torch.zeros(3, 16))
    finite = torch.isfinite(out)
    assert finite[0].nonzero().flatten().tolist() == [12]
    assert not finite[1, 0] and not finite[1, 8] and finite[1].sum() == 14
    assert finite[2].nonzero().flatten().tolist() == [0]
    with pytest.raises(ValueError, match="3 entries for a batch of 2"):
        processor(input_ids[:2], torch.zeros(2, 16))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        StreamingLayoutLogitsProcessor(0, 9, 8, 7, transcripts=[[40]])(torch.tensor([[9]]), torch.zeros(1, 16))


@pytest.mark.parametrize("transcripts, error, match", [
    (["hello"], TypeError, r"`transcripts\[0\]` must be a list of text ids"),
    ([[3, -1]], ValueError, "non-negative text ids"),
    ([[3, 7]], ValueError, "special ids"),  # <|eot|> is appended by the constraint, never given
    ([[3.0]], ValueError, "non-negative text ids"),
])
def test_processor_checks_transcripts(transcripts, error, match):
    with pytest.raises(error, match=match):
        StreamingLayoutLogitsProcessor(0, 9, 8, 7, transcripts=transcripts)


@pytest.fixture(scope="module")
def tiny_lm(model_and_processor):
    return model_and_processor[0].eval()


@pytest.fixture(scope="module")
def tiny_processor(model_and_processor):
    return model_and_processor[1]


def test_generate_keeps_the_layout_only_when_asked(tiny_lm):
    """On random tiny weights the layout breaks unless `streaming_layout=True`; with it every generated row follows
    it, and the speech presets turn it on."""
    model = tiny_lm
    config = model.config
    ids = {"empty_id": config.empty_token_id, "sostm_id": config.sostm_token_id, "eostm_id": config.eostm_token_id,
           "eot_id": config.eot_token_id}
    prompt = torch.tensor([[5, 6, config.sostm_token_id]] * 3)

    def broken_positions(sequences):
        broken = 0
        for row in sequences.tolist():
            for length in range(prompt.shape[1], len(row)):
                expected = streaming_layout_state(row[:length], **ids)
                token = row[length]
                if (expected == TEXT and token in (ids["empty_id"], ids["eostm_id"])) or (
                    expected == AUDIO and token != ids["empty_id"]) or (
                    expected == AUDIO_OR_END and token not in (ids["empty_id"], ids["eostm_id"])):
                    broken += 1
                if expected == FREE:
                    break
        return broken

    torch.manual_seed(0)
    kept = model.generate(prompt, max_new_tokens=30, do_sample=True, pad_token_id=0, eos_token_id=config.eostm_token_id,
                          streaming_layout=True)
    assert broken_positions(kept.sequences) == 0
    torch.manual_seed(0)
    free = model.generate(prompt, max_new_tokens=30, do_sample=True, pad_token_id=0, eos_token_id=config.eostm_token_id)
    assert broken_positions(free.sequences) > 0
    with pytest.raises(TypeError, match="`streaming_layout` must be a bool"):
        model.generate(prompt, max_new_tokens=2, streaming_layout="yes")


def test_generate_spells_out_streaming_transcripts(tiny_lm):
    """Random weights write random text in a speech turn; with `streaming_transcripts` each row's text chunks are its
    transcript, then `<|eot|>`, while the layout places the audio."""
    model = tiny_lm
    config = model.config
    sostm, empty, eot = config.sostm_token_id, config.empty_token_id, config.eot_token_id
    prompt = torch.tensor([[5, 6, sostm]] * 2)
    transcripts = [[20, 21, 22, 23, 24, 25, 26], [30, 31]]
    torch.manual_seed(0)
    out = model.generate(prompt, max_new_tokens=24, do_sample=True, pad_token_id=0, eos_token_id=config.eostm_token_id,
                         streaming_layout=True, streaming_transcripts=transcripts)
    for row, transcript in zip(out.sequences[:, prompt.shape[1]:].tolist(), transcripts):
        text = [token for token in row if token != empty]
        assert text[: len(transcript) + 1] == transcript + [eot]
        first_chunk = (transcript + [eot])[:5]  # right after <|sostm|> comes the first text chunk
        assert row[: len(first_chunk)] == first_chunk
    with pytest.raises(ValueError, match="needs `streaming_layout=True`"):
        model.generate(prompt, max_new_tokens=2, streaming_transcripts=transcripts)
    with pytest.raises(ValueError, match="one entry per row"):
        model.generate(prompt, max_new_tokens=2, streaming_layout=True, streaming_transcripts=transcripts[:1])


def test_speech_presets_set_the_layout(tiny_processor):
    from processing.generation_presets import get_generation_preset

    assert get_generation_preset("tts", tiny_processor).streaming_layout is True
    assert get_generation_preset("spoken_dialogue", tiny_processor).streaming_layout is True
    assert getattr(get_generation_preset("asr", tiny_processor), "streaming_layout", None) is None
