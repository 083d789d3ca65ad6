"""`llmkit gan train` and `llmkit gan sample`: DCGAN (Radford et al. 2015)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from llmkit.config import option
from llmkit.config.sections import (
    GENERATIVE_RENAMED,
    GenerativeDataSection,
    GenerativeTrainSection,
    JobOutput,
    seed_option,
)


@dataclass
class GanModelSection:
    latent_size: int = option("Length of the noise vector z (the paper's 100).", 100, at_least=1)
    generator_channels: int = option("G's width at its last hidden layer (pytorch/examples' ngf).", 64, at_least=1)
    discriminator_channels: int = option("D's width at its first layer (pytorch/examples' ndf).", 64, at_least=1)


@dataclass
class GanTrainSection(GenerativeTrainSection):
    """Radford et al.: Adam, lr 2e-4, beta1 0.5, batch 128 (pytorch/examples: 64)."""

    beta1: float = option("Adam beta1 (the paper lowers it from 0.9 to 0.5 for stability).", 0.5, at_least=0, below=1)
    beta2: float = option("Adam beta2.", 0.999, at_least=0, below=1)


@dataclass
class GanConfig(JobOutput):
    renamed_keys: ClassVar[dict[str, str]] = GENERATIVE_RENAMED

    model: GanModelSection = field(default_factory=GanModelSection)
    data: GenerativeDataSection = field(default_factory=GenerativeDataSection)
    train: GanTrainSection = field(default_factory=GanTrainSection)


@dataclass
class GanSampleConfig(JobOutput):
    renamed_keys: ClassVar[dict[str, str]] = {"num_images": "num_samples"}

    model: str = option("A `llmkit gan train` output folder, or its generator/ folder.", "")
    num_samples: int = option("Images to generate.", 64, at_least=1)
    seed: int = seed_option("the latent vectors", 0)
