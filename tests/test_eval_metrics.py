"""Metric definitions of the evaluation package against hand-computed values."""

import math

import numpy as np
import pytest

from evaluation.metrics.audio import cosine_similarity, duration_ratio, multi_scale_mel_distance, pesq_score, resample, stoi_score
from evaluation.metrics.text import corpus_error_rate, error_counts, mean_utterance_error_rate, utterance_error_rate
from evaluation.normalization import detect_language, normalize_text, normalize_tokens, truncate_at_parenthesis


# ---------------------------------------------------------------- normalisation
@pytest.mark.parametrize(
    "text, lang, expected",
    [
        ("Hello, World! Don't stop.", "en", ["hello", "world", "don't", "stop"]),
        ("  MULTIPLE   spaces\tand\nnewlines ", "en", ["multiple", "spaces", "and", "newlines"]),
        # every ASCII punctuation mark but the apostrophe is deleted, NOT replaced by a space (upstream rule)
        ("rock-n-roll e.g. 3.5", "en", ["rocknroll", "eg", "35"]),
        ("“Quoted” — text…", "en", ["quoted", "text"]),
        ("你好，世界。", "zh", ["你", "好", "世", "界"]),
        ("“你好”——《世界》\u3000！", "zh", ["你", "好", "世", "界"]),
        ("我用 iPhone", "zh", ["我", "用", "i", "P", "h", "o", "n", "e"]),  # zh: no lowercasing, spaces dropped
        ("...", "en", []),
    ],
)
def test_normalize_tokens(text, lang, expected):
    assert normalize_tokens(text, lang) == expected


def test_normalize_rejects_unknown_language_and_non_strings():
    with pytest.raises(ValueError, match="lang"):
        normalize_text("x", "fr")
    with pytest.raises(TypeError, match="text"):
        normalize_text(None, "en")


def test_truncate_at_parenthesis_and_detect_language():
    assert truncate_at_parenthesis("hello world (English)") == "hello world "
    assert truncate_at_parenthesis("no paren") == "no paren"
    assert detect_language("Hello 世界") == "zh"
    assert detect_language("Hello world") == "en"


# ---------------------------------------------------------------- error rates
def test_wer_single_substitution_after_normalisation():
    # [hello world don't stop] vs [hello world dont stop]: 1 substitution / 4 words
    assert utterance_error_rate("Hello, World! Don't stop.", "hello world dont stop", "en") == pytest.approx(0.25)


def test_cer_chinese():
    # [你 好 世 界] vs [你 好 世 届]: 1 substitution / 4 characters
    assert utterance_error_rate("你好，世界。", "你好世届", "zh") == pytest.approx(0.25)


def test_error_counts_insertions_deletions():
    counts = error_counts("a b", "a b c d", "en")
    assert (counts.substitutions, counts.deletions, counts.insertions, counts.hits) == (0, 0, 2, 2)
    assert utterance_error_rate("a b", "a b c d", "en") == pytest.approx(1.0)  # WER can exceed 1 ...
    assert utterance_error_rate("a b c", "", "en") == pytest.approx(1.0)  # ... all deleted = 1
    # hyphen removal joins words: 1 reference word vs 3 hypothesis words = 1 sub + 2 ins over 1 word
    assert utterance_error_rate("rock-n-roll", "rock n roll", "en") == pytest.approx(3.0)


def test_mean_versus_corpus_error_rate():
    refs = ["a b c d", "e f"]
    hyps = ["a b c d", "x"]  # utt 1: 0/4; utt 2: 1 sub + 1 del = 2/2
    mean = mean_utterance_error_rate(refs, hyps, "en")
    corpus = corpus_error_rate(refs, hyps, "en")
    assert mean["value"] == pytest.approx(0.5)
    assert corpus["value"] == pytest.approx(2 / 6)
    assert (corpus["substitutions"], corpus["deletions"], corpus["insertions"], corpus["reference_length"]) == (1, 1, 0, 6)


def test_empty_reference_is_left_out_of_the_mean_but_counted_in_corpus():
    refs, hyps = ["...", "a b"], ["x", "a b"]
    assert utterance_error_rate("...", "x", "en") is None
    mean = mean_utterance_error_rate(refs, hyps, "en")
    assert mean == {"value": 0.0, "num_scored": 1, "num_empty_references": 1}
    assert corpus_error_rate(refs, hyps, "en")["value"] == pytest.approx(1 / 2)  # 1 insertion / 2 reference words


