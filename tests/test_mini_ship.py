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


def test_model_card_carries_a_builds_provenance_note(tmp_path):
    """A build assembled from more than one run says so in its card (`WORK/provenance.md`); a plain run's card has
    no such section."""
    from training_recipes.mini.ship import model_card

    parameters = {"lm": 8_000_000, "codec": 6_000_000}
    plain = model_card(str(tmp_path), 16 * 2**20, parameters)
    note = "Provenance: the LM stages up to `sft` come from an earlier build."
    (tmp_path / "provenance.md").write_text(note + "\n")
    card = model_card(str(tmp_path), 16 * 2**20, parameters)
    assert note not in plain and note in card
    assert card.index("## Training") < card.index(note) < card.index("## Measured")
