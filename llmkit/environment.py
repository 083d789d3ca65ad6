"""What `llmkit env` reports: versions, device, bf16 and bitsandbytes."""

from __future__ import annotations

import importlib.util

from llmkit.run_dir import package_versions


def describe_environment() -> dict[str, str]:
    import torch

    info = dict(package_versions())
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        info["device"] = f"CUDA ({torch.cuda.device_count()}x {names})"
        info["bf16"] = "yes" if torch.cuda.is_bf16_supported() else "no"
    elif torch.backends.mps.is_available():
        info["device"] = "MPS (Apple GPU)"
        info["bf16"] = "yes"
    else:
        info["device"] = f"CPU ({torch.get_num_threads()} threads)"
        info["bf16"] = "CPU autocast only"
    info["bitsandbytes"] = _bitsandbytes_status()
    return info


def _bitsandbytes_status() -> str:
    if importlib.util.find_spec("bitsandbytes") is None:
        return "not installed (pip install bitsandbytes for QLoRA)"
    from importlib import metadata

    return f"available ({metadata.version('bitsandbytes')})"
