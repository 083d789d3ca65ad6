"""Train an unconditional DDPM from scratch with diffusers (`llmkit diffusion train`).

Ho, Jain & Abbeel, "Denoising Diffusion Probabilistic Models", NeurIPS 2020: a UNet learns to predict
the noise that `DDPMScheduler.add_noise` mixed into an image at a random timestep.

Steps: 1. check the output folder and read the images  2. build `UNet2DModel` and `DDPMScheduler` from
the recipe  3. train on `accelerate.Accelerator`: AdamW, linear warm-up then cosine decay, gradient
clipping, EMA weights (diffusers' `EMAModel`, with warm-up), grids sampled from the EMA weights with
DDIM, resumable checkpoints  4. save the EMA UNet and the scheduler as a `DDPMPipeline` folder (the
output folder itself: `DDPMPipeline.from_pretrained(output)` loads it), the loss curve and the record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config.diffusion import DiffusionConfig
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


def build_unet(cfg: DiffusionConfig, channels: int) -> Any:
    """A UNet2DModel with one resolution level per `unet.block_out_channels` entry."""
    from diffusers import UNet2DModel

    u = cfg.unet
    if len(u.attention) != len(u.block_out_channels):
        raise LlmkitError(f"unet.attention has {len(u.attention)} entries but unet.block_out_channels has "
                          f"{len(u.block_out_channels)}; give one per level")
    if any(c % u.norm_num_groups for c in u.block_out_channels):
        raise LlmkitError(f"unet.norm_num_groups={u.norm_num_groups} must divide every unet.block_out_channels "
                          f"entry {u.block_out_channels}")
    if cfg.data.image_size % 2 ** (len(u.block_out_channels) - 1):
        raise LlmkitError(f"data.image_size {cfg.data.image_size} must halve {len(u.block_out_channels) - 1} times "
                          f"(one per UNet level below the first)")
    down = [("AttnDownBlock2D" if a else "DownBlock2D") for a in u.attention]
    up = [("AttnUpBlock2D" if a else "UpBlock2D") for a in reversed(u.attention)]
    return UNet2DModel(sample_size=cfg.data.image_size, in_channels=channels, out_channels=channels,
                       layers_per_block=u.layers_per_block, block_out_channels=tuple(u.block_out_channels),
                       down_block_types=tuple(down), up_block_types=tuple(up), norm_num_groups=u.norm_num_groups,
                       dropout=u.dropout)


def run(cfg: DiffusionConfig) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from diffusers import DDIMScheduler, DDPMPipeline, DDPMScheduler
    from diffusers.optimization import get_cosine_schedule_with_warmup
    from diffusers.training_utils import EMAModel
    from tqdm.auto import tqdm

    from llmkit.data.generative_images import load_training_images
    from llmkit.plots.loss_curve import save_loss_curve
    from llmkit.training.accelerator import build_accelerator
    from llmkit.training.schedule import warmup_steps

    # 1. Output folder and images.
    output = Path(cfg.output) if cfg.output else default_output("diffusion", "ddpm")
    accelerator = build_accelerator()
    images = load_training_images(cfg.data.path, cfg.data.image_size, cfg.data.channels, limit=cfg.data.limit)
    t = cfg.train
    batches = image_batches(len(images.pixels), t.batch_size, t.seed, accelerator)
    total = total_steps(batches, t)

    # 2. The UNet (seeded) and the noise schedule.
    torch.manual_seed(t.seed)
    unet = build_unet(cfg, images.pixels.shape[1])
    s = cfg.scheduler
    noise_scheduler = DDPMScheduler(num_train_timesteps=s.num_train_timesteps, beta_schedule=s.beta_schedule,
                                    prediction_type=s.prediction_type)
    if accelerator.is_main_process:
        prepare_run_output(output, cfg.overwrite, t.resume)
    n_params = sum(p.numel() for p in unet.parameters())
    console.info(f"data: {images.describe()}; UNet2DModel {n_params:,} parameters; {total} steps of "
                 f"{batches.rows_per_step} images")

    # 3. Optimizer, schedule (in optimizer steps: llmkit's Accelerator steps it once per step), EMA.
    optimizer = torch.optim.AdamW(unet.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    lr_scheduler = get_cosine_schedule_with_warmup(optimizer, warmup_steps(t.warmup_steps, total), total)
    ema = EMAModel(unet.parameters(), decay=t.ema_decay, use_ema_warmup=True, power=t.ema_power)
    unet, optimizer, lr_scheduler = accelerator.prepare(unet, optimizer, lr_scheduler)
    ema.to(accelerator.device)
    accelerator.register_for_checkpointing(ema)
    checkpoints = LoopCheckpoints(accelerator, output / CHECKPOINTS, t.keep_checkpoints)
    state = resume_state(checkpoints, t.resume, output)
    record = RunRecord(output, "diffusion", cfg) if accelerator.is_main_process else None
    pixels = images.pixels.to(accelerator.device)

    def ema_pipeline() -> Any:
        """The EMA weights in a fresh UNet, in a pipeline whose scheduler is the training one."""
        ema_unet = build_unet(cfg, images.pixels.shape[1]).to(accelerator.device)
        ema.copy_to(ema_unet.parameters())
        return DDPMPipeline(unet=ema_unet.eval(), scheduler=noise_scheduler)

    def grid(name: str) -> None:
        if accelerator.is_main_process:
            pipe = ema_pipeline()
            pipe.scheduler = DDIMScheduler.from_config(noise_scheduler.config)  # a few steps suffice for a preview
            pipe.set_progress_bar_config(disable=True)
            out = pipe(batch_size=t.num_samples, generator=torch.Generator().manual_seed(t.seed),
                       num_inference_steps=t.inference_steps, output_type="pt").images
            write_grid(out * 2 - 1, output, name)

    if record:
        record.start("train")
    progress = tqdm(total=total, initial=state.step, desc="ddpm", disable=not accelerator.is_local_main_process)
    while state.step < total:
        # a. a batch, noise and a timestep per image, all drawn from this step's generator
        rng = step_generator(t.seed, state.step, accelerator.process_index)
        clean = pixels[batches.rows(state.step)]
        noise = torch.randn(clean.shape, generator=rng).to(clean.device)
        timesteps = torch.randint(0, s.num_train_timesteps, (len(clean),), generator=rng).to(clean.device)
        # b. forward diffusion: x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise
        noisy = noise_scheduler.add_noise(clean, noise, timesteps)
        if s.prediction_type == "epsilon":
            target = noise
        elif s.prediction_type == "v_prediction":
            target = noise_scheduler.get_velocity(clean, noise, timesteps)
        else:
            target = clean
        # c. the UNet's prediction, the loss, a clipped step, then the EMA of the weights
        loss = F.mse_loss(unet(noisy, timesteps).sample, target)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(unet.parameters(), t.max_grad_norm)
        optimizer.step()
        lr_scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        ema.step(unet.parameters())
        finish_step(state, t, total, progress, checkpoints, grid, loss=loss.item(), lr=lr_scheduler.get_last_lr()[0])
    progress.close()
    metrics = {"steps": state.step, "loss": state.history[-1]["loss"], "parameters": n_params}
    if not accelerator.is_main_process:
        return {"output": output, "metrics": metrics}

    # 4. The EMA weights and the training scheduler as a DDPMPipeline folder, next to llmkit's files.
    record.stop("train")
    with saving_into(output) as staging:
        ema_pipeline().save_pretrained(staging)
    grid("final")
    save_loss_curve(state.history, output, f"DDPM on {Path(images.source).name}")
    record.update(data={"source": images.source, "images": len(images.pixels),
                        "shape": list(images.pixels.shape[1:])}, metrics=metrics, status="finished")
    console.info(console.table(["steps", "final loss", "UNet parameters"],
                               [[state.step, metrics["loss"], f"{n_params:,}"]]))
    console.info(f"saved to {output}: DDPMPipeline.from_pretrained({str(output)!r}) loads it; "
                 f"`llmkit diffusion sample --model {output}` samples")
    return {"output": output, "metrics": metrics}
