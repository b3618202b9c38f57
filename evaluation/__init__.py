"""evaluation for MiMo-Audio."""
