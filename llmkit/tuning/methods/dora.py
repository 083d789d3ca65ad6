"""DoRA (Liu et al. 2024): LoRA on the direction of each weight, plus a trainable magnitude."""

from __future__ import annotations

from typing import Any

from llmkit.tuning.context import BuildContext
from llmkit.tuning.method import Method
from llmkit.tuning.methods.lora import lora_config
from llmkit.tuning.peft_wrap import wrap


def build(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    return wrap(model, lora_config(model, cfg, ctx, use_dora=True))


METHOD = Method("dora", "LoRA on the direction of each weight, plus a trainable magnitude per output.",
                "Liu et al. 2024, DoRA: Weight-Decomposed Low-Rank Adaptation", build, "adapter", lr=1e-3,
                section="lora", target_key="lora.target")
