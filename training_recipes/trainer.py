"""`transformers.Trainer` / TRL `SFTTrainer` subclasses for MiMo-Audio.

What they add to the stock trainers:

- `create_optimizer` builds one optimizer group per module (`patch_encoder`, `llm`, `patch_decoder`) with its own
  learning rate (spec B.6); the LR scheduler scales every group by the same factor, so the ratios hold all along.
- `compute_loss` uses the model's own loss (text + weighted per-channel audio loss, spec B.4) and keeps the text
  loss and each channel's audio loss, which `log` reports as `text_loss` and `audio_loss_c0` ... `audio_loss_c7`
  (averaged over the steps since the last log, and over processes).
"""

from __future__ import annotations

import functools

import torch
from transformers import Trainer

from .optim import build_param_groups, unwrap_model


__all__ = ["MiMoAudioTrainer", "MiMoAudioSFTTrainer", "MiMoAudioTrainerMixin"]


class MiMoAudioTrainerMixin:
    """Shared by [`MiMoAudioTrainer`] and [`MiMoAudioSFTTrainer`].

    Args:
        learning_rates (`dict[str, float]`): per-module rates, keys among `patch_encoder`, `llm`, `patch_decoder`.
            `args.learning_rate` is unused when given.
    """

    def __init__(self, *args, learning_rates: dict[str, float] | None = None, **kwargs):
        self.learning_rates = dict(learning_rates or {})
        super().__init__(*args, **kwargs)
        # The model's forward takes **kwargs for attention backends; the Trainer would read that as accepting
        # `num_items_in_batch`, which the model does not use (its loss is a per-stream mean, spec B.4).
        self.model_accepts_loss_kwargs = False
        self._stream_loss_sum = None
        self._stream_loss_steps = 0
        self._step_group_lrs = {}

    def create_optimizer(self, model=None):
        opt_model = self.model if model is None else model
        if self.optimizer is None and self.learning_rates:
            groups = build_param_groups(opt_model, self.learning_rates, self.args.weight_decay,
                                        set(self.get_decay_parameter_names(opt_model)))
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, opt_model)
            optimizer_kwargs.pop("lr", None)  # every group carries its own
            self.optimizer = optimizer_cls(groups, **optimizer_kwargs)
            return self.optimizer
        return super().create_optimizer(model)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        # Without a cache the backbone builds its mask from `position_ids` when there is no 2-D mask: packed rows
        # (positions restarting per document) then get a block-diagonal mask. A cache would disable that.
        # The loss reads the hidden states; full-vocabulary logits of every position would only cost memory
        # (151680 x positions), so training keeps the last position's.
        extra = {"logits_to_keep": 1} if model.training and not return_outputs else {}
        outputs = model(**inputs, use_cache=False, **extra)
        if outputs.loss is None:
            raise ValueError("the model returned no loss: the batch needs `labels`")
        if not model.training:  # evaluation: the Trainer reports the eval loss itself
            return (outputs.loss, outputs) if return_outputs else outputs.loss
        if outputs.text_loss is not None:
            self._accumulate_stream_losses(outputs, inputs["labels"])
        if self.optimizer is not None:
            # The rates this step's update uses (the scheduler moves them after the step, before logging).
            self._step_group_lrs = {group["name"]: group["lr"] for group in self.optimizer.param_groups
                                    if group.get("name") and not group["name"].endswith("_no_decay")}
        return (outputs.loss, outputs) if return_outputs else outputs.loss

    def _accumulate_stream_losses(self, outputs, labels):
        # [text, has audio, c0..c7] sums; audio losses only count steps whose batch has patch targets.
        config = unwrap_model(self.model).config
        targets = labels[:, 1:]
        has_audio = outputs.audio_loss is not None and bool((targets == config.empty_token_id).any())
        text_loss = outputs.text_loss.detach().float().reshape(1)
        audio_loss = (outputs.audio_loss.detach().float().reshape(-1) if has_audio
                      else text_loss.new_zeros(config.num_codebooks))
        row = torch.cat([text_loss, text_loss.new_tensor([float(has_audio)]), audio_loss])
        self._stream_loss_sum = row if self._stream_loss_sum is None else self._stream_loss_sum + row
        self._stream_loss_steps += 1

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:
            if self._stream_loss_steps:
                sums = self._stream_loss_sum
                steps = torch.tensor(float(self._stream_loss_steps), device=sums.device)
                if self.args.world_size > 1:
                    gathered = self.accelerator.gather(torch.cat([sums, steps.reshape(1)]).unsqueeze(0)).sum(0)
                    sums, steps = gathered[:-1], gathered[-1]
                logs["text_loss"] = round(float(sums[0] / steps), 6)
                audio_steps = float(sums[1])
                weights = unwrap_model(self.model).config.audio_loss_weights
                # Stage 1 trains no audio stream (all weights 0): its audio losses would only describe a frozen,
                # untrained decoder.
                if audio_steps > 0 and any(w != 0 for w in weights):
                    for channel, value in enumerate((sums[2:] / audio_steps).tolist()):
                        logs[f"audio_loss_c{channel}"] = round(value, 6)
                self._stream_loss_sum = None
                self._stream_loss_steps = 0
            for name, lr in self._step_group_lrs.items():
                logs[f"lr_{name}"] = lr
        super().log(logs, start_time)


class MiMoAudioTrainer(MiMoAudioTrainerMixin, Trainer):
    """`transformers.Trainer` with per-module learning rates and per-stream loss logging (pretraining, LoRA)."""


@functools.lru_cache(maxsize=1)
def _sft_trainer_class():
    from trl import SFTTrainer

    class MiMoAudioSFTTrainer(MiMoAudioTrainerMixin, SFTTrainer):
        """TRL `SFTTrainer` on pre-tokenized MiMo-Audio conversations (labels already mask non-assistant turns).

        The loss is the model's own text + audio loss: TRL's fused LM-head loss would score the text head only.
        Pass `args.dataset_kwargs={"skip_prepare_dataset": True}` and a [`MiMoAudioDataCollator`].
        """

    return MiMoAudioSFTTrainer


def __getattr__(name):
    # TRL is imported only when the SFT trainer is asked for.
    if name == "MiMoAudioSFTTrainer":
        return _sft_trainer_class()
    raise AttributeError(name)
