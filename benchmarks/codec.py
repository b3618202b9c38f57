"""Speed of the MiMo-Audio codec: encode and decode as multiples of real time.

    python benchmarks/codec.py                      # CPU: fixture-size model; GPU too when CUDA is available
    python benchmarks/codec.py --full-cpu           # also the full-size model on CPU (short clip, batch 1)
    python benchmarks/codec.py --no-save            # print only

Cases:
- "fixture": the upstream-tiny parity checkpoint's config (tests/fixtures/upstream_tiny/tokenizer), float32.
- "full": the released tokenizer's config (d_model 1280, 32 encoder + 32 decoder layers, vocoder 256 x 16,
  20 codebooks; `MiMoAudioTokenizerConfig()` defaults) with random weights; bfloat16 on GPU, float32 on CPU.

"x real time" = seconds of audio processed per second of wall time (batch x clip length / time), so higher is
faster. Encode time covers `encode` from ready log-mels (feature extraction is timed separately); decode time
covers `decode` of 8-codebook codes to a waveform. The table is printed and appended, with device and date, to
benchmarks/RESULTS.md.
"""

import argparse
import datetime
import os
import platform
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from modeling_mimo_audio import (  # noqa: E402
    MiMoAudioFeatureExtractor,
    MiMoAudioTokenizerConfig,
    MiMoAudioTokenizerModel,
)

FIXTURE_CONFIG = os.path.join(ROOT, "tests", "fixtures", "upstream_tiny", "tokenizer")


def build_model(case: str, dtype: torch.dtype, device: torch.device) -> MiMoAudioTokenizerModel:
    torch.manual_seed(0)
    if case == "fixture":
        config = MiMoAudioTokenizerConfig.from_pretrained(FIXTURE_CONFIG)
    else:
        config = MiMoAudioTokenizerConfig()
    with torch.device(device):
        model = MiMoAudioTokenizerModel(config)
    return model.to(dtype).eval()


def synchronize(device: torch.device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device, repeats: int) -> float:
    """Median wall time of `repeats` calls after one warm-up call."""
    fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def bench_case(case, dtype, device, seconds, batch_sizes, repeats):
    model = build_model(case, dtype, device)
    extractor = MiMoAudioFeatureExtractor.from_tokenizer_config(model.config)
    rows = []
    for batch in batch_sizes:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        generator = torch.Generator().manual_seed(batch)
        samples = int(seconds * model.config.sampling_rate)
        clips = [0.1 * torch.randn(samples, generator=generator) for _ in range(batch)]
        audio_seconds = batch * seconds
        extract = lambda: extractor(clips, sampling_rate=model.config.sampling_rate, device=device)  # noqa: E731
        features_time = timed(extract, device, repeats)
        features = extractor(clips, sampling_rate=model.config.sampling_rate, device=device)
        input_features = features["input_features"].to(dtype)
        encode = lambda: model.encode(input_features, features["attention_mask"], num_quantizers=8)  # noqa: E731
        encode_time = timed(encode, device, repeats)
        codes = encode()
        decode = lambda: model.decode(codes.audio_codes, codes.audio_codes_mask)  # noqa: E731
        decode_time = timed(decode, device, repeats)
        peak = ""
        if device.type == "cuda":
            peak = f"{torch.cuda.max_memory_allocated(device) / 2**30:.1f}"
        rows.append(
            {
                "model": case,
                "device": device.type,
                "dtype": str(dtype).replace("torch.", ""),
                "batch": batch,
                "clip s": f"{seconds:g}",
                "features x RT": f"{audio_seconds / features_time:.0f}",
                "encode x RT": f"{audio_seconds / encode_time:.1f}",
                "decode x RT": f"{audio_seconds / decode_time:.1f}",
                "encode s": f"{encode_time:.3f}",
                "decode s": f"{decode_time:.3f}",
                "peak GiB": peak,
            }
        )
        print(rows[-1], flush=True)
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def markdown(rows) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="clip length for the fixture-size model")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full-cpu", action="store_true", help="also time the full-size model on CPU")
    parser.add_argument("--full-cpu-seconds", type=float, default=2.0)
    parser.add_argument("--gpu-seconds", type=float, default=30.0, help="clip length for the full model on GPU")
    parser.add_argument("--gpu-batch", type=int, default=8, help="the larger GPU batch size")
    parser.add_argument("--no-save", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)

    cpu = torch.device("cpu")
    rows = bench_case("fixture", torch.float32, cpu, args.seconds, [1, 4], args.repeats)
    devices = [cpu]
    if args.full_cpu:
        rows += bench_case("full", torch.float32, cpu, args.full_cpu_seconds, [1], max(1, args.repeats - 2))
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        devices.append(gpu)
        rows += bench_case("fixture", torch.float32, gpu, args.seconds, [1, args.gpu_batch], args.repeats)
        rows += bench_case("full", torch.bfloat16, gpu, args.gpu_seconds, [1, args.gpu_batch], args.repeats)

    table = markdown(rows)
    print(table)
    if not args.no_save:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        described = "; ".join(f"{d.type}: {device_description(d)}" for d in devices)
        header = f"\n## Codec speed (benchmarks/codec.py), {stamp}\n\nDevices: {described}; torch {torch.__version__}; "
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        header += f"CPU load average at the end {load} (other jobs share the machine: CPU timings are noisy); "
        header += "attention: sdpa. x RT = seconds of audio per second of wall time (higher is faster).\n\n"
        with open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), "a", encoding="utf-8") as handle:
            handle.write(header + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
