"""Train MiMo-Audio's codec (`MiMoAudioTokenizerModel`) from scratch, as the report describes (spec C.6).

Stage 1 trains encoder, residual VQ, decoder and vocoder with `mel_weight * L_recon + commitment_weight * L_commit`:
multi-scale mel L1 (`codec_losses`), EMA codebooks with k-means initialisation and dead-code restarts
(`codec_quantizer`), and quantizer dropout over the number of levels so every prefix of the codebooks decodes.
Stage 2 freezes encoder and quantizer and trains decoder + vocoder adversarially
(`L_G = L_recon + L_adv + 2 L_fm`, hinge losses, multi-period and multi-scale STFT discriminators); `stage2.steps: 0`
skips it. The report's stage-1 A2T loss (a text LM trained on the quantized features) is not used: on this
project's data the LM's own ASR task plays that role.

    python -m training_recipes.train_codec --config training_recipes/configs/mini/codec.yaml
    python -m training_recipes.train_codec --config ... stage1.steps=100     # overrides, `section.key=value`

The run checkpoints to `output_dir/checkpoints/` every `save_steps` and resumes from the newest checkpoint by
itself (model, codebook buffers, optimizers, schedules and every random generator: a resumed run equals an
uninterrupted one). The final codec is saved in the released tokenizer's layout (`config.json`,
`model.safetensors`, plus `preprocessor_config.json`), so `MiMoAudioTokenizerModel.from_pretrained(output_dir)`
loads it. Losses and codebook usage go to `output_dir/log.jsonl`.
"""

from __future__ import annotations

import argparse
import glob
import json
import logging
import math
import os
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from modeling_mimo_audio import MiMoAudioTokenizerConfig, MiMoAudioTokenizerModel
from processing.audio_io import load_audio
from processing.feature_extraction_mimo_audio import MiMoAudioFeatureExtractor

from .codec_discriminators import (
    MultiPeriodDiscriminator,
    MultiScaleSTFTDiscriminator,
    discriminator_hinge_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from .codec_losses import MultiScaleMelLoss
from .codec_quantizer import quantize_for_training, sample_num_quantizers
from .precision import resolve_bf16
from .typed_config import load_typed_config, to_dict


logger = logging.getLogger(__name__)

__all__ = ["CodecTrainingConfig", "CodecTrainer", "load_waveforms", "main"]


@dataclass
class CodecDataArguments:
    """Where the audio comes from and how it is cut.

    Attributes:
        train_files (`str`): glob of Parquet files with an `audio` column (bytes / path / array dicts, as written by
            `training_recipes.mini.corpus`), e.g. `data/corpus/train/*.parquet`.
        eval_files (`str`, *optional*): the same for the clips scored during training.
        audio_column (`str`, defaults to "audio").
        segment_frames (`int`, defaults to 40): training crops in code frames (960 samples each: 40 = 1.6 s).
        batch_size (`int`, defaults to 16).
        max_train_clips (`int`, *optional*): use at most this many clips (quick runs).
        eval_clips (`int`, defaults to 16): clips scored at each evaluation.
    """

    train_files: str
    eval_files: str | None = None
    audio_column: str = "audio"
    segment_frames: int = 40
    batch_size: int = 16
    max_train_clips: int | None = None
    eval_clips: int = 16


@dataclass
class CodecStage1Arguments:
    """Stage 1 (everything trains). `full_quantizer_probability`: how often a batch uses all levels (quantizer
    dropout draws 1..num_quantizers uniformly otherwise)."""

    steps: int = 3000
    learning_rate: float = 1e-3
    min_learning_rate_ratio: float = 0.1
    warmup_steps: int = 100
    betas: list[float] = field(default_factory=lambda: [0.8, 0.99])
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    mel_weight: float = 1.0
    commitment_weight: float = 1.0
    full_quantizer_probability: float = 0.5
    ema_decay: float = 0.99
    dead_code_threshold: float = 2.0
    kmeans_iterations: int = 10


@dataclass
class CodecStage2Arguments:
    """Stage 2 (encoder and quantizer frozen; decoder + vocoder against discriminators). `steps: 0` skips it."""

    steps: int = 0
    learning_rate: float = 2e-4
    discriminator_learning_rate: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.8, 0.99])
    max_grad_norm: float = 1.0
    mel_weight: float = 1.0
    adversarial_weight: float = 1.0
    feature_matching_weight: float = 2.0
    periods: list[int] = field(default_factory=lambda: [2, 3, 5, 7, 11])
    stft_sizes: list[int] = field(default_factory=lambda: [2048, 1024, 512, 256, 128])
    discriminator_channels: int = 16


