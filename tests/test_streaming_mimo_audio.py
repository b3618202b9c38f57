"""`MiMoAudioStreamer`: text and speech come out while `generate` runs, and the speech equals the codec's streaming
decoder fed the final codes in the same chunks."""

import threading

import numpy as np
import pytest
import torch
from transformers import LogitsProcessor, LogitsProcessorList

from modeling_mimo_audio import MiMoAudioStreamer
from processing.prompts_mimo_audio import tts_conversation

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny(model_and_processor):
    return model_and_processor


class SpeakThenStop(LogitsProcessor):
    """Text tokens for `text_steps` steps, then `<|empty|>` (a patch) until step `stop_at`, then `<|eostm|>`; records
    how many chunks the streamer had queued at each step."""

    def __init__(self, processor, streamer, text_steps, stop_at, prompt_length):
        self.ids, self.streamer = processor.special_ids, streamer
        self.text_steps, self.stop_at, self.prompt_length = text_steps, stop_at, prompt_length
        self.queued = []

    def __call__(self, input_ids, scores):
        step = input_ids.shape[1] - self.prompt_length
        self.queued.append(self.streamer.queue.qsize())
        forced = torch.full_like(scores, float("-inf"))
        if step < self.text_steps:
            forced[:, 5 + step] = 0.0  # ordinary text ids
        elif step < self.stop_at:
            forced[:, self.ids["empty"]] = 0.0
        else:
            forced[:, self.ids["eostm"]] = 0.0
        return forced


def _generate(model, processor, streamer, text_steps=3, speech_steps=24):
    inputs = processor.apply_chat_template(tts_conversation("Hello there."), add_generation_prompt=True,
                                           speech_output=True)
    prompt_length = inputs["input_ids"].shape[1]
    forcing = SpeakThenStop(processor, streamer, text_steps, text_steps + speech_steps, prompt_length)
    output = model.generate(**inputs, streamer=streamer, logits_processor=LogitsProcessorList([forcing]),
                            max_new_tokens=text_steps + speech_steps + 1, do_sample=False, audio_do_sample=False)
    return output, prompt_length, forcing


def test_chunks_arrive_during_generation_and_equal_the_streaming_decode(tiny):
    model, processor = tiny
    streamer = MiMoAudioStreamer(processor, chunk_frames=8, lookahead_frames=40)
    output, prompt_length, forcing = _generate(model, processor, streamer)
    chunks = list(streamer)
    # Audio was queued while generating: 24 patches = 96 frames; the first audio comes after 48.
    assert max(forcing.queued) > 0 and forcing.queued.index(next(q for q in forcing.queued if q)) < len(forcing.queued) - 1
    audio = np.concatenate([c.audio for c in chunks])
    assert audio.dtype == np.float32 and audio.shape == (24 * 4 * 960,)

    # The same decoder fed the same chunks of the final codes gives the same audio.
    codes = processor.extract_audio_codes(output, prompt_length=prompt_length)[0].T  # [8, frames]
    torch.testing.assert_close(torch.cat(streamer.pushed_chunks, dim=1), codes)
    decoder = processor.audio_tokenizer.streaming_decoder(250, 40)
    pieces = [decoder.push(c, last=i == len(streamer.pushed_chunks) - 1) for i, c in enumerate(streamer.pushed_chunks)]
    np.testing.assert_allclose(audio, torch.cat(pieces).numpy(), atol=1e-6)
    # (Not bit-equal to decoding the whole clip at once: each push decodes its own context window, as upstream's
    # streaming decode does.)

    text = "".join(c.text for c in chunks)
    assert text == processor.batch_decode(output, prompt_length=prompt_length)[0]


def test_streamer_from_another_thread_and_reuse(tiny):
    model, processor = tiny
    streamer = MiMoAudioStreamer(processor, chunk_frames=4, timeout=60)
    for _ in range(2):  # one streamer, two generations
        results = {}
        thread = threading.Thread(target=lambda: results.setdefault("out", _generate(model, processor, streamer)))
        thread.start()
        chunks = list(streamer)
        thread.join()
        assert sum(c.audio.size for c in chunks) == 24 * 4 * 960


def test_streamer_refuses_batches_and_needs_the_codec(tiny):
    model, processor = tiny
    streamer = MiMoAudioStreamer(processor)
    with pytest.raises(ValueError, match="batch size 1"):
        streamer.put(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(TypeError, match="integer token ids"):
        streamer.put(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="`value` holds negative token ids"):
        streamer.put(torch.full((1, 3), -1))
    with pytest.raises(ValueError, match="chunk_frames"):
        MiMoAudioStreamer(processor, chunk_frames=0)
    for bad in (0, -1.0, float("nan"), float("inf"), "5", True):
        with pytest.raises(ValueError, match="`timeout`"):
            MiMoAudioStreamer(processor, timeout=bad)
    codec, processor.audio_tokenizer = processor.audio_tokenizer, None
    try:
        with pytest.raises(ValueError, match="codec"):
            MiMoAudioStreamer(processor)
    finally:
        processor.audio_tokenizer = codec
