"""The one `accelerate.Accelerator` of llmkit's own loops (pretraining, DCGAN, diffusion, diffusion LoRA)."""

from __future__ import annotations

from typing import Any


def bf16_enabled(requested: bool) -> bool:
    """Whether to train in bfloat16 mixed precision: when the recipe asks and a CUDA GPU supports it."""
    import torch

    return bool(requested and torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def build_accelerator(bf16: bool = False) -> Any:
    """An Accelerator on the best device here, in bfloat16 mixed precision when `bf16` (see `bf16_enabled`).

    - Mixed precision is llmkit's choice, never the launch config's: llmkit's own `accelerate launch` command
      and its recipes/accelerate configs say "no", so one recipe trains the same however it is launched.
    - Without a GPU it asks for the CPU explicitly: only then does accelerate join the ranks of
      `accelerate launch --multi_gpu --num_processes N` over gloo; otherwise each would train alone.
    - Schedulers step once per optimizer step and count optimizer steps, whatever the number of processes
      (by default a prepared scheduler steps once per process, since accelerate assumes a per-process
      batch; llmkit's loops count steps of the global batch).
    """
    import torch
    from accelerate import Accelerator

    gpu = torch.cuda.is_available() or torch.backends.mps.is_available()
    return Accelerator(mixed_precision="bf16" if bf16 else "no", cpu=not gpu, step_scheduler_with_optimizer=False)
