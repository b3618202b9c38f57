"""Speech-generation throughput of MiMoAudioForConditionalGeneration (and, optionally, upstream's class).

Every generated position is forced to `<|empty|>` (a logits processor), so each step runs the backbone once and the
patch decoder's 11-step delayed loop once: the cost of speech generation. One patch is 4 frames at 25 Hz = 0.16 s
of audio. We report

* positions/s = batch * new positions / wall time,
* real-time factor (RTF) = wall time / (batch * new positions * 0.16 s); below 1 is faster than real time,
* ms per position (one patch per row), operators per patch (ATen operators dispatched per generated position at
  batch 1, views excluded, counted by `benchmarks/op_count.py` for ours and upstream alike) and the first call's
  time (compilation included for the compiled mode),
* with `--first-audio tiny|7b`, the time to the first audio chunk out of `MiMoAudioStreamer` (ours only: upstream
  does not stream audio).

The compiled mode is `cache_implementation="static"` with `torch.compile(fullgraph=True)` (on CPU through
`compile_config`; on CUDA `generate`'s default `mode="reduce-overhead"`, CUDA graphs). Each run ends with the ratios
of ours to upstream (time and operators per patch).

Configurations: `fixture` (the tiny upstream fixture config, random weights) on CPU always; with CUDA also `7b`
(MiMo-Audio-7B: 36 x 4096 Qwen2 backbone, 6-layer patch encoder, 16-layer patch decoder; random bf16 weights), in
`eager` (dynamic cache) and `compiled` (static caches + torch.compile) modes, at batch 1, 8 and 32.

`--upstream-src DIR` (a checkout of XiaomiMiMo/MiMo-Audio) adds upstream's `MiMoAudioForCausalLM` on the same
weights, at batch 1 only (upstream generates one sequence at a time). Upstream needs transformers 4.49, so it runs
in a subprocess with `--upstream-python` (a Python whose environment has transformers==4.49 and torch); its code is
imported from DIR at run time, never copied here.

Usage:
    python benchmarks/generate.py                       # CPU: fixture config
    python benchmarks/generate.py --configs fixture 7b  # on a CUDA machine
    python benchmarks/generate.py --upstream-src ~/MiMo-Audio --upstream-python ~/venv449/bin/python
Results are printed and appended to benchmarks/RESULTS.md (`--no-append` to skip).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import torch


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from transformers import LogitsProcessor, LogitsProcessorList  # noqa: E402

from modeling_mimo_audio import MiMoAudioConfig, MiMoAudioForConditionalGeneration  # noqa: E402
from op_count import operators_per_position  # noqa: E402  (benchmarks/op_count.py)


SECONDS_PER_PATCH = 0.16
EMPTY_TOKEN_ID = 1000
FIXTURE_DIR = os.path.join(ROOT, "tests", "fixtures", "upstream_tiny", "lm")

# MiMo-Audio-7B (spec A.2 / B.2); the empty id is arbitrary for random weights.
CONFIG_7B = dict(
    vocab_size=151680, hidden_size=4096, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=32,
    num_key_value_heads=8, head_dim=128, rope_theta=640000.0, rms_norm_eps=1e-6, max_position_embeddings=8192,
    local_dim=1024, local_layers=16, local_attn_heads=64, local_ffn_dim=4096, input_local_dim=1024,
    input_local_layers=6, input_full_attention=True, empty_token_id=151667, tie_word_embeddings=False,
)


class ForceToken(LogitsProcessor):
    def __init__(self, token_id):
        self.token_id = token_id

    def __call__(self, input_ids, scores):
        forced = torch.full_like(scores, -float("inf"))
        forced[:, self.token_id] = 0.0
        return forced


def build_config(name):
    if name == "fixture":
        return MiMoAudioConfig.from_pretrained(FIXTURE_DIR, empty_token_id=EMPTY_TOKEN_ID)
    if name == "7b":
        return MiMoAudioConfig(**CONFIG_7B)
    raise ValueError(f"unknown config {name!r}; expected 'fixture' or '7b'")


def build_model(config, device, dtype, seed=0):
    torch.manual_seed(seed)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = MiMoAudioForConditionalGeneration(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()


def make_prompt(config, batch, positions, device, seed=0):
    """A text + audio prompt: half text tokens, then `<|empty|>` positions holding random patches."""
    generator = torch.Generator().manual_seed(seed)
    text_positions = positions // 2
    input_ids = torch.randint(0, min(config.vocab_size, EMPTY_TOKEN_ID), (batch, positions), generator=generator)
    input_ids[:, text_positions:] = config.empty_token_id
    empty = torch.tensor(config.speech_empty_ids)
    audio_codes = empty.view(1, 1, 1, -1).repeat(batch, positions, config.patch_size, 1)
    for c, size in enumerate(config.speech_vocab_sizes):
        audio_codes[:, text_positions:, :, c] = torch.randint(
            0, size - 1, (batch, positions - text_positions, config.patch_size), generator=generator
        )
    return input_ids.to(device), audio_codes.to(device)


def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def mode_kwargs(mode: str, device) -> dict:
    """`generate` kwargs of a benchmark mode. Eager is eager on CUDA too (where `generate` would otherwise take the
    compiled path by itself); compiled is static caches + `torch.compile(fullgraph=True)` (on CUDA `generate`'s own
    `mode="reduce-overhead"`)."""
    if mode != "compiled":
        return {"cache_implementation": "dynamic"}
    if torch.device(device).type == "cuda":
        return {"cache_implementation": "static"}
    from transformers import CompileConfig

    return {"cache_implementation": "static", "compile_config": CompileConfig(fullgraph=True, dynamic=False, mode=None)}


def time_ours(model, config, batch, prompt_positions, new_positions, mode, device, repeats):
    """`{"seconds": best wall time of `repeats`, "warmup_s": the first call (compilation included), "ops": operators
    per position (batch 1 only)}` of all-speech greedy generation."""
    input_ids, audio_codes = make_prompt(config, batch, prompt_positions, device)
    kwargs = dict(logits_processor=LogitsProcessorList([ForceToken(config.empty_token_id)]), do_sample=False,
                  audio_do_sample=False, **mode_kwargs(mode, device))

    def generate(n):
        return model.generate(input_ids, audio_codes, max_new_tokens=n, **kwargs)

    synchronize(device)
    start = time.perf_counter()
    generate(new_positions)  # warm-up at the timed length (compiled graphs are specialised on shapes)
    synchronize(device)
    warmup = time.perf_counter() - start
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        out = generate(new_positions)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    assert out.sequences.shape == (batch, prompt_positions + new_positions)
    ops = operators_per_position(generate, new_positions) if batch == 1 and mode == "eager" else None
    return {"seconds": best, "warmup_s": warmup, "ops": ops}


# Runs in the upstream environment (transformers 4.49). It only imports upstream's module from --upstream-src.
UPSTREAM_RUNNER = r"""
import json, sys, time, torch
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"])
sys.path.insert(0, args["src"])
from transformers import GenerationConfig
from mimo_audio.modeling_mimo_audio import MiMoAudioArguments, MiMoAudioForCausalLM

