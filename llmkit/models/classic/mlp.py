"""Perceptron and multi-layer perceptron.

Rosenblatt, "The perceptron: a probabilistic model for information storage and organization in the
brain", Psychological Review 65 (1958). Rumelhart, Hinton & Williams, "Learning representations by
back-propagating errors", Nature 323 (1986).

A perceptron is one linear layer (`hidden_sizes=[]`): it can only draw one hyperplane, so it cannot
solve XOR. One hidden layer trained by backpropagation can (`llmkit.models.classic.xor`).
Inputs of any shape are flattened, so an 8x8 digit is 64 features.
"""

from __future__ import annotations

import math

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


class MLPConfig(ClassicConfig):
    model_type = "llmkit-mlp"

    def __init__(self, input_size: int = 64, hidden_sizes: list[int] | None = None, activation: str = "relu",
                 dropout: float = 0.0, num_labels: int = 10, **kwargs):
        self.input_size = input_size
        self.hidden_sizes = list(hidden_sizes) if hidden_sizes is not None else [256, 128]
        self.activation = activation
        self.dropout = dropout
        super().__init__(**with_labels(num_labels, kwargs))


class MLPForImageClassification(ClassicPreTrainedModel):
    """Flatten -> [Linear -> activation -> dropout] x len(hidden_sizes) -> Linear to the classes."""

    config_class = MLPConfig

    def __init__(self, config: MLPConfig):
        super().__init__(config)
        layers: list[nn.Module] = [nn.Flatten()]
        width = config.input_size
        for hidden in config.hidden_sizes:
            layers += [nn.Linear(width, hidden), activation(config.activation), nn.Dropout(config.dropout)]
            width = hidden
        layers.append(nn.Linear(width, config.num_labels))
        self.layers = nn.Sequential(*layers)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None,
                return_dict: bool | None = None) -> ImageClassifierOutput:
        if math.prod(pixel_values.shape[1:]) != self.config.input_size:
            raise ValueError(f"expected {self.config.input_size} input features per example, "
                             f"got shape {tuple(pixel_values.shape[1:])}")
        logits = self.layers(pixel_values)
        return ImageClassifierOutput(loss=classification_loss(logits, labels), logits=logits)
