"""Peak memory and time of the audio front end on odd sampling rates and on an hour of audio.

    python benchmarks/audio_memory.py                    # every case
    python benchmarks/audio_memory.py --skip-hour        # only the 2 s resampling cases (seconds)
    python benchmarks/audio_memory.py --with-polyphase   # also the polyphase kernel at odd rates (what
                                                         # torchaudio.functional.resample, and so upstream, does;
                                                         # several GB each)
    python benchmarks/audio_memory.py --no-save          # print only

Each case runs in a fresh Python process; "peak RSS" is that process's maximum resident set size
(`resource.getrusage`), "over imports" subtracts the RSS after importing torch and the package, and "s" is the
wall time of the measured call alone. Goals (issue "Robustness"): a 2 s clip at any integer rate from 8 kHz to
192 kHz <= 0.8 GB and <= 2 s; the feature extractor on 1 h <= 1.5 GB; `mimo-audio codec encode` of 1 h <= 1.5 GB.
The table is printed and appended, with the date and machine, to benchmarks/RESULTS.md.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATES = [8000, 11025, 16000, 16001, 22050, 44100, 44101, 48000, 96000, 192000, 192001]
ODD_RATES = [16001, 44101]

_PROLOGUE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
import numpy as np, torch
torch.set_num_threads(2)
import modeling_mimo_audio
def rss_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
base = rss_gb()
"""

_RESAMPLE = _PROLOGUE + """
from processing import resampling
rate = {rate}
wave = torch.from_numpy(np.random.default_rng(0).standard_normal(2 * rate).astype(np.float32) * 0.1)
start = time.perf_counter()
if {polyphase}:
    orig, new = resampling._reduced(rate, 24000)
    out = resampling._resample_polyphase(wave, orig, new)
else:
    out = resampling.resample_waveform(wave, rate, 24000)
seconds = time.perf_counter() - start
print(json.dumps({{"peak_gb": rss_gb(), "base_gb": base, "seconds": seconds}}))
"""

_FEATURES = _PROLOGUE + """
from modeling_mimo_audio import MiMoAudioFeatureExtractor
wave = np.random.default_rng(0).standard_normal(3600 * 24000, dtype=np.float32)
wave *= 0.1
extractor = MiMoAudioFeatureExtractor()
base = rss_gb()  # imports and the hour of samples itself (345 MB, the input): "over" is the extractor's own cost
start = time.perf_counter()
features = extractor(wave, sampling_rate=24000, return_tensors="pt")
seconds = time.perf_counter() - start
print(json.dumps({{"peak_gb": rss_gb(), "base_gb": base, "seconds": seconds}}))
"""


def _run(code: str) -> dict:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


_CODEC_ENCODE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run([sys.executable, "-m", "modeling_mimo_audio", "codec", "encode", {wav!r}, {codes!r},
                       "--no-progress"], capture_output=True, text=True, cwd={root!r})
seconds = time.perf_counter() - start
if done.returncode != 0:
    raise SystemExit(done.stderr.strip().splitlines()[-1])
print(json.dumps({{"peak_gb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20, "base_gb": None,
                  "seconds": seconds}}))
"""


def _codec_encode_hour() -> dict:
    """`mimo-audio codec encode` (the shipped miniature's codec) on a 1 h wav, measured from a wrapper process whose
    only child is the command: the command's peak RSS (imports included) and its wall time."""
    import numpy as np
    import soundfile as sf

    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "hour.wav")
        wave = np.random.default_rng(0).standard_normal(3600 * 24000, dtype=np.float32)
        wave *= 0.1
        sf.write(wav, wave, 24000)
        del wave
        return _run(_CODEC_ENCODE.format(wav=wav, codes=os.path.join(tmp, "hour.codes.npy"), root=ROOT))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-hour", action="store_true", help="only the 2 s resampling cases")
    parser.add_argument("--with-polyphase", action="store_true", help="also the polyphase kernel at odd rates")
    parser.add_argument("--no-save", action="store_true", help="print only, do not append to RESULTS.md")
    args = parser.parse_args()

    rows = []
    for rate in RATES:
        rows.append((f"resample 2 s, {rate} Hz -> 24 kHz (ours)", _run(_RESAMPLE.format(root=ROOT, rate=rate,
                                                                                      polyphase=False))))
    if args.with_polyphase:
        for rate in ODD_RATES:
            rows.append((f"resample 2 s, {rate} Hz -> 24 kHz (polyphase kernel, torchaudio's method)",
                         _run(_RESAMPLE.format(root=ROOT, rate=rate, polyphase=True))))
    if not args.skip_hour:
        rows.append(("feature extractor, 1 h at 24 kHz", _run(_FEATURES.format(root=ROOT))))
        rows.append(("`mimo-audio codec encode`, 1 h wav (whole process)", _codec_encode_hour()))

    lines = ["| case | peak RSS (GB) | over imports (GB) | s |", "|---|---|---|---|"]
    for name, result in rows:
        if "error" in result:
            lines.append(f"| {name} | error: {result['error']} | | |")
            continue
        over = "" if result["base_gb"] is None else f"{result['peak_gb'] - result['base_gb']:.2f}"
        lines.append(f"| {name} | {result['peak_gb']:.2f} | {over} | {result['seconds']:.2f} |")
    table = "\n".join(lines)
    print(table)
    if not args.no_save:
        header = (f"\n## Audio front end memory ({datetime.date.today()}, {platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} cores)\n\n`python benchmarks/audio_memory.py"
                  f"{' --with-polyphase' if args.with_polyphase else ''}{' --skip-hour' if args.skip_hour else ''}`\n\n")
        with open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), "a", encoding="utf-8") as handle:
            handle.write(header + table + "\n")


if __name__ == "__main__":
    main()
