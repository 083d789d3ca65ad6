"""DCGAN: a generator and a discriminator made only of convolutions.

Radford, Metz & Chintala, "Unsupervised Representation Learning with Deep Convolutional Generative
Adversarial Networks", ICLR 2016 (arXiv:1511.06434).

The paper's architecture guidelines, each kept here:
- no pooling: transposed convolutions (stride 2) upsample in G, strided convolutions downsample in D;
- batch norm in both networks, except on G's output layer and D's input layer;
- no fully connected hidden layers: G's first layer turns the latent vector (a 1x1 map) into a 4x4 map
  with a 4x4 transposed convolution (the paper's "project and reshape"), D's last layer is a 4x4
  convolution to one logit;
- ReLU in G with tanh on the output, LeakyReLU(0.2) in D;
- weights drawn from N(0, 0.02) (batch-norm scales from N(1, 0.02), as pytorch/examples does).
The layer widths follow pytorch/examples' dcgan (`ngf`/`ndf` = `base_channels`), with one
upsampling stage per doubling from 4x4 to `image_size`. D returns a logit rather than a sigmoid
probability: BCE-with-logits is the same loss, computed stably.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers import initialization as init


def _stages(image_size: int) -> int:
    """Stride-2 stages between the 4x4 map and `image_size` (32 -> 3)."""
    stages = math.log2(image_size / 4) if image_size >= 8 else 0.5
    if not stages.is_integer():
        raise ValueError(f"DCGAN image_size must be a power of two, at least 8; got {image_size}")
    return int(stages)


class DCGANGeneratorConfig(PretrainedConfig):
    model_type = "llmkit-dcgan-generator"

    def __init__(self, latent_size: int = 100, num_channels: int = 1, image_size: int = 32,
                 base_channels: int = 64, **kwargs):
        self.latent_size = latent_size
        self.num_channels = num_channels
        self.image_size = image_size
        self.base_channels = base_channels
        super().__init__(**kwargs)


class DCGANDiscriminatorConfig(PretrainedConfig):
    model_type = "llmkit-dcgan-discriminator"

    def __init__(self, num_channels: int = 1, image_size: int = 32, base_channels: int = 64,
                 leaky_slope: float = 0.2, **kwargs):
        self.num_channels = num_channels
        self.image_size = image_size
        self.base_channels = base_channels
        self.leaky_slope = leaky_slope
        super().__init__(**kwargs)


class DCGANPreTrainedModel(PreTrainedModel):
    """N(0, 0.02) for every convolution, N(1, 0.02) for batch-norm scales (Radford et al., section 4).

    Initialisation goes through `transformers.initialization`, whose helpers skip tensors that
    `from_pretrained` has already filled (writing through `.data` can silently undo a load).
    """

    base_model_prefix = "dcgan"
    supports_gradient_checkpointing = False

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
            init.normal_(module.weight, mean=0.0, std=0.02)
        elif isinstance(module, nn.BatchNorm2d):
            init.normal_(module.weight, mean=1.0, std=0.02)
            init.zeros_(module.bias)
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
            init.zeros_(module.num_batches_tracked)


class DCGANGenerator(DCGANPreTrainedModel):
    """Latent vector z (B, latent_size) -> image (B, C, H, W) in [-1, 1]."""

    config_class = DCGANGeneratorConfig
    main_input_name = "latents"

    def __init__(self, config: DCGANGeneratorConfig):
        super().__init__(config)
        stages = _stages(config.image_size)
        width = config.base_channels * 2 ** (stages - 1)
        # Project and reshape: 1x1 -> 4x4. Biases are dropped before batch norm, which cancels them.
        layers: list[nn.Module] = [nn.ConvTranspose2d(config.latent_size, width, 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(width), nn.ReLU(True)]
        for _ in range(stages - 1):  # each stage doubles the side and halves the channels
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2),
                       nn.ReLU(True)]
            width //= 2
        layers += [nn.ConvTranspose2d(width, config.num_channels, 4, 2, 1, bias=False), nn.Tanh()]  # no BN here
        self.net = nn.Sequential(*layers)
        self.post_init()

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.net(latents.reshape(len(latents), self.config.latent_size, 1, 1))

    def sample_latents(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latent vectors from N(0, I), on the model's device (a seeded `generator` repeats them)."""
        return torch.randn(n, self.config.latent_size, generator=generator).to(self.device)


class DCGANDiscriminator(DCGANPreTrainedModel):
    """Image (B, C, H, W) in [-1, 1] -> one real/fake logit per image (B,)."""

    config_class = DCGANDiscriminatorConfig
    main_input_name = "pixel_values"

    def __init__(self, config: DCGANDiscriminatorConfig):
        super().__init__(config)
        stages = _stages(config.image_size)
        width = config.base_channels
        # The input layer has no batch norm (normalising raw pixels made training unstable in the paper).
        layers: list[nn.Module] = [nn.Conv2d(config.num_channels, width, 4, 2, 1, bias=False),
                                   nn.LeakyReLU(config.leaky_slope, True)]
        for _ in range(stages - 1):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2),
                       nn.LeakyReLU(config.leaky_slope, True)]
            width *= 2
        layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]  # 4x4 -> one logit, no dense layer
        self.net = nn.Sequential(*layers)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.net(pixel_values).flatten()


def register() -> None:
    """Make both types loadable by `AutoConfig` / `AutoModel` (safe to call twice)."""
    from transformers import AutoConfig, AutoModel

    for config_cls, model_cls in ((DCGANGeneratorConfig, DCGANGenerator),
                                  (DCGANDiscriminatorConfig, DCGANDiscriminator)):
        AutoConfig.register(config_cls.model_type, config_cls, exist_ok=True)
        AutoModel.register(config_cls, model_cls, exist_ok=True)
