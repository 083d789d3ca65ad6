"""GoogLeNet (Inception v1).

Szegedy et al., "Going deeper with convolutions", CVPR 2015. Batch norm as in Ioffe & Szegedy,
"Batch normalization", ICML 2015 (Inception v2's main change), is an option.

Nine Inception modules, each four parallel branches concatenated on channels: 1x1; 1x1 reduce ->
3x3; 1x1 reduce -> 5x5; 3x3 max pool -> 1x1 projection. The 1x1 reductions keep the 3x3 and 5x5
convolutions cheap. Two auxiliary classifiers on 4a and 4d add gradient signal to the middle of the
network during training: loss = main + 0.3 * aux1 + 0.3 * aux2. At inference they are not run.

Parameter counts: the paper's network (5x5 convolutions with bias, no BN) has 6,998,552 parameters
without the auxiliary heads for 1000 classes. torchvision's GoogLeNet, 6,624,904, differs in two ways
(preset `googlenet-torchvision`): batch norm after every convolution (bias-free convolutions), and a
3x3 kernel in the "5x5" branch, a bug kept there for its pretrained weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers.modeling_outputs import ImageClassifierOutput

from llmkit.models.classic.common import ClassicConfig, ClassicPreTrainedModel, classification_loss, with_labels

# Table 1: name -> (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool projection); "M" is a 3x3/2 max pool.
INCEPTION_TABLE: list[tuple[str, tuple[int, ...]] | str] = [
    ("3a", (64, 96, 128, 16, 32, 32)), ("3b", (128, 128, 192, 32, 96, 64)), "M",
    ("4a", (192, 96, 208, 16, 48, 64)), ("4b", (160, 112, 224, 24, 64, 64)), ("4c", (128, 128, 256, 24, 64, 64)),
    ("4d", (112, 144, 288, 32, 64, 64)), ("4e", (256, 160, 320, 32, 128, 128)), "M",
    ("5a", (256, 160, 320, 32, 128, 128)), ("5b", (384, 192, 384, 48, 128, 128)),
]
AUX_AFTER = ("4a", "4d")


class GoogLeNetConfig(ClassicConfig):
    model_type = "llmkit-googlenet"

    def __init__(self, num_channels: int = 3, aux_classifiers: bool = True, aux_weight: float = 0.3,
                 batch_norm: bool = False, five_by_five_kernel: int = 5, local_response_norm: bool = True,
                 width_divisor: int = 1, dropout: float = 0.4, aux_dropout: float = 0.7, num_labels: int = 1000,
                 **kwargs):
        self.num_channels = num_channels
        self.aux_classifiers = aux_classifiers
        self.aux_weight = aux_weight
        self.batch_norm = batch_norm
        self.five_by_five_kernel = five_by_five_kernel
        self.local_response_norm = local_response_norm
        self.width_divisor = width_divisor  # divide every width by this: tiny test networks
        self.dropout = dropout
        self.aux_dropout = aux_dropout
        super().__init__(**with_labels(num_labels, kwargs))


@dataclass
class GoogLeNetOutput(ImageClassifierOutput):
    """`loss` is main + aux_weight * (aux1 + aux2) in training; `aux_logits` only in training."""

    aux_logits: tuple[torch.Tensor, ...] | None = None


def conv(cfg: GoogLeNetConfig, cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Sequential:
    if cfg.batch_norm:  # BN's shift makes the conv bias redundant
        return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                             nn.BatchNorm2d(cout, eps=1e-3), nn.ReLU(inplace=True))
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2), nn.ReLU(inplace=True))


class Inception(nn.Module):
    def __init__(self, cfg: GoogLeNetConfig, cin: int, widths: tuple[int, ...]):
        super().__init__()
        n1, r3, n3, r5, n5, proj = widths
        k5 = cfg.five_by_five_kernel
        self.branch1 = conv(cfg, cin, n1, 1)
        self.branch2 = nn.Sequential(conv(cfg, cin, r3, 1), conv(cfg, r3, n3, 3))
        self.branch3 = nn.Sequential(conv(cfg, cin, r5, 1), conv(cfg, r5, n5, k5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), conv(cfg, cin, proj, 1))
        self.out_channels = n1 + n3 + n5 + proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], dim=1)


class AuxClassifier(nn.Module):
    """5x5/3 average pool (adaptive to 4x4) -> 1x1 conv 128 -> FC 1024 -> dropout 0.7 -> FC classes."""

    def __init__(self, cfg: GoogLeNetConfig, cin: int, width: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.conv = conv(cfg, cin, width, 1)
        self.fc1 = nn.Linear(width * 16, 8 * width)
        self.dropout = nn.Dropout(cfg.aux_dropout)
        self.fc2 = nn.Linear(8 * width, cfg.num_labels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))


class GoogLeNetForImageClassification(ClassicPreTrainedModel):
    config_class = GoogLeNetConfig

    def __init__(self, config: GoogLeNetConfig):
        super().__init__(config)
        d = config.width_divisor
        lrn = (lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)) if config.local_response_norm \
            else nn.Identity
        self.stem = nn.Sequential(
            conv(config, config.num_channels, 64 // d, 7, stride=2), nn.MaxPool2d(3, 2, ceil_mode=True), lrn(),
            conv(config, 64 // d, 64 // d, 1), conv(config, 64 // d, 192 // d, 3), lrn(),
            nn.MaxPool2d(3, 2, ceil_mode=True),
        )
        self.blocks = nn.ModuleDict()
        self.aux = nn.ModuleDict()
        width = 192 // d
        for i, entry in enumerate(INCEPTION_TABLE):
            if entry == "M":
                self.blocks[f"pool{i}"] = nn.MaxPool2d(3, 2, ceil_mode=True)
                continue
            name, widths = entry
            block = Inception(config, width, tuple(w // d for w in widths))
            self.blocks[name] = block
            width = block.out_channels
            if config.aux_classifiers and name in AUX_AFTER:
                self.aux[name] = AuxClassifier(config, width, 128 // d)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(width, config.num_labels)
        self.post_init()

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None,
                return_dict: bool | None = None) -> GoogLeNetOutput:
        x = self.stem(pixel_values)
        aux_logits = []
        for name, block in self.blocks.items():
            x = block(x)
            if self.training and name in self.aux:  # auxiliary heads only help training
                aux_logits.append(self.aux[name](x))
        logits = self.fc(self.dropout(torch.flatten(self.pool(x), 1)))
        loss = classification_loss(logits, labels)
        if loss is not None and aux_logits:
            loss = loss + self.config.aux_weight * sum(classification_loss(a, labels) for a in aux_logits)
        return GoogLeNetOutput(loss=loss, logits=logits, aux_logits=tuple(aux_logits) or None)
