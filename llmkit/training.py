"""What every Trainer-based workflow shares: arguments from the recipe, the loss curve, throughput."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from llmkit.config import TrainSection

LOSS_CURVE = "loss_curve.png"


def training_arguments(train: TrainSection, output_dir: Path, *, has_eval: bool = False,
                       remove_unused_columns: bool = True) -> Any:
    """`transformers.TrainingArguments` from a recipe's train section, with llmkit's defaults.

    Checkpoints go to <output>/checkpoints (the Trainer writes them to a temp name and renames).
    Tokens are counted without padding, so tokens/s compares fairly across batching strategies.
    """
    import torch
    from transformers import TrainingArguments

    if "tensorboard" in train.report_to:
        # transformers 5 reads the TensorBoard folder from the environment only.
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(output_dir / "tensorboard")

    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    # Without an accelerator, `accelerate launch --multi_gpu --num_processes N` starts N ranks but
    # TrainingArguments only joins them (MULTI_CPU over gloo) with use_cpu=True; otherwise every
    # rank trains alone on all the data (transformers 5.24: "parallel_mode != DISTRIBUTED").
    use_cpu = not (torch.cuda.is_available() or torch.backends.mps.is_available())
    return TrainingArguments(
        output_dir=str(output_dir / "checkpoints"),
        num_train_epochs=train.epochs,
        max_steps=train.max_steps if train.max_steps > 0 else -1,
        per_device_train_batch_size=train.batch_size,
        per_device_eval_batch_size=train.batch_size,
        gradient_accumulation_steps=train.grad_accum,
        learning_rate=train.lr,
        lr_scheduler_type=train.scheduler,
        warmup_steps=train.warmup_ratio,  # a float below 1 is a ratio of the total steps
        weight_decay=train.weight_decay,
        max_grad_norm=train.max_grad_norm,
        seed=train.seed,
        logging_steps=train.logging_steps,
        eval_strategy="epoch" if has_eval else "no",
        save_strategy="no",
        report_to=train.report_to or "none",
        gradient_checkpointing=train.gradient_checkpointing,
        bf16=bf16,
        dataloader_num_workers=train.num_workers,
        include_num_input_tokens_seen="non_padding",
        remove_unused_columns=remove_unused_columns,
        disable_tqdm=False,
        use_cpu=use_cpu,
    )


def train_summary(trainer: Any, train_output: Any) -> dict[str, float]:
    """Loss, steps, seconds and non-padding tokens/s of a finished `trainer.train()`."""
    runtime = train_output.metrics["train_runtime"]
    tokens = trainer.state.num_input_tokens_seen
    return {
        "train_loss": round(train_output.training_loss, 4),
        "steps": trainer.state.global_step,
        "train_seconds": round(runtime, 2),
        "tokens": int(tokens),
        "tokens_per_second": round(tokens / runtime, 1) if runtime else 0.0,
        **peak_memory(),
    }


def peak_memory() -> dict[str, Any]:
    """The peak memory of this process so far: GPU memory allocated by torch, or the CPU process's peak RSS."""
    import torch

    if torch.cuda.is_available():
        return {"peak_memory_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1),
                "peak_memory_kind": "cuda max allocated"}
    import resource
    import sys

    # ru_maxrss is in kilobytes on Linux and in bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    return {"peak_memory_mb": round(rss, 1), "peak_memory_kind": "process peak RSS"}


def save_loss_curve(log_history: list[dict[str, Any]], output_dir: Path, title: str,
                    series: dict[str, str] | None = None) -> Path | None:
    """Plot logged values against steps as <output>/loss_curve.png (and the history as loss_history.json).

    `series` maps a logged key to its label; by default the training and validation loss.
    """
    series = series or {"loss": "train loss", "eval_loss": "validation loss"}
    curves = {key: [(e["step"], e[key]) for e in log_history if key in e] for key in series}
    (output_dir / "loss_history.json").write_text(json.dumps(log_history, indent=1), encoding="utf-8")
    if not any(curves.values()):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for key, points in curves.items():
        if points:  # evaluation points are sparse: mark them
            ax.plot(*zip(*points), marker="o" if key.startswith("eval") else None, label=series[key])
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
