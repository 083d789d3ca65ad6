"""Diffusion: DDPM training (loss falls, the output loads as a DDPMPipeline, exact resume), sampling with
DDPM/DDIM and other samplers, text-to-image pipelines and LoRA fine-tuning on tiny random components."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from tiny_diffusers import save_tiny_text_to_image

from llmkit.config import build_config
from llmkit.config.diffusion import DiffusionConfig, DiffusionFinetuneConfig, DiffusionSampleConfig
from llmkit.errors import LlmkitError

TINY_UNET = {"block_out_channels": [8, 16], "attention": [False, True], "layers_per_block": 1, "norm_num_groups": 4}


def _ddpm_cfg(tmp_path, name, **train):
    return build_config(DiffusionConfig, {
        "output": str(tmp_path / name), "unet": TINY_UNET, "data": {"path": "digits", "image_size": 16, "limit": 64},
        "train": {"max_steps": 4, "batch_size": 16, "sample_steps": 2, "save_steps": 2, "logging_steps": 1,
                  "num_samples": 4, "inference_steps": 2, "warmup_steps": 1, **train}})


def _unet_loss(unet, scheduler, images, seed=0):
    """Noise-prediction loss on fixed images, noise and timesteps."""
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(images.shape, generator=g)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (len(images),), generator=g)
    with torch.no_grad():
        return torch.nn.functional.mse_loss(unet(scheduler.add_noise(images, noise, t), t).sample, noise).item()


@pytest.fixture(scope="module")
def ddpm_run(tmp_path_factory):
    from llmkit.workflows import diffusion

    tmp = tmp_path_factory.mktemp("ddpm")
    return diffusion.run(_ddpm_cfg(tmp, "run"))["output"]


def test_ddpm_output_is_a_pipeline_folder_with_grids_and_curves(ddpm_run):
    from diffusers import DDPMPipeline, UNet2DModel

    pipe = DDPMPipeline.from_pretrained(ddpm_run)
    assert isinstance(pipe.unet, UNet2DModel) and pipe.unet.config.sample_size == 16
    assert list(pipe.unet.config.block_out_channels) == [8, 16]
    for name in ("samples/step-000002.png", "samples/final.png", "loss_curve.png", "llmkit_run.json",
                 "checkpoints/step-2/llmkit_state.json"):
        assert (ddpm_run / name).is_file(), name
    assert json.loads((ddpm_run / "llmkit_run.json").read_text())["metrics"]["steps"] == 4


def test_ddpm_training_lowers_the_loss_of_the_saved_ema_weights(tmp_path):
    from diffusers import DDPMPipeline

    from llmkit.data.generative_images import digit_images
    from llmkit.workflows import diffusion

    cfg = _ddpm_cfg(tmp_path, "run", max_steps=40, sample_steps=0, save_steps=0, lr=3e-3, warmup_steps=5)
    diffusion.run(cfg)
    torch.manual_seed(cfg.train.seed)  # the run built its UNet right after this seed
    initial = diffusion.build_unet(cfg, 1).eval()
    trained = DDPMPipeline.from_pretrained(tmp_path / "run")
    images = digit_images("train", 16)[0][:32]
    before = _unet_loss(initial, trained.scheduler, images)
    after = _unet_loss(trained.unet, trained.scheduler, images)
    assert after < 0.7 * before, (before, after)


def test_ddpm_resume_continues_exactly(tmp_path, ddpm_run):
    from diffusers import UNet2DModel

    from llmkit.workflows import diffusion

    copy = tmp_path / "resumed"
    shutil.copytree(ddpm_run, copy)
    diffusion.run(_ddpm_cfg(tmp_path, "resumed", resume="latest"))  # latest: step 2 (the last step saves none)
    a = UNet2DModel.from_pretrained(ddpm_run / "unet").state_dict()
    b = UNet2DModel.from_pretrained(copy / "unet").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sampling_with_ddim_and_ddpm_is_seeded(tmp_path, ddpm_run):
    from llmkit.workflows import diffusion_sample

    def sample(name, **values):
        cfg = build_config(DiffusionSampleConfig, {"model": str(ddpm_run), "output": str(tmp_path / name),
                                                   "num_samples": 3, "batch_size": 2, **values})
        return diffusion_sample.run(cfg)["images"]

    ddim = sample("ddim", scheduler="ddim", inference_steps=4)
    assert ddim.shape == (3, 16, 16, 1) and len(list((tmp_path / "ddim" / "images").glob("*.png"))) == 3
    assert (tmp_path / "ddim" / "grid.png").is_file()
    record = json.loads((tmp_path / "ddim" / "llmkit_run.json").read_text())
    assert record["scheduler"] == "DDIMScheduler"
    assert (sample("ddim-again", scheduler="ddim", inference_steps=4) == ddim).all()
    assert not (sample("ddim-seed", scheduler="ddim", inference_steps=4, seed=1) == ddim).all()
    assert sample("ddpm", scheduler="ddpm", inference_steps=5).shape == (3, 16, 16, 1)
    with pytest.raises(LlmkitError, match="not available for DDPMPipeline"):
        sample("euler", scheduler="euler")
    with pytest.raises(LlmkitError, match="unconditional"):
        sample("prompt", prompt="a digit")
    assert not (tmp_path / "euler").exists() and not (tmp_path / "prompt").exists()


@pytest.fixture(scope="module")
def text_to_image(tmp_path_factory):
    return save_tiny_text_to_image(tmp_path_factory.mktemp("tiny-sd"))


@pytest.mark.parametrize("scheduler", ["pipeline", "euler", "dpm++"])
def test_text_to_image_pipeline_samples_with_a_prompt(tmp_path, text_to_image, scheduler):
    from llmkit.workflows import diffusion_sample

    cfg = build_config(DiffusionSampleConfig, {
        "model": str(text_to_image), "prompt": "a handwritten digit 3", "scheduler": scheduler, "inference_steps": 3,
        "num_samples": 2, "height": 32, "width": 32, "output": str(tmp_path / "out")})
    images = diffusion_sample.run(cfg)["images"]
    assert images.shape == (2, 32, 32, 3) and images.std() > 0
    assert len(list((tmp_path / "out" / "images").glob("*.png"))) == 2
    with pytest.raises(LlmkitError, match="pass --prompt"):
        diffusion_sample.run(build_config(DiffusionSampleConfig, {"model": str(text_to_image),
                                                                  "output": str(tmp_path / "none")}))


def test_lora_finetune_lowers_the_loss_and_reloads_into_the_pipeline(tmp_path, text_to_image):
    from safetensors.torch import load_file

    from llmkit.data.generative_images import load_training_images
    from llmkit.workflows import diffusion_lora, diffusion_sample

    cfg = build_config(DiffusionFinetuneConfig, {
        "model": str(text_to_image), "output": str(tmp_path / "lora"), "prompt": "a handwritten digit 7",
        "data": {"path": "digits", "image_size": 32, "limit": 4},
        "lora": {"r": 4, "alpha": 8},
        "train": {"max_steps": 12, "batch_size": 2, "lr": 1e-2, "sample_steps": 6, "save_steps": 0, "logging_steps": 1,
                  "num_samples": 2, "inference_steps": 2}})
    metrics = diffusion_lora.run(cfg)["metrics"]
    out = tmp_path / "lora"
    assert metrics["probe_loss_after"] < metrics["probe_loss_before"]
    weights = load_file(out / diffusion_lora.LORA_WEIGHTS)
    assert weights and all("lora" in k for k in weights)
    assert sum(v.numel() for v in weights.values()) == metrics["trainable_parameters"]
    assert (out / "samples" / "step-000006.png").is_file() and (out / "loss_curve.png").is_file()

    # diffusers' own loader applies the saved LoRA (alpha included): the probe loss comes back exactly.
    images = load_training_images("digits", 32, 3, limit=4)
    probe = (images.pixels[:2], images.captions[:2])
    reloaded = diffusion_sample.load_pipeline(str(text_to_image), lora=str(out))
    assert diffusion_lora.probe_loss(reloaded, *probe, seed=42) == pytest.approx(metrics["probe_loss_after"], abs=1e-5)
    base = diffusion_sample.load_pipeline(str(text_to_image))
    assert diffusion_lora.probe_loss(base, *probe, seed=42) == pytest.approx(metrics["probe_loss_before"], abs=1e-5)


def test_finetune_refuses_an_unconditional_pipeline(tmp_path, ddpm_run):
    from llmkit.workflows import diffusion_lora

    cfg = build_config(DiffusionFinetuneConfig, {"model": str(ddpm_run), "output": str(tmp_path / "out")})
    with pytest.raises(LlmkitError, match="text-to-image"):
        diffusion_lora.run(cfg)
    assert not (tmp_path / "out").exists()
