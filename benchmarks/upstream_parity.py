"""Parity with upstream beyond the shipped fixtures: other model sizes, prompts, schedules and streaming settings.

The fixtures in `tests/fixtures/upstream_tiny` pin one configuration of each model. This script builds other
configurations with random weights, saves them in upstream's layout, runs upstream's own code on them in a separate
Python (upstream needs transformers 4.49), runs ours on the same inputs, and prints whether the results agree:

* language model: greedy generation under a forced `<|empty|>` schedule (text ids and every audio code), for a
  config with grouped KV heads, an explicit `head_dim`, a patch encoder narrower than the patch decoder
  (`speech_embeddings_to_local`) and irregular delays, and one with 3-frame patches and gaps in the delay pattern;
* codec: codes of every quantizer and the decoded waveform, for a wider config with attention windows and 10
  quantizers and an RMSNorm config with a windowed decoder (our batched encode against upstream's one clip at a time);
* streaming decode of the fixture codec at several chunk / left-context / look-ahead settings;
* prompts: every task's layout from upstream's own prompt builders (`MimoAudio.get_*_prompt`, imported from the
  checkout in this process with stand-ins for the model, codec and torchaudio modules they never touch) against our
  chat template and markup, position by position.

A control row first checks that upstream, run this way, reproduces the shipped fixture. Upstream is run as it is
meant to run, as the fixtures were made: float32, SDPA attention, its hard-coded bf16
speech-embedding buffer in float32, and a plain PyTorch stand-in for flash-attn's varlen kernel (same causal and
sliding-window semantics), all inside the upstream process. Upstream's code is imported from `--upstream-src` at run
time and never copied here.

Usage:
    python benchmarks/upstream_parity.py --upstream-src PATH/TO/MiMo-Audio --upstream-python PATH/TO/venv/bin/python

where the checkout holds `src/mimo_audio` and `src/mimo_audio_tokenizer`, and the venv has transformers==4.49,
torch and einops.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import LogitsProcessor, LogitsProcessorList

import modeling_mimo_audio as mimo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import upstream_config_dict  # noqa: E402


FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures", "upstream_tiny")

# Runs inside the upstream Python. Makes upstream run as intended (see the module docstring) and executes one job.
UPSTREAM_RUNNER = r'''
import json, sys, types, torch, torch.nn.functional as F
job = json.loads(sys.argv[1])
sys.path.insert(0, job["src"])
import transformers.modeling_utils, transformers.modeling_flash_attention_utils  # before the stand-in exists

def varlen(q, k, v, cu_q, cu_k, max_q, max_k, causal=False, window_size=(-1, -1), **unused):
    out = torch.empty_like(q)
    left, right = window_size
    for s, e in zip(cu_q[:-1].tolist(), cu_q[1:].tolist()):
        i = torch.arange(e - s).view(-1, 1); j = torch.arange(e - s).view(1, -1)
        allowed = torch.ones(e - s, e - s, dtype=torch.bool)
        if causal: allowed &= j <= i
        if left >= 0: allowed &= j >= i - left
        if right >= 0: allowed &= j <= i + right
        q_, k_, v_ = (t[s:e].transpose(0, 1) for t in (q, k, v))
        out[s:e] = F.scaled_dot_product_attention(q_, k_, v_, attn_mask=allowed).transpose(0, 1)
    return out

sys.modules["flash_attn"] = types.SimpleNamespace(flash_attn_varlen_func=varlen)
from mimo_audio_tokenizer import MiMoAudioTokenizer, StreamingCache, StreamingConfig
from mimo_audio.modeling_mimo_audio import MiMoAudioArguments, MiMoAudioForCausalLM
del sys.modules["flash_attn"]
_zeros = torch.zeros
def fp32_zeros(*a, **k):  # upstream's hard-coded bf16 speech-embedding buffer, in float32
    if k.get("dtype") is torch.bfloat16: k["dtype"] = torch.float32
    return _zeros(*a, **k)
torch.zeros = fp32_zeros

result = {}
with torch.no_grad():
    if job["kind"] == "lm":
        class Global:
            step = 0
            def sample(self, scores, removed_tokens=None):
                forced = self.step in job["forced"]; self.step += 1
                return torch.full(scores.shape[:1], job["empty"]) if forced else scores.argmax(-1)
        class GreedyLocal:
            def sample(self, scores, removed_tokens=None):
                scores = scores.clone()
                for t in removed_tokens or []: scores[:, t] = float("-inf")
                return scores.argmax(-1)
        ids = dict(sosp_idx=1, eosp_idx=2, sostm_idx=3, eostm_idx=4, eot_idx=5, empty_idx=job["empty"])
        model = MiMoAudioForCausalLM.from_pretrained(job["weights"], args=MiMoAudioArguments(model_name_or_path=job["weights"], **ids),
                                                     torch_dtype=torch.float32, attn_implementation="sdpa").eval()
        from transformers import GenerationConfig
        prompt = torch.load(job["prompt"])
        G = model.group_size
        out = model.generate(prompt.T.reshape(1, -1), GenerationConfig(max_length=prompt.shape[1] // G + job["new"]),
                             global_sampler=Global(), local_sampler=GreedyLocal())
        result["interleaved"] = out.reshape(-1, G, 9).permute(2, 0, 1).reshape(9, -1)
    else:
        tok = MiMoAudioTokenizer.from_pretrained(job["weights"], torch_dtype=torch.float32).eval()
        if job["kind"] == "codec":
            for i, path in enumerate(job["mels"]):
                mel = torch.load(path)
                codes, _ = tok.encoder.encode(input_features=mel, input_lens=torch.tensor([mel.shape[0]]), return_codes_only=True)
                result[f"codes_{i}"], result[f"wav_{i}"] = codes, tok.decode(codes[:8]).reshape(-1)
        else:
            codes = torch.load(job["codes"])
            for chunk, left, right in job["cases"]:
                cache, config, pieces = StreamingCache(), StreamingConfig(left_overlap=left, right_overlap=right), []
                for start in range(0, codes.shape[1], chunk):
                    part = codes[:, start:start + chunk]
                    wavs, cache = tok.streaming_decode(part, [part.shape[1]], cache, config, last_chunk=start + chunk >= codes.shape[1])
                    if wavs[0] is not None and wavs[0].numel(): pieces.append(wavs[0].reshape(-1))
                result[f"{chunk}-{left}-{right}"] = pieces
torch.save(result, job["out"])
'''

LM_CONFIGS = {
    "grouped KV, head_dim 16, patch encoder 16 < decoder 24, delays 0-1-1-2-3-5-6-7": dict(
        hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        head_dim=16, local_dim=24, local_layers=2, local_attn_heads=4, local_ffn_dim=40, input_local_dim=16,
        input_local_layers=2, delay_pattern=[0, 1, 1, 2, 3, 5, 6, 7], rope_theta=10000.0),
    "3-frame patches, delays 0-2-2-4-4-4-5-9, 3 layers": dict(
        hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4,
        head_dim=8, local_dim=32, local_layers=1, local_attn_heads=2, local_ffn_dim=48, input_local_layers=1,
        patch_size=3, delay_pattern=[0, 2, 2, 4, 4, 4, 5, 9]),
}
CODEC_CONFIGS = {
    "d_model 48, encoder window 16/16, vocoder window 20/5, 10 quantizers": dict(
        d_model=48, encoder_attention_heads=6, encoder_layers=4, encoder_skip_layer_id=1, encoder_ffn_dim=96,
        decoder_layers=3, decoder_attention_heads=4, decoder_ffn_dim=80, encoder_attn_window_size=[16, 16],
        vocoder_dim=24, vocoder_attention_heads=4, vocoder_intermediate_dim=40, vocoder_num_layers=3,
        vocoder_attn_window_size=[20, 5], num_quantizers=10, codebook_size=[256, 128, 64, 64, 32, 32, 16, 16, 16, 16]),
    "RMSNorm, decoder window 12/0, vocoder window 8/3, rope 5000": dict(
        ln_type="RMSNorm", decoder_attn_window_size=[12, 0], encoder_layers=2, encoder_skip_layer_id=1,
        vocoder_attn_window_size=[8, 3], rope_theta=5000),
}
STREAMING_CASES = [(5, 10, 3), (12, 20, 6), (8, 8, 8), (3, 30, 1), (64, 12, 4)]
EMPTY = 290  # `<|empty|>` of the random LMs (text vocab 300)


def run_upstream(args, job, folder):
    job = {**job, "src": args.upstream_src, "out": os.path.join(folder, "upstream.pt")}
    done = subprocess.run([args.upstream_python, "-c", UPSTREAM_RUNNER, json.dumps(job)], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"upstream run failed:\n{done.stderr[-3000:]}")
    return torch.load(job["out"])


class ForceEmpty(LogitsProcessor):
    """Forces `<|empty|>` at the given generation steps (0 = first new position)."""

    def __init__(self, steps, prompt_length):
        self.steps, self.prompt_length = set(steps), prompt_length

    def __call__(self, input_ids, scores):
        if input_ids.shape[1] - self.prompt_length in self.steps:
            forced = torch.full_like(scores, -float("inf"))
            forced[:, EMPTY] = 0.0
            return forced
        return scores


def check_harness(args):
    """Control: upstream, run by this script, reproduces the shipped fixture's `generated_ids` exactly."""
    folder_in = os.path.join(FIXTURES, "lm")
    expected = np.load(os.path.join(folder_in, "expected.npz"))
    prompt = torch.from_numpy(expected["prompt_ids"])
    generated = torch.from_numpy(expected["generated_ids"])
    empty = json.load(open(os.path.join(FIXTURES, "README.json")))["special_token_ids"]["empty"]
    with tempfile.TemporaryDirectory() as folder:
        torch.save(prompt, os.path.join(folder, "prompt.pt"))
        job = dict(kind="lm", weights=folder_in, prompt=os.path.join(folder, "prompt.pt"),
                   new=generated.shape[1] // 4, empty=empty, forced=expected["forced_empty_steps"].tolist())
        theirs = run_upstream(args, job, folder)["interleaved"]
    same = torch.equal(theirs[:, prompt.shape[1] :], generated)
    return [("control", "fixture LM through this script's upstream run", f"generated_ids reproduced: {same}", same)]


def check_language_models(args):
    rows = []
    forced, new = [0, 1, 2, 5, 6, 9], 11
    for name, overrides in LM_CONFIGS.items():
        torch.manual_seed(1)
        config = mimo.MiMoAudioConfig(vocab_size=300, empty_token_id=EMPTY, max_position_embeddings=512,
                                      initializer_range=0.3, input_full_attention=True, local_attn_dropout=0.0,
                                      **overrides)
        model = mimo.MiMoAudioForConditionalGeneration(config).eval()
        g = torch.Generator().manual_seed(2)
        text = torch.randint(6, 280, (1, 8), generator=g)
        ids = torch.cat([text[:, :5], torch.tensor([[1]]), torch.full((1, 4), EMPTY), torch.tensor([[2]]), text[:, 5:]], 1)
        codes = torch.tensor(config.speech_empty_ids).view(1, 1, 1, -1).repeat(1, ids.shape[1], config.patch_size, 1)
        for c, size in enumerate(config.speech_vocab_sizes):
            codes[0, 6:10, :, c] = torch.randint(0, size - 1, (4, config.patch_size), generator=g)
        with torch.no_grad():
            ours = model.generate(ids, codes, max_new_tokens=new, do_sample=False, audio_do_sample=False,
                                  logits_processor=LogitsProcessorList([ForceEmpty(forced, ids.shape[1])]))
        with tempfile.TemporaryDirectory() as folder:
            state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.startswith("_")}
            save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump(upstream_config_dict(config), f)
            torch.save(mimo.patches_to_interleaved(ids, codes)[0], os.path.join(folder, "prompt.pt"))
            job = dict(kind="lm", weights=folder, prompt=os.path.join(folder, "prompt.pt"), new=new, empty=EMPTY,
                       forced=forced)
            theirs = run_upstream(args, job, folder)["interleaved"]
        ours_rows = mimo.patches_to_interleaved(ours.sequences, ours.audio_codes)[0]
        same_text = torch.equal(ours.sequences[0], theirs[0, :: config.patch_size])
        same_audio = torch.equal(ours_rows[1:], theirs[1:])
        patches = int((ours.sequences[0, ids.shape[1]:] == EMPTY).sum())
        rows.append(("LM", name, f"text ids equal: {same_text}, audio codes equal: {same_audio} ({patches} patches)",
                     same_text and same_audio))
    return rows


