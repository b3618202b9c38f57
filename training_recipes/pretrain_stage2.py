"""Pretraining stage 2 (joint understanding + generation): everything trained, loss weights
100-12-8-6-4-2-2-1-1; LR 2e-4 patch encoder and decoder / 3e-5 LLM, cosine after 1% warmup (spec B.6).

    python -m training_recipes.pretrain_stage2 --config training_recipes/configs/pretrain_stage2.yaml
    python -m training_recipes.pretrain_stage2 --config training_recipes/configs/tiny/pretrain_stage2.yaml   # CPU smoke run
    accelerate launch --config_file training_recipes/configs/accelerate/fsdp.yaml \
        -m training_recipes.pretrain_stage2 --config training_recipes/configs/pretrain_stage2.yaml
"""

from .run import run_recipe


def main(argv=None) -> int:
    run_recipe("pretrain_stage2", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
