"""Speech-generation throughput of MiMoAudioForConditionalGeneration (and, optionally, upstream's class).

Every generated position is forced to `<|empty|>` (a logits processor), so each step runs the backbone once and the
patch decoder's 11-step delayed loop once: the cost of speech generation. One patch is 4 frames at 25 Hz = 0.16 s
of audio. We report

* positions/s = batch * new positions / wall time,
* real-time factor (RTF) = wall time / (batch * new positions * 0.16 s); below 1 is faster than real time.

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

from transformers import LogitsProcessor, LogitsProcessorList  # noqa: E402

from modeling_mimo_audio import MiMoAudioConfig, MiMoAudioForConditionalGeneration  # noqa: E402


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


def time_ours(model, config, batch, prompt_positions, new_positions, mode, device, repeats):
    input_ids, audio_codes = make_prompt(config, batch, prompt_positions, device)
    kwargs = dict(
        max_new_tokens=new_positions,
        logits_processor=LogitsProcessorList([ForceToken(config.empty_token_id)]),
        do_sample=False,
        audio_do_sample=False,
    )
    if mode == "compiled":
        kwargs["cache_implementation"] = "static"
        if torch.device(device).type != "cuda":
            from transformers import CompileConfig

            kwargs["compile_config"] = CompileConfig(fullgraph=False, dynamic=False, mode=None)
    model.generate(input_ids, audio_codes, **{**kwargs, "max_new_tokens": min(new_positions, 4)})  # warm-up
    if mode == "compiled":  # compiled graphs are specialised on shapes: warm up at the timed length too
        model.generate(input_ids, audio_codes, **kwargs)
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        out = model.generate(input_ids, audio_codes, **kwargs)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    assert out.sequences.shape == (batch, prompt_positions + new_positions)
    return best


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
run(min(args["new"], 4))
best = float("inf")
for _ in range(args["repeats"]):
    if args["device"].startswith("cuda"): torch.cuda.synchronize()
    start = time.perf_counter(); out = run(args["new"])
    if args["device"].startswith("cuda"): torch.cuda.synchronize()
    best = min(best, time.perf_counter() - start)
print(json.dumps({"seconds": best, "columns": out.shape[1]}))
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
                           threads=torch.get_num_threads())
        result = subprocess.run([args.upstream_python, "-c", UPSTREAM_RUNNER, json.dumps(runner_args)],
                                capture_output=True, text=True)
    if result.returncode != 0:
        print(f"upstream run failed:\n{result.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


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
    args = parser.parse_args(argv)
    if args.upstream_src and os.path.isdir(os.path.join(args.upstream_src, "src")):
        args.upstream_src = os.path.join(args.upstream_src, "src")

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if cuda else "cpu")
    device_name = torch.cuda.get_device_name() if cuda else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    rows = []
    for config_name in args.configs:
        config = build_config(config_name)
        dtype = torch.bfloat16 if config_name == "7b" else torch.float32
        model = build_model(config, device, dtype)
        for mode in args.modes:
            for batch in args.batch_sizes:
                seconds = time_ours(model, config, batch, args.prompt_positions, args.new_positions, mode, device,
                                    args.repeats)
                rows.append((config_name, str(dtype).replace("torch.", ""), f"ours ({mode})", batch, seconds))
                print(format_row(rows[-1], args.new_positions), flush=True)
        if args.upstream_src:
            seconds = time_upstream(model, config, args, args.prompt_positions, args.new_positions, device, dtype)
            if seconds is not None:
                rows.append((config_name, str(dtype).replace("torch.", ""), "upstream", 1, seconds))
                print(format_row(rows[-1], args.new_positions), flush=True)
        del model
    if not args.no_append:
        append_results(args, rows, device_name)


def format_row(row, new_positions):
    config_name, dtype, implementation, batch, seconds = row
    positions_per_second = batch * new_positions / seconds
    rtf = seconds / (batch * new_positions * SECONDS_PER_PATCH)
    return f"| {config_name} | {dtype} | {implementation} | {batch} | {positions_per_second:.1f} | {rtf:.3f} | {seconds:.2f} |"


def append_results(args, rows, device_name):
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "",
        f"## generate: speech generation throughput ({today}, {device_name}, torch {torch.__version__})",
        "",
        f"`python benchmarks/generate.py {' '.join(sys.argv[1:])}`".rstrip() + f" — prompt {args.prompt_positions} "
        f"positions, {args.new_positions} new positions, every one a patch (forced `<|empty|>`), greedy, best of "
        f"{args.repeats}. RTF = wall time / (batch x new positions x 0.16 s).",
        "",
        "| config | dtype | implementation | batch | positions/s | RTF | seconds |",
        "|---|---|---|---|---|---|---|",
        *[format_row(row, args.new_positions) for row in rows],
    ]
    with open(args.results, "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"appended to {args.results}")


if __name__ == "__main__":
    main()
