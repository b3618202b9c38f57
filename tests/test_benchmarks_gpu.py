"""`benchmarks/gpu.py --dry-run`: every step of the GPU suite runs on CPU with tiny configs (the GPU numbers come
from running it on a GPU; this keeps the script working)."""

import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_gpu_suite_dry_run_runs_every_step():
    done = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "benchmarks", "gpu.py"), "--dry-run"],
                          capture_output=True, text=True, timeout=600, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for step in ("generate", "first audio", "codec", "training step"):
        assert f"[gpu.py] {step}: ok" in done.stdout
    assert "| tiny | eager |" in done.stdout  # the first-audio row
    assert "LoRA SFT" in done.stdout and "full stage 2" in done.stdout
