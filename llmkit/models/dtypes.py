"""The dtype a recipe names, as torch's: `auto` is bfloat16 on a GPU that has it, float32 elsewhere."""

from __future__ import annotations

from typing import Any


def torch_dtype(name: str) -> Any:
    import torch

    if name == "auto":
        cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else torch.float32
    return getattr(torch, name)
