"""What every Trainer-based workflow shares: arguments from the recipe, the loss curve, throughput."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from llmkit import console
from llmkit.config.sections import TrainSection
from llmkit.distributed import weights_are_sharded
from llmkit.training.checkpoints import CHECKPOINTS


def training_arguments(train: TrainSection, output_dir: Path, *, has_eval: bool = False,
                       remove_unused_columns: bool = True, save_steps: int = 0, keep_checkpoints: int = 0) -> Any:
    """`transformers.TrainingArguments` from a recipe's train section, with llmkit's defaults.

    Checkpoints (every `save_steps` steps, none at 0; the newest `keep_checkpoints` kept, all at 0) go to
    <output>/checkpoints, in the layout of the Trainer that writes them (llmkit.training.resumable).
    Tokens are counted without padding, so tokens/s compares fairly across batching strategies.
    """
    import torch
    from transformers import TrainingArguments

    from llmkit.training.accelerator import bf16_enabled

    if "tensorboard" in train.report_to:
        # transformers 5 reads the TensorBoard folder from the environment only.
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(output_dir / "tensorboard")

    cuda = torch.cuda.is_available()
    # Without an accelerator, `accelerate launch --multi_gpu --num_processes N` starts N ranks but
    # TrainingArguments only joins them (MULTI_CPU over gloo) with use_cpu=True; otherwise every
    # rank trains alone on all the data (transformers 5.24: "parallel_mode != DISTRIBUTED").
    use_cpu = not (cuda or torch.backends.mps.is_available())
    return TrainingArguments(
        output_dir=str(output_dir / CHECKPOINTS),
        num_train_epochs=train.epochs,
        max_steps=train.max_steps if train.max_steps > 0 else -1,
        per_device_train_batch_size=train.batch_size,
        per_device_eval_batch_size=train.batch_size,
        gradient_accumulation_steps=train.grad_accum,
        learning_rate=train.lr,
        lr_scheduler_type=train.scheduler,
        warmup_steps=train.warmup_steps,  # below 1 a fraction of the total steps (llmkit.training.schedule)
        weight_decay=train.weight_decay,
        max_grad_norm=train.max_grad_norm,
        seed=train.seed,
        logging_steps=train.logging_steps,
        eval_strategy="epoch" if has_eval else "no",
        save_strategy="steps" if save_steps else "no",
        save_steps=save_steps or 500,  # unused when save_strategy is "no"
        save_total_limit=keep_checkpoints or None,
        report_to=train.report_to or "none",
        activation_checkpointing=train.gradient_checkpointing,
        bf16=bf16_enabled(train.bf16),
        optim="adamw_torch_fused" if cuda and train.fused_optimizer else "adamw_torch",
        use_liger_kernel=cuda and liger_enabled(train),
        torch_compile=cuda and train.torch_compile,
        dataloader_num_workers=train.num_workers,
        include_num_input_tokens_seen="non_padding",
        remove_unused_columns=remove_unused_columns,
        disable_tqdm=False,
        use_cpu=use_cpu,
    )


def liger_enabled(train: TrainSection) -> bool:
    """Whether Trainer should patch the model with Liger kernels (it then does so for the types Liger knows)."""
    from transformers.utils import is_liger_kernel_available

    if not train.liger:
        return False
    if train.torch_compile:
        # Measured on an H200 (liger-kernel 0.8.5, torch 2.11): compiling Liger's Triton kernels inside the
        # graph fails, or runs into an illegal memory access. torch.compile fuses the same operations itself.
        console.info("train.torch_compile is on: training without Liger's kernels, which do not compile")
        return False
    if is_liger_kernel_available():
        return True
    console.info("train.liger: liger-kernel is not installed, training without its kernels "
                 "(pip install 'llmkit[gpu]' to add them, or set train.liger=false)")
    return False


def train_summary(trainer: Any, train_output: Any) -> dict[str, float]:
    """Loss, steps, seconds and non-padding tokens/s (all ranks together) of a finished `trainer.train()`."""
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


def save_sharded_model(trainer: Any, output_dir: Path) -> bool:
    """Under FSDP / ZeRO-3, gather the shards and save the whole model (or peft adapter) from rank 0 through
    the Trainer, which knows each backend's gathering; every rank must call this. Returns False, saving
    nothing, when each rank holds whole weights and the workflow saves them itself."""
    if not weights_are_sharded():
        return False
    trainer.save_model(str(output_dir))
    return True


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
