"""LeNet-5.

LeCun, Bottou, Bengio & Haffner, "Gradient-based learning applied to document recognition",
Proc. IEEE 86(11), 1998.

C1 conv 5x5 (6) -> S2 pool -> C3 conv 5x5 (16) -> S4 pool -> C5 conv 5x5 (120) -> F6 (84) -> output,
on 32x32 inputs, squashing (tanh or sigmoid) nonlinearities. Two simplifications of the paper, both
standard: C3 connects to all six S2 maps (the paper's sparse table, kept to break symmetry and save
compute, is a modern full convolution here), and S2/S4 are average pooling without the paper's
trainable coefficient and bias per map. With these, the parameter count is 61,706 for 10 classes;
the output layer is a linear layer with cross-entropy instead of the paper's RBF units.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import ImageClassifierOutput

from llmkit.models.classic.common import (
    ClassicConfig,
    ClassicPreTrainedModel,
    activation,
    classification_loss,
    with_labels,
)


class LeNet5Config(ClassicConfig):
    model_type = "llmkit-lenet5"

    def __init__(self, num_channels: int = 1, image_size: int = 32, activation: str = "tanh",
                 pooling: str = "avg", num_labels: int = 10, **kwargs):
        self.num_channels = num_channels
        self.image_size = image_size
        self.activation = activation
        self.pooling = pooling
        super().__init__(**with_labels(num_labels, kwargs))


class LeNet5ForImageClassification(ClassicPreTrainedModel):
    config_class = LeNet5Config

    def __init__(self, config: LeNet5Config):
        super().__init__(config)
        if config.image_size != 32:
            raise ValueError("LeNet-5 is defined on 32x32 inputs (C5 sees a 5x5 map); resize images to 32")
        act = lambda: activation(config.activation)  # noqa: E731
        pool = lambda: nn.AvgPool2d(2) if config.pooling == "avg" else nn.MaxPool2d(2)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(config.num_channels, 6, 5), act(), pool(),  # C1: 32 -> 28, S2: -> 14
            nn.Conv2d(6, 16, 5), act(), pool(),                    # C3: 14 -> 10, S4: -> 5
            nn.Conv2d(16, 120, 5), act(),                          # C5: 5 -> 1
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(120, 84), act(), nn.Linear(84, config.num_labels))
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None,
                return_dict: bool | None = None) -> ImageClassifierOutput:
        logits = self.classifier(self.features(pixel_values))
        return ImageClassifierOutput(loss=classification_loss(logits, labels), logits=logits)
