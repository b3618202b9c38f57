"""training_recipes for MiMo-Audio."""