def test_error_rate_length_mismatch():
    with pytest.raises(ValueError, match="same length"):
        corpus_error_rate(["a"], ["a", "b"], "en")


@pytest.mark.parametrize("rate", [corpus_error_rate, mean_utterance_error_rate])
def test_error_rate_of_nothing_is_refused(rate):
    """An error rate over no reference word is undefined: a clear error, not NaN."""
    with pytest.raises(ValueError, match="`references` is empty"):
        rate([], [], "en")
    with pytest.raises(ValueError, match="`references`.*empty after normalisation|no word"):
        rate(["...", ""], ["x", "y"], "en")


def test_matches_jiwer_corpus_definition():
    import jiwer

    refs = ["the cat sat on the mat", "a quick test here"]
    hyps = ["the cat sit on mat", "a quick quick test"]
    assert corpus_error_rate(refs, hyps, "en")["value"] == pytest.approx(jiwer.wer(refs, hyps))


# ---------------------------------------------------------------- audio metrics
def _noise(seconds=1.0, sr=24000, seed=0, scale=0.1):
    return (scale * np.random.RandomState(seed).randn(int(seconds * sr))).astype(np.float64)


def test_mel_distance_identical_is_zero_and_tenfold_gain_is_one():
    x = _noise()
    assert multi_scale_mel_distance(x, x, 24000) == pytest.approx(0.0, abs=1e-7)
    # magnitude mel scales linearly: log10(10 M) - log10(M) = 1 in every (unclamped) bin and scale
    assert multi_scale_mel_distance(x, 10 * x, 24000) == pytest.approx(1.0, abs=1e-4)


def test_mel_distance_cuts_to_common_length_and_checks_input():
    x = _noise()
    assert multi_scale_mel_distance(x, np.concatenate([x, np.ones(960)]), 24000) == pytest.approx(0.0, abs=1e-7)
    with pytest.raises(ValueError, match="1-D"):
        multi_scale_mel_distance(np.zeros((2, 2, 100)), x, 24000)


@pytest.mark.parametrize("metric", [multi_scale_mel_distance, pesq_score, stoi_score])
def test_audio_metrics_refuse_non_finite_samples_and_bad_rates(metric):
    x = _noise()
    bad = x.copy()
    bad[100] = np.nan
    with pytest.raises(ValueError, match="`reference` contains NaN or infinite samples"):
        metric(bad, x, 24000)
    with pytest.raises(ValueError, match="`estimate` contains NaN or infinite samples"):
        metric(x, np.where(np.arange(x.size) == 5, np.inf, x), 24000)
    for rate in (0, -16000, 22050.5):
        with pytest.raises(ValueError, match="`sampling_rate` must be a positive integer number of Hz"):
            metric(x, x, rate)


