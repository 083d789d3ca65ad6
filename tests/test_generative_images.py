"""Training images for the generative models: digits and image folders, scaled to [-1, 1], with captions."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from llmkit.data.generative_images import digit_images, load_training_images
from llmkit.errors import LlmkitError


def _png(path, size, colour):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size[1], size[0], 3), colour, dtype=np.uint8)).save(path)


def test_digits_are_the_training_split_upscaled_and_captioned():
    images = load_training_images("digits", 32)
    train, labels = digit_images("train", 32)
    test, _ = digit_images("test", 32)
    assert images.pixels.shape == (1438, 1, 32, 32) and len(test) == 359
    assert images.pixels.min() >= -1 and images.pixels.max() <= 1 and images.pixels.min() == -1
    assert images.captions[0] == f"a handwritten digit {labels[0].item()}"
    assert load_training_images("digits", 16, channels=3, limit=5).pixels.shape == (5, 3, 16, 16)


def test_a_folder_of_any_sizes_with_captions_from_metadata(tmp_path):
    _png(tmp_path / "a.png", (40, 20), 255)   # wide: centre-cropped to a square, then resized
    _png(tmp_path / "b.png", (16, 16), 0)
    (tmp_path / "metadata.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"file_name": "a.png", "text": "a white square"}, {"file_name": "b.png", "text": "a black square"}]))
    images = load_training_images(str(tmp_path), 8)
    assert images.pixels.shape == (2, 3, 8, 8)
    by_caption = dict(zip(images.captions, images.pixels))
    assert by_caption["a white square"].min() == 1 and by_caption["a black square"].max() == -1
    assert load_training_images(str(tmp_path), 8, channels=1).pixels.shape == (2, 1, 8, 8)


def test_class_subfolders_become_captions(tmp_path):
    _png(tmp_path / "cat" / "1.png", (8, 8), 10)
    _png(tmp_path / "dog" / "1.png", (8, 8), 200)
    assert sorted(load_training_images(str(tmp_path), 8).captions) == ["cat", "dog"]


def test_bad_sources_are_user_errors(tmp_path):
    with pytest.raises(LlmkitError, match="not a folder"):
        load_training_images(str(tmp_path / "missing"), 32)
    with pytest.raises(LlmkitError, match="at least 8"):
        load_training_images("digits", 4)
    with pytest.raises(LlmkitError, match="channels"):
        load_training_images("digits", 32, channels=2)


def test_sample_quality_scores_coverage_confidence_and_the_inception_style_number():
    import torch

    from llmkit.eval.sample_quality import DigitScorer

    scorer = DigitScorer.__new__(DigitScorer)  # the scoring arithmetic, on given class probabilities
    every_digit = torch.eye(10).repeat(3, 1)  # 30 confident samples, three of each digit
    scorer.probabilities = lambda images: every_digit
    spread = scorer.score(None)
    assert (spread.classes_covered, spread.mean_confidence, spread.class_counts) == (10, 1.0, [3] * 10)
    assert spread.inception_score == pytest.approx(10, rel=1e-3)
    one_digit = torch.zeros(30, 10)
    one_digit[:, 8] = 1  # confident, but always an 8: what confidence alone would reward
    scorer.probabilities = lambda images: one_digit
    collapsed = scorer.score(None)
    assert (collapsed.classes_covered, collapsed.mean_confidence, collapsed.inception_score) == (1, 1.0, 1.0)
    unsure = torch.full((30, 10), 0.1)
    scorer.probabilities = lambda images: unsure
    assert scorer.score(None).mean_confidence == pytest.approx(0.1) and scorer.score(None).inception_score == 1.0
