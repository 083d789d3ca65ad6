"""Training images for the generative models (DCGAN, diffusion): digits or any image folder.

Every source becomes one float tensor (N, C, S, S) scaled to [-1, 1] (the range of G's tanh and of
diffusion's noise), plus a caption per image when the source has one (for text-to-image LoRA).

- `digits`: scikit-learn's 8x8 digits, the training split of `llmkit train` (same seed and fraction),
  so the held-out digits that score samples stay unseen by the generators as well as by the scorer.
  Upscaled to `image_size` with bilinear + antialias, as `llmkit train` does for LeNet-5. Caption:
  "a handwritten digit N".
- an image folder (any layout `datasets`' imagefolder reads; class subfolders optional): every image,
  centre-cropped to a square and resized. Captions come from a `metadata.jsonl`/`.csv` column
  (`text` by default) or, failing that, from the class subfolder names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmkit.errors import LlmkitError


@dataclass
class TrainingImages:
    pixels: Any  # torch.Tensor (N, C, S, S) in [-1, 1]
    captions: list[str] | None
    source: str

    def describe(self) -> str:
        n, c, h, w = self.pixels.shape
        return f"{n} images from {self.source}, {c}x{h}x{w}" + (", captioned" if self.captions else "")


def load_training_images(path: str, image_size: int, channels: int = 0, caption_column: str = "text",
                         limit: int = 0) -> TrainingImages:
    """Read `path` (digits or an image folder) at `image_size`; `channels` 1 or 3 converts, 0 keeps the source's."""
    if image_size < 8:
        raise LlmkitError(f"data.image_size must be at least 8, got {image_size}")
    if channels not in (0, 1, 3):
        raise LlmkitError(f"data.channels must be 0 (as the data), 1 (grey) or 3 (RGB), got {channels}")
    if path == "digits":
        x, labels = digit_images("train", image_size)
        if channels == 3:
            x = x.expand(-1, 3, -1, -1).contiguous()
        images = TrainingImages(x, [f"a handwritten digit {y}" for y in labels.tolist()], "digits")
    else:
        images = _image_folder(Path(path).expanduser(), image_size, channels, caption_column)
    if limit:
        images.pixels = images.pixels[:limit]
        images.captions = images.captions[:limit] if images.captions else None
    return images


def digit_images(split: str, image_size: int) -> tuple[Any, Any]:
    """One split ("train" or "test") of `llmkit train`'s default digits split, upscaled: images (N, 1, S, S)
    in [-1, 1] and labels. The test split is what no llmkit model trains on."""
    import torch
    import torch.nn.functional as F

    from llmkit.data.images import load_arrays

    digits = load_arrays("digits")
    x, y = (digits.x_train, digits.y_train) if split == "train" else (digits.x_test, digits.y_test)
    # bilinear + antialias, as `llmkit train` resizes digits for LeNet-5
    x = F.interpolate(torch.from_numpy(x), size=(image_size, image_size), mode="bilinear", antialias=True,
                      align_corners=False).clamp(0, 1)
    return x * 2 - 1, torch.from_numpy(y)


def _image_folder(folder: Path, image_size: int, channels: int, caption_column: str) -> TrainingImages:
    import numpy as np
    import torch
    from PIL import Image, ImageOps

    if not folder.is_dir():
        raise LlmkitError(f"data {folder} is not a folder; pass digits or a folder of images")
    from datasets import concatenate_datasets, load_dataset

    try:
        loaded = load_dataset("imagefolder", data_dir=str(folder))
    except Exception as e:  # datasets raises several types for a folder without images
        raise LlmkitError(f"cannot read images from {folder}: {str(e).splitlines()[0]}") from None
    table = concatenate_datasets(list(loaded.values()))
    if len(table) == 0:
        raise LlmkitError(f"{folder} holds no images")
    decoded = table["image"]  # decodes every image: once, not per use
    modes = {im.mode for im in decoded}
    mode = {1: "L", 3: "RGB"}.get(channels) or ("L" if modes <= {"L", "1"} else "RGB")
    pixels = np.stack([
        np.asarray(ImageOps.fit(im.convert(mode), (image_size, image_size), Image.Resampling.BICUBIC),
                   dtype=np.float32) / 255.0
        for im in decoded])
    pixels = pixels[:, None] if mode == "L" else pixels.transpose(0, 3, 1, 2)
    captions = None
    if caption_column in table.column_names:
        captions = [str(t) for t in table[caption_column]]
    elif "label" in table.column_names and hasattr(table.features["label"], "names"):
        names = table.features["label"].names
        captions = [names[i] for i in table["label"]]
    return TrainingImages(torch.from_numpy(np.ascontiguousarray(pixels)) * 2 - 1, captions, str(folder))


def to_uint8(images: Any) -> Any:
    """(N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C) numpy, for PNGs."""
    return ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
