"""The shipped miniature's model card: targets against measured numbers."""

from training_recipes.mini.ship import target_lines


def test_target_lines_say_which_targets_are_met():
    rows = target_lines({"asr_wer_test_voices": 42.5, "codec_stoi": 0.898, "tts_judge_wer": 90.0,
                         "tts_judge_wer_reference": 83.3, "arithmetic_accuracy": 80.0})
    assert rows == [
        "| ASR WER <= 10 % (held-out voices) | 42.5 % | no |",
        "| codec STOI >= 0.85 (held-out voices) | 0.898 | yes |",
        "| TTS judge WER <= originals' + 10 | 90.0 % (originals 83.3 %) | yes |",
        "| spoken arithmetic >= 80 % | 80.0 % | yes |",
    ]
    # Only the targets the run measured.
    assert target_lines({"codec_stoi": 0.8}) == ["| codec STOI >= 0.85 (held-out voices) | 0.800 | no |"]
    assert target_lines({}) == []