class AlwaysEmpty:
    def sample(self, scores, removed_tokens=None):
        return torch.full(scores.shape[:1], args["empty"], dtype=torch.long, device=scores.device)

class GreedyLocal:
    def sample(self, scores, removed_tokens=None):
        scores = scores.clone()
        for t in removed_tokens or []:
            scores[:, t] = float("-inf")
        return scores.argmax(-1)

ids = {"sosp_idx": 1, "eosp_idx": 2, "sostm_idx": 3, "eostm_idx": 4, "eot_idx": 5, "empty_idx": args["empty"]}
dtype = getattr(torch, args["dtype"])
model = MiMoAudioForCausalLM.from_pretrained(args["weights"], args=MiMoAudioArguments(model_name_or_path=args["weights"], **ids),
                                             torch_dtype=dtype).to(args["device"]).eval()
prompt = torch.load(args["prompt"]).to(args["device"])  # [9, 4 * positions]
flat = prompt.T.reshape(1, -1)
positions = prompt.shape[1] // 4
config = GenerationConfig(max_length=positions + args["new"])
def run(new):
    return model.generate(flat, GenerationConfig(max_length=positions + new), global_sampler=AlwaysEmpty(), local_sampler=GreedyLocal())
start = time.perf_counter(); run(args["new"]); warmup = time.perf_counter() - start
best = float("inf")
for _ in range(args["repeats"]):
    if args["device"].startswith("cuda"): torch.cuda.synchronize()
    start = time.perf_counter(); out = run(args["new"])
    if args["device"].startswith("cuda"): torch.cuda.synchronize()
    best = min(best, time.perf_counter() - start)
