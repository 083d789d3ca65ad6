"""LoRA (Hu et al. 2021, LoRA: Low-Rank Adaptation of Large Language Models): W + (alpha/r)·BA.

Its section (lora:) is also the low-rank part of DoRA, QLoRA and AdaLoRA."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from llmkit.config import option
from llmkit.tuning.context import BuildContext
from llmkit.tuning.families import resolve_targets
from llmkit.tuning.method import Method
from llmkit.tuning.peft_wrap import task_type, wrap


@dataclass
class LoraSection:
    """LoRA (Hu et al. 2021); also the low-rank part of dora, qlora and adalora."""

    r: int = option("LoRA rank.", 16, at_least=1)
    alpha: int = option("LoRA scaling numerator (scale = alpha / r).", 32, above=0)
    dropout: float = option("Dropout on the LoRA input.", 0.05, at_least=0, below=1)
    target: list[str] = option(
        "Module names to adapt; [auto] picks the model family's attention and MLP projections, "
        "[all-linear] every linear layer but the output head.", ["auto"])


def lora_config(model: Any, cfg: Any, ctx: BuildContext, *, use_dora: bool = False) -> Any:
    from peft import LoraConfig

    return LoraConfig(task_type=task_type(ctx), r=cfg.lora.r, lora_alpha=cfg.lora.alpha,
                      lora_dropout=cfg.lora.dropout, target_modules=resolve_targets(cfg.lora.target, model.config),
                      use_dora=use_dora)


def build(model: Any, cfg: Any, ctx: BuildContext) -> Any:
    return wrap(model, lora_config(model, cfg, ctx))


METHOD = Method("lora", "Low-rank updates W + (alpha/r)·BA on the attention and MLP projections.",
                "Hu et al. 2021, LoRA: Low-Rank Adaptation of Large Language Models", build, "adapter", lr=1e-3,
                section="lora", section_class=LoraSection, target_key="lora.target")
