"""Training-step throughput and peak memory: one LoRA SFT step and one full stage-2 step.

    python benchmarks/train_step.py                 # CUDA: reduced-depth, 7B-width model in bf16; appends to RESULTS.md
    python benchmarks/train_step.py --tiny          # CPU smoke mode: tiny random model, prints only

The GPU model has MiMo-Audio-7B's widths (d 4096, 32/8 heads, FFN 11008, vocab 151680; patch encoder 6 x 1024,
patch decoder 16 x 1024) and `--layers` backbone layers (default 4 of 36), random weights. A step is forward with
labels, backward and an AdamW update with the recipe's parameter groups; tokens/s counts LLM positions (1 position =
1 text token or 1 patch of 4 audio frames). The first `--warmup` steps are not timed.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from training_recipes.collator import MiMoAudioDataCollator  # noqa: E402
from training_recipes.formats import SequenceBuilder, SpecialTokenIds  # noqa: E402
from training_recipes.optim import build_param_groups  # noqa: E402


RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def reduced_7b_model(layers: int):
    from modeling_mimo_audio import MiMoAudioConfig, MiMoAudioForConditionalGeneration

    vocab = 151680
    config = MiMoAudioConfig(
        vocab_size=vocab, hidden_size=4096, intermediate_size=11008, num_hidden_layers=layers,
        num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192,
        rope_parameters={"rope_type": "default", "rope_theta": 640000.0}, rms_norm_eps=1e-6,
        tie_word_embeddings=False, local_attn_dropout=0.0,
        empty_token_id=vocab - 8, sosp_token_id=vocab - 7, eosp_token_id=vocab - 6, sostm_token_id=vocab - 5,
        eostm_token_id=vocab - 4, eot_token_id=vocab - 3, attn_implementation="sdpa",
    )
    return MiMoAudioForConditionalGeneration(config)


def tiny_model():
    from modeling_mimo_audio.tiny import build_tiny_model_set

    return build_tiny_model_set(seed=0)[0]


def synthetic_batch(config, batch_size: int, length: int, prompt_fraction: float, seed: int = 0):
    """Interleaved text (20 tokens) and audio segments (40 frames), cut to `length` positions; the first
    `prompt_fraction` of every row is masked like an SFT prompt."""
    generator = torch.Generator().manual_seed(seed)
    special = SpecialTokenIds.from_config(config)
    empty_ids = torch.tensor(config.speech_empty_ids)
    examples = []
    for _ in range(batch_size):
        builder = SequenceBuilder(special)
        while len(builder.layout) < length:
            builder.text(torch.randint(0, special.empty - 16, (20,), generator=generator).tolist())
            codes = (torch.rand(8, 40, generator=generator) * empty_ids[:, None]).long()
            builder.audio(codes)
        example = builder.build()
        masked = int(prompt_fraction * length)
        example["input_ids"] = example["input_ids"][:length]
        example["labels"] = [-100] * masked + example["labels"][masked:length]
        kept = example["input_ids"].count(special.empty)
        example["audio_patches"] = example["audio_patches"][: 32 * kept]
        examples.append(example)
    return MiMoAudioDataCollator(special, pad_token_id=0)(examples)


def build_on(build, device, dtype):
    """Initialises the model directly on `device` in `dtype` (no multi-GB float32 copy on the CPU first)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with device:
            model = build()
    finally:
        torch.set_default_dtype(previous)
    return model.to(device=device, dtype=dtype).train()


def time_steps(model, optimizer, batch, steps: int, warmup: int, device) -> tuple[float, float, float]:
    batch = {k: v.to(device) for k, v in batch.items()}
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    elapsed, loss = 0.0, float("nan")
    for step in range(warmup + steps):
        start = time.perf_counter()
        output = model(**batch, use_cache=False, logits_to_keep=1)  # as the recipes' trainer
        output.loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            elapsed += time.perf_counter() - start
        loss = float(output.loss.detach())
    tokens = batch["input_ids"].numel() * steps
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    return tokens / elapsed, peak, loss