def check_codecs(args):
    rows = []
    base = json.load(open(os.path.join(FIXTURES, "tokenizer", "config.json")))
    generator = torch.Generator().manual_seed(3)
    clips = [torch.randn(n, generator=generator) * 0.1 for n in (30000, 11111)]
    for name, overrides in CODEC_CONFIGS.items():
        fields = {k: v for k, v in {**base, **overrides}.items()
                  if k not in ("architectures", "transformers_version", "torch_dtype")}
        config = mimo.MiMoAudioTokenizerConfig(**fields)
        torch.manual_seed(5)
        codec = mimo.MiMoAudioTokenizerModel(config).eval()
        extractor = mimo.MiMoAudioFeatureExtractor.from_tokenizer_config(config)
        features = extractor(clips, sampling_rate=config.sampling_rate, return_tensors="pt")
        with torch.no_grad():
            encoded = codec.encode(features.input_features, features.attention_mask)
            decoded = codec.decode(encoded.audio_codes[:, :8], encoded.audio_codes_mask)
        with tempfile.TemporaryDirectory() as folder:
            codec.save_pretrained(folder)
            mels = []
            for i in range(len(clips)):
                frames = int(features.attention_mask[i].sum())
                mels.append(os.path.join(folder, f"mel_{i}.pt"))
                torch.save(features.input_features[i, :, :frames].T.contiguous(), mels[-1])
            theirs = run_upstream(args, dict(kind="codec", weights=folder, mels=mels), folder)
        for i in range(len(clips)):
            frames = int(encoded.audio_codes_mask[i].sum())
            samples = int(decoded.audio_values_mask[i].sum())
            same_codes = torch.equal(encoded.audio_codes[i, :, :frames], theirs[f"codes_{i}"])
            wave = theirs[f"wav_{i}"]
            diff = (decoded.audio_values[i, 0, :samples] - wave).abs().max().item() if samples == wave.numel() else float("inf")
            rows.append(("codec", f"{name}, clip {i}", f"codes equal: {same_codes}, waveform max|diff| {diff:.1e}",
                         same_codes and diff < 1e-4))
    return rows


