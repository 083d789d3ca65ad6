"""Labelled arrays for the classic models: built-in digits and XOR, image folders, CSV and NumPy files.

Every source becomes `LabelledArrays`: float32 inputs scaled to [0, 1] (images as (N, C, H, W),
anything else as (N, F)), int64 labels, class names, and a fixed train/test split. `model_inputs`
then shapes them for a model: flattened vectors for an MLP, images resized to the model's side for
a CNN, rows as time steps for an RNN. Files are read with `datasets` (imagefolder, csv).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from llmkit.errors import LlmkitError

BUILTIN = ("digits", "xor")
NUMPY_KEYS = (("x", "y"), ("images", "labels"), ("data", "target"))


@dataclass
class LabelledArrays:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: list[str]
    source: str
    notes: list[str] = field(default_factory=list)

    @property
    def is_image(self) -> bool:
        return self.x_train.ndim == 4


def load_arrays(path: str, *, label_column: str = "label", image_shape: list[int] | None = None,
                test_fraction: float = 0.2, split_seed: int = 0, limit: int = 0) -> LabelledArrays:
    """Read `path` (digits, xor, a folder of class subfolders, .csv, .npz/.npy) into split arrays."""
    if path == "xor":
        # The four XOR points are the whole problem: train and test on them (a model either
        # separates them or not). Repeated so that an epoch has enough steps to learn.
        x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
        y = np.array([0, 1, 1, 0])
        return LabelledArrays(np.tile(x, (64, 1)), np.tile(y, 64), x, y, ["0", "1"], "xor")
    if path == "digits":
        from sklearn.datasets import load_digits

        digits = load_digits()
        x = (digits.images / 16.0).astype(np.float32)[:, None]  # 8x8, 17 grey levels -> [0, 1]
        y, classes, source = digits.target, [str(c) for c in digits.target_names], "digits"
        splits = None
    else:
        file = Path(path).expanduser()
        if not file.exists():
            raise LlmkitError(f"data {path} does not exist; pass digits, xor, an image folder, "
                              f"a .csv or a .npz file")
        if file.is_dir():
            x, y, classes, splits = _image_folder(file)
        elif file.suffix == ".csv":
            x, y, classes = _csv(file, label_column)
            splits = None
        elif file.suffix in (".npz", ".npy"):
            x, y, classes = _numpy(file)
            splits = None
        else:
            raise LlmkitError(f"cannot read {path}: pass an image folder, a .csv or a .npz file "
                              f"(or digits / xor)")
        source = str(file)
    if image_shape and x.ndim == 2:
        x = _reshape(x, image_shape, source)
    if x.ndim == 3:  # (N, H, W) greyscale
        x = x[:, None]
    if len(x) == 0:
        raise LlmkitError(f"data {source} holds no examples")
    if len(classes) < 2:
        raise LlmkitError(f"data {source} has {len(classes)} class; classification needs at least 2")
    if splits is None:
        splits = _split(y, test_fraction, split_seed)
    train_idx, test_idx = splits
    if limit:
        train_idx = train_idx[:limit]
    return LabelledArrays(x[train_idx], y[train_idx], x[test_idx], y[test_idx], classes, source)


def _split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified: each class keeps its share in the test split (a fixed seed keeps the test set fixed).

    Not scikit-learn's train_test_split(stratify=y): its own shuffling and rounding hold out other examples
    (of the 359 digits held out at seed 0, it keeps 73 and holds out 360), which would change every published
    classic-model figure.
    """
    if not 0 < test_fraction < 1:
        raise LlmkitError(f"data.test_fraction must be between 0 and 1, got {test_fraction}")
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = max(1, round(len(idx) * test_fraction)) if len(idx) > 1 else 0
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return rng.permutation(np.concatenate(train)), np.sort(np.concatenate(test))


def _reshape(x: np.ndarray, shape: list[int], source: str) -> np.ndarray:
    if int(np.prod(shape)) != x.shape[1]:
        raise LlmkitError(f"data.image_shape {shape} holds {int(np.prod(shape))} values but {source} has "
                          f"{x.shape[1]} features per example")
    return x.reshape(len(x), *shape)


