"""ResNet.

He, Zhang, Ren & Sun, "Deep residual learning for image recognition", CVPR 2016.

Each block learns a residual F(x) and outputs relu(F(x) + x), so a deep stack can fall back to the
identity and still train. Basic blocks (two 3x3 convs) build ResNet-18/34; bottleneck blocks
(1x1 reduce -> 3x3 -> 1x1 expand by 4) build ResNet-50/101/152. A strided 1x1 conv + BN projects the
shortcut when the shape changes (option B of the paper). Counts match torchvision: ResNet-18
11,689,512, ResNet-50 25,557,032 (1000 classes).

`stem="small"` replaces the 7x7/2 conv and 3x3/2 pool (built for 224x224 photos, they would shrink
an 8x8 digit to nothing) by one 3x3/1 conv, the CIFAR-style stem for 8x8 to 32x32 images.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_outputs import ImageClassifierOutput

from llmkit.models.classic.common import ClassicConfig, ClassicPreTrainedModel, classification_loss, with_labels

DEPTHS = {18: ("basic", [2, 2, 2, 2]), 34: ("basic", [3, 4, 6, 3]), 50: ("bottleneck", [3, 4, 6, 3]),
          101: ("bottleneck", [3, 4, 23, 3]), 152: ("bottleneck", [3, 8, 36, 3])}


class ResNetConfig(ClassicConfig):
    model_type = "llmkit-resnet"

    def __init__(self, num_channels: int = 3, depth: int = 18, block: str | None = None,
                 layers: list[int] | None = None, widths: list[int] | None = None, stem: str = "imagenet",
                 num_labels: int = 1000, **kwargs):
        if depth not in DEPTHS and (block is None or layers is None):
            raise ValueError(f"depth must be one of {sorted(DEPTHS)}, or give block and layers")
        self.num_channels = num_channels
        self.depth = depth
        self.block = block or DEPTHS[depth][0]
        self.layers = list(layers) if layers is not None else list(DEPTHS[depth][1])
        self.widths = list(widths) if widths is not None else [64, 128, 256, 512]
        self.stem = stem
        super().__init__(**with_labels(num_labels, kwargs))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.shortcut = projection(cin, width, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)  # stride on the 3x3 (torchvision's "v1.5")
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.shortcut = projection(cin, cout, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        return torch.relu(self.bn3(self.conv3(out)) + self.shortcut(x))


def projection(cin: int, cout: int, stride: int) -> nn.Module:
    if stride == 1 and cin == cout:
        return nn.Identity()
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class ResNetForImageClassification(ClassicPreTrainedModel):
    config_class = ResNetConfig

    def __init__(self, config: ResNetConfig):
        super().__init__(config)
        block = {"basic": BasicBlock, "bottleneck": Bottleneck}[config.block]
        w0 = config.widths[0]
        if config.stem == "small":
            self.stem = nn.Sequential(nn.Conv2d(config.num_channels, w0, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(w0), nn.ReLU(inplace=True))
        else:
            self.stem = nn.Sequential(nn.Conv2d(config.num_channels, w0, 7, 2, 3, bias=False), nn.BatchNorm2d(w0),
                                      nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        stages, cin = [], w0
        for i, (n_blocks, width) in enumerate(zip(config.layers, config.widths)):
            stride = 1 if i == 0 else 2  # every later stage halves the map and widens
            for j in range(n_blocks):
                stages.append(block(cin, width, stride if j == 0 else 1))
                cin = width * block.expansion
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, config.num_labels)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None,
                return_dict: bool | None = None) -> ImageClassifierOutput:
        x = self.stages(self.stem(pixel_values))
        logits = self.fc(torch.flatten(self.pool(x), 1))
        return ImageClassifierOutput(loss=classification_loss(logits, labels), logits=logits)
