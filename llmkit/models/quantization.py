"""Quantised base models for QLoRA through bitsandbytes (4-bit NF4/FP4 or 8-bit), on CUDA or CPU."""

from __future__ import annotations

import os
from typing import Any

from llmkit.errors import LlmkitError


def check_bitsandbytes() -> None:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise LlmkitError("qlora needs bitsandbytes: pip install bitsandbytes") from None


def quantized_load_kwargs(section: Any, task: str = "sft") -> dict[str, Any]:
    """from_pretrained kwargs that load the base quantised on this process's device."""
    import torch
    from transformers import BitsAndBytesConfig

    from llmkit.distributed import weights_are_sharded
    from llmkit.models.dtypes import torch_dtype
    from llmkit.tuning.families import CLASSIFIER_HEADS

    check_bitsandbytes()
    # A new classification head is trained in full: keep it (and the LM head, skipped by default) unquantised.
    skip = {"llm_int8_skip_modules": ["lm_head", *CLASSIFIER_HEADS]} if task == "classify" else {}
    # FSDP shards flat tensors of one dtype: under it the packed 4-bit weights are stored in the compute
    # dtype (FSDP-QLoRA), and FSDP, not a device map, decides where they live.
    sharded = weights_are_sharded()
    if section.bits == 8:
        config = BitsAndBytesConfig(load_in_8bit=True, **skip)
    else:
        storage = {"bnb_4bit_quant_storage": torch_dtype(section.compute_dtype)} if sharded else {}
        config = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type=section.quant_type,
                                    bnb_4bit_use_double_quant=section.double_quant,
                                    bnb_4bit_compute_dtype=torch_dtype(section.compute_dtype), **skip, **storage)
    if sharded:
        return {"quantization_config": config}
    # Quantisation happens while loading, on the device the weights land on: one GPU per process
    # (LOCAL_RANK under accelerate/torchrun), or the CPU.
    device: Any = int(os.environ.get("LOCAL_RANK", "0")) if torch.cuda.is_available() else "cpu"
    return {"quantization_config": config, "device_map": {"": device}}
