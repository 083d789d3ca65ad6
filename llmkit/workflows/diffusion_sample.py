"""Generate images with a diffusers pipeline from a local folder (`llmkit diffusion sample`).

Works with unconditional pipelines (DDPMPipeline, what `llmkit diffusion train` writes) and text-to-image
pipelines in the Stable Diffusion layout (unet, vae, text_encoder, tokenizer, scheduler), optionally
with LoRA weights from `llmkit diffusion finetune`. The sampler is swapped by building the chosen
scheduler class from the pipeline's own scheduler config (same betas and timesteps).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config.diffusion import DiffusionSampleConfig
from llmkit.errors import LlmkitError
from llmkit.run_dir import RunRecord, check_output_dir, default_output, prepare_output_dir

# --scheduler name -> diffusers class
SAMPLERS = {
    "ddpm": "DDPMScheduler",
    "ddim": "DDIMScheduler",
    "pndm": "PNDMScheduler",
    "euler": "EulerDiscreteScheduler",
    "euler-ancestral": "EulerAncestralDiscreteScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
    "unipc": "UniPCMultistepScheduler",
}
# DDPMPipeline's loop neither scales the model input nor the initial noise, and passes `generator=` to
# `step`: only samplers that need neither scaling and accept a generator run correctly inside it.
UNCONDITIONAL_SAMPLERS = ("ddpm", "ddim", "dpm++")


def load_pipeline(path: str, scheduler: str = "pipeline", lora: str | None = None) -> Any:
    """A pipeline from a local folder with the chosen sampler (and LoRA weights) in place."""
    import diffusers

    folder = Path(path).expanduser()
    if not (folder / "model_index.json").is_file():
        raise LlmkitError(f"{path} is not a diffusers pipeline folder (no model_index.json); pass the output of "
                          f"`llmkit diffusion train` or a saved pipeline")
    try:
        pipe = diffusers.DiffusionPipeline.from_pretrained(str(folder))
    except (OSError, ValueError) as e:
        raise LlmkitError(f"cannot load the pipeline in {folder}: {str(e).splitlines()[0]}") from None
    text_to_image = is_text_to_image(pipe)
    if scheduler != "pipeline":
        allowed = list(SAMPLERS) if text_to_image else list(UNCONDITIONAL_SAMPLERS)
        if scheduler not in allowed:
            raise LlmkitError(f"scheduler {scheduler!r} is not available for {type(pipe).__name__}; "
                              f"choose pipeline, {', '.join(allowed)}")
        pipe.scheduler = getattr(diffusers, SAMPLERS[scheduler]).from_config(pipe.scheduler.config)
    if lora:
        if not text_to_image:
            raise LlmkitError(f"--lora applies to text-to-image pipelines; {type(pipe).__name__} has no text encoder")
        try:
            pipe.load_lora_weights(str(Path(lora).expanduser()))
        except (OSError, ValueError) as e:
            raise LlmkitError(f"cannot load LoRA weights from {lora}: {str(e).splitlines()[0]}") from None
    return pipe


def is_text_to_image(pipe: Any) -> bool:
    return "prompt" in inspect.signature(pipe.__call__).parameters


def generate(pipe: Any, cfg: DiffusionSampleConfig, generator: Any, n: int) -> Any:
    """`n` images (N, H, W, C) as floats in [0, 1] from one pipeline call."""
    kwargs: dict[str, Any] = {"generator": generator, "output_type": "np"}
    if cfg.inference_steps:
        kwargs["num_inference_steps"] = cfg.inference_steps
    if is_text_to_image(pipe):
        kwargs.update(prompt=[cfg.prompt] * n, guidance_scale=cfg.guidance_scale,
                      negative_prompt=[cfg.negative_prompt] * n if cfg.negative_prompt else None,
                      height=cfg.height or None, width=cfg.width or None)
    else:
        kwargs["batch_size"] = n
    return pipe(**kwargs).images


def run(cfg: DiffusionSampleConfig) -> dict[str, Any]:
    import numpy as np
    import torch

    from llmkit.plots.images import save_grid, save_images

    if cfg.num_samples < 1 or cfg.batch_size < 1:
        raise LlmkitError("num_samples and batch_size must be at least 1")
    output = Path(cfg.output) if cfg.output else default_output("diffusion", "sample")
    check_output_dir(output, cfg.overwrite, cfg)
    pipe = load_pipeline(cfg.model, cfg.scheduler, cfg.lora)
    text_to_image = is_text_to_image(pipe)
    if text_to_image and not cfg.prompt:
        raise LlmkitError(f"{type(pipe).__name__} is text-to-image: pass --prompt")
    if not text_to_image and (cfg.prompt or cfg.height or cfg.width):
        raise LlmkitError(f"{type(pipe).__name__} is unconditional: it takes no --prompt, height or width")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    pipe.to(device)
    console.info(f"{type(pipe).__name__} with {type(pipe.scheduler).__name__}"
                 + (f", prompt {cfg.prompt!r}" if cfg.prompt else ""))

    # One generator for the whole run: the same seed gives the same images, batch after batch.
    generator = torch.Generator(device).manual_seed(cfg.seed)
    parts = []
    for start in range(0, cfg.num_samples, cfg.batch_size):
        parts.append(generate(pipe, cfg, generator, min(cfg.batch_size, cfg.num_samples - start)))
    images = (np.concatenate(parts) * 255).round().astype(np.uint8)

    prepare_output_dir(output, cfg.overwrite, cfg)
    record = RunRecord(output, "diffusion-sample", cfg)
    save_images(images, output / "images")
    save_grid(images, output / "grid.png", scale=2 if images.shape[1] <= 64 else 1)
    record.update(metrics={"images": len(images)}, pipeline=type(pipe).__name__,
                  scheduler=type(pipe.scheduler).__name__, status="finished")
    console.info(f"{len(images)} images in {output / 'images'}, grid in {output / 'grid.png'}")
    return {"output": output, "images": images}