def run(args) -> list[dict]:
    from training_recipes.peft_utils import apply_lora

    device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    build = tiny_model if args.tiny else (lambda: reduced_7b_model(args.layers))
    rows = []

    # LoRA SFT step: adapters on the backbone projections, prompt half masked.
    torch.manual_seed(0)
    model = build_on(build, device, dtype)
    model = apply_lora(model, r=16, alpha=32, dropout=0.0)
    optimizer = torch.optim.AdamW(build_param_groups(model, {"llm": 2e-4}, 0.0), betas=(0.9, 0.95))
    batch = synthetic_batch(model.config, args.batch_size, args.length, prompt_fraction=0.5)
    tps, peak, loss = time_steps(model, optimizer, batch, args.steps, args.warmup, device)
    rows.append({"step": "LoRA SFT (r=16, backbone)", "tokens_per_s": tps, "peak_gib": peak, "loss": loss,
                 "parameters": sum(p.numel() for p in model.parameters())})
    del model, optimizer
    if device.type == "cuda":
        torch.cuda.empty_cache()

    # Full stage-2 step: everything trained, the recipe's per-module learning rates.
    torch.manual_seed(0)
    model = build_on(build, device, dtype)
    groups = build_param_groups(model, {"patch_encoder": 2e-4, "llm": 3e-5, "patch_decoder": 2e-4}, 0.1)
    optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.95))
    batch = synthetic_batch(model.config, args.batch_size, args.length, prompt_fraction=0.0)
    tps, peak, loss = time_steps(model, optimizer, batch, args.steps, args.warmup, device)
    rows.append({"step": "full stage 2", "tokens_per_s": tps, "peak_gib": peak, "loss": loss,
                 "parameters": sum(p.numel() for p in model.parameters())})
    return rows, device


# Dense bf16 peak of the GPUs this may run on (vendor data sheets), for MFU.
_PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "L4": 121e12}


def _peak_bf16_flops(device_name: str) -> float | None:
    for key, flops in _PEAK_BF16_FLOPS.items():
        if key in device_name:
            return flops
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny random model on CPU (smoke mode, prints only)")
    parser.add_argument("--layers", type=int, default=4, help="backbone layers of the 7B-width model")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--length", type=int, default=None, help="positions per row (default 4096 GPU / 64 tiny)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--no-save", action="store_true", help="print only (`benchmarks/gpu.py` collects the table)")
    args = parser.parse_args(argv)
    args.length = args.length or (64 if args.tiny else 4096)
    if not args.tiny and not torch.cuda.is_available():
        print("CUDA is not available: use --tiny for the CPU smoke mode", file=sys.stderr)
        return 2
    rows, device = run(args)
    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or platform.machine()
    model = "tiny random model" if args.tiny else f"7B widths, {args.layers} backbone layers, bf16, sdpa"
    lines = [
        f"\n## Training step ({name}, torch {torch.__version__})\n",
        f"`python benchmarks/train_step.py{' --tiny' if args.tiny else f' --layers {args.layers}'} --batch-size "
        f"{args.batch_size} --length {args.length}`: {model}; batch {args.batch_size} x {args.length} positions; "
        f"mean of {args.steps} timed steps after {args.warmup} warmup step(s); forward + backward + AdamW.\n",
        "| step | tokens/s | MFU | peak GPU memory (GiB) | loss |",
        "|---|---|---|---|---|",
    ]
    peak_flops = _peak_bf16_flops(name) if device.type == "cuda" else None
    for r in rows:
        peak = "n/a (CPU)" if device.type != "cuda" else f"{r['peak_gib']:.1f}"
        # 6 * parameters * tokens/s (forward + backward); for LoRA, whose frozen weights get no weight gradients, an
        # upper bound of the work done.
        mfu = "n/a" if peak_flops is None else f"{6 * r['parameters'] * r['tokens_per_s'] / peak_flops:.1%}"
        lines.append(f"| {r['step']} | {r['tokens_per_s']:,.0f} | {mfu} | {peak} | {r['loss']:.3f} |")
    print("\n".join(lines))
    if device.type == "cuda" and not args.no_save:
        with open(RESULTS, "a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
