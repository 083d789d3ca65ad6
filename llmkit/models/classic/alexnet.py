"""AlexNet.

Krizhevsky, Sutskever & Hinton, "ImageNet classification with deep convolutional neural networks",
NeurIPS 2012.

Five convolutions (11x11/4, 5x5, 3x3, 3x3, 3x3) with ReLU, local response normalisation after the
first two, overlapping 3x3/2 max pooling, then three fully connected layers with dropout 0.5.

Two presets (see `registry.py`): `alexnet` is the paper's network, 96-256-384-384-256 filters with
conv2, conv4 and conv5 split into two groups as they were across the paper's two GPUs: 60,965,224
parameters for 1000 classes (the paper's "60 million"). `alexnet-torchvision` is the single-GPU
variant torchvision ships (Krizhevsky 2014, "One weird trick..."): 64-192-384-256-256 filters, no
groups, no LRN: 61,100,840 parameters. LRN has no parameters, so only the widths and groups differ.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import ImageClassifierOutput

from llmkit.models.classic.common import ClassicConfig, ClassicPreTrainedModel, classification_loss, with_labels


class AlexNetConfig(ClassicConfig):
    model_type = "llmkit-alexnet"

    def __init__(self, num_channels: int = 3, channels: list[int] | None = None, groups: list[int] | None = None,
                 hidden_size: int = 4096, local_response_norm: bool = True, stem_kernel: int = 11,
                 stem_stride: int = 4, pool_size: int = 6, dropout: float = 0.5, num_labels: int = 1000,
                 **kwargs):
        self.num_channels = num_channels
        self.channels = list(channels) if channels is not None else [96, 256, 384, 384, 256]
        self.groups = list(groups) if groups is not None else [1, 2, 1, 2, 2]
        self.hidden_size = hidden_size
        self.local_response_norm = local_response_norm
        # The 11x11/4 stem is for 224x224 photos; small images (32x32) need a 3x3/1 stem to keep any map.
        self.stem_kernel = stem_kernel
        self.stem_stride = stem_stride
        self.pool_size = pool_size
        self.dropout = dropout
        super().__init__(**with_labels(num_labels, kwargs))


class AlexNetForImageClassification(ClassicPreTrainedModel):
    config_class = AlexNetConfig

    def __init__(self, config: AlexNetConfig):
        super().__init__(config)
        c, g = config.channels, config.groups

        def lrn() -> nn.Module:
            # k=2, n=5, alpha=1e-4, beta=0.75 as in section 3.3 of the paper
            if not config.local_response_norm:
                return nn.Identity()
            return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)

        def pool() -> nn.Module:
            return nn.MaxPool2d(kernel_size=3, stride=2)  # overlapping: stride < kernel

        self.features = nn.Sequential(
            nn.Conv2d(config.num_channels, c[0], config.stem_kernel, stride=config.stem_stride,
                      padding=config.stem_kernel // 4 if config.stem_stride > 1 else config.stem_kernel // 2,
                      groups=g[0]),
            nn.ReLU(inplace=True), lrn(), pool(),
            nn.Conv2d(c[0], c[1], 5, padding=2, groups=g[1]), nn.ReLU(inplace=True), lrn(), pool(),
            nn.Conv2d(c[1], c[2], 3, padding=1, groups=g[2]), nn.ReLU(inplace=True),
            nn.Conv2d(c[2], c[3], 3, padding=1, groups=g[3]), nn.ReLU(inplace=True),
            nn.Conv2d(c[3], c[4], 3, padding=1, groups=g[4]), nn.ReLU(inplace=True), pool(),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(config.pool_size)
        hidden, flat = config.hidden_size, c[4] * config.pool_size ** 2
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(config.dropout), nn.Linear(flat, hidden), nn.ReLU(inplace=True),
            nn.Dropout(config.dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, config.num_labels),
        )
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None,
                return_dict: bool | None = None) -> ImageClassifierOutput:
        logits = self.classifier(self.avgpool(self.features(pixel_values)))
        return ImageClassifierOutput(loss=classification_loss(logits, labels), logits=logits)
