"""Score generated digits with llmkit's LeNet-5: class coverage, confidence and an Inception-Score-style number.

FID needs Inception-v3 weights, which cannot be fetched offline; a classifier trained on the same data
measures the two things FID and IS are after, for digits: are the samples recognisable (mean top-class
confidence), and do they cover every class (how many of the 10 digits are anyone's top class, and
exp(E_x KL(p(y|x) || p(y))), Salimans et al. 2016's Inception Score with LeNet-5 in Inception's place:
10 for confident samples spread evenly over 10 classes, 1 for a single class or no confidence).

The scorer is `llmkit train --recipe lenet5-digits` (8x8 digits upscaled to 32x32 with bilinear +
antialias, random 2-pixel shifts, about 98% held-out accuracy), trained on first use and cached under
llmkit's cache folder; the cache name hashes the recipe and the code that shapes the data, so a change
to either trains a fresh scorer. Its held-out split is the one the generative models never train on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmkit import __version__
from llmkit.errors import LlmkitError
from llmkit.recipes import resolve

SCORER_RECIPE = "train/lenet5-digits"


@dataclass
class SampleQuality:
    images: int
    classes_covered: int  # digits that are the top class of at least one image
    mean_confidence: float  # mean over images of the top-class probability
    inception_score: float  # exp(E_x KL(p(y|x) || p(y)))
    class_counts: list[int]  # images per predicted digit


def scorer_path() -> Path:
    from llmkit.cache import cache_root
    from llmkit.data import images
    from llmkit.models.classic import lenet

    digest = hashlib.sha256(resolve(SCORER_RECIPE).path.read_bytes())
    for module in (images, lenet):
        digest.update(Path(module.__file__).read_bytes())
    return cache_root() / "models" / f"lenet5-digits-scorer-{__version__}-{digest.hexdigest()[:10]}"


def ensure_scorer() -> Path:
    """The cached LeNet-5 digit scorer's folder, training it first (about 15 CPU seconds) if needed."""
    from llmkit.cache import build_once

    def train_into(staging: Path) -> None:
        from llmkit.config import build_config
        from llmkit.config.classic import ClassicTrainConfig
        from llmkit.workflows import train

        train.run(build_config(ClassicTrainConfig, resolve(SCORER_RECIPE).load(), {"output": str(staging)},
                               source=f"recipe {SCORER_RECIPE}"))

    return build_once(scorer_path(), "the LeNet-5 digit scorer", train_into,
                      "python -c 'from llmkit.eval.sample_quality import ensure_scorer; ensure_scorer()'")


class DigitScorer:
    """LeNet-5 trained on digits; `score` takes (N, 1, 32, 32) images in [-1, 1], as the generators make them."""

    def __init__(self, path: Path | None = None):
        from transformers import AutoModelForImageClassification

        self.model = AutoModelForImageClassification.from_pretrained(path or ensure_scorer()).eval()
        norm = self.model.config.input_normalization  # the training split's statistics, for [0, 1] pixels
        self.mean, self.std = norm["mean"], norm["std"]

    def probabilities(self, images: Any) -> Any:
        import torch

        if tuple(images.shape[1:]) != (1, 32, 32):
            raise LlmkitError(f"the digit scorer reads 1x32x32 images; got {tuple(images.shape[1:])}")
        pixels = (images.float().clamp(-1, 1) + 1) / 2
        with torch.no_grad():
            return torch.cat([self.model((batch - self.mean) / self.std).logits.softmax(-1)
                              for batch in pixels.split(512)])

    def score(self, images: Any) -> SampleQuality:
        p = self.probabilities(images)
        top = p.argmax(-1)
        marginal = p.mean(0)
        kl = (p * (p.clamp_min(1e-12).log() - marginal.clamp_min(1e-12).log())).sum(-1)
        counts = top.bincount(minlength=p.shape[1]).tolist()
        return SampleQuality(images=len(p), classes_covered=sum(c > 0 for c in counts),
                             mean_confidence=round(p.max(-1).values.mean().item(), 4),
                             inception_score=round(kl.mean().exp().item(), 3), class_counts=counts)


def heldout_digits() -> Any:
    """The held-out digits (unseen by the scorer and the generators) as (N, 1, 32, 32) in [-1, 1]."""
    from llmkit.data.generative_images import digit_images

    return digit_images("test", 32)[0]
