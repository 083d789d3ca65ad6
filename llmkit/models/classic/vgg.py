"""VGG.

Simonyan & Zisserman, "Very deep convolutional networks for large-scale image recognition", ICLR 2015.

Stacks of 3x3 convolutions (stride 1, padding 1) with ReLU, 2x2/2 max pooling between stages, then
three fully connected layers (4096, 4096, classes) with dropout. Table 1 of the paper defines
configurations A (11 weight layers) to E (19); C adds 1x1 convolutions, written "256@1" below.
VGG16 is D: 138,357,544 parameters for 1000 classes on 224x224 (torchvision's count, the same network).
A-LRN is not included: the paper found LRN did not help. `batch_norm=True` is the later BN variant.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import ImageClassifierOutput

from llmkit.models.classic.common import ClassicConfig, ClassicPreTrainedModel, classification_loss, with_labels

# Table 1: numbers are 3x3 convolutions with that many filters, "M" a max pool, "N@1" a 1x1 convolution.
CONFIGURATIONS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "C": [64, 64, "M", 128, 128, "M", 256, 256, "256@1", "M", 512, 512, "512@1", "M", 512, 512, "512@1", "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


class VGGConfig(ClassicConfig):
    model_type = "llmkit-vgg"

    def __init__(self, num_channels: int = 3, configuration: str = "D", layers: list[int | str] | None = None,
                 batch_norm: bool = False, hidden_size: int = 4096, pool_size: int = 7, dropout: float = 0.5,
                 num_labels: int = 1000, **kwargs):
        self.num_channels = num_channels
        self.configuration = configuration
        # explicit `layers` wins over the named configuration (tiny test networks use it)
        self.layers = list(layers) if layers is not None else list(CONFIGURATIONS[configuration])
        self.batch_norm = batch_norm
        self.hidden_size = hidden_size
        self.pool_size = pool_size  # 7 for 224x224 inputs (224 / 2^5); 1 for 32x32
        self.dropout = dropout
        super().__init__(**with_labels(num_labels, kwargs))


class VGGForImageClassification(ClassicPreTrainedModel):
    config_class = VGGConfig

    def __init__(self, config: VGGConfig):
        super().__init__(config)
        layers: list[nn.Module] = []
        width = config.num_channels
        for spec in config.layers:
            if spec == "M":
                layers.append(nn.MaxPool2d(2, 2))
                continue
            filters, _, kernel = str(spec).partition("@")
            filters, kernel = int(filters), int(kernel or 3)
            layers.append(nn.Conv2d(width, filters, kernel, padding=kernel // 2))
            if config.batch_norm:
                layers.append(nn.BatchNorm2d(filters))
            layers.append(nn.ReLU(inplace=True))
            width = filters
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(config.pool_size)
        hidden, flat = config.hidden_size, width * config.pool_size ** 2
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(flat, hidden), nn.ReLU(inplace=True), nn.Dropout(config.dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(config.dropout),
            nn.Linear(hidden, config.num_labels),
        )
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None,
                return_dict: bool | None = None) -> ImageClassifierOutput:
        logits = self.classifier(self.avgpool(self.features(pixel_values)))
        return ImageClassifierOutput(loss=classification_loss(logits, labels), logits=logits)