def check_streaming(args):
    folder_in = os.path.join(FIXTURES, "tokenizer")
    codes = torch.from_numpy(np.load(os.path.join(folder_in, "expected.npz"))["codes_0"][:8])
    codec = mimo.MiMoAudioTokenizerModel.from_pretrained(folder_in).eval()
    with tempfile.TemporaryDirectory() as folder:
        torch.save(codes, os.path.join(folder, "codes.pt"))
        job = dict(kind="streaming", weights=folder_in, codes=os.path.join(folder, "codes.pt"), cases=STREAMING_CASES)
        theirs = run_upstream(args, job, folder)
    rows = []
    for chunk, left, right in STREAMING_CASES:
        stream = codec.streaming_decoder(left_context_frames=left, lookahead_frames=right)
        pieces = []
        with torch.no_grad():
            for start in range(0, codes.shape[1], chunk):
                piece = stream.push(codes[None, :, start : start + chunk], last=start + chunk >= codes.shape[1])
                if piece.numel():
                    pieces.append(piece)
        expected = theirs[f"{chunk}-{left}-{right}"]
        same_lengths = [p.numel() for p in pieces] == [p.numel() for p in expected]
        diff = (torch.cat(pieces) - torch.cat(expected)).abs().max().item() if same_lengths else float("inf")
        rows.append(("streaming", f"chunk {chunk}, left {left}, look-ahead {right}",
                     f"piece lengths equal: {same_lengths} ({len(pieces)}), max|diff| {diff:.1e}",
                     same_lengths and diff < 1e-4))
    return rows


