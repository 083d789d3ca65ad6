"""Full fine-tuning: every weight of the model trains; the output is a whole model."""

from __future__ import annotations

from typing import Any

from llmkit.tuning.method import Method


def build(model: Any, cfg: Any, ctx: Any) -> Any:
    for param in model.parameters():
        param.requires_grad = True
    return model


METHOD = Method("full", "Every weight of the model.", "-", build, "model", lr=1e-4)