@dataclass
class CodecTrainingConfig:
    """A codec training run (`training_recipes/configs/mini/codec.yaml`).

    Attributes:
        output_dir (`str`): final codec and `checkpoints/`.
        model (`dict`): `MiMoAudioTokenizerConfig` keyword arguments (the front end is the released one unless set).
        data, stage1, stage2: the sections above.
        seed (`int`), save_steps (`int`), log_steps (`int`), eval_steps (`int`), num_threads (`int`, 0 = torch's
            default).
        bf16 (`bool` or `"auto"`, defaults to False): run the encoder and decoder transformers under bf16 autocast
            (`"auto"`: where the hardware runs bf16 natively, `training_recipes.precision`). The quantizer, the ISTFT
            head and the losses stay in fp32; the weights stay fp32.
    """

    output_dir: str
    model: dict
    data: CodecDataArguments
    stage1: CodecStage1Arguments = field(default_factory=CodecStage1Arguments)
    stage2: CodecStage2Arguments = field(default_factory=CodecStage2Arguments)
    seed: int = 0
    save_steps: int = 250
    log_steps: int = 25
    eval_steps: int = 500
    num_threads: int = 0
    bf16: bool | str = False


def load_waveforms(pattern: str, audio_column: str, sampling_rate: int, limit: int | None = None) -> list[np.ndarray]:
    """Every clip of the Parquet files matching `pattern` as float32 waveforms at `sampling_rate`."""
    import pyarrow.parquet as pq

    files = sorted(glob.glob(pattern))
    if not files:
        raise ValueError(f"data files {pattern!r} match nothing")
    waveforms = []
    for path in files:
        table = pq.read_table(path, columns=[audio_column])
        for value in table.column(audio_column).to_pylist():
            waveforms.append(load_audio(value, sampling_rate))
            if limit is not None and len(waveforms) >= limit:
                return waveforms
    return waveforms