sys.path.insert(0, args["bench"])
from op_count import operators_per_position
ops = operators_per_position(run, args["new"])
print(json.dumps({"seconds": best, "warmup_s": warmup, "ops": ops, "columns": out.shape[1]}))
"""


def upstream_config_dict(config):
    """Our config as upstream's `config.json` (model_type qwen2, dash-separated strings)."""
    dash = lambda values: "-".join(str(int(v)) for v in values)  # noqa: E731
    return {
        "architectures": ["MiMoAudioForCausalLM"], "model_type": "qwen2", "vocab_size": config.vocab_size,
        "hidden_size": config.hidden_size, "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_hidden_layers, "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads, "head_dim": config.head_dim,
        "hidden_act": config.hidden_act, "max_position_embeddings": config.max_position_embeddings,
        "rms_norm_eps": config.rms_norm_eps, "rope_theta": config.rope_parameters["rope_theta"],
        "tie_word_embeddings": False, "use_sliding_window": False, "sliding_window": 4096,
        "attention_dropout": 0.0, "initializer_range": config.initializer_range,
        "speech_vocab_size": dash(config.speech_vocab_sizes), "speech_zeroemb_idx": dash(config.speech_empty_ids),
        "delay_pattern": dash(config.delay_pattern), "group_size": config.patch_size,
        "audio_channels": config.num_codebooks, "local_dim": config.local_dim, "local_layers": config.local_layers,
        "local_attn_heads": config.local_attn_heads, "local_ffn_dim": config.local_ffn_dim,
        "local_attn_dropout": config.local_attn_dropout, "input_local_layers": config.input_local_layers,
        "input_local_dim": config.input_local_dim, "input_full_attention": config.input_full_attention,
    }


