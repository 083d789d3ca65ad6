"""Plots of a classifier's run: the confusion matrix and the accuracy per epoch, as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from llmkit.plots import pyplot

CONFUSION_MATRIX = "confusion_matrix.png"
ACCURACY_CURVE = "accuracy_curve.png"


def confusion_matrix(predictions: np.ndarray, references: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts[i, j] = examples of true class i predicted as class j (every class a row, seen or not)."""
    from sklearn.metrics import confusion_matrix as count_confusions

    return count_confusions(references, predictions, labels=np.arange(num_classes))


def save_confusion_matrix(counts: np.ndarray, classes: list[str], output_dir: Path, title: str) -> Path:
    plt = pyplot()
    size = max(4.0, 0.45 * len(classes) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(counts, cmap="Blues")
    if len(classes) <= 30:  # numbers in the cells stay readable up to about 30 classes
        ticks = range(len(classes))
        ax.set_xticks(ticks, classes, rotation=90 if max(map(len, classes)) > 3 else 0)
        ax.set_yticks(ticks, classes)
        threshold = counts.max() / 2
        for i, j in np.ndindex(counts.shape):
            if counts[i, j]:
                ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if counts[i, j] > threshold else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    path = output_dir / CONFUSION_MATRIX
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def save_accuracy_curve(log_history: list[dict[str, Any]], output_dir: Path, title: str) -> Path | None:
    points = [(e["epoch"], e["eval_accuracy"]) for e in log_history if "eval_accuracy" in e]
    if not points:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(*zip(*points), marker="o", label="test accuracy")
    f1 = [(e["epoch"], e["eval_macro_f1"]) for e in log_history if "eval_macro_f1" in e]
    if f1:
        ax.plot(*zip(*f1), marker=".", linestyle="--", label="test macro F1")
    ax.set_xlabel("epoch")
    ax.set_ylabel("score")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = output_dir / ACCURACY_CURVE
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