def _cosine_with_warmup(step: int, warmup: int, total: int, floor: float) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class CodecTrainer:
    """Runs both stages of `config`; `train()` resumes from the newest checkpoint in `output_dir/checkpoints`."""

    def __init__(self, config: CodecTrainingConfig):
        self.config = config
        if config.num_threads:
            torch.set_num_threads(config.num_threads)
        torch.manual_seed(config.seed)
        model_config = MiMoAudioTokenizerConfig(**config.model)
        self.model = MiMoAudioTokenizerModel(model_config).train()
        for codebook in self.model.encoder.quantizer.codebooks:
            codebook.inited.zero_()  # initialised from the first batch's residuals (k-means)
        self.feature_extractor = MiMoAudioFeatureExtractor.from_tokenizer_config(model_config)
        self.mel_loss = MultiScaleMelLoss(model_config.sampling_rate)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.samples_per_frame = model_config.samples_per_frame
        self.crop = config.data.segment_frames * self.samples_per_frame
        self.step = 0
        self.discriminators = None
        self.bf16 = resolve_bf16(config.bf16, use_cpu=True, name="bf16")
        stage1 = config.stage1
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=stage1.learning_rate, betas=tuple(stage1.betas),
                                           weight_decay=stage1.weight_decay)
        self.stage2_optimizers = None

    # -- data ----------------------------------------------------------------------------------------------------

    def load_data(self):
        data = self.config.data
        rate = self.model.config.sampling_rate
        self.train_waveforms = load_waveforms(data.train_files, data.audio_column, rate, data.max_train_clips)
        self.eval_waveforms = (
            load_waveforms(data.eval_files, data.audio_column, rate, data.eval_clips) if data.eval_files else []
        )
        logger.info("codec training on %d clips (%.1f min)", len(self.train_waveforms),
                    sum(len(w) for w in self.train_waveforms) / rate / 60)

    def sample_batch(self) -> torch.Tensor:
        """`[batch, crop]` random crops (clips shorter than the crop are zero-padded at the end)."""
        batch = torch.zeros(self.config.data.batch_size, self.crop)
        picks = torch.randint(0, len(self.train_waveforms), (batch.shape[0],), generator=self.generator)
        for row, index in enumerate(picks.tolist()):
            wave = self.train_waveforms[index]
            start = int(torch.randint(0, max(1, len(wave) - self.crop + 1), (), generator=self.generator))
            piece = torch.from_numpy(wave[start : start + self.crop])
            batch[row, : piece.shape[0]] = piece
        return batch

    # -- forward -------------------------------------------------------------------------------------------------

    def reconstruct(self, waveforms: torch.Tensor, num_quantizers: int, update_codebooks: bool):
        """Training path: crops `[batch, samples]` -> (reconstruction `[batch, samples]`, quantizer output)."""
        features = self.feature_extractor.log_mel(waveforms)
        mel_lengths = torch.full((waveforms.shape[0],), features.shape[-1], dtype=torch.long)
        with self.autocast():
            hidden, lengths = self.model.encoder(features, mel_lengths)
        hidden = hidden.float()
        batch, frames, width = hidden.shape
        quantized = quantize_for_training(
            self.model.encoder.quantizer, hidden.reshape(-1, width), num_quantizers, self.generator,
            decay=self.config.stage1.ema_decay, dead_threshold=self.config.stage1.dead_code_threshold,
            kmeans_iterations=self.config.stage1.kmeans_iterations, update=update_codebooks,
        )
        with self.autocast():
            decoded = self.model.decoder(quantized.quantized.view(batch, frames, width), lengths)
        reconstruction = torch.stack(decoded).float()[:, : waveforms.shape[1]]
        return reconstruction, quantized

    def autocast(self):
        """bf16 autocast for the transformers when `config.bf16` resolved to True, a no-op otherwise."""
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16)

    def stage1_step(self) -> dict:
        stage = self.config.stage1
        for group in self.optimizer.param_groups:
            group["lr"] = stage.learning_rate * _cosine_with_warmup(self.step, stage.warmup_steps, stage.steps,
                                                                    stage.min_learning_rate_ratio)
        waveforms = self.sample_batch()
        num_quantizers = sample_num_quantizers(self.generator, self.model.config.num_quantizers,
                                               stage.full_quantizer_probability)
        reconstruction, quantized = self.reconstruct(waveforms, num_quantizers, update_codebooks=True)
        mel = self.mel_loss(reconstruction, waveforms)
        loss = stage.mel_weight * mel + stage.commitment_weight * quantized.commitment_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), stage.max_grad_norm)
        self.optimizer.step()
        return {"stage": 1, "loss": loss.item(), "mel": mel.item(), "commitment": quantized.commitment_loss.item(),
                "num_quantizers": num_quantizers, "grad_norm": norm.item(),
                "usage": [round(u, 3) for u in quantized.usage], "lr": self.optimizer.param_groups[0]["lr"]}

    def _setup_stage2(self):
        stage = self.config.stage2
        self.model.encoder.requires_grad_(False)
        channels = stage.discriminator_channels
        self.discriminators = torch.nn.ModuleList([
            MultiPeriodDiscriminator(tuple(stage.periods), channels),
            MultiScaleSTFTDiscriminator(tuple(stage.stft_sizes), channels),
        ])
        generator_parameters = [p for p in self.model.decoder.parameters() if p.requires_grad]
        self.stage2_optimizers = {
            "generator": torch.optim.AdamW(generator_parameters, lr=stage.learning_rate, betas=tuple(stage.betas)),
            # No weight decay for the discriminators (spec C.6).
            "discriminator": torch.optim.AdamW(self.discriminators.parameters(), lr=stage.discriminator_learning_rate,
                                               betas=tuple(stage.betas), weight_decay=0.0),
        }

    def stage2_step(self) -> dict:
        stage = self.config.stage2
        waveforms = self.sample_batch()
        with torch.no_grad():
            features = self.feature_extractor.log_mel(waveforms)
            mel_lengths = torch.full((waveforms.shape[0],), features.shape[-1], dtype=torch.long)
            hidden, lengths = self.model.encoder(features, mel_lengths)
            batch, frames, width = hidden.shape
            codes = self.model.encoder.quantizer.encode(hidden.reshape(-1, width), self.model.config.num_quantizers)
            quantized = self.model.encoder.quantizer.decode(codes).view(batch, frames, width)
        reconstruction = torch.stack(self.model.decoder(quantized, lengths))[:, : waveforms.shape[1]]

        optimizers = self.stage2_optimizers
        real = [d(waveforms) for d in self.discriminators]
        fake = [d(reconstruction.detach()) for d in self.discriminators]
        d_loss = sum(discriminator_hinge_loss(r, f) for r, f in zip(real, fake)) / len(real)
        optimizers["discriminator"].zero_grad(set_to_none=True)
        d_loss.backward()
        torch.nn.utils.clip_grad_norm_(self.discriminators.parameters(), stage.max_grad_norm)
        optimizers["discriminator"].step()

        real = [[(logits.detach(), [f.detach() for f in feats]) for logits, feats in d(waveforms)]
                for d in self.discriminators]
        fake = [d(reconstruction) for d in self.discriminators]
        adversarial = sum(generator_adversarial_loss(f) for f in fake) / len(fake)
        matching = sum(feature_matching_loss(r, f) for r, f in zip(real, fake)) / len(fake)
        mel = self.mel_loss(reconstruction, waveforms)
        g_loss = stage.mel_weight * mel + stage.adversarial_weight * adversarial + stage.feature_matching_weight * matching
        optimizers["generator"].zero_grad(set_to_none=True)
        g_loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.decoder.parameters(), stage.max_grad_norm)
        optimizers["generator"].step()
        return {"stage": 2, "loss": g_loss.item(), "mel": mel.item(), "adversarial": adversarial.item(),
                "feature_matching": matching.item(), "discriminator": d_loss.item()}

    # -- evaluation ----------------------------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Mel distance (the stage-1 loss) of full validation clips through the public encode/decode path."""
        if not self.eval_waveforms:
            return {}
        self.model.eval()
        rate = self.model.config.sampling_rate
        features = self.feature_extractor(self.eval_waveforms, sampling_rate=rate, return_tensors="pt")
        encoded = self.model.encode(features.input_features, features.attention_mask)
        decoded = self.model.decode(encoded.audio_codes, encoded.audio_codes_mask).audio_values[:, 0]
        distances = []
        for index, wave in enumerate(self.eval_waveforms):
            target = torch.from_numpy(wave)[None]
            prediction = decoded[index : index + 1, : target.shape[1]]
            if prediction.shape[1] < target.shape[1]:
                prediction = torch.nn.functional.pad(prediction, (0, target.shape[1] - prediction.shape[1]))
            distances.append(self.mel_loss(prediction, target).item())
        self.model.train()
        return {"eval_mel_distance": float(np.mean(distances))}

    # -- checkpoints ---------------------------------------------------------------------------------------------

    @property
    def checkpoint_dir(self) -> str:
        return os.path.join(self.config.output_dir, "checkpoints")

    def save_checkpoint(self):
        os.makedirs(self.checkpoint_dir, exist_ok=True)
        state = {
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
        }
        if self.discriminators is not None:
            state["discriminators"] = self.discriminators.state_dict()
            state["stage2_optimizers"] = {name: opt.state_dict() for name, opt in self.stage2_optimizers.items()}
        path = os.path.join(self.checkpoint_dir, f"step-{self.step:07d}.pt")
        torch.save(state, path + ".tmp")
        os.replace(path + ".tmp", path)
        for old in sorted(glob.glob(os.path.join(self.checkpoint_dir, "step-*.pt")))[:-2]:
            os.remove(old)

    def latest_checkpoint(self) -> str | None:
        found = sorted(glob.glob(os.path.join(self.checkpoint_dir, "step-*.pt")))
        return found[-1] if found else None

    def load_checkpoint(self, path: str):
        # Our own checkpoint files: tensors, optimizer state and generator states only.
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.step = int(state["step"])
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        if "discriminators" in state:
            self._setup_stage2()
            self.discriminators.load_state_dict(state["discriminators"])
            for name, opt in self.stage2_optimizers.items():
                opt.load_state_dict(state["stage2_optimizers"][name])
        logger.info("resumed from %s (step %d)", path, self.step)

    # -- the run -------------------------------------------------------------------------------------------------

    def log(self, record: dict):
        os.makedirs(self.config.output_dir, exist_ok=True)
        with open(os.path.join(self.config.output_dir, "log.jsonl"), "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def train(self, resume: bool = True):
        config = self.config
        if resume and self.latest_checkpoint():
            self.load_checkpoint(self.latest_checkpoint())
        if not hasattr(self, "train_waveforms"):
            self.load_data()
        total = config.stage1.steps + config.stage2.steps
        started = time.time()
        with tqdm(total=total, initial=self.step, desc="codec training", unit="step") as progress:
            while self.step < total:
                if self.step < config.stage1.steps:
                    record = self.stage1_step()
                else:
                    if self.discriminators is None:
                        self._setup_stage2()
                    record = self.stage2_step()
                self.step += 1
                progress.update(1)
                if self.step % config.log_steps == 0 or self.step == total:
                    record.update(step=self.step, elapsed_s=round(time.time() - started, 1))
                    if self.step % config.eval_steps == 0 or self.step == total:
                        record.update(self.evaluate())
                    self.log(record)
                    progress.set_postfix(mel=f"{record['mel']:.3f}", **(
                        {"usage0": record["usage"][0]} if "usage" in record else {}))
                if self.step % config.save_steps == 0 and self.step < total:
                    self.save_checkpoint()
        self.save_final()
        return self

    def save_final(self):
        self.model.eval()
        self.model.save_pretrained(self.config.output_dir)
        self.feature_extractor.save_pretrained(self.config.output_dir)
        with open(os.path.join(self.config.output_dir, "training_config.json"), "w", encoding="utf-8") as handle:
            json.dump(to_dict(self.config), handle, indent=2)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m training_recipes.train_codec",
                                     description="Train the MiMo-Audio codec from scratch (docs/training.md)")
    parser.add_argument("--config", required=True, help="YAML config, e.g. training_recipes/configs/mini/codec.yaml")
    parser.add_argument("--no-resume", action="store_true", help="ignore checkpoints in output_dir/checkpoints")
    parser.add_argument("overrides", nargs="*", help="config overrides, e.g. stage1.steps=100 data.batch_size=8")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_typed_config(CodecTrainingConfig, args.config, args.overrides)
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    CodecTrainer(config).train(resume=not args.no_resume)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
