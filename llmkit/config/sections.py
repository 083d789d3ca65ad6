"""Sections and fields that several jobs share: where a job writes, the model it loads, how it trains."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from llmkit.config import option


@dataclass
class JobOutput:
    """Where every job writes: the first keys of every job's config."""

    output: str | None = option("Output folder. None: a new folder under runs/ named after the job and the time.",
                                None)
    overwrite: bool = option("Replace a non-empty output folder.", False)


# Spellings of earlier releases (old dotted key -> new one), which build_config refuses with the new name.
WARMUP_RENAMED = {"train.warmup_ratio": "train.warmup_steps"}
GENERATIVE_RENAMED = {"train.save_every": "train.save_steps", "train.sample_every": "train.sample_steps",
                      "train.grid_size": "train.num_samples", **WARMUP_RENAMED}


def seed_option(what: str, default: int = 42) -> Any:
    """The seed field of every job: one wording, so each says what it seeds."""
    return option(f"Random seed of {what} (the same seed repeats the run exactly).", default)


def warmup_option(default: float) -> Any:
    """The warm-up field of every job, read as transformers 5's TrainingArguments.warmup_steps is."""
    return option("Learning-rate warm-up: a number of steps, or below 1 a fraction of the training steps.",
                  default, at_least=0)


Dtype = Literal["auto", "float32", "bfloat16", "float16"]


@dataclass
class ModelSection:
    path: str | None = option("Local model folder or Hub id. None: llmkit's built-in base model.", None)
    trust_remote_code: bool = option("Run model code shipped with the checkpoint (only for sources you trust).",
                                    False)
    dtype: Dtype = option(
        "Weights dtype. auto: bfloat16 on a GPU that supports it, float32 otherwise.", "auto")
    attention: Literal["auto", "sdpa", "eager", "flash_attention_2", "flex_attention"] = option(
        "Attention kernel (transformers' attn_implementation). auto: the model's default, SDPA where it has it.",
        "auto")


# transformers' SchedulerType names that need no extra arguments.
Scheduler = Literal["linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
                    "inverse_sqrt"]


@dataclass
class TrainSection:
    epochs: float = option("Passes over the training data (ignored when max_steps > 0).", 3.0, above=0)
    max_steps: int = option("Stop after this many optimizer steps; 0 means use epochs.", 0, at_least=0)
    batch_size: int = option("Examples per device per step.", 16, at_least=1)
    grad_accum: int = option("Gradient accumulation steps (global batch = batch_size x grad_accum x devices).",
                            1, at_least=1)
    lr: float = option("Peak learning rate (pretrain: 0 takes the architecture's default, 1e-3 for BERT, 3e-3 "
                      "for GPT-2 and LLaMA).", 2e-4, at_least=0)
    scheduler: Scheduler = option("Learning-rate schedule (transformers' SchedulerType).", "cosine")
    warmup_steps: float = warmup_option(0.03)
    weight_decay: float = option("AdamW weight decay.", 0.0, at_least=0)
    max_grad_norm: float = option("Gradient clipping norm.", 1.0, at_least=0)
    seed: int = seed_option("the data order, the initialisation and dropout")
    logging_steps: int = option("Log loss every this many steps.", 10, at_least=1)
    gradient_checkpointing: bool = option("Recompute activations in backward to save memory.", False)
    report_to: list[str] = option("Extra loggers, e.g. [tensorboard]. Empty: only llmkit's own logs.", [])
    num_workers: int = option("DataLoader worker processes.", 0, at_least=0)
    # The GPU fast path: each switch is on where it applies and can be turned off; on CPU they do nothing.
    bf16: bool = option("bfloat16 mixed precision on GPUs that support it.", True)
    fused_optimizer: bool = option("torch's fused AdamW kernel on CUDA (one launch for all parameters).", True)
    liger: bool = option("Liger Triton kernels on CUDA (RMSNorm, RoPE, SwiGLU, fused linear cross-entropy that never "
                        "materialises the logits) for the architectures Liger patches; needs liger-kernel.", True)
    torch_compile: bool = option("Compile the model with torch.compile on CUDA (the first steps are slow).", False)


# The generative models (`llmkit gan`, `llmkit diffusion`) share their data and their Accelerator loop.



@dataclass
class GenerativeDataSection:
    path: str = option("digits (built in: the training split of the 8x8 digits, upscaled) or a folder of images "
                      "(class subfolders and a metadata.jsonl with captions are optional).", "digits")
    image_size: int = option("Images are centre-cropped and resized to this side.", 32, at_least=1)
    channels: int = option("1 (grey) or 3 (RGB) to convert; 0 keeps the data's own.", 0, at_least=0, at_most=3)
    caption_column: str = option("Folder metadata column holding each image's caption (text-to-image).", "text")
    limit: int = option("Use only the first N images (0: all).", 0, at_least=0)


@dataclass
class GenerativeTrainSection:
    """The Accelerator loop of the generative models (GAN and diffusion share it)."""

    epochs: float = option("Passes over the training images (ignored when max_steps > 0).", 20.0, above=0)
    max_steps: int = option("Stop after this many optimizer steps; 0 means use epochs.", 0, at_least=0)
    batch_size: int = option("Images per device per step.", 64, at_least=1)
    lr: float = option("Learning rate (Adam/AdamW).", 2e-4, above=0)
    seed: int = seed_option("the initialisation, the batch order and the noise")
    logging_steps: int = option("Log the losses every this many steps.", 25, at_least=1)
    sample_steps: int = option("Write a grid of samples from fixed noise every this many steps (0: only at the end).",
                               500, at_least=0)
    save_steps: int = option("Save a resumable checkpoint every this many steps (0: never).", 1000, at_least=0)
    keep_checkpoints: int = option("Keep only the newest N checkpoints.", 2, at_least=0)
    resume: str | None = option("Resume from a checkpoint folder, or 'latest' (the newest in this output).", None)
    num_samples: int = option("Samples in each grid.", 64, at_least=1)