def _import_upstream_prompt_builders(src):
    """Upstream's `mimo_audio/mimo_audio.py`, imported from the checkout in this process, with stand-ins for the
    modules its prompt builders never touch (the LM, the codec, torchaudio)."""
    import importlib
    import types

    def module(name, path=None, **attributes):
        stand_in = types.ModuleType(name)
        if path is not None:
            stand_in.__path__ = [path]
        stand_in.__dict__.update(attributes)
        return stand_in

    placeholders = dict.fromkeys(("MiMoAudioArguments", "MiMoAudioForCausalLM", "MiMoSampler", "MiMoStopper"), object)
    stand_ins = {
        "upstream_src": module("upstream_src", src),
        "upstream_src.mimo_audio": module("upstream_src.mimo_audio", os.path.join(src, "mimo_audio")),
        "upstream_src.mimo_audio.modeling_mimo_audio": module("upstream_src.mimo_audio.modeling_mimo_audio",
                                                              **placeholders),
        "upstream_src.mimo_audio_tokenizer": module("upstream_src.mimo_audio_tokenizer", MiMoAudioTokenizer=object),
    }
    audio_stand_ins = {}
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        transforms = module("torchaudio.transforms", MelSpectrogram=object)
        audio_stand_ins = {"torchaudio": module("torchaudio", transforms=transforms), "torchaudio.transforms": transforms}
    sys.modules.update(stand_ins)
    sys.modules.update(audio_stand_ins)
    try:
        builders = importlib.import_module("upstream_src.mimo_audio.mimo_audio")
    finally:
        for name in audio_stand_ins:
            del sys.modules[name]
    # Upstream draws ASR/TTS templates at random; ours are chosen explicitly below: make upstream take template 3.
    builders.random = types.SimpleNamespace(choice=lambda options: options[3])
    return builders


