"""The loss curve every training run saves: logged values against steps, as PNG, and the history as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from llmkit.distributed import is_main_process
from llmkit.plots import pyplot

LOSS_CURVE = "loss_curve.png"


def save_loss_curve(log_history: list[dict[str, Any]], output_dir: Path, title: str,
                    series: dict[str, str] | None = None) -> Path | None:
    """Plot logged values against steps as <output>/loss_curve.png (main process only), and the history as
    loss_history.json. `series` maps a logged key to its label; by default the training and validation loss.
    """
    if not is_main_process():
        return None
    series = series or {"loss": "train loss", "eval_loss": "validation loss"}
    curves = {key: [(e["step"], e[key]) for e in log_history if key in e] for key in series}
    (output_dir / "loss_history.json").write_text(json.dumps(log_history, indent=1), encoding="utf-8")
    if "loss" in curves and not curves["loss"]:
        # A run shorter than train.logging_steps logs no loss; Trainer's summary still has the run's mean.
        summary = [(e["step"], e["train_loss"]) for e in log_history if "train_loss" in e]
        curves, series = {"train_loss": summary, **curves}, {"train_loss": "train loss (mean of the run)", **series}
    if not any(curves.values()):
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, points in curves.items():
        if points:  # sparse points (evaluations, a one-point run) are marked: a line needs two to show
            sparse = key.startswith("eval") or len(points) == 1
            ax.plot(*zip(*points), marker="o" if sparse else None, label=series[key])
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    path = output_dir / LOSS_CURVE
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
