"""Supervised fine-tuning with TRL's SFTTrainer on conversations (with or without <think> traces); loss on
assistant turns only; LR 5e-5 patch encoder / 1e-5 LLM / 5e-5 patch decoder, cosine (spec B.6).

    python -m training_recipes.sft --config training_recipes/configs/sft.yaml
    python -m training_recipes.sft --config training_recipes/configs/tiny/sft.yaml   # CPU smoke run
    accelerate launch --config_file training_recipes/configs/accelerate/fsdp.yaml \
        -m training_recipes.sft --config training_recipes/configs/sft.yaml
"""

from .run import run_recipe


def main(argv=None) -> int:
    run_recipe("sft", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