def time_upstream(model, config, args, prompt_positions, new_positions, device, dtype):
    from safetensors.torch import save_file

    from modeling_mimo_audio import patches_to_interleaved

    with tempfile.TemporaryDirectory() as folder:
        state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items() if not k.startswith("_")}
        save_file(state, os.path.join(folder, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(upstream_config_dict(config), f)
        input_ids, audio_codes = make_prompt(config, 1, prompt_positions, "cpu")
        torch.save(patches_to_interleaved(input_ids, audio_codes)[0], os.path.join(folder, "prompt.pt"))
        runner_args = dict(src=args.upstream_src, weights=folder, prompt=os.path.join(folder, "prompt.pt"),
                           new=new_positions, empty=config.empty_token_id, device=str(device),
                           dtype=str(dtype).replace("torch.", ""), repeats=args.repeats,
                           threads=torch.get_num_threads(), bench=os.path.join(ROOT, "benchmarks"))
        result = subprocess.run([args.upstream_python, "-c", UPSTREAM_RUNNER, json.dumps(runner_args)],
                                capture_output=True, text=True)
    if result.returncode != 0:
        print(f"upstream run failed:\n{result.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cuda = torch.cuda.is_available()
    parser.add_argument("--configs", nargs="+", default=["fixture", "7b"] if cuda else ["fixture"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8, 32])
    parser.add_argument("--modes", nargs="+", default=["eager", "compiled"] if cuda else ["eager"],
                        choices=["eager", "compiled"])
    parser.add_argument("--prompt-positions", type=int, default=16)
    parser.add_argument("--new-positions", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--upstream-src", help="path to XiaomiMiMo/MiMo-Audio's src/ (or the checkout)")
    parser.add_argument("--upstream-python", default=sys.executable,
                        help="Python interpreter of an environment with transformers==4.49 for upstream")
    parser.add_argument("--threads", type=int, help="torch CPU threads (both implementations)")
    parser.add_argument("--results", default=os.path.join(ROOT, "benchmarks", "RESULTS.md"))
    parser.add_argument("--no-append", action="store_true")
    parser.add_argument("--warmup-s", type=float, default=20.0,
                        help="seconds of untimed generation before the first timed row")
    parser.add_argument("--first-audio", metavar="CONFIG", choices=["tiny", "7b"],
                        help="also time the first streamed audio chunk with this LM (tiny on CPU, 7b on CUDA)")
    args = parser.parse_args(argv)
    if args.upstream_src and os.path.isdir(os.path.join(args.upstream_src, "src")):
        args.upstream_src = os.path.join(args.upstream_src, "src")

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if cuda else "cpu")
    device_name = torch.cuda.get_device_name() if cuda else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    rows = []
    print("\n".join(TABLE_HEADER), flush=True)
    for index, config_name in enumerate(args.configs):
        config = build_config(config_name)
        dtype = torch.bfloat16 if config_name == "7b" else torch.float32
        model = build_model(config, device, dtype)
        if index == 0:
            # The machine's first seconds of work run slower (measured here: the first batch-1 row ~1.8x slower
            # than the same row a minute later), so the first timed row would not compare with the rest.
            warm_until = time.perf_counter() + args.warmup_s
            while time.perf_counter() < warm_until:
                time_ours(model, config, 1, args.prompt_positions, args.new_positions, "eager", device, 1)
        for mode in args.modes:
            for batch in args.batch_sizes:
                result = time_ours(model, config, batch, args.prompt_positions, args.new_positions, mode, device,
                                   args.repeats)
                rows.append({"config": config_name, "dtype": str(dtype).replace("torch.", ""),
                             "implementation": f"ours ({mode})", "batch": batch, **result})
                print(format_row(rows[-1], args.new_positions), flush=True)
        if args.upstream_src:
            result = time_upstream(model, config, args, args.prompt_positions, args.new_positions, device, dtype)
            if result is not None:
                rows.append({"config": config_name, "dtype": str(dtype).replace("torch.", ""),
                             "implementation": "upstream", "batch": 1, **result})
                print(format_row(rows[-1], args.new_positions), flush=True)
        del model
    summary = compare_with_upstream(rows)
    for line in summary:
        print(line)
    first_audio = first_audio_table(args.first_audio, args.modes) if args.first_audio else None
    if first_audio:
        print(first_audio)
    if not args.no_append:
        append_results(args, rows, device_name, summary, first_audio)


def compare_with_upstream(rows) -> list[str]:
    """Lines comparing each batch-1 row of ours with upstream's row of the same config (time and operators)."""
    lines = []
    for upstream in (r for r in rows if r["implementation"] == "upstream"):
        for row in rows:
            if row["config"] != upstream["config"] or row["batch"] != 1 or row is upstream:
                continue
            text = f"{row['config']} {row['implementation']} / upstream: time {row['seconds'] / upstream['seconds']:.2f}x"
            if row.get("ops") and upstream.get("ops"):
                text += f", operators per patch {row['ops'] / upstream['ops']:.2f}x"
            lines.append(text)
    return lines


def first_audio_table(config_name: str, modes) -> str:
    """A markdown table of the time from calling `generate` to the first audio chunk out of `MiMoAudioStreamer`
    (batch 1, every position a patch, `chunk_frames` 8 and a 40-frame lookahead, so the first chunk needs 12
    patches and one streaming decode), per mode. `config_name`: "tiny" (the tiny model set with its codec) or "7b"
    (random bf16 7B LM and a full-size codec). Upstream has no streaming output, so it has no row."""
    import threading
    import types

    from modeling_mimo_audio import MiMoAudioStreamer, MiMoAudioTokenizerConfig, MiMoAudioTokenizerModel
    from modeling_mimo_audio.tiny import build_tiny_model_set
    from processing.tokenization_mimo_audio import build_tiny_tokenizer

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.bfloat16 if cuda and config_name != "tiny" else torch.float32
    if config_name == "tiny":
        model, processor = build_tiny_model_set()
        codec, special, tokenizer = processor.audio_tokenizer, processor.special_ids, processor.tokenizer
    else:
        config = build_config(config_name)
        model = build_model(config, device, dtype)
        torch.manual_seed(0)
        codec = MiMoAudioTokenizerModel(MiMoAudioTokenizerConfig()).to(device, dtype).eval()
        # Random weights and no tokenizer of this vocabulary: the streamer only needs the span ids (unused ids above
        # the empty token) and a tokenizer for text, of which all-speech generation has none.
        empty = config.empty_token_id
        special = {"empty": empty, "sosp": empty + 1, "eosp": empty + 2, "sostm": empty + 3, "eostm": empty + 4,
                   "eot": empty + 5, "im_start": empty + 6, "im_end": empty + 7}
        tokenizer = build_tiny_tokenizer()
    model.to(device)
    codec.to(device)
    processor_view = types.SimpleNamespace(tokenizer=tokenizer, special_ids=special, audio_tokenizer=codec,
                                           speech_empty_ids=list(model.config.speech_empty_ids))
    prompt = torch.tensor([[5, 6, 7, special["sostm"]]], device=device)
    forcing = LogitsProcessorList([ForceToken(special["empty"])])
    rows = []
    for mode in modes:
        kwargs = mode_kwargs(mode, device)
        for _attempt in ("warm-up", "timed"):
            streamer = MiMoAudioStreamer(processor_view, chunk_frames=8, lookahead_frames=40)
            first = {}
            started = time.perf_counter()

            def watch(s=streamer, first=first, started=started):
                for chunk in s:
                    if chunk.audio.size and "t" not in first:
                        first["t"] = time.perf_counter() - started

            watcher = threading.Thread(target=watch)
            watcher.start()
            model.generate(prompt, streamer=streamer, logits_processor=forcing, max_new_tokens=16, do_sample=False,
                           audio_do_sample=False, **kwargs)
            total = time.perf_counter() - started
            watcher.join()
        rows.append(f"| {config_name} | {mode} | {first.get('t', float('nan')) * 1000:.0f} | {total:.2f} |")
    header = ["| LM | mode | first audio (ms) | 16 patches in all (s) |", "|---|---|---|---|"]
    return "\n".join(header + rows)


TABLE_HEADER = ["| config | dtype | implementation | batch | ms / position | positions/s | RTF | operators / patch | "
                "first call (s) |", "|---|---|---|---|---|---|---|---|---|"]


def format_row(row, new_positions):
    """One table row; a position is one patch per batch row (RTF = wall time / audio seconds)."""
    seconds, batch = row["seconds"], row["batch"]
    ops = f"{row['ops']:.0f}" if row.get("ops") else ""
    return (f"| {row['config']} | {row['dtype']} | {row['implementation']} | {batch} | "
            f"{seconds / new_positions * 1000:.2f} | {batch * new_positions / seconds:.1f} | "
            f"{seconds / (batch * new_positions * SECONDS_PER_PATCH):.3f} | {ops} | {row['warmup_s']:.1f} |")


def append_results(args, rows, device_name, summary, first_audio):
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "",
        f"## generate: speech generation throughput ({today}, {device_name}, torch {torch.__version__})",
        "",
        f"`python benchmarks/generate.py {' '.join(sys.argv[1:])}`".rstrip() + f" — prompt {args.prompt_positions} "
        f"positions, {args.new_positions} new positions, every one a patch (forced `<|empty|>`), greedy, best of "
        f"{args.repeats}. RTF = wall time / (batch x new positions x 0.16 s). Operators: ATen operators dispatched "
        "per generated position at batch 1, views excluded (`benchmarks/op_count.py`, same counter for both). "
        "First call: the warm-up call at the timed length (compilation included).",
        "",
        *TABLE_HEADER,
        *[format_row(row, args.new_positions) for row in rows],
        "",
        *[f"- {line}" for line in summary],
    ]
    if first_audio:
        lines += ["", "Time to first audio (`MiMoAudioStreamer`):", "", first_audio]
    with open(args.results, "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {args.results}")


if __name__ == "__main__":
    main()
