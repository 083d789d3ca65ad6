"""Train a DCGAN (`llmkit gan train`) and sample from its generator (`llmkit gan sample`).

Training steps: 1. check the output folder and read the images  2. build G and D (N(0, 0.02) init)
3. per step, on `accelerate.Accelerator` with two Adam optimizers (Radford et al.: lr 2e-4, beta1 0.5):
   a. D learns to tell a real batch from G's fakes (BCE on real -> 1, fake -> 0),
   b. G learns to make D call its fakes real (the non-saturating loss, BCE on fake -> 1);
   grids from fixed latents, checkpoints, the loss history  4. save G and D (`from_pretrained` loads
   each), the final grid, the loss curves and the run record.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config.gan import GanConfig, GanSampleConfig
from llmkit.errors import LlmkitError
from llmkit.run_dir import RunRecord, check_output_dir, default_output, prepare_output_dir, saving_into
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

GENERATOR, DISCRIMINATOR = "generator", "discriminator"


def discriminator_loss(discriminator: Any, real: Any, fake: Any) -> tuple[Any, Any, Any]:
    """BCE of D's logits against real -> 1 and fake -> 0; also D's mean probabilities (D(x), D(G(z)))."""
    import torch
    import torch.nn.functional as F

    d_real, d_fake = discriminator(real), discriminator(fake)
    loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
    return loss, torch.sigmoid(d_real).mean(), torch.sigmoid(d_fake).mean()


def generator_loss(discriminator: Any, fake: Any) -> Any:
    """The non-saturating generator loss (Goodfellow et al. 2014): -log D(G(z)), strong while D wins."""
    import torch
    import torch.nn.functional as F

    logits = discriminator(fake)
    return F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))


def run(cfg: GanConfig) -> dict[str, Any]:
    import torch
    from tqdm.auto import tqdm

    from llmkit.data.generative_images import load_training_images
    from llmkit.models.dcgan import (
        DCGANDiscriminator,
        DCGANDiscriminatorConfig,
        DCGANGenerator,
        DCGANGeneratorConfig,
    )
    from llmkit.plots.loss_curve import save_loss_curve
    from llmkit.training.accelerator import build_accelerator

    # 1. Output folder and images: everything a user can get wrong fails before training starts.
    output = Path(cfg.output) if cfg.output else default_output("gan", "dcgan")
    accelerator = build_accelerator()
    images = load_training_images(cfg.data.path, cfg.data.image_size, cfg.data.channels, limit=cfg.data.limit)
    batches = image_batches(len(images.pixels), cfg.train.batch_size, cfg.train.seed, accelerator)
    total = total_steps(batches, cfg.train)
    console.info(f"data: {images.describe()}; {total} steps of {batches.rows_per_step} images")

    # 2. G and D, seeded: the same seed gives the same networks. Built before the output folder is touched,
    # so a bad image_size fails without replacing an earlier run.
    size, channels = cfg.data.image_size, images.pixels.shape[1]
    try:
        torch.manual_seed(cfg.train.seed)
        generator = DCGANGenerator(DCGANGeneratorConfig(
            latent_size=cfg.model.latent_size, num_channels=channels, image_size=size,
            base_channels=cfg.model.generator_channels))
        discriminator = DCGANDiscriminator(DCGANDiscriminatorConfig(
            num_channels=channels, image_size=size, base_channels=cfg.model.discriminator_channels))
    except ValueError as e:
        raise LlmkitError(f"cannot build the DCGAN: {e}") from None
    if accelerator.is_main_process:
        prepare_run_output(output, cfg.overwrite, cfg.train.resume)
    betas = (cfg.train.beta1, cfg.train.beta2)
    opt_g = torch.optim.Adam(generator.parameters(), lr=cfg.train.lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=cfg.train.lr, betas=betas)
    generator, discriminator, opt_g, opt_d = accelerator.prepare(generator, discriminator, opt_g, opt_d)
    checkpoints = LoopCheckpoints(accelerator, output / CHECKPOINTS, cfg.train.keep_checkpoints)
    state = resume_state(checkpoints, cfg.train.resume, output)
    record = RunRecord(output, "gan", cfg) if accelerator.is_main_process else None
    fixed_latents = accelerator.unwrap_model(generator).sample_latents(
        cfg.train.num_samples, torch.Generator().manual_seed(cfg.train.seed))
    pixels = images.pixels.to(accelerator.device)

    def grid(name: str) -> None:
        if accelerator.is_main_process:
            g = accelerator.unwrap_model(generator)
            g.eval()  # batch norm on its running statistics, as at sampling time
            with torch.no_grad():
                write_grid(g(fixed_latents), output, name)
            g.train()

    # 3. The adversarial loop.
    if record:
        record.start("train")
    progress = tqdm(total=total, initial=state.step, desc="dcgan", disable=not accelerator.is_local_main_process)
    while state.step < total:
        rng = step_generator(cfg.train.seed, state.step, accelerator.process_index)
        real = pixels[batches.rows(state.step)]
        latents = torch.randn(len(real), cfg.model.latent_size, generator=rng).to(accelerator.device)
        # a. D: real -> 1, fake -> 0 (fakes detached: this step must not move G)
        fake = generator(latents)
        loss_d, d_real, d_fake = discriminator_loss(discriminator, real, fake.detach())
        opt_d.zero_grad(set_to_none=True)
        accelerator.backward(loss_d)
        opt_d.step()
        # b. G: make the (just updated) D say 1 for the same fakes
        loss_g = generator_loss(discriminator, fake)
        opt_g.zero_grad(set_to_none=True)
        accelerator.backward(loss_g)
        opt_g.step()
        finish_step(state, cfg.train, total, progress, checkpoints, grid,
                    loss_d=loss_d.item(), loss_g=loss_g.item(), d_real=d_real.item(), d_fake=d_fake.item())
    progress.close()
    last = state.history[-1]
    metrics = {"steps": state.step, "loss_d": last["loss_d"], "loss_g": last["loss_g"],
               "d_real": round(last["d_real"], 4), "d_fake": round(last["d_fake"], 4)}
    if not accelerator.is_main_process:
        return {"output": output, "metrics": metrics}

    # 4. Save both networks, the final grid and the curves.
    record.stop("train")
    with saving_into(output) as staging:
        accelerator.unwrap_model(generator).save_pretrained(staging / GENERATOR)
        accelerator.unwrap_model(discriminator).save_pretrained(staging / DISCRIMINATOR)
    grid("final")
    save_loss_curve(state.history, output, f"DCGAN on {Path(images.source).name}",
                    {"loss_d": "D loss", "loss_g": "G loss"})
    record.update(data={"source": images.source, "images": len(images.pixels),
                        "shape": list(images.pixels.shape[1:])},
                  model={"generator_parameters": sum(p.numel() for p in generator.parameters()),
                         "discriminator_parameters": sum(p.numel() for p in discriminator.parameters())},
                  metrics=metrics, status="finished")
    console.info(console.table(["steps", "D loss", "G loss", "D(real)", "D(G(z))"],
                               [[state.step, last["loss_d"], last["loss_g"], metrics["d_real"], metrics["d_fake"]]]))
    console.info(f"saved to {output} (generator/, discriminator/, samples/final.png, loss_curve.png)")
    return {"output": output, "metrics": metrics}


def sample(cfg: GanSampleConfig) -> dict[str, Any]:
    """Generate `num_samples` images from a saved generator: one PNG each, a grid, and the run record."""
    import torch

    from llmkit.data.generative_images import to_uint8
    from llmkit.plots.images import save_grid, save_images

    generator = load_generator(cfg.model)
    if cfg.num_samples < 1:
        raise LlmkitError(f"num_samples must be at least 1, got {cfg.num_samples}")
    output = Path(cfg.output) if cfg.output else default_output("gan", "sample")
    check_output_dir(output, cfg.overwrite, cfg)
    with torch.no_grad():
        images = to_uint8(generator(generator.sample_latents(cfg.num_samples, torch.Generator().manual_seed(cfg.seed))))
    prepare_output_dir(output, cfg.overwrite, cfg)
    record = RunRecord(output, "gan-sample", cfg)
    save_images(images, output / "images")
    save_grid(images, output / "grid.png", scale=2)
    record.update(metrics={"images": len(images)}, status="finished")
    console.info(f"{len(images)} images in {output / 'images'}, grid in {output / 'grid.png'}")
    return {"output": output, "images": images}


def load_generator(path: str) -> Any:
    """A DCGAN generator, in eval mode, from a `gan train` output folder or its generator/ folder."""
    from llmkit.models.dcgan import DCGANGenerator

    folder = Path(path).expanduser()
    if (folder / GENERATOR / "config.json").is_file():
        folder = folder / GENERATOR
    if not (folder / "config.json").is_file():
        raise LlmkitError(f"{path} holds no DCGAN generator; pass a `llmkit gan train` output folder")
    try:
        return DCGANGenerator.from_pretrained(folder).eval()
    except (ValueError, OSError) as e:
        raise LlmkitError(f"cannot load a DCGAN generator from {folder}: {str(e).splitlines()[0]}") from None
