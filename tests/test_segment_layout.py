"""The layout engine shared by the processor and the training formats (`processing.segment_layout`)."""

import pytest
import torch

from processing.prompts_mimo_audio import AudioSegment, StreamingSegment, TextSegment
from processing.segment_layout import SegmentLayout, clip_to_patches

IDS = dict(empty=9, sosp=7, eosp=8, sostm=5, eostm=6, eot=4)


def patches(n, start=0):
    return torch.arange(start, start + n * 8).reshape(n, 1, 8).expand(n, 2, 8).clone()


def test_text_and_audio_positions_targets_and_patches():
    layout = SegmentLayout(**IDS).text([1, 2], target=False).audio(patches(3), target=True)
    assert layout.tokens == [1, 2, 7, 9, 9, 9, 8]
    assert layout.targets == [False, False, True, True, True, True, True]
    assert layout.patch_positions == [3, 4, 5]
    assert torch.equal(torch.stack(layout.patches), patches(3))


def test_open_audio_segment_has_no_eosp():
    assert SegmentLayout(**IDS).audio(patches(2), close=False).tokens == [7, 9, 9]


def test_streaming_interleaves_five_token_and_five_patch_chunks():
    layout = SegmentLayout(**IDS).streaming(list(range(10, 17)), patches(7))
    # 5 tokens, 5 patches, the last 2 tokens + eot, the last 2 patches.
    assert layout.tokens == [5, 10, 11, 12, 13, 14, 9, 9, 9, 9, 9, 15, 16, 4, 9, 9, 6]
    assert layout.patch_positions == [6, 7, 8, 9, 10, 14, 15]
    assert torch.equal(torch.stack(layout.patches), patches(7))


def test_add_segments_follows_each_segment_and_all_targets_overrides():
    segments = [TextSegment("a"), AudioSegment(1, target=True), StreamingSegment("b", 0, target=False)]
    texts = {"a": [1], "b": [2]}
    clips = [patches(1, 100), patches(1, 200)]
    layout = SegmentLayout(**IDS).add_segments(segments, lambda s: texts[s.text], clips)
    assert layout.tokens == [1, 7, 9, 8, 5, 2, 4, 9, 6]
    assert layout.targets == [False, True, True, True, False, False, False, False, False]
    assert [int(p[0, 0]) for p in layout.patches] == [200, 100]  # clips by audio_index
    everywhere = SegmentLayout(**IDS).add_segments(segments, lambda s: texts[s.text], clips, all_targets=True)
    assert all(everywhere.targets)


def test_clip_to_patches_takes_the_codec_layout_and_repeats_the_last_frame():
    codes = torch.arange(10 * 5).reshape(10, 5)  # 10 channels, 5 frames
    out = clip_to_patches(codes, patch_size=4, num_codebooks=8)
    assert out.shape == (2, 4, 8)
    assert torch.equal(out[0, :, 0], codes[0, :4])
    assert torch.equal(out[1, :, 7], codes[7, [4, 4, 4, 4]])
    with pytest.raises(ValueError, match="num_codebooks>=8"):
        clip_to_patches(torch.zeros(5, 8, dtype=torch.long).T[:7])
