"""LoRA (PEFT) fine-tuning, QLoRA with bitsandbytes 4-bit on a GPU (lora.qlora: true); adapters on the backbone
by default (lora.groups adds the patch modules); lora.merge_after_training writes a standalone merged checkpoint.

    python -m training_recipes.lora --config training_recipes/configs/lora.yaml
    python -m training_recipes.lora --config training_recipes/configs/tiny/lora.yaml   # CPU smoke run
    accelerate launch --config_file training_recipes/configs/accelerate/fsdp.yaml \
        -m training_recipes.lora --config training_recipes/configs/lora.yaml
"""

from .run import run_recipe


def main(argv=None) -> int:
    run_recipe("lora", argv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
