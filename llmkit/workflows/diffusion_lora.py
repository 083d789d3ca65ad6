"""LoRA fine-tuning of a text-to-image pipeline's UNet through peft (`llmkit diffusion finetune`).

As diffusers' train_text_to_image_lora.py does it: the VAE and the text encoder stay frozen, peft adds
LoRA to the UNet's attention projections (`unet.add_adapter`), and the UNet learns to predict the noise
added to each image's VAE latents, conditioned on its caption. The output is diffusers' LoRA format
(pytorch_lora_weights.safetensors): `pipe.load_lora_weights(output)` applies it, and so does
`llmkit diffusion sample --model BASE --lora OUTPUT`.

Steps: 1. load the pipeline and the captioned images  2. add LoRA to the UNet  3. train on
`accelerate.Accelerator` (AdamW, warm-up + cosine, clipping, grids from the validation prompt,
checkpoints)  4. save the LoRA weights, the grids, the loss curve and the run record, with the loss on
a fixed probe batch before and after training (the same noise and timesteps: a fair comparison).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config.diffusion import DiffusionFinetuneConfig
from llmkit.errors import LlmkitError
from llmkit.run_dir import RunRecord, default_output, saving_into
from llmkit.training.checkpoints import CHECKPOINTS, LoopCheckpoints
from llmkit.training.generative_loop import (
    finish_step,
    image_batches,
    prepare_run_output,
    resume_state,
    step_generator,
    total_steps,
    write_grid,
)

LORA_WEIGHTS = "pytorch_lora_weights.safetensors"


def denoising_loss(pipe: Any, unet: Any, pixels: Any, captions: list[str], rng: Any) -> Any:
    """The text-to-image training loss of one batch: MSE between the UNet's prediction and its target
    (the noise, or the velocity for v-prediction models), at random timesteps drawn from `rng`."""
    import torch
    import torch.nn.functional as F

    scheduler = pipe.scheduler
    with torch.no_grad():
        # a. images -> latents (the VAE's scaling keeps them near unit variance), captions -> text states
        latents = pipe.vae.encode(pixels).latent_dist.sample(generator=rng) * pipe.vae.config.scaling_factor
        ids = pipe.tokenizer(captions, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                             truncation=True, return_tensors="pt").input_ids.to(pixels.device)
        text_states = pipe.text_encoder(ids)[0]
    # b. forward diffusion at a random timestep per image
    noise = torch.randn(latents.shape, generator=rng).to(latents.device)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (len(latents),), generator=rng)
    timesteps = timesteps.to(latents.device)
    noisy = scheduler.add_noise(latents, noise, timesteps)
    target = scheduler.get_velocity(latents, noise, timesteps) \
        if scheduler.config.prediction_type == "v_prediction" else noise
    # c. the conditioned UNet's prediction
    return F.mse_loss(unet(noisy, timesteps, encoder_hidden_states=text_states).sample.float(), target.float())


def probe_loss(pipe: Any, pixels: Any, captions: list[str], seed: int) -> float:
    """The loss of pipe.unet on a fixed batch with fixed noise and timesteps: comparable across runs."""
    import torch

    with torch.no_grad():
        return denoising_loss(pipe, pipe.unet, pixels, captions, torch.Generator().manual_seed(seed)).item()


def run(cfg: DiffusionFinetuneConfig) -> dict[str, Any]:
    if not cfg.model:
        raise LlmkitError("diffusion finetune needs --model: a text-to-image pipeline folder")
    import torch
    from diffusers.optimization import get_cosine_schedule_with_warmup
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from tqdm.auto import tqdm

    from llmkit.data.generative_images import load_training_images
    from llmkit.plots.loss_curve import save_loss_curve
    from llmkit.training.accelerator import build_accelerator
    from llmkit.training.schedule import warmup_steps
    from llmkit.workflows.diffusion_sample import is_text_to_image, load_pipeline

    # 1. The pipeline and the captioned images; everything checked before training.
    output = Path(cfg.output) if cfg.output else default_output("diffusion", "lora")
    pipe = load_pipeline(cfg.model)
    if not is_text_to_image(pipe) or not all(hasattr(pipe, c) for c in ("vae", "text_encoder", "tokenizer")):
        raise LlmkitError(f"{cfg.model} holds a {type(pipe).__name__}; LoRA fine-tuning needs a text-to-image "
                          f"pipeline with a VAE, a text encoder and a tokenizer (Stable Diffusion layout)")
    channels = pipe.vae.config.in_channels
    if cfg.data.channels not in (0, channels):
        raise LlmkitError(f"data.channels={cfg.data.channels} but the pipeline's VAE reads {channels}-channel "
                          f"images; leave data.channels at 0")
    images = load_training_images(cfg.data.path, cfg.data.image_size, channels, cfg.data.caption_column,
                                  cfg.data.limit)
    if not images.captions:
        raise LlmkitError(f"{images.source} has no captions: add a metadata.jsonl with a "
                          f"{cfg.data.caption_column!r} column, or put the images in class subfolders")
    t = cfg.train
    accelerator = build_accelerator()
    batches = image_batches(len(images.pixels), t.batch_size, t.seed, accelerator)
    total = total_steps(batches, t)
    prompt = cfg.prompt or images.captions[0]

    # 2. Freeze everything, then add LoRA to the UNet (peft; only the LoRA matrices train).
    pipe.to(accelerator.device)
    for part in (pipe.vae, pipe.text_encoder, pipe.unet):
        part.requires_grad_(False)
    torch.manual_seed(t.seed)
    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.alpha, lora_dropout=cfg.lora.dropout,
                      init_lora_weights="gaussian", target_modules=cfg.lora.target)
    try:
        pipe.unet.add_adapter(lora)
    except ValueError as e:
        raise LlmkitError(f"cannot add LoRA to the UNet: {str(e).splitlines()[0]} (check lora.target)") from None
    if accelerator.is_main_process:  # only now: a bad lora.target must not replace an earlier run
        prepare_run_output(output, cfg.overwrite, t.resume)
    trainable = [p for p in pipe.unet.parameters() if p.requires_grad]
    n_trainable, n_total = sum(p.numel() for p in trainable), sum(p.numel() for p in pipe.unet.parameters())
    console.info(f"data: {images.describe()}; LoRA r={cfg.lora.r} on {', '.join(cfg.lora.target)}: "
                 f"{n_trainable:,} of {n_total:,} UNet parameters train; {total} steps of {batches.rows_per_step}")
    pixels = images.pixels.to(accelerator.device)
    probe = (pixels[:t.batch_size], images.captions[:t.batch_size])
    before = probe_loss(pipe, *probe, seed=t.seed)

    # 3. Train the LoRA matrices.
    optimizer = torch.optim.AdamW(trainable, lr=t.lr)
    lr_scheduler = get_cosine_schedule_with_warmup(optimizer, warmup_steps(t.warmup_steps, total), total)
    unet, optimizer, lr_scheduler = accelerator.prepare(pipe.unet, optimizer, lr_scheduler)
    checkpoints = LoopCheckpoints(accelerator, output / CHECKPOINTS, t.keep_checkpoints)
    state = resume_state(checkpoints, t.resume, output)
    record = RunRecord(output, "diffusion-lora", cfg) if accelerator.is_main_process else None
    pipe.set_progress_bar_config(disable=True)

    def grid(name: str) -> None:
        if accelerator.is_main_process:
            out = pipe(prompt=[prompt] * t.num_samples, num_inference_steps=t.inference_steps, output_type="pt",
                       height=cfg.data.image_size, width=cfg.data.image_size,
                       generator=torch.Generator(accelerator.device).manual_seed(t.seed)).images
            write_grid(out * 2 - 1, output, name)

    if record:
        record.start("train")
    progress = tqdm(total=total, initial=state.step, desc="lora", disable=not accelerator.is_local_main_process)
    while state.step < total:
        rows = batches.rows(state.step)
        rng = step_generator(t.seed, state.step, accelerator.process_index)
        loss = denoising_loss(pipe, unet, pixels[rows], [images.captions[i] for i in rows.tolist()], rng)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(trainable, t.max_grad_norm)
        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        finish_step(state, t, total, progress, checkpoints, grid, loss=loss.item(), lr=lr_scheduler.get_last_lr()[0])
    progress.close()
    after = probe_loss(pipe, *probe, seed=t.seed)
    metrics = {"steps": state.step, "loss": state.history[-1]["loss"], "probe_loss_before": round(before, 6),
               "probe_loss_after": round(after, 6), "trainable_parameters": n_trainable}
    if not accelerator.is_main_process:
        return {"output": output, "metrics": metrics}

    # 4. diffusers' LoRA format, with peft's config (alpha, targets) as metadata so a load scales it the same.
    record.stop("train")
    unwrapped = accelerator.unwrap_model(unet)
    with saving_into(output) as staging:
        type(pipe).save_lora_weights(staging, unet_lora_layers=convert_state_dict_to_diffusers(
                                         get_peft_model_state_dict(unwrapped)),
                                     unet_lora_adapter_metadata=unwrapped.peft_config["default"].to_dict(),
                                     safe_serialization=True)
    grid("final")
    save_loss_curve(state.history, output, f"LoRA on {Path(images.source).name}")
    record.update(base_model=str(cfg.model), prompt=prompt, metrics=metrics,
                  data={"source": images.source, "images": len(images.pixels)}, status="finished")
    console.info(console.table(["steps", "trainable params", "probe loss before", "probe loss after"],
                               [[state.step, f"{n_trainable:,}", f"{before:.4f}", f"{after:.4f}"]]))
    console.info(f"saved to {output / LORA_WEIGHTS}; apply with `llmkit diffusion sample --model {cfg.model} "
                 f"--lora {output} --prompt ...`")
    return {"output": output, "metrics": metrics}
