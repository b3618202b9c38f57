"""MiMo-Audio for Hugging Face transformers.

``import modeling_mimo_audio`` is the package's one public entry point: it re-exports the
configurations, models, feature extractor and processor, and registers them with the
transformers Auto classes so that ``AutoConfig`` / ``AutoModel...`` / ``AutoProcessor`` /
``AutoFeatureExtractor`` resolve MiMo-Audio folders.
"""

__version__ = "0.1.0"

# --- codec: feature extractor, tokenizer config and model (issue 2) ---

# --- language model (issue 3) ---

# --- processor and pipeline (issue 4) ---

# --- Auto-class registration ---
