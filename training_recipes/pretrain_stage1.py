"""Pretraining stage 1 (speech understanding): patch encoder + LLM trained, patch decoder frozen and unused,
text loss only (weights 1-0-...-0); LR 2e-4 patch encoder / 3e-5 LLM, constant schedule after 1% warmup (spec B.6).

    python -m training_recipes.pretrain_stage1 --config training_recipes/configs/pretrain_stage1.yaml
    python -m training_recipes.pretrain_stage1 --config training_recipes/configs/tiny/pretrain_stage1.yaml   # CPU smoke run
    accelerate launch --config_file training_recipes/configs/accelerate/fsdp.yaml \
        -m training_recipes.pretrain_stage1 --config training_recipes/configs/pretrain_stage1.yaml
"""

from .run import run_recipe


def main(argv=None) -> int:
    run_recipe("pretrain_stage1", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
