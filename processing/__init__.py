"""processing for MiMo-Audio."""