def check_prompts(args):
    """Every task's prompt from upstream's builders (`MimoAudio.get_*_prompt`) against our chat template / markup,
    position by position (text ids and codes), with precomputed codes standing in for audio."""
    from processing import prompts_mimo_audio as ours
    from processing.tokenization_mimo_audio import build_tiny_tokenizer

    upstream = _import_upstream_prompt_builders(args.upstream_src)
    tokenizer = build_tiny_tokenizer()
    processor = mimo.MiMoAudioProcessor(mimo.MiMoAudioFeatureExtractor(), tokenizer)

    class UpstreamPrompts(upstream.MimoAudio):
        """Upstream's prompt builders without its model; audio comes as precomputed codes, padded to whole patches
        by repeating the last frame as upstream's own encoder path does."""

        def __init__(self):
            self.tokenizer, self.group_size, self.audio_channels, self.device, self.history = tokenizer, 4, 8, "cpu", None
            self.speech_zeroemb_idx = [1024, 1024] + [128] * 6
            self.empty_token = tokenizer.convert_tokens_to_ids("<|empty|>")

        def preprocess_input(self, input=None):
            if isinstance(input, dict):
                codes = input["audio_codes"]
                codes = torch.cat([codes] + [codes[-1:]] * ((-codes.shape[0]) % 4))
                return codes.reshape(-1)
            return super().preprocess_input(input)

    up = UpstreamPrompts()
    generator = torch.Generator().manual_seed(0)

    def clip(frames):
        codes = torch.stack([torch.randint(0, 1024 if c < 2 else 128, (frames,), generator=generator)
                             for c in range(8)], 1)
        return {"audio_codes": codes, "codes_layout": "frames_codebooks"}

    def chat(conversation, **kwargs):
        out = processor.apply_chat_template(conversation, add_generation_prompt=True, **kwargs)
        return out["input_ids"][0], out["audio_codes"][0]

    rows = []

    def compare(name, upstream_interleaved, ours_ids_and_codes):
        ids, codes = mimo.interleaved_to_patches(upstream_interleaved[None].long())
        same = torch.equal(ids[0], ours_ids_and_codes[0]) and torch.equal(codes[0], ours_ids_and_codes[1])
        rows.append(("prompt", name, f"{ids.shape[1]} positions, identical: {same}", same))

    a, b, c, voice = clip(10), clip(23), clip(6), clip(9)
    kwargs = ours.TASK_CHAT_TEMPLATE_KWARGS
    asr_template = (upstream.asr_zh_templates + upstream.asr_en_templates)[3]
    compare("ASR", up.get_asr_sft_prompt(a), chat(ours.asr_conversation(a, instruction=asr_template), **kwargs["asr"]))
    for text in ("Good morning, Sir.", "hello there", "今天天气很好"):
        templates = upstream.tts_zh_templates if upstream.detect_language(text) == "zh" else upstream.tts_en_templates
        tts = dict(template=templates[3], capitalize=True)
        compare(f"TTS {text!r}", up.get_tts_sft_prompt(text), chat(ours.tts_conversation(text, **tts), **kwargs["tts"]))
        compare(f"instruct-TTS {text!r}", up.get_tts_sft_prompt(text, instruct="happy"),
                chat(ours.tts_conversation(text, instruction="happy", **tts), **kwargs["instruct_tts"]))
        compare(f"instruct-TTS + voice {text!r}", up.get_tts_sft_prompt(text, instruct="sad", prompt_speech=voice),
                chat(ours.tts_conversation(text, instruction="sad", voice=voice, **tts), **kwargs["instruct_tts"]))
        compare(f"natural-instruction TTS {text!r}", up.get_tts_sft_prompt(text, read_text_only=False),
                chat(ours.tts_conversation(text, natural_instruction=True, capitalize=True), **kwargs["instruct_tts"]))
        compare(f"natural-instruction TTS + voice {text!r}",
                up.get_tts_sft_prompt(text, read_text_only=False, prompt_speech=voice),
                chat(ours.tts_conversation(text, natural_instruction=True, voice=voice, capitalize=True),
                     **kwargs["instruct_tts"]))
    for thinking in (False, True):
        compare(f"audio understanding, thinking={thinking}",
                up.get_audio_understanding_sft_prompt(a, "What is it?", thinking=thinking),
                chat(ours.audio_understanding_conversation(a, "What is it?"), thinking=thinking))
        compare(f"S2T dialogue, thinking={thinking}", up.get_s2t_dialogue_sft_prompt(a, thinking=thinking),
                chat(ours.speech_to_text_dialogue_conversation([{"role": "user", "content": a}]), thinking=thinking))
        compare(f"text dialogue, thinking={thinking}", up.get_text_dialogue_sft_prompt("How are you?", thinking=thinking),
                chat(ours.text_dialogue_conversation("How are you?"), thinking=thinking))
        turns = [{"role": "user", "content": a}, {"role": "assistant", "content": "Fine, thanks."},
                 {"role": "user", "content": c}]
        compare(f"S2T dialogue, 2 turns, thinking={thinking}",
                up.get_s2t_dialogue_sft_multiturn_prompt(turns, thinking=thinking),
                chat(ours.speech_to_text_dialogue_conversation(turns), thinking=thinking))
        turns = [{"role": "user", "content": "Hi!"}, {"role": "assistant", "content": "Hello."},
                 {"role": "user", "content": "Bye"}]
        compare(f"text dialogue, 2 turns, thinking={thinking}",
                up.get_text_dialogue_sft_multiturn_prompt(turns, thinking=thinking),
                chat(ours.text_dialogue_conversation(turns), thinking=thinking))
    for system_prompt in (None, "Be brief."):
        for voice_prompt in (None, voice):
            label = f"system={system_prompt!r}, voice={voice_prompt is not None}"
            compare(f"S2S dialogue, {label}",
                    up.get_spoken_dialogue_sft_prompt(a, system_prompt=system_prompt, prompt_speech=voice_prompt),
                    chat(ours.spoken_dialogue_conversation([{"role": "user", "content": a}], system_prompt=system_prompt,
                                                           voice=voice_prompt), **kwargs["spoken_dialogue"]))
            for transcript in ("Hello world, how are you today?", "Hi",
                               "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"):
                turns = [{"role": "user", "content": a}, {"role": "assistant", "content": {"text": transcript, "audio": b}},
                         {"role": "user", "content": c}]
                compare(f"S2S dialogue, 2 turns, {label}, answer {transcript[:12]!r}",
                        up.get_spoken_dialogue_sft_multiturn_prompt(turns, system_prompt=system_prompt,
                                                                     prompt_speech=voice_prompt),
                        chat(ours.spoken_dialogue_conversation(turns, system_prompt=system_prompt, voice=voice_prompt),
                             **kwargs["spoken_dialogue"]))
    examples = [{"input_audio": a, "output_audio": b, "output_transcription": "Good day to you, my dear friend, how are you"},
                {"input_audio": c, "output_audio": clip(41), "output_transcription": "Hi"}]
    markup, audios = ours.in_context_learning_s2s_prompt(examples, voice, instruction="Convert the voice.")
    out = processor(text=markup, audio=audios)
    compare("few-shot S2S (2 examples)", up.get_in_context_learning_s2s_prompt("Convert the voice.", examples, voice),
            (out["input_ids"][0], out["audio_codes"][0]))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream-src", required=True, help="XiaomiMiMo/MiMo-Audio checkout (or its src/)")
    parser.add_argument("--upstream-python", required=True, help="a Python with transformers==4.49, torch, einops")
    args = parser.parse_args(argv)
    if os.path.isdir(os.path.join(args.upstream_src, "src")):
        args.upstream_src = os.path.join(args.upstream_src, "src")
    for package in ("mimo_audio", "mimo_audio_tokenizer"):
        if not os.path.isdir(os.path.join(args.upstream_src, package)):
            parser.error(f"--upstream-src: no {package}/ in {args.upstream_src}")
    torch.set_num_threads(min(4, torch.get_num_threads()))
    rows = (check_prompts(args) + check_harness(args) + check_language_models(args) + check_codecs(args)
            + check_streaming(args))
    print("| model | configuration | result | agrees |\n|---|---|---|---|")
    for model, name, result, agrees in rows:
        print(f"| {model} | {name} | {result} | {'yes' if agrees else 'NO'} |")
    return 0 if all(row[-1] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
