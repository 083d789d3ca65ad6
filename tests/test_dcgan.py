"""DCGAN: the paper's architecture rules, N(0, 0.02) init, save/load, losses that fall, the train/sample commands."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

import llmkit  # noqa: F401  (registers llmkit's model types with the Auto classes)
from llmkit.config import build_config
from llmkit.config.gan import GanConfig, GanSampleConfig
from llmkit.errors import LlmkitError
from llmkit.models.dcgan import (
    DCGANDiscriminator,
    DCGANDiscriminatorConfig,
    DCGANGenerator,
    DCGANGeneratorConfig,
)


def _pair(image_size: int = 32, channels: int = 1, width: int = 8):
    torch.manual_seed(0)
    g = DCGANGenerator(DCGANGeneratorConfig(latent_size=16, num_channels=channels, image_size=image_size,
                                            base_channels=width))
    d = DCGANDiscriminator(DCGANDiscriminatorConfig(num_channels=channels, image_size=image_size,
                                                    base_channels=width))
    return g, d


@pytest.mark.parametrize("image_size,channels", [(16, 1), (32, 1), (64, 3)])
def test_architecture_follows_the_paper(image_size, channels):
    g, d = _pair(image_size, channels)
    for net in (g, d):
        kinds = {type(m) for m in net.modules()}
        assert not kinds & {nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d}, "no pooling"
        assert nn.Linear not in kinds, "no fully connected layers"
        assert nn.BatchNorm2d in kinds
    # G: transposed convolutions only, stride 2 after the 1x1 -> 4x4 projection; ReLU inside, tanh out.
    g_layers = list(g.net)
    convs = [m for m in g_layers if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    assert all(isinstance(c, nn.ConvTranspose2d) for c in convs)
    assert [c.stride for c in convs] == [(1, 1)] + [(2, 2)] * (len(convs) - 1)
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d), "no BN on G's output"
    assert {type(m) for m in g_layers if not isinstance(m, nn.ConvTranspose2d | nn.BatchNorm2d)} == {nn.ReLU, nn.Tanh}
    # D: strided convolutions downsample, LeakyReLU(0.2), no batch norm on the input layer, a logit out.
    d_layers = list(d.net)
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU), "no BN on D's input"
    assert all(m.negative_slope == 0.2 for m in d_layers if isinstance(m, nn.LeakyReLU))
    assert {type(m) for m in d_layers} == {nn.Conv2d, nn.BatchNorm2d, nn.LeakyReLU}, "no sigmoid, no ReLU"
    d_convs = [m for m in d_layers if isinstance(m, nn.Conv2d)]
    assert [c.stride for c in d_convs] == [(2, 2)] * (len(d_convs) - 1) + [(1, 1)]
    # Shapes: z -> (C, S, S) in [-1, 1]; image -> one logit.
    images = g(torch.randn(5, 16))
    assert images.shape == (5, channels, image_size, image_size)
    assert images.abs().max() <= 1
    assert d(images).shape == (5,)


def test_weights_start_from_the_papers_normal_distribution():
    g, d = _pair(32, width=32)
    for net in (g, d):
        conv = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)])
        scale = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, nn.BatchNorm2d)])
        shift = torch.cat([m.bias.flatten() for m in net.modules() if isinstance(m, nn.BatchNorm2d)])
        assert abs(conv.mean().item()) < 2e-3 and abs(conv.std().item() - 0.02) < 1e-3
        assert abs(scale.mean().item() - 1) < 5e-3 and abs(scale.std().item() - 0.02) < 5e-3
        assert torch.equal(shift, torch.zeros_like(shift))


def test_image_size_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        DCGANGenerator(DCGANGeneratorConfig(image_size=48))


def test_save_and_load_give_identical_networks(tmp_path):
    from transformers import AutoModel

    g, d = _pair(32)
    g.save_pretrained(tmp_path / "g")
    d.save_pretrained(tmp_path / "d")
    g2, d2 = AutoModel.from_pretrained(tmp_path / "g"), AutoModel.from_pretrained(tmp_path / "d")
    assert type(g2) is DCGANGenerator and type(d2) is DCGANDiscriminator
    for a, b in ((g, g2), (d, d2)):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    z = torch.randn(3, 16)
    g.eval(), g2.eval(), d.eval(), d2.eval()
    assert torch.equal(g(z), g2(z)) and torch.equal(d(g(z)), d2(g(z)))


def test_a_few_steps_lower_each_networks_loss():
    from llmkit.data.generative_images import digit_images
    from llmkit.workflows.gan import discriminator_loss, generator_loss

    g, d = _pair(32)
    real = digit_images("train", 32)[0][:32]
    fake = g(torch.randn(32, 16, generator=torch.Generator().manual_seed(1))).detach()
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    losses = []
    for _ in range(6):  # D alone: it learns to separate these reals from these fakes
        loss, _, _ = discriminator_loss(d, real, fake)
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d.requires_grad_(False)
    z = torch.randn(32, 16, generator=torch.Generator().manual_seed(2))
    losses = []
    for _ in range(6):  # G alone, against the now fixed D: its fakes move towards "real"
        loss = generator_loss(d, g(z))
        opt_g.zero_grad()
        loss.backward()
        opt_g.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def _cfg(tmp_path, name, **train):
    return build_config(GanConfig, {
        "output": str(tmp_path / name),
        "model": {"latent_size": 16, "generator_channels": 8, "discriminator_channels": 8},
        "data": {"path": "digits", "image_size": 16, "limit": 64},
        "train": {"max_steps": 6, "batch_size": 16, "sample_steps": 3, "save_steps": 3, "logging_steps": 1,
                  "num_samples": 4, **train}})


def test_train_writes_networks_grids_curves_and_resumes_exactly(tmp_path):
    from llmkit.workflows import gan

    result = gan.run(_cfg(tmp_path, "full"))
    out = result["output"]
    for name in ("generator/config.json", "discriminator/model.safetensors", "samples/step-000003.png",
                 "samples/final.png", "loss_curve.png", "llmkit_run.json", "llmkit_recipe.yaml"):
        assert (out / name).is_file(), name
    record = json.loads((out / "llmkit_run.json").read_text())
    assert record["metrics"]["steps"] == 6 and len(json.loads((out / "loss_history.json").read_text())) == 6
    checkpoint = out / "checkpoints" / "step-3"
    assert checkpoint.is_dir()

    # Resume the same run from step 3 in a copy: it must end with the same weights, bit for bit.
    import shutil

    copy = tmp_path / "resumed"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "generator")  # what the check reads must come from the resumed run
    gan.run(_cfg(tmp_path, "resumed", resume=str(copy / "checkpoints" / "step-3")))
    full = gan.load_generator(str(out)).state_dict()
    resumed = gan.load_generator(str(copy)).state_dict()
    assert all(torch.equal(full[k], resumed[k]) for k in full)


def test_sample_is_reproducible_by_seed(tmp_path):
    from llmkit.workflows import gan

    gan.run(_cfg(tmp_path, "run", max_steps=2, save_steps=0, sample_steps=0))
    runs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        cfg = build_config(GanSampleConfig, {"model": str(tmp_path / "run"), "num_samples": 5, "seed": seed,
                                             "output": str(tmp_path / name)})
        runs[name] = gan.sample(cfg)["images"]
        assert len(list((tmp_path / name / "images").glob("*.png"))) == 5
        assert (tmp_path / name / "grid.png").is_file()
    assert (runs["a"] == runs["b"]).all() and not (runs["a"] == runs["c"]).all()


def test_bad_input_fails_before_writing(tmp_path):
    from llmkit.workflows import gan

    with pytest.raises(LlmkitError, match="no DCGAN generator"):
        gan.sample(build_config(GanSampleConfig, {"model": str(tmp_path), "output": str(tmp_path / "out")}))
    with pytest.raises(LlmkitError, match="not a folder"):
        gan.run(build_config(GanConfig, {"output": str(tmp_path / "x"), "data": {"path": str(tmp_path / "none")}}))
    with pytest.raises(LlmkitError, match="lower train.batch_size"):
        gan.run(_cfg(tmp_path, "y", batch_size=128))
    assert not (tmp_path / "out").exists() and not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
    # A network that cannot be built fails before --overwrite replaces the earlier run in its folder.
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "generator.txt").write_text("an earlier run")
    bad_size = _cfg(tmp_path, "earlier")
    bad_size.data.image_size, bad_size.overwrite = 48, True
    with pytest.raises(LlmkitError, match="power of two"):
        gan.run(bad_size)
    assert (earlier / "generator.txt").read_text() == "an earlier run"