def test_cosine_similarity_and_duration_ratio():
    assert cosine_similarity([1, 0], [1, 1]) == pytest.approx(1 / math.sqrt(2))
    assert cosine_similarity([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same size"):
        cosine_similarity([1, 0], [1, 0, 0])
    assert duration_ratio(48000, 24000, 16000, 16000) == pytest.approx(2.0)


def test_resample_keeps_a_tone():
    sr_in, sr_out = 24000, 16000
    t = np.arange(sr_in) / sr_in
    y = resample(np.sin(2 * np.pi * 440 * t), sr_in, sr_out)
    assert y.shape == (sr_out,)
    reference = np.sin(2 * np.pi * 440 * np.arange(sr_out) / sr_out)
    assert np.abs(y[200:-200] - reference[200:-200]).max() < 1e-2


def test_pesq_and_stoi_on_identical_and_degraded_speechlike_signals():
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    from evaluation.testing_utils import synthetic_clip

    x = synthetic_clip(seconds=3.0, sampling_rate=16000).astype(np.float64)
    noisy = x + _noise(3.0, 16000, seed=1, scale=0.05)
    # P.862 ceiling: 4.644 (WB) / 4.549 (NB) for an undistorted signal
    assert pesq_score(x, x, 16000, "wb") == pytest.approx(4.644, abs=0.01)
    assert pesq_score(x, x, 16000, "nb") == pytest.approx(4.549, abs=0.01)
    assert pesq_score(x, noisy, 16000, "wb") < 3.5
    assert stoi_score(x, x, 16000) == pytest.approx(1.0, abs=1e-6)
    assert stoi_score(x, noisy, 16000) < stoi_score(x, x, 16000)
    with pytest.raises(ValueError, match="mode"):
        pesq_score(x, x, 16000, "xx")


# ---------------------------------------------------------------- data loading
def test_manifest_paths_resolve_relative_to_the_manifest(tmp_path):
    from evaluation.data import load_audio, load_eval_dataset
    from evaluation.testing_utils import make_synthetic_manifest

    folder = make_synthetic_manifest(str(tmp_path / "data"), "icl_s2s", num_items=1)
    (item,) = load_eval_dataset(folder)
    assert item["audio"] == str(tmp_path / "data" / "wavs" / "item0.wav")
    assert item["examples"][0]["input_audio"].startswith(str(tmp_path / "data"))  # nested audio fields too
    wave, sr = load_audio(item["audio"])
    assert sr == 16000 and wave.ndim == 1 and wave.dtype == np.float32


def test_datasets_folders_with_audio_columns(tmp_path):
    import datasets

    from evaluation.data import load_audio, load_eval_dataset
    from evaluation.testing_utils import make_synthetic_manifest

    folder = make_synthetic_manifest(str(tmp_path / "data"), "asr", num_items=2)
    paths = [str(tmp_path / "data" / "wavs" / f"item{i}.wav") for i in range(2)]
    ds = datasets.Dataset.from_dict({"audio": paths, "sentence": ["a b", "c d"]}).cast_column("audio", datasets.Audio())
    ds.save_to_disk(str(tmp_path / "saved"))
    (tmp_path / "parquet").mkdir()
    ds.to_parquet(str(tmp_path / "parquet" / "test.parquet"))
    for source in (str(tmp_path / "saved"), str(tmp_path / "parquet")):
        items = load_eval_dataset(source, split=None if "saved" in source else "test", column_map={"sentence": "text"})
        assert [i["text"] for i in items] == ["a b", "c d"] and [i["id"] for i in items] == ["0", "1"]
        wave, sr = load_audio(items[1]["audio"])  # decoded with soundfile, no torchcodec needed
        assert sr == 16000 and wave.shape[0] == 9600


def test_manifest_errors(tmp_path):
    from evaluation.data import load_eval_dataset, load_audio

    with pytest.raises(FileNotFoundError, match="manifest"):
        load_eval_dataset(str(tmp_path / "missing.jsonl"))
    (tmp_path / "dup.jsonl").write_text('{"id": 1}\n{"id": "1"}\n')
    with pytest.raises(ValueError, match="unique"):
        load_eval_dataset(str(tmp_path / "dup.jsonl"))
    (tmp_path / "bad.jsonl").write_text('{"id": 1}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        load_eval_dataset(str(tmp_path / "bad.jsonl"))
    with pytest.raises(ValueError, match="sampling_rate"):
        load_audio(np.zeros(10))


def test_error_rates_refuse_a_bare_string():
    # A string is iterable: scored as a list it would compare characters as utterances.
    for metric in (corpus_error_rate, mean_utterance_error_rate):
        with pytest.raises(TypeError, match="`references` must be a list of strings"):
            metric("the red dog", ["the red dog"], "en")
        with pytest.raises(TypeError, match="`hypotheses` must be a list of strings"):
            metric(["the red dog"], "the red dog", "en")


def test_stoi_refuses_audio_too_short_to_score():
    # pystoi crashes below one STFT frame and answers 1e-5 (with a warning) below 30 frames of speech.
    for seconds in (0.001, 0.2, 0.39):
        x = _noise(seconds)
        with pytest.raises(ValueError, match="STOI needs at least 0.4 s"):
            stoi_score(x, x, 24000)
    burst = np.concatenate([_noise(0.2), np.zeros(24000)])  # 1.2 s, of which 0.2 s is not silent
    with pytest.raises(ValueError, match="too little non-silent audio"):
        stoi_score(burst, burst, 24000)
    x = _noise(0.5)
    assert stoi_score(x, x, 24000) == pytest.approx(1.0, abs=1e-6)
