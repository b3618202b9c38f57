"""Miniature MiMo-Audio recipe: a synthetic espeak-ng speech corpus over a small closed vocabulary."""
