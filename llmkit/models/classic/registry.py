"""Named presets of the classic models: what `llmkit models` lists and `llmkit train --model NAME` builds.

A preset is a family (a module of this package), a head, the config values that make it, the kind
of input it reads and, for image models, the side that images are resized to. Paper-size presets
keep 1000 classes and 224x224 inputs so that their parameter counts compare with the papers and
torchvision; `-small` presets are the same designs sized for 8x8 to 32x32 images.
Importing this module does not import torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Literal

from llmkit.errors import LlmkitError
from llmkit.models.classic import CLASSES_BY_MODULE

Input = Literal["vector", "image", "sequence", "text"]


@dataclass(frozen=True)
class Preset:
    name: str
    family: str  # module in llmkit.models.classic
    input: Input  # vector: flattened features; image: (C, H, W); sequence: (T, F) steps; text: token ids
    about: str
    config: dict[str, Any] = field(default_factory=dict)
    image_size: int | None = None  # images are resized to this side (image models only)
    head: int = 0  # index into the family's heads in CLASSES_BY_MODULE (the RNN: classifier, language model)

    def config_class(self) -> type:
        return getattr(_module(self.family), CLASSES_BY_MODULE[self.family][0])

    def model_class(self) -> type:
        return getattr(_module(self.family), CLASSES_BY_MODULE[self.family][1][self.head][1])

    def build_config(self, **overrides: Any) -> Any:
        return self.config_class()(**{**self.config, **overrides})

    def build_model(self, **overrides: Any) -> Any:
        """The preset's model with `overrides` in its config; a bad combination is the user's to fix."""
        try:
            return self.model_class()(self.build_config(**overrides))
        except (ValueError, TypeError, KeyError, RuntimeError) as e:
            raise LlmkitError(f"cannot build {self.name} with these settings: {str(e).splitlines()[0]}") from None


def _module(family: str) -> Any:
    return importlib.import_module(f"llmkit.models.classic.{family}")


_SMALL_ALEXNET = dict(channels=[64, 192, 384, 256, 256], groups=[1] * 5, stem_kernel=3, stem_stride=1, pool_size=1,
                      hidden_size=512, num_labels=10)
_SMALL_VGG = dict(pool_size=1, hidden_size=512, num_labels=10)

PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("perceptron", "mlp", "vector", "one linear layer (Rosenblatt 1958): linearly separable problems only",
           dict(hidden_sizes=[], activation="sigmoid")),
    Preset("mlp", "mlp", "vector", "multi-layer perceptron, 2 hidden ReLU layers, backpropagation",
           dict(hidden_sizes=[256, 128], activation="relu", dropout=0.1)),
    Preset("lenet5", "lenet", "image", "LeNet-5 (LeCun 1998), tanh, full C3, 32x32", {}, image_size=32),
    Preset("alexnet", "alexnet", "image", "AlexNet as in the paper (2-GPU groups, LRN), 224x224", {}, image_size=224),
    Preset("alexnet-torchvision", "alexnet", "image", "AlexNet as torchvision ships it (one tower, no LRN)",
           dict(channels=[64, 192, 384, 256, 256], groups=[1] * 5, local_response_norm=False), image_size=224),
    Preset("alexnet-small", "alexnet", "image", "AlexNet with a 3x3/1 stem and 512-wide FC layers, 32x32",
           _SMALL_ALEXNET, image_size=32),
    *[Preset(f"vgg{depth}", "vgg", "image", f"VGG configuration {c} ({depth} weight layers), 224x224",
             dict(configuration=c), image_size=224) for depth, c in ((11, "A"), (13, "B"), (16, "D"), (19, "E"))],
    Preset("vgg16-c", "vgg", "image", "VGG configuration C (16 layers with 1x1 convs), 224x224",
           dict(configuration="C"), image_size=224),
    Preset("vgg11-small", "vgg", "image", "VGG-A with batch norm and 512-wide FC layers, 32x32",
           dict(configuration="A", batch_norm=True, **_SMALL_VGG), image_size=32),
    Preset("googlenet", "googlenet", "image", "GoogLeNet / Inception v1 as in the paper, 2 auxiliary heads, 224x224",
           {}, image_size=224),
    Preset("googlenet-torchvision", "googlenet", "image", "GoogLeNet as torchvision ships it (BN, 3x3 '5x5')",
           dict(batch_norm=True, five_by_five_kernel=3, local_response_norm=False), image_size=224),
    Preset("googlenet-small", "googlenet", "image", "GoogLeNet with batch norm (Inception v2 style), widths / 4, 64x64",
           dict(batch_norm=True, local_response_norm=False, width_divisor=4, num_labels=10), image_size=64),
    *[Preset(f"resnet{d}", "resnet", "image", f"ResNet-{d} (He 2016), 224x224", dict(depth=d), image_size=224)
      for d in (18, 34, 50, 101, 152)],
    Preset("resnet18-small", "resnet", "image", "ResNet-18 with a 3x3/1 stem for 8x8 to 32x32 images",
           dict(depth=18, stem="small", num_labels=10), image_size=16),
    Preset("resnet50-small", "resnet", "image", "ResNet-50 with a 3x3/1 stem for 8x8 to 32x32 images",
           dict(depth=50, stem="small", num_labels=10), image_size=32),
    Preset("rnn", "rnn", "sequence", "Elman RNN (tanh), 1 layer, classifies a sequence (an image row by row)",
           dict(cell="rnn", hidden_size=128)),
    Preset("lstm", "rnn", "sequence", "LSTM, 1 layer, classifies a sequence (an image row by row)",
           dict(cell="lstm", hidden_size=128)),
    Preset("gru", "rnn", "sequence", "GRU, 1 layer, classifies a sequence", dict(cell="gru", hidden_size=128)),
    Preset("bilstm", "rnn", "sequence", "bidirectional 2-layer LSTM sequence classifier",
           dict(cell="lstm", hidden_size=128, num_layers=2, bidirectional=True, dropout=0.1)),
    Preset("lstm-charlm", "rnn", "text", "2-layer LSTM character-level language model (generate)",
           dict(cell="lstm", hidden_size=256, input_size=64, num_layers=2, dropout=0.1, vocab_size=128), head=1),
]}


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise LlmkitError(f"unknown model {name!r}; `llmkit models` lists them: {', '.join(PRESETS)}")
    return PRESETS[name]


def count_parameters(preset: Preset, **overrides: Any) -> int:
    """Parameters of a preset, built on the meta device: no memory, even for VGG's 138M."""
    import torch

    with torch.device("meta"):
        model = preset.model_class()(preset.build_config(**overrides))
    return sum(p.numel() for p in model.parameters())


def model_table() -> list[list[str]]:
    """Rows for `llmkit models`: name, input, parameters, parameters used at inference, description.

    Only GoogLeNet differs between the last two: its auxiliary classifiers train but never predict.
    """
    import torch

    rows = []
    for preset in PRESETS.values():
        with torch.device("meta"):
            model = preset.model_class()(preset.build_config())
        total = sum(p.numel() for p in model.parameters())
        inference = sum(p.numel() for name, p in model.named_parameters() if not name.startswith("aux."))
        size = f", {preset.image_size}x{preset.image_size}" if preset.image_size else ""
        rows.append([preset.name, preset.input + size, f"{total:,}", f"{inference:,}", preset.about])
    return rows
