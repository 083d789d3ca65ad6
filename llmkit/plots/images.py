"""Generated images as PNG: tiled into one grid, or one file each."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def save_grid(images: np.ndarray, path: Path, columns: int | None = None, scale: int = 1) -> Path:
    """Tile uint8 images (N, H, W, C) into one PNG, `columns` wide (default: square), with 2-pixel gaps.

    `scale` enlarges each pixel (nearest neighbour), so that 32x32 samples are visible in a README.
    """
    from PIL import Image

    n, h, w, c = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    gap = 2
    grid = np.full((rows * (h + gap) + gap, columns * (w + gap) + gap, c), 255, dtype=np.uint8)
    for i, image in enumerate(images):
        top, left = gap + (i // columns) * (h + gap), gap + (i % columns) * (w + gap)
        grid[top:top + h, left:left + w] = image
    picture = Image.fromarray(grid[..., 0] if c == 1 else grid)
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path


def save_images(images: np.ndarray, folder: Path) -> list[Path]:
    """One PNG per uint8 image (N, H, W, C): 0000.png, 0001.png, ..."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        path = folder / f"{i:04d}.png"
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)
        paths.append(path)
    return paths