def _image_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, list[str], Any]:
    """A folder of class subfolders (`datasets` imagefolder); train/ and test/ subfolders keep their split."""
    from datasets import load_dataset

    try:
        loaded = load_dataset("imagefolder", data_dir=str(folder))
    except Exception as e:  # datasets raises several types for a folder without images
        raise LlmkitError(f"cannot read images from {folder}: {str(e).splitlines()[0]}") from None
    parts = [loaded[s] for s in ("train", "test") if s in loaded]
    if "label" not in parts[0].features:
        raise LlmkitError(f"{folder} needs one subfolder per class (e.g. {folder}/cat/1.png)")
    classes = parts[0].features["label"].names
    arrays = [_stack_images(p["image"], folder) for p in parts]
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) > 1:
        raise LlmkitError(f"images in {folder} differ in size ({sorted(shapes)}); resize them to one size")
    labels = [np.asarray(p["label"]) for p in parts]
    x, y = np.concatenate(arrays), np.concatenate(labels)
    splits = None
    if len(parts) == 2:  # the folder's own train/test split
        n = len(arrays[0])
        splits = (np.arange(n), np.arange(n, len(x)))
    return x, y, classes, splits


def _stack_images(images: list[Any], folder: Path) -> np.ndarray:
    modes = {im.mode for im in images}
    mode = "L" if modes <= {"L", "1", "P"} and "P" not in modes else "RGB"
    sizes = {im.size for im in images}
    if len(sizes) > 1:
        raise LlmkitError(f"images in {folder} differ in size ({len(sizes)} sizes); resize them to one size")
    arr = np.stack([np.asarray(im.convert(mode), dtype=np.float32) / 255.0 for im in images])
    return arr[:, None] if mode == "L" else arr.transpose(0, 3, 1, 2)


