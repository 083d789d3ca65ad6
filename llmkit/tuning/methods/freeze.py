"""Freeze tuning: train the last N transformer blocks (and any named modules); save only those tensors.

The saved file holds just the trained tensors, so freezing 2 of 32 blocks of a 7B model writes about
400 MB instead of 14 GB; `llmkit merge` writes them into the base to get a standalone model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit.config import option
from llmkit.errors import LlmkitError
from llmkit.tuning.context import BuildContext
from llmkit.tuning.families import CLASSIFIER_HEADS
from llmkit.tuning.method import Method


@dataclass
class FreezeSection:
    """Partial fine-tuning: everything frozen but the last blocks and any named modules."""

    last_layers: int = option("Train the last N transformer blocks (0: none).", 2, at_least=0)
    modules: list[str] = option("Also train parameters whose names contain one of these, e.g. [lm_head, norm].",
                               [])


def blocks_of(model: Any, suffix: str) -> tuple[str, Any]:
    """(name, ModuleList) of the model's transformer blocks, found by the family's name suffix."""
    for name, module in model.named_modules():
        if (name == suffix or name.endswith("." + suffix)) and hasattr(module, "__len__"):
            return name, module
    raise LlmkitError(f"no block list named *{suffix} in {type(model).__name__}")


def build(model: Any, cfg: Any, ctx: BuildContext) -> Any:
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


METHOD = Method("freeze", "The last N transformer blocks (freeze.last_layers) and any named modules.",
                "Howard & Ruder 2018, ULMFiT (gradual unfreezing); LLaMA-Factory's freeze tuning", build, "trained",
                lr=1e-3, section="freeze", section_class=FreezeSection, target_key="freeze.modules")
