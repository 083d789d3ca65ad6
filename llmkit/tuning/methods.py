"""The method table: `--method NAME` -> what it trains and how to wrap the model for it.

Each entry says in one line what the method does; `build` takes the loaded base model and the job
config and returns the model to train. A new method is one entry here (plus its file, if peft lacks it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from llmkit.errors import LlmkitError
from llmkit.tuning.targets import resolve_targets


@dataclass(frozen=True)
class Method:
    name: str
    help: str
    paper: str
    build: Callable[[Any, Any], Any]  # (base model, FinetuneConfig) -> model to train
    mergeable: bool


def _build_lora(model: Any, cfg: Any) -> Any:
    from peft import LoraConfig, TaskType, get_peft_model

    lora = cfg.lora
    config = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=resolve_targets(lora.target, model.config),
    )
    return get_peft_model(model, config)


METHODS: dict[str, Method] = {
    "lora": Method("lora", "Low-rank updates W + (alpha/r)·BA on the attention and MLP projections.",
                   "Hu et al. 2021, LoRA: Low-Rank Adaptation of Large Language Models", _build_lora,
                   mergeable=True),
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise LlmkitError(f"unknown method {name!r}; available: {', '.join(METHODS)}")
    return METHODS[name]


def parameter_counts(model: Any) -> tuple[int, int]:
    """(trainable, total) parameters."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
