"""`llmkit train`: a classic network (MLP, LeNet-5, AlexNet, VGG, GoogLeNet, ResNet, RNNs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from llmkit.config import option
from llmkit.config.sections import WARMUP_RENAMED, JobOutput, TrainSection, warmup_option


@dataclass
class ClassicModelSection:
    name: str = option("Model preset from `llmkit models` (e.g. lenet5, resnet18-small, lstm).", "lenet5")
    options: list[str] = option(
        "Config overrides KEY=VALUE, the value read as YAML, e.g. [hidden_size=64, bidirectional=true].", [])


@dataclass
class ClassicDataSection:
    path: str = option("digits (built in, 8x8), xor (built in), an image folder (one subfolder per class; "
                      "train/ and test/ keep their split), a .csv of numbers, a .npz (x, y), a .csv/.jsonl of "
                      "texts and labels (RNNs), or a .txt corpus (character language model).", "digits")
    label_column: str = option("CSV/JSONL column holding the label.", "label")
    text_column: str = option("CSV/JSONL column holding the text (RNN text classification).", "text")
    tokenizer: str | None = option("Tokenizer folder for text classification; None: characters of the training "
                                  "texts.", None)
    max_length: int = option("Tokens kept per text (text classification).", 256, at_least=1)
    image_shape: list[int] = option("Shape of each flat CSV/NumPy example as an image, e.g. [1, 28, 28]; "
                                   "needed by CNNs and RNNs on flat features.", [])
    image_size: int = option("Resize images to this side (0: the model's own, e.g. 32 for lenet5).", 0, at_least=0)
    shift: int = option("Move each training image by up to this many pixels, at random (0: off; image models).",
                       0, at_least=0)
    test_fraction: float = option("Held-out fraction (stratified) when the data has no test split.",
                                 0.2, above=0, below=1)
    split_seed: int = option("Seed of the train/test split, kept apart from train.seed so the test set is fixed.",
                            0)
    limit: int = option("Use only the first N training examples (0: all).", 0, at_least=0)
    block_size: int = option("Characters per training sequence (character language model).", 128, at_least=1)


@dataclass
class ClassicTrainSection(TrainSection):
    """TrainSection with defaults for small networks on small data (a subclass, not a default_factory,
    so that a recipe or flag that sets one key keeps these defaults for the others)."""

    epochs: float = option("Passes over the training data (ignored when max_steps > 0).", 10.0, above=0)
    batch_size: int = option("Examples per device per step.", 64, at_least=1)
    lr: float = option("Peak learning rate (AdamW).", 1e-3, above=0)
    warmup_steps: float = warmup_option(0.0)
    weight_decay: float = option("AdamW weight decay.", 1e-4, at_least=0)


@dataclass
class ClassicTrainConfig(JobOutput):
    renamed_keys: ClassVar[dict[str, str]] = WARMUP_RENAMED

    model: ClassicModelSection = field(default_factory=ClassicModelSection)
    data: ClassicDataSection = field(default_factory=ClassicDataSection)
    train: ClassicTrainSection = field(default_factory=ClassicTrainSection)


