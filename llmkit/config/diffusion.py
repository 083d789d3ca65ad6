"""`llmkit diffusion train`, `sample` and `finetune`: DDPM (Ho et al. 2020) and LoRA on Stable Diffusion."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from llmkit.config import option
from llmkit.config.sections import (
    GENERATIVE_RENAMED,
    GenerativeDataSection,
    GenerativeTrainSection,
    JobOutput,
    seed_option,
    warmup_option,
)


@dataclass
class UNetSection:
    block_out_channels: list[int] = option("Channels of each UNet resolution level (one entry per level).",
                                          [32, 64, 64])
    attention: list[bool] = option("Self-attention at each level, same length as block_out_channels.",
                                  [False, False, True])
    layers_per_block: int = option("ResNet blocks per level.", 1, at_least=1)
    norm_num_groups: int = option("GroupNorm groups (must divide every channel count).", 8, at_least=1)
    dropout: float = option("Dropout in the ResNet blocks.", 0.0, at_least=0, below=1)


@dataclass
class NoiseScheduleSection:
    num_train_timesteps: int = option("Diffusion steps T (the DDPM paper's 1000).", 1000, at_least=1)
    beta_schedule: Literal["linear", "scaled_linear", "squaredcos_cap_v2"] = option(
        "Noise schedule: linear (Ho et al. 2020) or squaredcos_cap_v2 (cosine, Nichol & Dhariwal 2021).", "linear")
    prediction_type: Literal["epsilon", "v_prediction", "sample"] = option("What the UNet predicts.", "epsilon")


@dataclass
class DiffusionTrainSection(GenerativeTrainSection):
    lr: float = option("Peak learning rate (AdamW), reached after the warm-up, then cosine decay.", 1e-3, above=0)
    warmup_steps: float = warmup_option(100)
    weight_decay: float = option("AdamW weight decay.", 0.0, at_least=0)
    max_grad_norm: float = option("Gradient clipping norm.", 1.0, at_least=0)
    ema_decay: float = option("Largest EMA decay of the weights that are saved and sampled.",
                             0.999, at_least=0, at_most=1)
    ema_power: float = option("EMA warm-up power: decay = 1 - (1 + step)^-power, capped at ema_decay "
                             "(3/4 suits short runs).", 0.75, above=0)
    inference_steps: int = option("DDIM steps for the grids written during training.", 50, at_least=1)


@dataclass
class DiffusionConfig(JobOutput):
    renamed_keys: ClassVar[dict[str, str]] = GENERATIVE_RENAMED

    unet: UNetSection = field(default_factory=UNetSection)
    scheduler: NoiseScheduleSection = field(default_factory=NoiseScheduleSection)
    data: GenerativeDataSection = field(default_factory=GenerativeDataSection)
    train: DiffusionTrainSection = field(default_factory=DiffusionTrainSection)


@dataclass
class DiffusionLoraSection:
    r: int = option("LoRA rank on the UNet's attention projections.", 4, at_least=1)
    alpha: int = option("LoRA scaling numerator (scale = alpha / r).", 4, above=0)
    dropout: float = option("Dropout on the LoRA input.", 0.0, at_least=0, below=1)
    target: list[str] = option("UNet modules to adapt (diffusers' LoRA script: the attention projections).",
                              ["to_k", "to_q", "to_v", "to_out.0"])


@dataclass
class DiffusionFinetuneTrainSection(GenerativeTrainSection):
    epochs: float = option("Passes over the training images (ignored when max_steps > 0).", 10.0, above=0)
    batch_size: int = option("Images per device per step.", 1, at_least=1)
    lr: float = option("Peak learning rate (AdamW) after the warm-up, then cosine decay.", 1e-4, above=0)
    warmup_steps: float = warmup_option(0)
    max_grad_norm: float = option("Gradient clipping norm.", 1.0, at_least=0)
    num_samples: int = option("Images generated from the validation prompt for each grid.", 4, at_least=1)
    inference_steps: int = option("Inference steps for the grids written during training.", 25, at_least=1)


@dataclass
class DiffusionFinetuneConfig(JobOutput):
    renamed_keys: ClassVar[dict[str, str]] = GENERATIVE_RENAMED

    model: str | None = option("Text-to-image pipeline folder (Stable Diffusion layout: unet, vae, text_encoder, "
                              "tokenizer, scheduler).", None)
    prompt: str | None = option("Validation prompt for the sample grids. None: the first training caption.", None)
    data: GenerativeDataSection = field(default_factory=lambda: GenerativeDataSection(image_size=512))
    lora: DiffusionLoraSection = field(default_factory=DiffusionLoraSection)
    train: DiffusionFinetuneTrainSection = field(default_factory=DiffusionFinetuneTrainSection)


@dataclass
class DiffusionSampleConfig(JobOutput):
    renamed_keys: ClassVar[dict[str, str]] = {"steps": "inference_steps", "num_images": "num_samples"}

    model: str = option("A diffusers pipeline folder: unconditional (DDPMPipeline, `llmkit diffusion train`) "
                       "or text-to-image (Stable Diffusion layout).", "")
    prompt: str | None = option("Text prompt (text-to-image pipelines only).", None)
    negative_prompt: str | None = option("What the image should not show (text-to-image, with guidance).", None)
    scheduler: str = option("Sampler: pipeline (as saved), ddpm, ddim, pndm, euler, euler-ancestral, dpm++ "
                           "(DPM-Solver++ multistep), unipc.", "pipeline")
    inference_steps: int = option("Denoising steps (0: the pipeline's default: 1000 for DDPMPipeline, 50 for Stable "
                       "Diffusion).", 0, at_least=0)
    guidance_scale: float = option("Classifier-free guidance scale (text-to-image).", 7.5, at_least=0)
    num_samples: int = option("Images to generate.", 16, at_least=1)
    batch_size: int = option("Images generated at once.", 16, at_least=1)
    height: int = option("Image height in pixels (0: the pipeline's default).", 0, at_least=0)
    width: int = option("Image width in pixels (0: the pipeline's default).", 0, at_least=0)
    lora: str | None = option("LoRA weights from `llmkit diffusion finetune` to apply (text-to-image).", None)
    seed: int = seed_option("the starting noise", 0)
