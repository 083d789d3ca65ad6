"""Freeze tuning: train the last N transformer blocks (and any named modules); save only those tensors.

The saved file holds just the trained tensors, so freezing 2 of 32 blocks of a 7B model writes about
400 MB instead of 14 GB; `llmkit merge` writes them into the base to get a standalone model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llmkit.errors import LlmkitError
from llmkit.tuning.context import BuildContext
from llmkit.tuning.families import CLASSIFIER_HEADS

TRAINED_WEIGHTS = "trained_weights.safetensors"


def blocks_of(model: Any, suffix: str) -> tuple[str, Any]:
    """(name, ModuleList) of the model's transformer blocks, found by the family's name suffix."""
    for name, module in model.named_modules():
        if (name == suffix or name.endswith("." + suffix)) and hasattr(module, "__len__"):
            return name, module
    raise LlmkitError(f"no block list named *{suffix} in {type(model).__name__}")


def build_freeze(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    keep = list(cfg.freeze.modules)
    if cfg.freeze.last_layers:
        if ctx.family is None:
            raise LlmkitError(f"freeze.last_layers needs to know where {model.config.model_type!r} keeps its "
                              f"blocks; set freeze.last_layers=0 and name modules in freeze.modules")
        name, blocks = blocks_of(model, ctx.family.blocks)
        n = min(cfg.freeze.last_layers, len(blocks))
        keep += [f"{name}.{i}." for i in range(len(blocks) - n, len(blocks))]
    if ctx.task == "classify":
        keep += [f"{head}." for head in CLASSIFIER_HEADS]
    if not keep:
        raise LlmkitError("freeze trains nothing: set freeze.last_layers > 0 or name freeze.modules")
    matched = 0
    for name, param in model.named_parameters():
        param.requires_grad = any(k in name for k in keep)
        matched += param.requires_grad
    if not matched:
        raise LlmkitError(f"freeze.modules {cfg.freeze.modules} match no parameter of {type(model).__name__}")
    return model


def save_trained(model: Any, output: Path) -> None:
    """Write only the parameters that were trained."""
    from safetensors.torch import save_file

    tensors = {name: p.detach().contiguous().cpu() for name, p in model.named_parameters() if p.requires_grad}
    save_file(tensors, str(output / TRAINED_WEIGHTS), metadata={"format": "pt"})


def load_trained(model: Any, output: Path) -> Any:
    """Put the trained tensors saved in `output` into `model` (a fresh copy of the base)."""
    from safetensors.torch import load_file

    tensors = load_file(str(Path(output) / TRAINED_WEIGHTS))
    own = dict(model.named_parameters())
    missing = [name for name in tensors if name not in own]
    if missing:
        raise LlmkitError(f"{output}: the base model has no parameter {missing[0]}; is this the right base?")
    model.load_state_dict(tensors, strict=False)
    return model