def _csv(file: Path, label_column: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from datasets import load_dataset

    table = load_dataset("csv", data_files=str(file), split="train")
    if label_column not in table.column_names:
        raise LlmkitError(f"{file} has no column {label_column!r} (columns: {', '.join(table.column_names[:10])}); "
                          f"set data.label_column")
    features = [c for c in table.column_names if c != label_column]
    try:
        x = np.stack([np.asarray(table[c], dtype=np.float32) for c in features], axis=1)
    except (TypeError, ValueError):
        raise LlmkitError(f"{file}: every column but {label_column!r} must be numeric") from None
    y, classes = _encode_labels(table[label_column])
    return x, y, classes


def _numpy(file: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    with np.load(file, allow_pickle=False) as arrays:  # never unpickle data (DESIGN: safe by default)
        if not hasattr(arrays, "files"):
            raise LlmkitError(f"{file} is a single array; save inputs and labels together with "
                              f"np.savez(path, x=inputs, y=labels)")
        keys = {k.lower(): k for k in arrays.files}
        for xk, yk in NUMPY_KEYS:
            if xk in keys and yk in keys:
                x, labels = arrays[keys[xk]], arrays[keys[yk]]
                break
        else:
            raise LlmkitError(f"{file} holds {', '.join(arrays.files)}; save it with np.savez(path, x=..., y=...)")
    # 8-bit images -> [0, 1]; anything else is taken as given (standardised later anyway)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    if len(x) != len(labels):
        raise LlmkitError(f"{file}: {len(x)} inputs but {len(labels)} labels")
    y, classes = _encode_labels(list(labels))
    return x.reshape(len(x), -1) if x.ndim == 1 else x, y, classes


def _encode_labels(values: list[Any]) -> tuple[np.ndarray, list[str]]:
    """Integer labels 0..K-1 stay; anything else is mapped to indices in sorted order."""
    unique = sorted(set(values), key=lambda v: (str(type(v)), v))
    if all(isinstance(v, (int, np.integer)) for v in unique) and list(unique) == list(range(len(unique))):
        return np.asarray(values, dtype=np.int64), [str(v) for v in unique]
    index = {v: i for i, v in enumerate(unique)}
    return np.asarray([index[v] for v in values], dtype=np.int64), [str(v) for v in unique]


# ----------------------------------------------------------------------------------------------
# Shaping arrays for a model


@dataclass
class ModelInputs:
    train: Any  # torch Datasets of {input name: tensor, "labels": int}
    test: Any
    config: dict[str, Any]  # what the data decides in the model config (channels, input size)
    describe: str


def model_inputs(data: LabelledArrays, kind: str, model_name: str, image_size: int | None,
                 shift: int = 0) -> ModelInputs:
    """Shape `data` for a model reading `kind` (vector, image or sequence) and standardise it.

    `shift` > 0 moves each training image by up to that many pixels (at the model's resolution) every
    time it is drawn: translation is the distortion LeCun et al. (1998) trained with, and it keeps a
    CNN from memorising where the strokes of 1,437 digits sit. Image models only; the test set never moves.
    """
    import torch
    import torch.nn.functional as F

    x_train, x_test = torch.from_numpy(data.x_train), torch.from_numpy(data.x_test)
    if kind == "vector":
        x_train, x_test = x_train.flatten(1), x_test.flatten(1)
        config, key = {"input_size": x_train.shape[1]}, "pixel_values"
        describe = f"{x_train.shape[1]} features"
    elif kind == "image":
        if not data.is_image:
            raise LlmkitError(f"{model_name} reads images but {data.source} has flat features; "
                              f"set data.image_shape (e.g. [1, 8, 8]) or pick mlp")
        size = image_size or x_train.shape[-1]
        if x_train.shape[-2:] != (size, size):
            # bilinear + antialias: a faithful resize both up (8 -> 32) and down (photos -> 32)
            x_train, x_test = (F.interpolate(t, size=(size, size), mode="bilinear", antialias=True,
                                             align_corners=False) for t in (x_train, x_test))
        config, key = {"num_channels": x_train.shape[1]}, "pixel_values"
        describe = f"{x_train.shape[1]}x{size}x{size} images (from {tuple(data.x_train.shape[1:])})"
    elif kind == "sequence":
        if not data.is_image:
            raise LlmkitError(f"{model_name} reads sequences but {data.source} has flat features; "
                              f"set data.image_shape so rows become time steps, or pick mlp")
        # An image is read top to bottom, one row (all channels) per time step.
        x_train, x_test = (t.permute(0, 2, 1, 3).flatten(2) for t in (x_train, x_test))
        config, key = {"input_size": x_train.shape[2]}, "inputs_embeds"
        describe = f"sequences of {x_train.shape[1]} steps x {x_train.shape[2]} features (image rows)"
    else:
        raise LlmkitError(f"{model_name} is a language model; give it a text file (.txt) as data")
    # Standardise with the training split's statistics only (the test set stays unseen).
    mean, std = float(x_train.mean()), float(x_train.std()) or 1.0
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    config["input_normalization"] = {"mean": round(mean, 6), "std": round(std, 6)}
    if shift and kind != "image":
        raise LlmkitError(f"data.shift moves images; {model_name} reads {kind}s: set data.shift=0")
    train = ArrayDataset(key, x_train, data.y_train, shift=shift, fill=-mean / std)
    return ModelInputs(train, ArrayDataset(key, x_test, data.y_test), config, describe)


class ArrayDataset:
    """A map-style dataset of in-memory tensors; Trainer's default collator stacks its items."""

    def __init__(self, key: str, x: Any, y: np.ndarray, shift: int = 0, fill: float = 0.0):
        import torch

        self.key, self.x, self.y = key, x.contiguous(), torch.as_tensor(y, dtype=torch.long)
        self.shift, self.fill = shift, fill  # fill: the standardised value of a blank (0) pixel

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, Any]:
        x = self.x[i]
        if self.shift:
            x = _translate(x, self.shift, self.fill)
        return {self.key: x, "labels": self.y[i]}


def _translate(image: Any, shift: int, fill: float) -> Any:
    """Move a (C, H, W) image by a random (dy, dx) in [-shift, shift], filling the uncovered border."""
    import torch

    dy, dx = torch.randint(-shift, shift + 1, (2,)).tolist()
    out = torch.full_like(image, fill)
    h, w = image.shape[-2:]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[:, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out
