"""The streaming-segment layout constraint: the pure state function, the logits processor, and `generate`'s switch."""

import pytest
import torch

from modeling_mimo_audio.streaming_layout import (
    AUDIO,
    AUDIO_OR_END,
    FREE,
    TEXT,
    StreamingLayoutLogitsProcessor,
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


def test_speech_presets_set_the_layout(tiny_processor):
    from processing.generation_presets import get_generation_preset

    assert get_generation_preset("tts", tiny_processor).streaming_layout is True
    assert get_generation_preset("spoken_dialogue", tiny_processor).streaming_layout is True
    assert getattr(get_generation_preset("asr", tiny_processor), "streaming_layout", None) is None
