"""Adapter tuning (Houlsby et al. 2019): bottleneck MLPs after the attention and FFN output projections.

peft has no Houlsby adapter: llmkit/tuning/bottleneck.py implements it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from llmkit.config import option
from llmkit.tuning.method import Method


@dataclass
class AdapterSection:
    """Bottleneck adapters (Houlsby et al. 2019) after the attention and FFN output projections."""

    bottleneck_size: int = option("Width of the adapter bottleneck (the paper's code default; it sweeps 8-256).",
                                 64, at_least=1)
    non_linearity: Literal["relu", "gelu"] = option("Activation inside the bottleneck (the paper's code: gelu).",
                                                   "gelu")
    target: list[str] = option("Modules to follow with an adapter; [auto]: the family's attention and FFN "
                              "output projections.", ["auto"])
    train_norms: bool = option("Also train the layer norms, as the paper does.", True)


def build(model: Any, cfg: Any, ctx: Any) -> Any:
    from llmkit.tuning.bottleneck import build_bottleneck

    return build_bottleneck(model, cfg.adapter, ctx)


METHOD = Method("adapter", "Bottleneck MLPs after the attention and FFN output projections.",
                "Houlsby et al. 2019, Parameter-Efficient Transfer Learning for NLP", build, "bottleneck", lr=1e-3,
                section="adapter", section_class=AdapterSection, target_key="adapter.target")
